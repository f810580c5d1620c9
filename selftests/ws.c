// SPDX-License-Identifier: GPL-2.0
/*
 * kws selftests: the "ws" TCP ULP (include/uapi/linux/kws.h) against a plain
 * TCP peer that this program drives byte by byte.
 *
 * The ULP side is a loopback TCP socket with "ws" attached and configured in
 * a role; the peer is the other end, left plain: the tests write raw
 * WebSocket frames on it (masked when the ULP is the server) with their own
 * encoder, and parse what the kernel sends (masked when the ULP is the
 * client). So the tests choose the segmentation and can send anything, and
 * they check the kernel's frames bit by bit. Nothing here uses codec/: the
 * tests are an independent reading of RFC 6455 and the ABI.
 *
 * Fixtures:
 *   ws_basic  attach rules and options, before and around WS_CONFIG
 *   ws        data, control and close paths, by role and address family
 *   ws_err    malformed input from the peer: the exact close code on the wire
 *
 * Without the module (the host: TCP_ULP fails with ENOENT) every test skips;
 * with KWS_REQUIRE_MODULE=1 (set in the VM) a missing "ws" ULP fails.
 * Every wait is bounded: SO_RCVTIMEO/SO_SNDTIMEO on both ends, poll timeouts
 * on the peer, and the harness's 30 s limit per test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <linux/genetlink.h>
#include <linux/sockios.h>
#include <linux/kws.h>
#include <linux/netlink.h>

#include "kselftest_harness.h"

#include "ws_peer.h"

#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif

/* The first fields of struct tcp_zerocopy_receive (linux/tcp.h, 5.11+). */
struct zc_receive {
	uint64_t address;
	uint32_t length;
	uint32_t recv_skip_hint;
	uint32_t inq;
	int32_t err;
	uint64_t copybuf_address;
	int32_t copybuf_len;
	uint32_t flags;
	uint64_t msg_control;
	uint64_t msg_controllen;
	uint32_t msg_flags;
	uint32_t reserved;
};

#define OP_RESERVED_3	0x3

/* ---- ws_basic: attach rules and options ---------------------------------- */

FIXTURE(ws_basic) {
	int fd, cfd;	/* connected, plain; fd is the one the tests attach */
};

FIXTURE_SETUP(ws_basic)
{
	char ulps[256] = "";
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	if (f) {
		if (!fgets(ulps, sizeof(ulps), f))
			ulps[0] = 0;
		fclose(f);
	}
	if (!strstr(ulps, "ws")) {
		ulp_missing(_metadata, "\"ws\" not in tcp_available_ulp");
		return;
	}
	ASSERT_EQ(0, tcp_pair(AF_INET, &self->fd, &self->cfd));
	set_timeouts(self->fd, IO_TIMEOUT_MS);
	set_timeouts(self->cfd, IO_TIMEOUT_MS);
}

FIXTURE_TEARDOWN(ws_basic)
{
	close(self->fd);
	close(self->cfd);
}

TEST_F(ws_basic, ulp_registered)
{
	char ulps[256] = "", *tok, *save;
	bool found = false;
	FILE *f;

	f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(ulps, sizeof(ulps), f));
	fclose(f);
	for (tok = strtok_r(ulps, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		found |= !strcmp(tok, "ws");
	EXPECT_TRUE(found);
}

TEST_F(ws_basic, attach_established)
{
	ASSERT_EQ(0, setsockopt(self->fd, IPPROTO_TCP, TCP_ULP, "ws",
				sizeof("ws")));
}

TEST_F(ws_basic, getsockopt_ulp_name)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	ASSERT_EQ(0, setsockopt(self->fd, IPPROTO_TCP, TCP_ULP, "ws",
				sizeof("ws")));
	ASSERT_EQ(0, getsockopt(self->fd, IPPROTO_TCP, TCP_ULP, name, &len));
	EXPECT_STREQ("ws", name);
}

TEST_F(ws_basic, attach_listening_enotconn)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind(lfd, (void *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(lfd, 1));
	EXPECT_EQ(-1, setsockopt(lfd, IPPROTO_TCP, TCP_ULP, "ws", sizeof("ws")));
	EXPECT_EQ(ENOTCONN, errno);
	close(lfd);
}

TEST_F(ws_basic, attach_unconnected_enotconn)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_ULP, "ws", sizeof("ws")));
	EXPECT_EQ(ENOTCONN, errno);
	close(fd);
}

TEST_F(ws_basic, attach_twice_eexist)
{
	ASSERT_EQ(0, setsockopt(self->fd, IPPROTO_TCP, TCP_ULP, "ws",
				sizeof("ws")));
	EXPECT_EQ(-1, setsockopt(self->fd, IPPROTO_TCP, TCP_ULP, "ws",
				 sizeof("ws")));
	EXPECT_EQ(EEXIST, errno);
}

TEST_F(ws_basic, listen_after_attach_einval)
{
	ASSERT_EQ(0, setsockopt(self->fd, IPPROTO_TCP, TCP_ULP, "ws",
				sizeof("ws")));
	EXPECT_EQ(-1, listen(self->fd, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ws_basic, sol_ws_without_ulp_enoprotoopt)
{
	struct ws_config cfg = { .role = WS_ROLE_SERVER };

	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg)));
	EXPECT_EQ(ENOPROTOOPT, errno);
}

TEST_F(ws_basic, unconfigured_recv_enotconn)
{
	char buf[16];

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(3, send(self->cfd, "abc", 3, 0));
	EXPECT_EQ(-1, recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(ENOTCONN, errno);
}

TEST_F(ws_basic, unconfigured_send_enotconn)
{
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, send(self->fd, "abc", 3, MSG_NOSIGNAL));
	EXPECT_EQ(ENOTCONN, errno);
	expect_quiet(_metadata, self->cfd, QUIET_MS);
}

TEST_F(ws_basic, unconfigured_state)
{
	struct ws_state st;

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_UNCONFIGURED, st.state);
	EXPECT_EQ(0, st.close_rcvd);
	EXPECT_EQ(0, st.close_sent);
}

TEST_F(ws_basic, config_open_state)
{
	struct ws_state st;

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_OPEN, st.state);
}

TEST_F(ws_basic, config_twice_ebusy)
{
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	EXPECT_EQ(-1, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(ws_basic, config_bad_role_einval)
{
	static const int roles[] = { 0, 3, 255 };
	size_t i;

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		EXPECT_EQ(-1, ws_config(self->fd, roles[i], 0, 0));
		EXPECT_EQ(EINVAL, errno);
	}
	/* Refused configs leave it unconfigured: a good one still works. */
	EXPECT_EQ(0, ws_config(self->fd, WS_ROLE_SERVER, 0, 0));
}

TEST_F(ws_basic, config_bad_flags_einval)
{
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, ws_config(self->fd, WS_ROLE_CLIENT, WS_F_ALL + 1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ws_config(self->fd, WS_ROLE_CLIENT, 1u << 31, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, WS_F_ALL, 0));
}

TEST_F(ws_basic, config_reserved_einval)
{
	struct ws_config cfg = { .role = WS_ROLE_CLIENT, .reserved = 1 };

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg)));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ws_basic, config_bad_tx_opcode_einval)
{
	static const int ops[] = { WS_OP_CONT + 3, WS_OP_CLOSE, WS_OP_PING,
				   WS_OP_PONG, 0xf };
	struct ws_config cfg = { .role = WS_ROLE_CLIENT };
	size_t i;

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		cfg.tx_opcode = ops[i];
		EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg,
					 sizeof(cfg)));
		EXPECT_EQ(EINVAL, errno);
	}
	cfg.tx_opcode = WS_OP_TEXT;
	EXPECT_EQ(0, setsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg)));
}

TEST_F(ws_basic, config_short_optlen_einval)
{
	struct ws_config cfg = { .role = WS_ROLE_CLIENT };

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg,
				 sizeof(cfg) - 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ws_basic, unknown_option_enoprotoopt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, 99, &v, sizeof(v)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_WS, 99, &v, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
}

TEST_F(ws_basic, leftover_after_config_ebusy)
{
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_LEFTOVER, "\x82\x00", 2));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(ws_basic, leftover_too_big_emsgsize)
{
	size_t len = WS_LEFTOVER_MAX + 1;
	uint8_t *buf = calloc(1, len);

	ASSERT_NE(NULL, buf);
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_LEFTOVER, buf, len));
	EXPECT_EQ(EMSGSIZE, errno);
	/* Exactly the maximum is fine. */
	EXPECT_EQ(0, setsockopt(self->fd, SOL_WS, WS_LEFTOVER, buf, len - 1));
	free(buf);
}

TEST_F(ws_basic, leftover_cumulative_emsgsize)
{
	size_t half = WS_LEFTOVER_MAX / 2;
	uint8_t *buf = calloc(1, half + 1);

	ASSERT_NE(NULL, buf);
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(0, setsockopt(self->fd, SOL_WS, WS_LEFTOVER, buf, half));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_LEFTOVER, buf, half + 1));
	EXPECT_EQ(EMSGSIZE, errno);
	free(buf);
}

TEST_F(ws_basic, max_msg_size_default)
{
	uint64_t max = 0;
	socklen_t len = sizeof(max);

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max, &len));
	EXPECT_EQ(sizeof(max), len);
	EXPECT_EQ(WS_MAX_MSG_DEFAULT, max);
	max = 12345;
	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max,
				sizeof(max)));
	max = 0;
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max, &len));
	EXPECT_EQ(12345, max);
}

TEST_F(ws_basic, tx_opcode_option)
{
	int op = WS_OP_TEXT;
	socklen_t len = sizeof(op);

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	op = -1;
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op, &len));
	EXPECT_EQ(WS_OP_BINARY, op);
	op = WS_OP_TEXT;
	EXPECT_EQ(0, setsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op, sizeof(op)));
	op = WS_OP_PING;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op, sizeof(op)));
	EXPECT_EQ(EINVAL, errno);
	op = -1;
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op, &len));
	EXPECT_EQ(WS_OP_TEXT, op);
}

TEST_F(ws_basic, connect_unspec_eopnotsupp)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	EXPECT_EQ(-1, connect(self->fd, &sa, sizeof(sa)));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

/* CLOSE_WAIT is accepted: the peer may send its frames and FIN at once. */
TEST_F(ws_basic, attach_close_wait)
{
	uint8_t frame[] = { 0x81, 0x02, 'h', 'i' };	/* unmasked: a server */

	ASSERT_EQ(4, send(self->cfd, frame, 4, 0));
	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	usleep(100000);
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	expect_message(_metadata, self->fd, WS_OP_TEXT, "hi", 2);
	expect_app_close(_metadata, self->fd, WS_CLOSE_ABNORMAL_CODE,
			 WS_CLOSE_ABNORMAL, NULL, 0);
}

TEST_F(ws_basic, wrong_direction_enoprotoopt)
{
	struct ws_state st = {};
	uint8_t buf[8];
	socklen_t len = sizeof(buf);

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_STATE, &st, sizeof(st)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_STATS, buf, sizeof(buf)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_WS, WS_LEFTOVER, buf, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
}

TEST_F(ws_basic, getsockopt_small_buffer_einval)
{
	struct ws_stats stats;
	struct ws_state st;
	socklen_t len = sizeof(st) - 1;

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_WS, WS_STATE, &st, &len));
	EXPECT_EQ(EINVAL, errno);
	/* A larger buffer is fine; optlen comes back as the value's size. */
	len = sizeof(stats);
	EXPECT_EQ(0, getsockopt(self->fd, SOL_WS, WS_STATE, &stats, &len));
	EXPECT_EQ(sizeof(st), len);
}

TEST_F(ws_basic, setsockopt_wrong_size_einval)
{
	uint64_t max = 100;
	int op = WS_OP_TEXT;

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op, 2));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ws_basic, config_get_before_zero)
{
	struct ws_config cfg;
	socklen_t len = sizeof(cfg);

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	memset(&cfg, 0xff, sizeof(cfg));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg, &len));
	EXPECT_EQ(0, cfg.role);
	EXPECT_EQ(0, cfg.flags);
	EXPECT_EQ(0, cfg.tx_opcode);
}

/* max_msg_size 0 in WS_CONFIG keeps what WS_MAX_MSG_SIZE set before. */
TEST_F(ws_basic, max_msg_size_before_config_kept)
{
	uint8_t frame[2 + 51] = { 0x82, 51 };
	uint64_t max = 50;
	socklen_t len = sizeof(max);

	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max,
				sizeof(max)));
	ASSERT_EQ(0, ws_config(self->fd, WS_ROLE_CLIENT, 0, 0));
	max = 0;
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max, &len));
	EXPECT_EQ(50, max);
	ASSERT_EQ((ssize_t)sizeof(frame), send(self->cfd, frame, sizeof(frame), 0));
	expect_close_frame(_metadata, self->cfd, WS_ROLE_CLIENT,
			   WS_CLOSE_TOO_BIG, NULL, 0);
}

/* Documentation/abi.md: per-netns counters in /proc/net/kws_stat. */
static long long kws_stat(const char *name)
{
	char line[256], key[128];
	long long v, found = -1;
	FILE *f = fopen("/proc/net/kws_stat", "r");

	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %lld", key, &v) == 2 &&
		    !strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

TEST_F(ws_basic, proc_kws_stat)
{
	long long attached = kws_stat("KwsConnAttached");
	long long active = kws_stat("KwsConnActive");
	int i;

	ASSERT_LE(0, attached) {
		TH_LOG("/proc/net/kws_stat: KwsConnAttached missing (%lld)",
		       attached);
	}
	ASSERT_LE(0, active);
	ASSERT_TRUE(ws_attach(_metadata, self->fd));
	EXPECT_EQ(attached + 1, kws_stat("KwsConnAttached"));
	EXPECT_EQ(active + 1, kws_stat("KwsConnActive"));
	/* Both ends closed: the socket is destroyed soon (TIME_WAIT). */
	close(self->fd);
	close(self->cfd);
	self->fd = self->cfd = -1;
	for (i = 0; i < 50 && kws_stat("KwsConnActive") != active; i++)
		usleep(100000);
	EXPECT_EQ(active, kws_stat("KwsConnActive"));
}

/* -- the kws generic netlink family -- */

struct nlbuf {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char attrs[4096];
};

static void nl_put(struct nlmsghdr *nh, int type, const void *data, int len)
{
	struct nlattr *a = (void *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* One request, one reply into @rep; the reply's length or -errno. */
static int genl_call(int sk, int family, int cmd, int version,
		     struct nlbuf *req, struct nlbuf *rep)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n;

	req->nh.nlmsg_type = family;
	req->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req->nh.nlmsg_seq++;
	req->gh.cmd = cmd;
	req->gh.version = version;
	if (sendto(sk, req, req->nh.nlmsg_len, 0, (void *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		n = recv(sk, rep, sizeof(*rep), 0);
		if (n < 0)
			return -errno;
		if (rep->nh.nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(&rep->nh);

			/* An ACK without a reply (a set), or an error. */
			return e->error;
		}
		/* Drain the ACK that follows. */
		{
			struct nlbuf ack;

			recv(sk, &ack, sizeof(ack), MSG_DONTWAIT);
		}
		return n;
	}
}

static void genl_init(struct nlbuf *req)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
}

/* Family id of "kws", or -errno. */
static int kws_genl_family(int sk)
{
	struct nlbuf req, rep;
	struct nlattr *a;
	int n, len;

	genl_init(&req);
	nl_put(&req.nh, CTRL_ATTR_FAMILY_NAME, KWS_GENL_NAME,
	       sizeof(KWS_GENL_NAME));
	n = genl_call(sk, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, &req, &rep);
	if (n < 0)
		return n;
	len = rep.nh.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	for (a = (void *)rep.attrs; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			return *(uint16_t *)((char *)a + NLA_HDRLEN);
	return -ENOENT;
}

/* The u64 @item inside nest @outer of a reply; -1 if absent. */
static long long genl_nested_u64(struct nlbuf *rep, int outer, int item)
{
	int len = rep->nh.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), ilen;
	struct nlattr *a, *b;

	for (a = (void *)rep->attrs; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) != outer)
			continue;
		ilen = a->nla_len - NLA_HDRLEN;
		for (b = (void *)((char *)a + NLA_HDRLEN);
		     ilen >= NLA_HDRLEN && b->nla_len >= NLA_HDRLEN;
		     ilen -= NLA_ALIGN(b->nla_len),
		     b = (void *)((char *)b + NLA_ALIGN(b->nla_len))) {
			uint64_t v;

			if (b->nla_type == item && b->nla_len == NLA_HDRLEN + 8) {
				memcpy(&v, (char *)b + NLA_HDRLEN, 8);
				return v;
			}
		}
	}
	return -1;
}

FIXTURE(ws_genl) {
	int sk;
	int family;
};

FIXTURE_SETUP(ws_genl)
{
	struct timeval tv = { .tv_sec = 5 };

	self->sk = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	ASSERT_LE(0, self->sk);
	setsockopt(self->sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	self->family = kws_genl_family(self->sk);
	if (self->family < 0)
		ulp_missing(_metadata, "no \"kws\" generic netlink family");
}

FIXTURE_TEARDOWN(ws_genl)
{
	close(self->sk);
}

TEST_F(ws_genl, get_stats_counts_attach)
{
	struct nlbuf req, rep;
	long long before, after;
	int fd, peer;

	genl_init(&req);
	ASSERT_LT(0, genl_call(self->sk, self->family, KWS_CMD_GET_STATS,
			       KWS_GENL_VERSION, &req, &rep));
	before = genl_nested_u64(&rep, KWS_A_STATS, KWS_STAT_CONN_ATTACHED);
	ASSERT_LE(0, before);
	EXPECT_EQ(before, kws_stat("KwsConnAttached"));
	if (!ws_pair(_metadata, AF_INET, WS_ROLE_CLIENT, 0, 0, &fd, &peer))
		return;
	genl_init(&req);
	ASSERT_LT(0, genl_call(self->sk, self->family, KWS_CMD_GET_STATS,
			       KWS_GENL_VERSION, &req, &rep));
	after = genl_nested_u64(&rep, KWS_A_STATS, KWS_STAT_CONN_ATTACHED);
	EXPECT_EQ(before + 1, after);
	EXPECT_LE(1, genl_nested_u64(&rep, KWS_A_STATS, KWS_STAT_CONN_ACTIVE));
	close(fd);
	close(peer);
}

/* A failure with 1007 is counted where abi.md says. */
TEST_F(ws_genl, get_stats_counts_invalid_data)
{
	struct nlbuf req, rep;
	long long before;
	int fd, peer;

	genl_init(&req);
	ASSERT_LT(0, genl_call(self->sk, self->family, KWS_CMD_GET_STATS,
			       KWS_GENL_VERSION, &req, &rep));
	before = genl_nested_u64(&rep, KWS_A_STATS, KWS_STAT_ERR_INVALID_DATA);
	ASSERT_LE(0, before);
	if (!ws_pair(_metadata, AF_INET, WS_ROLE_CLIENT, 0, 0, &fd, &peer))
		return;
	peer_send(_metadata, peer, WS_ROLE_CLIENT, true, WS_OP_TEXT, "\xff", 1);
	expect_close_frame(_metadata, peer, WS_ROLE_CLIENT,
			   WS_CLOSE_INVALID_DATA, NULL, 0);
	genl_init(&req);
	ASSERT_LT(0, genl_call(self->sk, self->family, KWS_CMD_GET_STATS,
			       KWS_GENL_VERSION, &req, &rep));
	EXPECT_EQ(before + 1, genl_nested_u64(&rep, KWS_A_STATS,
					      KWS_STAT_ERR_INVALID_DATA));
	EXPECT_EQ(before + 1, kws_stat("KwsErrInvalidData"));
	close(fd);
	close(peer);
}

/* SET_DEFAULTS changes what max_msg_size 0 means, for new configs. */
TEST_F(ws_genl, set_defaults_max_msg_size)
{
	struct nlbuf req, rep;
	long long old;
	uint64_t v, max = 0;
	socklen_t len = sizeof(max);
	struct nlattr *nest;
	int fd, peer, r;

	genl_init(&req);
	ASSERT_LT(0, genl_call(self->sk, self->family, KWS_CMD_GET_DEFAULTS,
			       KWS_GENL_VERSION, &req, &rep));
	old = genl_nested_u64(&rep, KWS_A_DEFAULTS, KWS_DEF_MAX_MSG_SIZE);
	ASSERT_LT(0, old);

	genl_init(&req);
	nest = (void *)((char *)&req + req.nh.nlmsg_len);
	nl_put(&req.nh, KWS_A_DEFAULTS | NLA_F_NESTED, NULL, 0);
	v = 777;
	nl_put(&req.nh, KWS_DEF_MAX_MSG_SIZE, &v, sizeof(v));
	nest->nla_len = (char *)&req + req.nh.nlmsg_len - (char *)nest;
	r = genl_call(self->sk, self->family, KWS_CMD_SET_DEFAULTS,
		      KWS_GENL_VERSION, &req, &rep);
	if (r == -EPERM)
		SKIP(return, "SET_DEFAULTS needs CAP_NET_ADMIN");
	ASSERT_LE(0, r);
	if (ws_pair(_metadata, AF_INET, WS_ROLE_CLIENT, 0, 0, &fd, &peer)) {
		EXPECT_EQ(0, getsockopt(fd, SOL_WS, WS_MAX_MSG_SIZE, &max, &len));
		EXPECT_EQ(777, max);
		close(fd);
		close(peer);
	}
	/* Restore. */
	genl_init(&req);
	nest = (void *)((char *)&req + req.nh.nlmsg_len);
	nl_put(&req.nh, KWS_A_DEFAULTS | NLA_F_NESTED, NULL, 0);
	v = old;
	nl_put(&req.nh, KWS_DEF_MAX_MSG_SIZE, &v, sizeof(v));
	nest->nla_len = (char *)&req + req.nh.nlmsg_len - (char *)nest;
	EXPECT_LE(0, genl_call(self->sk, self->family, KWS_CMD_SET_DEFAULTS,
			       KWS_GENL_VERSION, &req, &rep));
	/* 0 is refused: the policy minimum is 1 (netlink says ERANGE). */
	genl_init(&req);
	nest = (void *)((char *)&req + req.nh.nlmsg_len);
	nl_put(&req.nh, KWS_A_DEFAULTS | NLA_F_NESTED, NULL, 0);
	v = 0;
	nl_put(&req.nh, KWS_DEF_MAX_MSG_SIZE, &v, sizeof(v));
	nest->nla_len = (char *)&req + req.nh.nlmsg_len - (char *)nest;
	EXPECT_EQ(-ERANGE, genl_call(self->sk, self->family,
				     KWS_CMD_SET_DEFAULTS, KWS_GENL_VERSION,
				     &req, &rep));
}

/* ---- ws: data, control and close, by role and address family ------------- */

FIXTURE(ws) {
	int fd;		/* "ws" attached and configured in variant->role */
	int peer;	/* plain TCP: the tests speak WebSocket on it by hand */
};

FIXTURE_VARIANT(ws) {
	int family;
	int role;
};

FIXTURE_VARIANT_ADD(ws, server_v4) {
	.family = AF_INET,
	.role = WS_ROLE_SERVER,
};

FIXTURE_VARIANT_ADD(ws, client_v4) {
	.family = AF_INET,
	.role = WS_ROLE_CLIENT,
};

FIXTURE_VARIANT_ADD(ws, server_v6) {
	.family = AF_INET6,
	.role = WS_ROLE_SERVER,
};

FIXTURE_VARIANT_ADD(ws, client_v6) {
	.family = AF_INET6,
	.role = WS_ROLE_CLIENT,
};

FIXTURE_SETUP(ws)
{
	self->fd = self->peer = -1;
	ws_pair(_metadata, variant->family, variant->role, 0, 0, &self->fd,
		&self->peer);
}

FIXTURE_TEARDOWN(ws)
{
	close(self->fd);
	close(self->peer);
}

/* -- sending -- */

TEST_F(ws, send_zero_length)
{
	EXPECT_EQ(0, send(self->fd, "", 0, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     NULL, 0);
}

TEST_F(ws, send_length_boundaries)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536,
				       65537 };
	uint8_t *buf = malloc(65537);
	size_t i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct rframe f;

		fill_pattern(buf, lens[i], i);
		ASSERT_EQ((ssize_t)lens[i], send(self->fd, buf, lens[i], 0));
		expect_frame_hdr(_metadata, self->peer, variant->role, true,
				 WS_OP_BINARY, &f);
		ASSERT_EQ(lens[i], f.len);
		EXPECT_EQ(0, memcmp(f.data, buf, lens[i])) {
			TH_LOG("payload of length %zu differs", lens[i]);
		}
		rframe_free(&f);
	}
	free(buf);
}

/* Several MiB through one message; the peer reads while the kernel sends. */
TEST_F_TIMEOUT(ws, send_large, 120)
{
	size_t len = 6u << 20, got = 0;
	uint8_t *buf = malloc(len), *out = malloc(len);
	bool fin = false;
	pid_t pid;
	int first = 1;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, out);
	fill_pattern(buf, len, 7);
	set_timeouts(self->fd, 60000);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		ssize_t n = send(self->fd, buf, len, 0);

		_exit(n == (ssize_t)len ? 0 : 1);
	}
	/* One send() is one message: frames of any size, CONT after the first. */
	while (!fin) {
		struct rframe f;

		ASSERT_EQ(RF_OK, peer_read_frame(self->peer, &f, 20000));
		EXPECT_EQ(variant->role == WS_ROLE_CLIENT, f.masked);
		EXPECT_EQ(first ? WS_OP_BINARY : WS_OP_CONT, f.op);
		ASSERT_LE(got + f.len, len);
		memcpy(out + got, f.data, f.len);
		got += f.len;
		fin = f.fin;
		first = 0;
		rframe_free(&f);
	}
	EXPECT_EQ(len, got);
	EXPECT_EQ(0, memcmp(buf, out, len));
	EXPECT_EQ(0, reap(pid));
	free(buf);
	free(out);
}

TEST_F(ws, send_text_cmsg)
{
	ASSERT_EQ(5, ws_send(self->fd, "hello", 5, 0, WS_OP_TEXT));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		     "hello", 5);
	ASSERT_EQ(3, ws_send(self->fd, "\x00\xff\x01", 3, 0, WS_OP_BINARY));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "\x00\xff\x01", 3);
}

TEST_F(ws, send_tx_opcode_option)
{
	int op = WS_OP_TEXT;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op, sizeof(op)));
	ASSERT_EQ(2, write(self->fd, "hi", 2));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		     "hi", 2);
	/* A cmsg still overrides the default for one message. */
	ASSERT_EQ(2, ws_send(self->fd, "yo", 2, 0, WS_OP_BINARY));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "yo", 2);
}

TEST_F(ws, write_plain_binary)
{
	ASSERT_EQ(4, write(self->fd, "data", 4));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "data", 4);
}

TEST_F(ws, send_msg_more_fragments)
{
	ASSERT_EQ(2, ws_send(self->fd, "ab", 2, MSG_MORE, WS_OP_TEXT));
	ASSERT_EQ(2, ws_send(self->fd, "cd", 2, MSG_MORE, -1));
	ASSERT_EQ(2, ws_send(self->fd, "ef", 2, 0, -1));
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_TEXT,
		     "ab", 2);
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_CONT,
		     "cd", 2);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		     "ef", 2);
	/* The next send is a new message. */
	ASSERT_EQ(1, send(self->fd, "g", 1, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "g", 1);
}

TEST_F(ws, send_masking_by_role)
{
	uint8_t keys[8][4];
	int i, j, same = 0;

	for (i = 0; i < 8; i++) {
		struct rframe f;

		ASSERT_EQ(16, send(self->fd, "0123456789abcdef", 16, 0));
		expect_frame_hdr(_metadata, self->peer, variant->role, true,
				 WS_OP_BINARY, &f);
		ASSERT_EQ(16, f.len);
		EXPECT_EQ(0, memcmp(f.data, "0123456789abcdef", 16));
		memcpy(keys[i], f.key, 4);
		rframe_free(&f);
	}
	if (variant->role != WS_ROLE_CLIENT)
		return;
	/* RFC 6455 5.3: a fresh, unpredictable key for every frame. */
	for (i = 0; i < 8; i++)
		for (j = i + 1; j < 8; j++)
			same += !memcmp(keys[i], keys[j], 4);
	EXPECT_EQ(0, same);
}

TEST_F(ws, send_ping_cmsg)
{
	ASSERT_EQ(4, ws_send(self->fd, "ping", 4, 0, WS_OP_PING));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PING,
		     "ping", 4);
	ASSERT_EQ(125, ws_send(self->fd, memset(alloca(125), 'p', 125), 125, 0,
			       WS_OP_PING));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PING,
		     memset(alloca(125), 'p', 125), 125);
}

TEST_F(ws, send_pong_cmsg)
{
	ASSERT_EQ(0, ws_send(self->fd, "", 0, 0, WS_OP_PONG));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     NULL, 0);
}

TEST_F(ws, send_close_cmsg)
{
	struct ws_state st;

	ASSERT_EQ(3, ws_send_close(self->fd, 4000, "bye", 3, 0));
	expect_close_frame(_metadata, self->peer, variant->role, 4000, "bye", 3);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSING, st.state);
	EXPECT_EQ(4000, st.close_sent);
	EXPECT_EQ(0, st.close_rcvd);
}

TEST_F(ws, send_control_too_big_einval)
{
	uint8_t buf[126];

	memset(buf, 'x', sizeof(buf));
	EXPECT_EQ(-1, ws_send(self->fd, buf, 126, 0, WS_OP_PING));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ws_send(self->fd, buf, 126, 0, WS_OP_PONG));
	EXPECT_EQ(EINVAL, errno);
	/* Close: 2 code bytes + 123 of reason at most. */
	EXPECT_EQ(-1, ws_send_close(self->fd, 1000, buf, 124, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing went out, and the connection still works. */
	expect_quiet(_metadata, self->peer, QUIET_MS);
	ASSERT_EQ(1, send(self->fd, "k", 1, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "k", 1);
}

TEST_F(ws, send_control_msg_more_einval)
{
	EXPECT_EQ(-1, ws_send(self->fd, "p", 1, MSG_MORE, WS_OP_PING));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ws_send_close(self->fd, 1000, "", 0, MSG_MORE));
	EXPECT_EQ(EINVAL, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

TEST_F(ws, send_bad_opcode_einval)
{
	static const int ops[] = { WS_OP_CONT, 3, 7, 0xb, 0xf, 0x10 };
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		EXPECT_EQ(-1, ws_send(self->fd, "x", 1, 0, ops[i]));
		EXPECT_EQ(EINVAL, errno);
	}
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

TEST_F(ws, send_close_with_flags_einval)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ws_close))];
		struct cmsghdr align;
	} cbuf = {};
	struct ws_close wc = { .code = 1000, .flags = WS_CLOSE_LOCAL };
	struct iovec iov = { .iov_base = "", .iov_len = 0 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_WS;
	c->cmsg_type = WS_CMSG_CLOSE;
	c->cmsg_len = CMSG_LEN(sizeof(wc));
	memcpy(CMSG_DATA(c), &wc, sizeof(wc));
	EXPECT_EQ(-1, sendmsg(self->fd, &msg, 0));
	EXPECT_EQ(EINVAL, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

TEST_F(ws, send_ping_between_fragments)
{
	ASSERT_EQ(3, ws_send(self->fd, "abc", 3, MSG_MORE, WS_OP_TEXT));
	ASSERT_EQ(1, ws_send(self->fd, "p", 1, 0, WS_OP_PING));
	ASSERT_EQ(3, ws_send(self->fd, "def", 3, 0, -1));
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_TEXT,
		     "abc", 3);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PING,
		     "p", 1);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		     "def", 3);
}

TEST_F(ws, send_after_close_epipe)
{
	ASSERT_EQ(0, ws_send_close(self->fd, 1000, "", 0, 0));
	expect_close_frame(_metadata, self->peer, variant->role, 1000, "", 0);
	EXPECT_EQ(-1, send(self->fd, "late", 4, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

static volatile sig_atomic_t sigpipes;

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

TEST_F(ws, send_after_close_sigpipe)
{
	struct sigaction sa = { .sa_handler = count_sigpipe };

	ASSERT_EQ(0, sigaction(SIGPIPE, &sa, NULL));
	ASSERT_EQ(0, ws_send_close(self->fd, 1000, "", 0, 0));
	sigpipes = 0;
	EXPECT_EQ(-1, send(self->fd, "late", 4, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipes);
}

TEST_F(ws, send_after_peer_close_epipe)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8", 2);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	EXPECT_EQ(-1, send(self->fd, "late", 4, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
}

TEST_F(ws, shutdown_wr_sends_close_1000)
{
	ASSERT_EQ(0, shutdown(self->fd, SHUT_WR));
	/* abi.md: SHUT_WR starts the closing handshake; no FIN yet. */
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	EXPECT_EQ(WS_STATE_CLOSING, get_state(_metadata, self->fd).state);
	/* The peer answers: the handshake completes, then TCP ends. */
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8", 2);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	expect_tcp_end(_metadata, self->peer, variant->role);
	EXPECT_EQ(WS_STATE_CLOSED, get_state(_metadata, self->fd).state);
}

TEST_F(ws, close_sends_going_away)
{
	close(self->fd);
	self->fd = -1;
	expect_close_frame(_metadata, self->peer, variant->role, 1001, NULL, 0);
	expect_eof(_metadata, self->peer);
}

TEST_F(ws, close_handshake_app_first)
{
	struct ws_state st;

	ASSERT_EQ(2, ws_send_close(self->fd, 1000, "ok", 2, 0));
	expect_close_frame(_metadata, self->peer, variant->role, 1000, "ok", 2);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8" "fine", 6);
	expect_app_close(_metadata, self->fd, 1000, 0, "fine", 4);
	/* RFC 6455 7.1.1: both closes seen, TCP ends, the server first. */
	expect_tcp_end(_metadata, self->peer, variant->role);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
	EXPECT_EQ(1000, st.close_sent);
	EXPECT_EQ(1000, st.close_rcvd);
}

/* -- receiving -- */

TEST_F(ws, recv_single)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "hello", 5);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "hello", 5);
}

TEST_F(ws, recv_length_boundaries)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536,
				       65537 };
	uint8_t *buf = malloc(65537);
	size_t i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		fill_pattern(buf, lens[i], i);
		peer_send(_metadata, self->peer, variant->role, true,
			  WS_OP_BINARY, buf, lens[i]);
		expect_message(_metadata, self->fd, WS_OP_BINARY, buf, lens[i]);
	}
	free(buf);
}

TEST_F_TIMEOUT(ws, recv_large, 120)
{
	size_t len = 6u << 20;
	uint8_t *buf = malloc(len), *in = malloc(len + 1);
	struct wbuf wb = {};
	size_t got;
	pid_t pid;
	int op;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, in);
	fill_pattern(buf, len, 3);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, len);
	set_timeouts(self->fd, 60000);
	pid = spawn_sender(self->peer, wb.p, wb.len, 0);
	ASSERT_LE(0, pid);
	got = recv_message(_metadata, self->fd, in, len + 1, &op);
	EXPECT_EQ(WS_OP_BINARY, op);
	ASSERT_EQ(len, got);
	EXPECT_EQ(0, memcmp(in, buf, len));
	EXPECT_EQ(0, reap(pid));
	wb_free(&wb);
	free(buf);
	free(in);
}

/*
 * A message several times SO_RCVBUF comes out in parts before its end
 * arrives: the kernel must not wait for the whole message (it never fits).
 */
TEST_F_TIMEOUT(ws, recv_larger_than_rcvbuf, 60)
{
	size_t len = 1u << 20, got = 0;
	uint8_t *buf = malloc(len), *in = malloc(len);
	int rcvbuf = 32768, parts = 0;
	struct wbuf wb = {};
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				sizeof(rcvbuf)));
	fill_pattern(buf, len, 5);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, len);
	pid = spawn_sender(self->peer, wb.p, wb.len, 0);
	ASSERT_LE(0, pid);
	for (;;) {
		struct rx rx;
		ssize_t n = ws_recv(self->fd, in + got, len - got, 0, &rx);

		ASSERT_GT(n, 0) {
			TH_LOG("recv after %zu bytes: %s", got,
			       n ? strerror(errno) : "EOF");
		}
		got += n;
		parts++;
		if (rx.flags & MSG_EOR)
			break;
		ASSERT_LT(got, len);
	}
	EXPECT_EQ(len, got);
	EXPECT_EQ(0, memcmp(in, buf, len));
	EXPECT_GT(parts, 1);
	EXPECT_EQ(0, reap(pid));
	wb_free(&wb);
	free(buf);
	free(in);
}

/* Every byte its own segment: header, extended length, mask and payload. */
TEST_F(ws, recv_byte_by_byte)
{
	uint8_t buf[300];
	struct wbuf wb = {};

	fill_pattern(buf, sizeof(buf), 9);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, 5);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf,
		 sizeof(buf));
	wb_send(_metadata, self->peer, &wb, 1, 200);
	expect_message(_metadata, self->fd, WS_OP_BINARY, buf, 5);
	expect_message(_metadata, self->fd, WS_OP_BINARY, buf, sizeof(buf));
	wb_free(&wb);
}

TEST_F(ws, recv_header_byte_by_byte_64bit)
{
	size_t len = 70000;
	uint8_t *buf = malloc(len);
	struct wbuf wb = {};
	size_t hlen = 2 + 8 + (peer_masks(variant->role) ? 4 : 0);

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, len, 11);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, len);
	ASSERT_EQ(0, send_chunks(self->peer, wb.p, hlen, 1, 1000));
	ASSERT_EQ(0, send_chunks(self->peer, wb.p + hlen, wb.len - hlen, 4099,
				 0));
	expect_message(_metadata, self->fd, WS_OP_BINARY, buf, len);
	wb_free(&wb);
	free(buf);
}

TEST_F(ws, recv_two_messages_not_merged)
{
	uint8_t buf[64];
	struct wbuf wb = {};
	struct rx rx;

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "one", 3);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, "two", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	usleep(100000);
	EXPECT_EQ(3, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	EXPECT_EQ(3, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_BINARY, rx.op);
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(buf, "two", 3));
	wb_free(&wb);
}

TEST_F(ws, recv_fragmented)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_TEXT, "ab", 2);
	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_CONT, "cd", 2);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_CONT, "ef", 2);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "abcdef", 6);
	wb_free(&wb);
}

TEST_F(ws, recv_fragmented_octetwise)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_TEXT, "frag", 4);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_CONT, "ment", 4);
	wb_send(_metadata, self->peer, &wb, 1, 500);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "fragment", 8);
	wb_free(&wb);
}

/* Autobahn 5.19: pings inside a fragmented message are answered at once. */
TEST_F(ws, recv_fragmented_ping_answered_first)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_TEXT, "fragment1", 9);
	wb_frame(&wb, masks, false, WS_OP_CONT, "fragment2", 9);
	wb_frame(&wb, masks, true, WS_OP_PING, "ping1", 5);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "ping1", 5);
	wb_frame(&wb, masks, false, WS_OP_CONT, "fragment3", 9);
	wb_frame(&wb, masks, true, WS_OP_PING, "ping2", 5);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "ping2", 5);
	wb_frame(&wb, masks, true, WS_OP_CONT, "fragment4", 9);
	wb_send(_metadata, self->peer, &wb, 1, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT,
		       "fragment1fragment2fragment3fragment4", 36);
	wb_free(&wb);
}

TEST_F(ws, recv_small_buffer_eor_last)
{
	uint8_t msg[100], in[100];
	size_t got = 0;
	int calls = 0;

	fill_pattern(msg, sizeof(msg), 13);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  msg, sizeof(msg));
	while (got < sizeof(msg)) {
		struct rx rx;
		ssize_t n = ws_recv(self->fd, in + got, 7, 0, &rx);

		ASSERT_GT(n, 0);
		got += n;
		calls++;
		if (got < sizeof(msg)) {
			EXPECT_FALSE(rx.flags & MSG_EOR) {
				TH_LOG("MSG_EOR at %zu of %zu", got, sizeof(msg));
			}
		} else {
			EXPECT_TRUE(rx.flags & MSG_EOR);
		}
		if (rx.op >= 0) {
			EXPECT_EQ(WS_OP_BINARY, rx.op);
		}
		EXPECT_FALSE(rx.flags & MSG_TRUNC);
	}
	EXPECT_EQ(0, memcmp(msg, in, sizeof(msg)));
	EXPECT_EQ(15, calls);
}

TEST_F(ws, recv_zero_length_message)
{
	uint8_t buf[16];
	struct rx rx;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT, "", 0);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  "x", 1);
	/* Zero bytes with MSG_EOR and an opcode: a message, not EOF. */
	EXPECT_EQ(0, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_FALSE(rx.has_close);
	EXPECT_EQ(1, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_BINARY, rx.op);
	EXPECT_TRUE(rx.flags & MSG_EOR);
}

/* Autobahn 6.1.2: three empty fragments make one empty message. */
TEST_F(ws, recv_zero_length_fragments)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_TEXT, "", 0);
	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_CONT, "", 0);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_CONT, "", 0);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "next", 4);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "", 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "next", 4);
	wb_free(&wb);
}

/* Autobahn 6.1.3: empty first and last fragments around a payload. */
TEST_F(ws, recv_empty_first_last_fragments)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_TEXT, "", 0);
	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_CONT, "middle", 6);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_CONT, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "middle", 6);
	wb_free(&wb);
}

TEST_F(ws, recv_peek)
{
	uint8_t buf[16];
	struct rx rx;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "peekaboo", 8);
	EXPECT_EQ(4, ws_recv(self->fd, buf, 4, MSG_PEEK, &rx));
	EXPECT_EQ(0, memcmp(buf, "peek", 4));
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	EXPECT_EQ(8, ws_recv(self->fd, buf, sizeof(buf), MSG_PEEK, &rx));
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(8, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(0, memcmp(buf, "peekaboo", 8));
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT, &rx));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(ws, recv_dontwait_eagain)
{
	uint8_t buf[16];
	struct rx rx;

	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT, &rx));
	EXPECT_EQ(EAGAIN, errno);
	/* A partial frame is not a message either. */
	ASSERT_EQ(1, send(self->peer, "\x82", 1, 0));
	usleep(100000);
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT, &rx));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(ws, recv_nonblocking_fd_eagain)
{
	uint8_t buf[16];

	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F(ws, recv_rcvtimeo_eagain)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct timespec t0;
	uint8_t buf[16];
	struct rx rx;
	long ms;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(EAGAIN, errno);
	ms = elapsed_ms(&t0);
	EXPECT_GE(ms, 150);
	EXPECT_LT(ms, 3000);
}

TEST_F(ws, poll_partial_frame_no_pollin)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	uint8_t msg[100];
	struct wbuf wb = {};
	size_t half;

	fill_pattern(msg, sizeof(msg), 17);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, msg,
		 sizeof(msg));
	half = wb.len / 2;
	ASSERT_EQ(0, send_chunks(self->peer, wb.p, half, 0, 0));
	EXPECT_EQ(0, poll(&pfd, 1, QUIET_MS)) {
		TH_LOG("POLLIN on half a frame (revents 0x%x)", pfd.revents);
	}
	ASSERT_EQ(0, send_chunks(self->peer, wb.p + half, wb.len - half, 0, 0));
	EXPECT_EQ(1, poll(&pfd, 1, IO_TIMEOUT_MS));
	EXPECT_TRUE(pfd.revents & POLLIN);
	expect_message(_metadata, self->fd, WS_OP_BINARY, msg, sizeof(msg));
	wb_free(&wb);
}

TEST_F(ws, poll_partial_message_no_pollin)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

	peer_send(_metadata, self->peer, variant->role, false, WS_OP_TEXT,
		  "first", 5);
	EXPECT_EQ(0, poll(&pfd, 1, QUIET_MS)) {
		TH_LOG("POLLIN on a message's first fragment (revents 0x%x)",
		       pfd.revents);
	}
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		  "last", 4);
	EXPECT_EQ(1, poll(&pfd, 1, IO_TIMEOUT_MS));
	EXPECT_TRUE(pfd.revents & POLLIN);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "firstlast", 9);
}

TEST_F(ws, poll_control_frame_no_pollin)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

	/* Pings are answered by the kernel and not delivered: not readable. */
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING, "p", 1);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "p", 1);
	EXPECT_EQ(0, poll(&pfd, 1, QUIET_MS));
}

TEST_F(ws, poll_pollout)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };

	EXPECT_EQ(1, poll(&pfd, 1, IO_TIMEOUT_MS));
	EXPECT_TRUE(pfd.revents & POLLOUT);
}

TEST_F(ws, read_plain)
{
	char buf[16];

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "plain", 5);
	EXPECT_EQ(5, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "plain", 5));
}

/* Without a control buffer the message boundaries still hold. */
TEST_F(ws, recv_plain_no_merge)
{
	char buf[16];

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "ab", 2);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "cd", 2);
	usleep(100000);
	EXPECT_EQ(2, recv(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(2, recv(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "cd", 2));
}

TEST_F(ws, recv_waitall_one_message)
{
	char buf[16];

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "ab", 2);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "cd", 2);
	usleep(100000);
	/* MSG_WAITALL must not glue messages together. */
	EXPECT_EQ(2, recv(self->fd, buf, sizeof(buf), MSG_WAITALL));
}

/* -- control frames and close -- */

TEST_F(ws, auto_pong)
{
	struct ws_stats st;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "abc", 3);
	/* Answered without the application reading. */
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "abc", 3);
	st = get_stats(_metadata, self->fd);
	EXPECT_EQ(1, st.pings_answered);
}

TEST_F(ws, auto_pong_empty)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING, "", 0);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "", 0);
}

/* Autobahn 2.6: a 125-byte ping, one octet per segment. */
TEST_F(ws, auto_pong_125_octetwise)
{
	uint8_t p[125];
	struct wbuf wb = {};

	fill_pattern(p, sizeof(p), 19);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_PING, p, sizeof(p));
	wb_send(_metadata, self->peer, &wb, 1, 0);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     p, sizeof(p));
	wb_free(&wb);
}

TEST_F(ws, ping_not_delivered)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "p", 1);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "data", 4);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "data", 4);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "p", 1);
}

/* Autobahn 2.7-2.9: unsolicited pongs are ignored. */
TEST_F(ws, unsolicited_pong_ignored)
{
	struct ws_stats st;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		  "u", 1);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "q", 1);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "q", 1);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "d", 1);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "d", 1);
	st = get_stats(_metadata, self->fd);
	EXPECT_EQ(1, st.pongs_received);
}

TEST_F(ws, deliver_control)
{
	uint8_t buf[200];
	struct rx rx;
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role,
		     WS_F_DELIVER_CONTROL, 0, &fd, &peer))
		return;
	peer_send(_metadata, peer, variant->role, true, WS_OP_PING, "pi", 2);
	peer_send(_metadata, peer, variant->role, true, WS_OP_PONG, "po", 2);
	peer_send(_metadata, peer, variant->role, true, WS_OP_TEXT, "tx", 2);
	/* Still answered by the kernel. */
	expect_frame(_metadata, peer, variant->role, true, WS_OP_PONG, "pi", 2);
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_PING, rx.op);
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(buf, "pi", 2));
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_PONG, rx.op);
	EXPECT_EQ(0, memcmp(buf, "po", 2));
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	EXPECT_EQ(0, memcmp(buf, "tx", 2));
	close(fd);
	close(peer);
}

/*
 * A ping inside a fragmented message comes out as its own record: before,
 * after or between the parts of the message, never merged with them.
 */
TEST_F(ws, deliver_control_inside_fragmented)
{
	bool masks = peer_masks(variant->role);
	uint8_t buf[200], data[16];
	size_t got = 0;
	struct wbuf wb = {};
	int pings = 0, records = 0;
	struct rx rx;
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role,
		     WS_F_DELIVER_CONTROL, 0, &fd, &peer))
		return;
	wb_frame(&wb, masks, false, WS_OP_BINARY, "ab", 2);
	wb_frame(&wb, masks, true, WS_OP_PING, "p", 1);
	wb_frame(&wb, masks, true, WS_OP_CONT, "cd", 2);
	wb_send(_metadata, peer, &wb, 0, 0);
	usleep(100000);
	while (records++ < 4) {
		ssize_t n = ws_recv(fd, buf, sizeof(buf), 0, &rx);

		ASSERT_LE(0, n);
		if (rx.op == WS_OP_PING) {
			EXPECT_EQ(1, n);
			EXPECT_EQ('p', buf[0]);
			EXPECT_TRUE(rx.flags & MSG_EOR);
			pings++;
			continue;
		}
		ASSERT_EQ(WS_OP_BINARY, rx.op);
		ASSERT_LE(got + n, sizeof(data));
		memcpy(data + got, buf, n);
		got += n;
		if (rx.flags & MSG_EOR)
			break;
	}
	ASSERT_EQ(4, got);
	EXPECT_EQ(0, memcmp(data, "abcd", 4));
	if (!pings) {
		EXPECT_EQ(1, recv_message(_metadata, fd, buf, sizeof(buf),
					  &records));
		EXPECT_EQ(WS_OP_PING, records);
	} else {
		EXPECT_EQ(1, pings);
	}
	wb_free(&wb);
	close(fd);
	close(peer);
}

TEST_F(ws, no_auto_pong)
{
	uint8_t buf[16];
	struct rx rx;
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role,
		     WS_F_NO_AUTO_PONG | WS_F_DELIVER_CONTROL, 0, &fd, &peer))
		return;
	peer_send(_metadata, peer, variant->role, true, WS_OP_PING, "np", 2);
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_PING, rx.op);
	expect_quiet(_metadata, peer, QUIET_MS);
	/* The application answers itself. */
	ASSERT_EQ(2, ws_send(fd, buf, 2, 0, WS_OP_PONG));
	expect_frame(_metadata, peer, variant->role, true, WS_OP_PONG, "np", 2);
	EXPECT_EQ(0, get_stats(_metadata, fd).pings_answered);
	close(fd);
	close(peer);
}

TEST_F(ws, no_utf8_check)
{
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role,
		     WS_F_NO_UTF8_CHECK, 0, &fd, &peer))
		return;
	peer_send(_metadata, peer, variant->role, true, WS_OP_TEXT,
		  "\xff\xfe\xc0", 3);
	expect_message(_metadata, fd, WS_OP_TEXT, "\xff\xfe\xc0", 3);
	/* Close reasons are not checked either. */
	peer_send(_metadata, peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8\xff", 3);
	expect_close_frame(_metadata, peer, variant->role, 1000, NULL, 0);
	close(fd);
	close(peer);
}

TEST_F(ws, recv_close_echoed)
{
	struct ws_state st;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8" "bye", 5);
	/* Echoed at once, without the application reading. */
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_tcp_end(_metadata, self->peer, variant->role);
	expect_app_close(_metadata, self->fd, 1000, 0, "bye", 3);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
	EXPECT_EQ(1000, st.close_rcvd);
	EXPECT_EQ(1000, st.close_sent);
}

/* Autobahn 7.3.1: no code in, 1005 to the application, a clean close out. */
TEST_F(ws, recv_close_empty)
{
	struct rframe f;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "", 0);
	expect_frame_hdr(_metadata, self->peer, variant->role, true,
			 WS_OP_CLOSE, &f);
	/* Either an empty close or 1000 (never 1005 on the wire). */
	if (f.len) {
		ASSERT_EQ(2, f.len);
		EXPECT_EQ(1000, f.data[0] << 8 | f.data[1]);
	}
	rframe_free(&f);
	expect_app_close(_metadata, self->fd, WS_CLOSE_NO_STATUS, 0, "", 0);
}

/*
 * Autobahn 7.1.1 against an echo server: a message and the close in one
 * segment. The close echo waits until the application reads up to the
 * close, so it can still answer the message (RFC 6455 5.5.1: it may send
 * until it sends its own close).
 */
TEST_F(ws, close_echo_after_app_answers)
{
	struct wbuf wb = {};
	struct ws_state st;

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "last", 4);
	wb_close(&wb, peer_masks(variant->role), 1000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "last", 4);
	/* The close is parsed, not read: no echo yet. */
	expect_quiet(_metadata, self->peer, QUIET_MS);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSING, st.state);
	EXPECT_EQ(1000, st.close_rcvd);
	EXPECT_EQ(0, st.close_sent);
	ASSERT_EQ(4, ws_send(self->fd, "last", 4, 0, WS_OP_TEXT));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		     "last", 4);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_tcp_end(_metadata, self->peer, variant->role);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
	EXPECT_EQ(1000, st.close_sent);
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	wb_free(&wb);
}

/* The other order: the application reads the close first, echoed then. */
TEST_F(ws, close_echo_when_app_reads_close)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "last", 4);
	wb_close(&wb, peer_masks(variant->role), 1000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "last", 4);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	/* Our close is out: nothing more may follow it. */
	EXPECT_EQ(-1, send(self->fd, "late", 4, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	expect_tcp_end(_metadata, self->peer, variant->role);
}

/* read() reaching the close (EOF) releases the echo too. */
TEST_F(ws, close_echo_when_read_returns_eof)
{
	struct wbuf wb = {};
	uint8_t buf[16];

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, "m", 1);
	wb_close(&wb, peer_masks(variant->role), 4001, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	EXPECT_EQ(1, read(self->fd, buf, sizeof(buf)));
	expect_quiet(_metadata, self->peer, QUIET_MS);
	EXPECT_EQ(0, read(self->fd, buf, sizeof(buf)));
	expect_close_frame(_metadata, self->peer, variant->role, 4001, NULL, 0);
	wb_free(&wb);
}

/* An application that never reads the close: close(2) sends the echo. */
TEST_F(ws, close_echo_at_close_unread)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "unread", 6);
	wb_close(&wb, peer_masks(variant->role), 3000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	close(self->fd);
	self->fd = -1;
	/* The echo of 3000, not a 1001 of our own. */
	expect_close_frame(_metadata, self->peer, variant->role, 3000, NULL, 0);
	expect_eof(_metadata, self->peer);
	wb_free(&wb);
}

/* ... and shutdown() sends it, the messages stay readable. */
TEST_F(ws, close_echo_at_shutdown_unread)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "unread", 6);
	wb_close(&wb, peer_masks(variant->role), 3000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	ASSERT_EQ(0, shutdown(self->fd, SHUT_WR));
	expect_close_frame(_metadata, self->peer, variant->role, 3000, NULL, 0);
	expect_tcp_end(_metadata, self->peer, variant->role);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "unread", 6);
	expect_app_close(_metadata, self->fd, 3000, 0, "", 0);
	EXPECT_EQ(WS_STATE_CLOSED, get_state(_metadata, self->fd).state);
	wb_free(&wb);
}

/* MSG_PEEK of the close does not release the echo; reading it does. */
TEST_F(ws, close_echo_not_on_peek)
{
	struct wbuf wb = {};
	uint8_t buf[16];
	struct rx rx;

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "m", 1);
	wb_close(&wb, peer_masks(variant->role), 1000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "m", 1);
	EXPECT_EQ(0, ws_recv(self->fd, buf, sizeof(buf), MSG_PEEK, &rx));
	EXPECT_TRUE(rx.has_close);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	wb_free(&wb);
}

/* Autobahn 7.1.2-7.1.4: anything after a close frame is ignored. */
TEST_F(ws, recv_after_close_ignored)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_close(&wb, masks, 1000, "", 0);
	wb_close(&wb, masks, 1001, "", 0);
	wb_frame(&wb, masks, true, WS_OP_PING, "late", 4);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "late", 4);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	/* No pong, no second close: TCP ends. */
	expect_tcp_end(_metadata, self->peer, variant->role);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	wb_free(&wb);
}

TEST_F(ws, peer_fin_abnormal)
{
	struct ws_state st;

	ASSERT_EQ(0, shutdown(self->peer, SHUT_WR));
	expect_app_close(_metadata, self->fd, WS_CLOSE_ABNORMAL_CODE,
			 WS_CLOSE_ABNORMAL, NULL, 0);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
}

TEST_F(ws, peer_fin_after_message)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  "end", 3);
	ASSERT_EQ(0, shutdown(self->peer, SHUT_WR));
	expect_message(_metadata, self->fd, WS_OP_BINARY, "end", 3);
	expect_app_close(_metadata, self->fd, WS_CLOSE_ABNORMAL_CODE,
			 WS_CLOSE_ABNORMAL, NULL, 0);
}

TEST_F(ws, peer_fin_inside_frame)
{
	uint8_t half[3] = { 0x82, 0x7e, 0x01 };

	/* Half a frame, then FIN: abnormal, and the half is not delivered. */
	if (peer_masks(variant->role))
		half[1] |= 0x80;
	ASSERT_EQ(0, send_chunks(self->peer, half, 3, 0, 0));
	ASSERT_EQ(0, shutdown(self->peer, SHUT_WR));
	expect_app_close(_metadata, self->fd, WS_CLOSE_ABNORMAL_CODE,
			 WS_CLOSE_ABNORMAL, NULL, 0);
}

/* The application sees a failure as a local close, the peer as a code + FIN. */
TEST_F(ws, fail_reports_local_close)
{
	struct ws_state st;

	/* RSV1 without an extension: 1002. */
	struct wbuf wb = {};

	wb_frame_raw(&wb, B0(true, 4, WS_OP_TEXT), peer_masks(variant->role),
		     1, "x", 1);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
	expect_eof(_metadata, self->peer);
	expect_app_close(_metadata, self->fd, WS_CLOSE_PROTOCOL_ERROR,
			 WS_CLOSE_LOCAL, NULL, 0);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
	EXPECT_EQ(WS_CLOSE_PROTOCOL_ERROR, st.close_sent);
	EXPECT_EQ(1, get_stats(_metadata, self->fd).protocol_errors);
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	wb_free(&wb);
}

TEST_F(ws, max_msg_size_config_1009)
{
	uint8_t buf[101];
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role, 0, 100, &fd,
		     &peer))
		return;
	memset(buf, 'm', sizeof(buf));
	peer_send(_metadata, peer, variant->role, true, WS_OP_BINARY, buf, 100);
	expect_message(_metadata, fd, WS_OP_BINARY, buf, 100);
	peer_send(_metadata, peer, variant->role, true, WS_OP_BINARY, buf, 101);
	expect_close_frame(_metadata, peer, variant->role, WS_CLOSE_TOO_BIG,
			   NULL, 0);
	expect_app_close(_metadata, fd, WS_CLOSE_TOO_BIG, WS_CLOSE_LOCAL,
			 NULL, 0);
	close(fd);
	close(peer);
}

TEST_F(ws, max_msg_size_option_1009)
{
	uint64_t max = 10;
	uint8_t buf[11];

	memset(buf, 'o', sizeof(buf));
	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_MAX_MSG_SIZE, &max,
				sizeof(max)));
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT, buf, 11);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_TOO_BIG, NULL, 0);
	expect_app_close(_metadata, self->fd, WS_CLOSE_TOO_BIG,
			 WS_CLOSE_LOCAL, NULL, 0);
}

/* The limit is on the message, not the frame. */
TEST_F(ws, max_msg_size_fragmented_1009)
{
	uint8_t buf[60];
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role, 0, 100, &fd,
		     &peer))
		return;
	memset(buf, 'f', sizeof(buf));
	peer_send(_metadata, peer, variant->role, false, WS_OP_BINARY, buf, 60);
	peer_send(_metadata, peer, variant->role, true, WS_OP_CONT, buf, 60);
	expect_close_frame(_metadata, peer, variant->role, WS_CLOSE_TOO_BIG,
			   NULL, 0);
	close(fd);
	close(peer);
}

TEST_F(ws, max_msg_size_unlimited)
{
	uint8_t buf[70000];
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role, 0,
		     WS_MAX_MSG_UNLIMITED, &fd, &peer))
		return;
	fill_pattern(buf, sizeof(buf), 23);
	peer_send(_metadata, peer, variant->role, true, WS_OP_BINARY, buf,
		  sizeof(buf));
	expect_message(_metadata, fd, WS_OP_BINARY, buf, sizeof(buf));
	close(fd);
	close(peer);
}

/* -- state, statistics, options -- */

TEST_F(ws, state_open)
{
	struct ws_state st = get_state(_metadata, self->fd);

	EXPECT_EQ(WS_STATE_OPEN, st.state);
	EXPECT_EQ(0, st.close_rcvd);
	EXPECT_EQ(0, st.close_sent);
}

TEST_F(ws, state_peer_close_first)
{
	struct ws_state st;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x0b\xb8", 2);
	/* RFC 6455 5.5.1: the echo carries the code received. */
	expect_close_frame(_metadata, self->peer, variant->role, 3000, NULL, 0);
	st = get_state(_metadata, self->fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
	EXPECT_EQ(3000, st.close_rcvd);
	EXPECT_EQ(3000, st.close_sent);
}

TEST_F(ws, stats_counters)
{
	struct wbuf wb = {};
	bool masks = peer_masks(variant->role);
	struct ws_stats st;

	wb_frame(&wb, masks, false, WS_OP_TEXT, "abc", 3);
	wb_frame(&wb, masks, true, WS_OP_CONT, "de", 2);
	wb_frame(&wb, masks, true, WS_OP_BINARY, "fghij", 5);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "abcde", 5);
	expect_message(_metadata, self->fd, WS_OP_BINARY, "fghij", 5);
	ASSERT_EQ(4, ws_send(self->fd, "klmn", 4, MSG_MORE, -1));
	ASSERT_EQ(2, ws_send(self->fd, "op", 2, 0, -1));
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_BINARY,
		     "klmn", 4);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		     "op", 2);
	st = get_stats(_metadata, self->fd);
	EXPECT_EQ(3, st.rx_frames);
	EXPECT_EQ(2, st.rx_messages);
	EXPECT_EQ(10, st.rx_bytes);
	EXPECT_EQ(2, st.tx_frames);
	EXPECT_EQ(1, st.tx_messages);
	EXPECT_EQ(6, st.tx_bytes);
	EXPECT_EQ(0, st.pings_answered);
	EXPECT_EQ(0, st.pongs_received);
	EXPECT_EQ(0, st.protocol_errors);
	wb_free(&wb);
}

TEST_F(ws, getsockopt_ulp_ws)
{
	char name[16] = "";
	socklen_t len = sizeof(name);

	ASSERT_EQ(0, getsockopt(self->fd, IPPROTO_TCP, TCP_ULP, name, &len));
	EXPECT_STREQ("ws", name);
}

TEST_F(ws, connect_unspec_eopnotsupp)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	EXPECT_EQ(-1, connect(self->fd, &sa, sizeof(sa)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Still a working WebSocket. */
	ASSERT_EQ(1, send(self->fd, "s", 1, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "s", 1);
}

/* Documentation/abi.md: splice() from the socket would see raw frames. */
TEST_F(ws, splice_to_pipe_eopnotsupp)
{
	int p[2];

	ASSERT_EQ(0, pipe(p));
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "one", 3);
	usleep(100000);
	EXPECT_EQ(-1, splice(self->fd, NULL, p[1], NULL, 64, SPLICE_F_NONBLOCK));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Nothing was taken. */
	expect_message(_metadata, self->fd, WS_OP_TEXT, "one", 3);
	close(p[0]);
	close(p[1]);
}

/* TCP_ZEROCOPY_RECEIVE and mmap would map raw, masked frames. */
TEST_F(ws, zerocopy_receive_eopnotsupp)
{
	struct zc_receive zc = {};
	socklen_t len = sizeof(zc);
	size_t map_len = 1u << 16;
	uint8_t copy[4096];
	void *map;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "zero", 4);
	usleep(100000);
	map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	/* abi.md: as any socket that cannot be mapped (mmap(2)). */
	EXPECT_EQ(ENODEV, errno);
	zc.address = map == MAP_FAILED ? 0 : (uintptr_t)map;
	zc.length = map == MAP_FAILED ? 0 : map_len;
	zc.copybuf_address = (uintptr_t)copy;
	zc.copybuf_len = sizeof(copy);
	EXPECT_EQ(-1, getsockopt(self->fd, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE,
				 &zc, &len));
	EXPECT_EQ(EOPNOTSUPP, errno);
	if (map != MAP_FAILED)
		munmap(map, map_len);
	/* Whatever happened, the message is intact. */
	expect_message(_metadata, self->fd, WS_OP_TEXT, "zero", 4);
}

static int inq(struct __test_metadata *_metadata, int fd)
{
	int n = -1;

	EXPECT_EQ(0, ioctl(fd, FIONREAD, &n)) {
		TH_LOG("FIONREAD: %s", strerror(errno));
	}
	return n;
}

/*
 * SIOCINQ/FIONREAD count the payload of the message at the head of the
 * queue, what one recvmsg() with room enough returns, not TCP's bytes.
 */
TEST_F(ws, siocinq_head_message)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	uint8_t big[300], buf[512];
	struct rx rx;
	int n = -1;

	fill_pattern(big, sizeof(big), 3);
	EXPECT_EQ(0, inq(_metadata, self->fd));
	wb_frame(&wb, masks, true, WS_OP_TEXT, "hello", 5);
	wb_frame(&wb, masks, true, WS_OP_BINARY, big, sizeof(big));
	wb_frame(&wb, masks, true, WS_OP_TEXT, "", 0);
	wb_close(&wb, masks, 1000, "bye", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	usleep(100000);
	EXPECT_EQ(5, inq(_metadata, self->fd));
	EXPECT_EQ(0, ioctl(self->fd, SIOCINQ, &n));
	EXPECT_EQ(5, n);
	EXPECT_EQ(2, recv(self->fd, buf, 2, 0));
	EXPECT_EQ(3, inq(_metadata, self->fd));
	EXPECT_EQ(3, recv(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(300, inq(_metadata, self->fd));
	expect_message(_metadata, self->fd, WS_OP_BINARY, big, sizeof(big));
	EXPECT_EQ(0, inq(_metadata, self->fd));
	EXPECT_EQ(0, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_TRUE(rx.flags & MSG_EOR);
	/* The close's reason. */
	EXPECT_EQ(3, inq(_metadata, self->fd));
	expect_app_close(_metadata, self->fd, 1000, 0, "bye", 3);
	EXPECT_EQ(0, inq(_metadata, self->fd));
	wb_free(&wb);
}

/* A message still arriving: the bytes received so far, no frame bytes. */
TEST_F(ws, siocinq_partial_message)
{
	bool masks = peer_masks(variant->role);
	struct wbuf first = {}, last = {};

	wb_frame(&first, masks, false, WS_OP_TEXT, "abcdefghij", 10);
	wb_frame(&last, masks, true, WS_OP_CONT, "xyz", 3);
	/* The first fragment and a header byte of the last: no payload. */
	ASSERT_EQ(0, send_chunks(self->peer, first.p, first.len, 0, 0));
	ASSERT_EQ(0, send_chunks(self->peer, last.p, 1, 0, 0));
	usleep(100000);
	EXPECT_EQ(10, inq(_metadata, self->fd));
	ASSERT_EQ(0, send_chunks(self->peer, last.p + 1, last.len - 1, 0, 0));
	usleep(100000);
	EXPECT_EQ(13, inq(_metadata, self->fd));
	expect_message(_metadata, self->fd, WS_OP_TEXT, "abcdefghijxyz", 13);
	EXPECT_EQ(0, inq(_metadata, self->fd));
	wb_free(&first);
	wb_free(&last);
}

/* SO_RCVLOWAT would make TCP stop waking the parser; SO_PEEK_OFF too. */
TEST_F(ws, rcvlowat_peek_off_eopnotsupp)
{
	int v = 100;

	EXPECT_EQ(-1, setsockopt(self->fd, SOL_SOCKET, SO_RCVLOWAT, &v,
				 sizeof(v)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	v = 0;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_SOCKET, SO_PEEK_OFF, &v,
				 sizeof(v)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Other options still reach TCP. */
	v = 1;
	EXPECT_EQ(0, setsockopt(self->fd, IPPROTO_TCP, TCP_NODELAY, &v,
				sizeof(v)));
}

TEST_F(ws, recv_oob_eopnotsupp)
{
	char c;

	EXPECT_EQ(-1, recv(self->fd, &c, 1, MSG_OOB | MSG_DONTWAIT));
	EXPECT_EQ(EOPNOTSUPP, errno);
}

TEST_F(ws, send_bad_flags_eopnotsupp)
{
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_OOB));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_ZEROCOPY));
	EXPECT_EQ(EOPNOTSUPP, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

TEST_F(ws, send_eor)
{
	ASSERT_EQ(3, send(self->fd, "eor", 3, MSG_EOR));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "eor", 3);
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_EOR | MSG_MORE));
	EXPECT_EQ(EINVAL, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

/* A continuation may repeat its message's opcode, not change it. */
TEST_F(ws, send_cont_opcode_change_einval)
{
	ASSERT_EQ(2, ws_send(self->fd, "t1", 2, MSG_MORE, WS_OP_TEXT));
	ASSERT_EQ(2, ws_send(self->fd, "t2", 2, MSG_MORE, WS_OP_TEXT));
	EXPECT_EQ(-1, ws_send(self->fd, "b", 1, 0, WS_OP_BINARY));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(2, ws_send(self->fd, "t3", 2, 0, -1));
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_TEXT,
		     "t1", 2);
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_CONT,
		     "t2", 2);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		     "t3", 2);
}

TEST_F(ws, send_close_bad_code_einval)
{
	static const int codes[] = { 999, 1004, 1005, 1006, 1015, 2999, 5000 };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		EXPECT_EQ(-1, ws_send_close(self->fd, codes[i], "", 0, 0)) {
			TH_LOG("close code %d accepted", codes[i]);
		}
		EXPECT_EQ(EINVAL, errno);
	}
	/* A reason needs a code. */
	EXPECT_EQ(-1, ws_send_close(self->fd, 0, "why", 3, 0));
	EXPECT_EQ(EINVAL, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	EXPECT_EQ(WS_STATE_OPEN, get_state(_metadata, self->fd).state);
}

TEST_F(ws, send_close_code_zero_empty)
{
	EXPECT_EQ(0, ws_send_close(self->fd, 0, "", 0, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		     "", 0);
	EXPECT_EQ(WS_CLOSE_NO_STATUS, get_state(_metadata, self->fd).close_sent);
}

/* A close by WS_CMSG_OPCODE alone: the payload is the close payload. */
TEST_F(ws, send_close_by_opcode)
{
	EXPECT_EQ(-1, ws_send(self->fd, "\x03", 1, 0, WS_OP_CLOSE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ws_send(self->fd, "\x03\xed", 2, 0, WS_OP_CLOSE));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(5, ws_send(self->fd, "\x03\xe9" "bye", 5, 0, WS_OP_CLOSE));
	expect_close_frame(_metadata, self->peer, variant->role, 1001, "bye", 3);
}

/* A frame TCP took part of stays open: the next send() finishes it. */
TEST_F_TIMEOUT(ws, send_partial_nonblocking, 60)
{
	size_t len = 4u << 20, got = 0;
	uint8_t *buf = malloc(len);
	struct rframe f;
	int sndbuf = 16384;
	ssize_t n;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, len, 29);
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				sizeof(sndbuf)));
	n = send(self->fd, buf, len, MSG_DONTWAIT);
	ASSERT_GT(n, 0);
	ASSERT_LT(n, (ssize_t)len);
	got = n;
	/* The retry loop every application has. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		set_timeouts(self->fd, 30000);
		while (got < len) {
			n = send(self->fd, buf + got, len - got, 0);
			if (n <= 0)
				_exit(1);
			got += n;
		}
		_exit(0);
	}
	/* One frame, announcing the whole first call's length. */
	ASSERT_EQ(RF_OK, peer_read_frame(self->peer, &f, 30000));
	EXPECT_EQ(WS_OP_BINARY, f.op);
	EXPECT_TRUE(f.fin);
	EXPECT_EQ(variant->role == WS_ROLE_CLIENT, f.masked);
	ASSERT_EQ(len, f.len);
	EXPECT_EQ(0, memcmp(f.data, buf, len));
	rframe_free(&f);
	EXPECT_EQ(0, reap(pid));
	free(buf);
}

/* A ping must not pass for data: read() without a control buffer fails. */
TEST_F(ws, read_ping_eio)
{
	uint8_t buf[16];
	struct rx rx;
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role,
		     WS_F_DELIVER_CONTROL, 0, &fd, &peer))
		return;
	peer_send(_metadata, peer, variant->role, true, WS_OP_PING, "pg", 2);
	expect_frame(_metadata, peer, variant->role, true, WS_OP_PONG, "pg", 2);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	/* Still queued. */
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_PING, rx.op);
	close(fd);
	close(peer);
}

/* read() of the close reads as EOF, and consumes it. */
TEST_F(ws, read_close_is_eof)
{
	uint8_t buf[16];
	struct rx rx;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "msg", 3);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8", 2);
	EXPECT_EQ(3, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(0, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_FALSE(rx.has_close);
}

TEST_F(ws, shutdown_rdwr_sends_close_1000)
{
	ASSERT_EQ(0, shutdown(self->fd, SHUT_RDWR));
	/* SHUT_RDWR: the close, then TCP at once. */
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_eof(_metadata, self->peer);
}

TEST_F(ws, shutdown_wr_then_send_epipe)
{
	ASSERT_EQ(0, shutdown(self->fd, SHUT_WR));
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

/* Unread messages are dropped at close(2) without a reset. */
TEST_F(ws, close_unread_no_reset)
{
	uint8_t buf[8];

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "unread", 6);
	usleep(100000);
	close(self->fd);
	self->fd = -1;
	expect_close_frame(_metadata, self->peer, variant->role, 1001, NULL, 0);
	EXPECT_EQ(0, read_full(self->peer, buf, 1, IO_TIMEOUT_MS)) {
		TH_LOG("expected FIN, got %s", strerror(errno));
	}
}

/* A reset is an errno once, then the 1006 close, then EOF. */
TEST_F(ws, peer_reset_econnreset_then_1006)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint8_t buf[16];
	struct rx rx;

	ASSERT_EQ(0, setsockopt(self->peer, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(self->peer);
	self->peer = -1;
	usleep(100000);
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(ECONNRESET, errno);
	expect_app_close(_metadata, self->fd, WS_CLOSE_ABNORMAL_CODE,
			 WS_CLOSE_ABNORMAL, NULL, 0);
}

/* A blocked reader is woken by frames that arrive in pieces. */
TEST_F(ws, recv_blocking_woken)
{
	uint8_t msg[1000];
	struct wbuf wb = {};
	pid_t pid;

	fill_pattern(msg, sizeof(msg), 31);
	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_BINARY, msg, 400);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_CONT, msg + 400,
		 600);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(200000);
		_exit(send_chunks(self->peer, wb.p, wb.len, 97, 20000) ? 1 : 0);
	}
	expect_message(_metadata, self->fd, WS_OP_BINARY, msg, sizeof(msg));
	EXPECT_EQ(0, reap(pid));
	wb_free(&wb);
}

/* poll() in one process wakes when another's frames complete a message. */
TEST_F(ws, poll_wait_woken)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
	struct wbuf wb = {};
	pid_t pid;

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "wake", 4);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(200000);
		_exit(send_chunks(self->peer, wb.p, wb.len, 1, 10000) ? 1 : 0);
	}
	EXPECT_EQ(1, poll(&pfd, 1, IO_TIMEOUT_MS));
	EXPECT_TRUE(pfd.revents & POLLIN);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "wake", 4);
	EXPECT_EQ(0, reap(pid));
	wb_free(&wb);
}

TEST_F(ws, epoll_partial_frame)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint8_t msg[64];
	struct wbuf wb = {};
	int ep = epoll_create1(0);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	fill_pattern(msg, sizeof(msg), 37);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, msg,
		 sizeof(msg));
	ASSERT_EQ(0, send_chunks(self->peer, wb.p, 10, 0, 0));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, QUIET_MS));
	ASSERT_EQ(0, send_chunks(self->peer, wb.p + 10, wb.len - 10, 0, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, IO_TIMEOUT_MS));
	expect_message(_metadata, self->fd, WS_OP_BINARY, msg, sizeof(msg));
	close(ep);
	wb_free(&wb);
}

TEST_F(ws, poll_close_pollin)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN };

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8", 2);
	EXPECT_EQ(1, poll(&pfd, 1, IO_TIMEOUT_MS));
	EXPECT_TRUE(pfd.revents & POLLIN);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
}

/* Control payload counts in rx_bytes (Documentation/abi.md). */
TEST_F(ws, stats_control_counted)
{
	struct ws_stats st;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "xyz", 3);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "xyz", 3);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		  "uv", 2);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "t", 1);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "t", 1);
	st = get_stats(_metadata, self->fd);
	EXPECT_EQ(3, st.rx_frames);
	EXPECT_EQ(1, st.rx_messages);
	EXPECT_EQ(6, st.rx_bytes);
	EXPECT_EQ(1, st.pings_answered);
	EXPECT_EQ(1, st.pongs_received);
	EXPECT_EQ(1, st.tx_frames);
	EXPECT_EQ(0, st.tx_messages);
}

TEST_F(ws, config_get_in_force)
{
	struct ws_config cfg;
	socklen_t len = sizeof(cfg);

	memset(&cfg, 0xff, sizeof(cfg));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_CONFIG, &cfg, &len));
	EXPECT_EQ(sizeof(cfg), len);
	EXPECT_EQ(variant->role, cfg.role);
	EXPECT_EQ(0, cfg.flags);
	EXPECT_EQ(0, cfg.reserved);
	EXPECT_EQ(WS_MAX_MSG_DEFAULT, cfg.max_msg_size);
}

TEST_F(ws, keepalive_get_set)
{
	struct ws_keepalive ka = { .idle_ms = 100000, .timeout_ms = 0 };
	socklen_t len = sizeof(ka);

	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka,
				 sizeof(ka)));
	EXPECT_EQ(EINVAL, errno);
	ka.timeout_ms = 5000;
	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka,
				sizeof(ka)));
	memset(&ka, 0, sizeof(ka));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka, &len));
	EXPECT_EQ(100000, ka.idle_ms);
	EXPECT_EQ(5000, ka.timeout_ms);
	/* Off again. */
	ka.idle_ms = 0;
	EXPECT_EQ(0, setsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka,
				sizeof(ka)));
}

/* Any input defers the keepalive ping: it is about silence. */
TEST_F(ws, keepalive_idle_only)
{
	struct ws_keepalive ka = { .idle_ms = 1500, .timeout_ms = 5000 };
	struct timespec t0, last;
	long gap, max_gap = 0;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka,
				sizeof(ka)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	last = t0;
	/* 3 s of input every 100 ms: no ping (unless the VM stalled). */
	while (elapsed_ms(&t0) < 3000) {
		usleep(100000);
		peer_send(_metadata, self->peer, variant->role, true,
			  WS_OP_PONG, "", 0);
		gap = elapsed_ms(&last);
		clock_gettime(CLOCK_MONOTONIC, &last);
		if (gap > max_gap)
			max_gap = gap;
	}
	if (max_gap >= (long)ka.idle_ms) {
		TH_LOG("input gap of %ld ms: a ping was allowed", max_gap);
		return;
	}
	expect_quiet(_metadata, self->peer, 50);
	/* Then silence: the ping comes. */
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PING,
		     "", 0);
}

/*
 * WS_LEFTOVER: bytes the handshake read past its end come first, then the
 * socket's, even when a frame straddles the two.
 */
TEST_F(ws, leftover_delivered_first)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	size_t split, f1;
	uint8_t raw[64];
	int fd, peer;

	tcp_pair_role(_metadata, variant->family, variant->role, &fd, &peer);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "first", 5);
	f1 = wb.len;
	wb_frame(&wb, masks, true, WS_OP_TEXT, "second", 6);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "third", 5);
	split = f1 + 3;
	ASSERT_LE(wb.len, sizeof(raw));
	/* The "handshake" read the first frame and a bit of the second... */
	ASSERT_EQ(0, send_chunks(peer, wb.p, split, 0, 0));
	ASSERT_EQ((ssize_t)split, read_full(fd, raw, split, IO_TIMEOUT_MS));
	if (!ws_attach(_metadata, fd))
		return;
	/* ...the rest is in the socket before WS_CONFIG. */
	ASSERT_EQ(0, send_chunks(peer, wb.p + split, wb.len - split, 0, 0));
	usleep(100000);
	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_LEFTOVER, raw, split));
	ASSERT_EQ(0, ws_config(fd, variant->role, 0, 0));
	expect_message(_metadata, fd, WS_OP_TEXT, "first", 5);
	expect_message(_metadata, fd, WS_OP_TEXT, "second", 6);
	expect_message(_metadata, fd, WS_OP_TEXT, "third", 5);
	wb_free(&wb);
	close(fd);
	close(peer);
}

/* A ping in the leftover is answered once configured. */
TEST_F(ws, leftover_ping_answered)
{
	struct wbuf wb = {};
	int fd, peer;

	if (!ws_pair_attached(_metadata, variant->family, variant->role, &fd,
			      &peer))
		return;
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_PING, "lp", 2);
	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_LEFTOVER, wb.p, wb.len));
	ASSERT_EQ(0, ws_config(fd, variant->role, 0, 0));
	expect_frame(_metadata, peer, variant->role, true, WS_OP_PONG, "lp", 2);
	wb_free(&wb);
	close(fd);
	close(peer);
}

TEST_F(ws, keepalive_ping)
{
	struct ws_keepalive ka = { .idle_ms = 200, .timeout_ms = 2000 };
	struct rframe f;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka,
				sizeof(ka)));
	expect_frame_hdr(_metadata, self->peer, variant->role, true,
			 WS_OP_PING, &f);
	ASSERT_LE(f.len, 125);
	/* Answered: the connection lives on. */
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		  f.data, f.len);
	rframe_free(&f);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "alive", 5);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "alive", 5);
	EXPECT_EQ(WS_STATE_OPEN, get_state(_metadata, self->fd).state);
}

TEST_F(ws, keepalive_timeout_1011)
{
	struct ws_keepalive ka = { .idle_ms = 200, .timeout_ms = 300 };
	struct rframe f;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_KEEPALIVE, &ka,
				sizeof(ka)));
	expect_frame_hdr(_metadata, self->peer, variant->role, true,
			 WS_OP_PING, &f);
	rframe_free(&f);
	/* No pong: the kernel gives up with 1011. */
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_INTERNAL, NULL, 0);
	expect_app_close(_metadata, self->fd, WS_CLOSE_INTERNAL, WS_CLOSE_LOCAL,
			 NULL, 0);
}

/* -- edges -- */

/* A zero-byte buffer takes nothing: 0, no MSG_EOR, the opcode; data stays. */
TEST_F(ws, recv_zero_len_buffer)
{
	uint8_t buf[8];
	struct rx rx;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "abc", 3);
	usleep(100000);
	EXPECT_EQ(0, ws_recv(self->fd, buf, 0, MSG_DONTWAIT, &rx));
	EXPECT_FALSE(rx.flags & MSG_EOR);
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "abc", 3);
}

/*
 * A frame announcing more than 4 GiB (no size limit): the length must not
 * be cut to 32 bits. 2^32 + 3 read as 3 would end the message at once.
 */
TEST_F_TIMEOUT(ws, recv_length_over_4g_not_truncated, 60)
{
	size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk), *in = malloc(chunk);
	struct wbuf wb = {};
	size_t got = 0;
	int fd, peer;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, in);
	if (!ws_pair(_metadata, variant->family, variant->role, 0,
		     WS_MAX_MSG_UNLIMITED, &fd, &peer))
		return;
	fill_pattern(buf, chunk, 53);
	wb_frame_raw(&wb, B0(true, 0, WS_OP_BINARY), peer_masks(variant->role),
		     (1ULL << 32) + 3, buf, chunk);
	pid = spawn_sender(peer, wb.p, wb.len, 0);
	ASSERT_LE(0, pid);
	while (got < chunk) {
		struct rx rx;
		ssize_t n = ws_recv(fd, in + got, chunk - got, 0, &rx);

		ASSERT_GT(n, 0) {
			TH_LOG("after %zu bytes: %s, close %d", got,
			       n ? strerror(errno) : "EOF", rx.close.code);
		}
		ASSERT_FALSE(rx.has_close) {
			TH_LOG("close %u after %zu bytes", rx.close.code, got);
		}
		ASSERT_FALSE(rx.flags & MSG_EOR) {
			TH_LOG("message ended after %zu bytes", got + n);
		}
		got += n;
	}
	EXPECT_EQ(0, memcmp(in, buf, chunk));
	EXPECT_EQ(WS_STATE_OPEN, get_state(_metadata, fd).state);
	EXPECT_EQ(0, reap(pid));
	close(fd);
	close(peer);
	wb_free(&wb);
	free(buf);
	free(in);
}

/* design.md: non-minimal length encodings are accepted. */
TEST_F(ws, recv_nonminimal_length)
{
	bool masks = peer_masks(variant->role);
	uint8_t hdr[14], key[4] = { 1, 2, 3, 4 }, p[5];
	size_t n = 0, i;

	/* "hello" with a 64-bit length. */
	hdr[n++] = 0x81;
	hdr[n++] = (masks ? 0x80 : 0) | 127;
	for (i = 0; i < 7; i++)
		hdr[n++] = 0;
	hdr[n++] = 5;
	if (masks) {
		memcpy(hdr + n, key, 4);
		n += 4;
	}
	for (i = 0; i < 5; i++)
		p[i] = "hello"[i] ^ (masks ? key[i & 3] : 0);
	ASSERT_EQ(0, send_chunks(self->peer, hdr, n, 0, 0));
	ASSERT_EQ(0, send_chunks(self->peer, p, 5, 0, 0));
	expect_message(_metadata, self->fd, WS_OP_TEXT, "hello", 5);
}

/*
 * A control frame decides on the 7-bit length: a 16-bit length fails at
 * once, even for 2 bytes (codec/parser.c; RFC 6455 5.2 requires minimal
 * encodings, 5.5 caps control payloads at 125).
 */
TEST_F(ws, recv_nonminimal_length_control_1002)
{
	uint8_t hdr[4] = { 0x89, 126, 0, 2 };

	if (peer_masks(variant->role))
		hdr[1] |= 0x80;
	/* The header alone: it fails before the extended length is read. */
	ASSERT_EQ(0, send_chunks(self->peer, hdr, 2, 0, 0));
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
}

/* RFC 6455 5.5.1: after our close, nothing but the handshake goes out. */
TEST_F(ws, no_pong_after_close_sent)
{
	ASSERT_EQ(0, ws_send_close(self->fd, 1000, "", 0, 0));
	expect_close_frame(_metadata, self->peer, variant->role, 1000, "", 0);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "late", 4);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	EXPECT_EQ(-1, ws_send(self->fd, "p", 1, MSG_NOSIGNAL, WS_OP_PING));
	EXPECT_EQ(EPIPE, errno);
}

/* While closing, the peer's data still arrives (RFC 6455 7.1.2). */
TEST_F(ws, recv_data_while_closing)
{
	ASSERT_EQ(0, ws_send_close(self->fd, 1000, "", 0, 0));
	expect_close_frame(_metadata, self->peer, variant->role, 1000, "", 0);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "in flight", 9);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03\xe8", 2);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "in flight", 9);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	expect_tcp_end(_metadata, self->peer, variant->role);
}

/* The limit is inclusive, across fragments. */
TEST_F(ws, max_msg_size_exact_fragmented)
{
	uint8_t buf[50];
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role, 0, 100, &fd,
		     &peer))
		return;
	memset(buf, 'e', sizeof(buf));
	peer_send(_metadata, peer, variant->role, false, WS_OP_BINARY, buf, 50);
	peer_send(_metadata, peer, variant->role, false, WS_OP_CONT, buf, 50);
	peer_send(_metadata, peer, variant->role, true, WS_OP_CONT, buf, 0);
	{
		uint8_t all[100];

		memset(all, 'e', sizeof(all));
		expect_message(_metadata, fd, WS_OP_BINARY, all, 100);
	}
	close(fd);
	close(peer);
}

/* MSG_PEEK of the close leaves it there. */
TEST_F(ws, recv_peek_close)
{
	uint8_t buf[16];
	struct rx rx;

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x0f\xa0" "pk", 4);
	usleep(100000);
	EXPECT_EQ(2, ws_recv(self->fd, buf, sizeof(buf), MSG_PEEK, &rx));
	EXPECT_TRUE(rx.has_close);
	EXPECT_EQ(4000, rx.close.code);
	expect_app_close(_metadata, self->fd, 4000, 0, "pk", 2);
}

/* A big message is readable in parts before it ends, also non-blocking. */
TEST_F(ws, recv_partial_large_nonblocking)
{
	size_t len = 1u << 20, half = 256u << 10;
	uint8_t *buf = malloc(len), *in = malloc(len);
	struct wbuf wb = {};
	size_t hdr;
	struct rx rx;
	ssize_t n;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, in);
	fill_pattern(buf, len, 59);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, len);
	hdr = wb.len - len;
	/* Header and a quarter of the payload; the rest never comes. */
	ASSERT_EQ(0, send_chunks(self->peer, wb.p, hdr + half, 0, 0));
	usleep(300000);
	n = ws_recv(self->fd, in, len, MSG_DONTWAIT, &rx);
	if (n < 0) {
		/* Allowed only below half the receive buffer. */
		int rcvbuf = 0;
		socklen_t sl = sizeof(rcvbuf);

		EXPECT_EQ(EAGAIN, errno);
		getsockopt(self->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &sl);
		EXPECT_LT(half, (size_t)rcvbuf / 2);
	} else {
		EXPECT_GT(n, 0);
		EXPECT_FALSE(rx.flags & MSG_EOR);
		EXPECT_EQ(0, memcmp(in, buf, n));
	}
	wb_free(&wb);
	free(buf);
	free(in);
}

/* The message limit is for data: control frames do not count. */
TEST_F(ws, max_msg_size_ignores_control)
{
	uint8_t p[100];
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role, 0, 10, &fd,
		     &peer))
		return;
	memset(p, 'c', sizeof(p));
	peer_send(_metadata, peer, variant->role, false, WS_OP_TEXT, "12345", 5);
	peer_send(_metadata, peer, variant->role, true, WS_OP_PING, p, 100);
	expect_frame(_metadata, peer, variant->role, true, WS_OP_PONG, p, 100);
	peer_send(_metadata, peer, variant->role, true, WS_OP_CONT, "67890", 5);
	expect_message(_metadata, fd, WS_OP_TEXT, "1234567890", 10);
	close(fd);
	close(peer);
}

/* -- file lifetime and wakeups -- */

/* close(2) of one descriptor of several is not the end of the socket. */
TEST_F(ws, close_dup_no_going_away)
{
	int dupfd = dup(self->fd);

	ASSERT_LE(0, dupfd);
	close(self->fd);
	self->fd = dupfd;
	expect_quiet(_metadata, self->peer, QUIET_MS);
	ASSERT_EQ(2, send(self->fd, "up", 2, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "up", 2);
}

/* An abortive close (SO_LINGER 0) resets: no close frame, no splat. */
TEST_F(ws, close_linger_zero_resets)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint8_t b;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(self->fd);
	self->fd = -1;
	/* Either the 1001 made it out first, or just the reset. */
	if (read_full(self->peer, &b, 1, IO_TIMEOUT_MS) == 1) {
		EXPECT_EQ(0x88, b);
	} else {
		EXPECT_EQ(ECONNRESET, errno);
	}
}

/* A reader blocked in recvmsg() is woken by the peer's FIN. */
TEST_F(ws, peer_fin_wakes_reader)
{
	uint8_t buf[16];
	struct rx rx;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(300000);
		_exit(shutdown(self->peer, SHUT_WR) ? 1 : 0);
	}
	EXPECT_EQ(0, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_TRUE(rx.has_close);
	EXPECT_EQ(WS_CLOSE_ABNORMAL_CODE, rx.close.code);
	EXPECT_EQ(WS_CLOSE_ABNORMAL, rx.close.flags);
	EXPECT_EQ(0, reap(pid));
}

/* ...and by a reset, with ECONNRESET. */
TEST_F(ws, peer_reset_wakes_reader)
{
	uint8_t buf[16];
	struct rx rx;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		usleep(300000);
		setsockopt(self->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		_exit(close(self->peer) ? 1 : 0);
	}
	/* The child's close() resets only if it holds the last reference. */
	close(self->peer);
	self->peer = -1;
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(ECONNRESET, errno);
	EXPECT_EQ(0, reap(pid));
}

/* ...and by a close frame. */
TEST_F(ws, peer_close_wakes_reader)
{
	struct wbuf wb = {};
	pid_t pid;

	wb_close(&wb, peer_masks(variant->role), 1000, "", 0);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		usleep(300000);
		_exit(send_chunks(self->peer, wb.p, wb.len, 1, 5000) ? 1 : 0);
	}
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	EXPECT_EQ(0, reap(pid));
	wb_free(&wb);
}

/* Attached but never configured: close(2) is plain TCP's. */
TEST_F(ws, close_unconfigured_no_frame)
{
	int fd, peer;

	if (!ws_pair_attached(_metadata, variant->family, variant->role, &fd,
			      &peer))
		return;
	close(fd);
	expect_eof(_metadata, peer);
	close(peer);
}

/* WS_LEFTOVER calls append. */
TEST_F(ws, leftover_appends)
{
	struct wbuf wb = {};
	size_t cut;
	int fd, peer;

	if (!ws_pair_attached(_metadata, variant->family, variant->role, &fd,
			      &peer))
		return;
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, "glued", 5);
	cut = wb.len / 2;
	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_LEFTOVER, wb.p, cut));
	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_LEFTOVER, wb.p + cut,
				wb.len - cut));
	ASSERT_EQ(0, ws_config(fd, variant->role, 0, 0));
	expect_message(_metadata, fd, WS_OP_TEXT, "glued", 5);
	wb_free(&wb);
	close(fd);
	close(peer);
}

/* -- faults, concurrency and stress -- */

/*
 * A bad user buffer must not leave a header on the wire that announces
 * bytes that never come: the peer sees one well-formed frame in the end.
 */
TEST_F(ws, send_efault_no_corruption)
{
	EXPECT_EQ(-1, send(self->fd, (void *)8, 10, MSG_NOSIGNAL));
	EXPECT_EQ(EFAULT, errno);
	/* The retry completes an open frame or starts a new one. */
	ASSERT_EQ(10, send(self->fd, "0123456789", 10, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "0123456789", 10);
	expect_quiet(_metadata, self->peer, QUIET_MS);
}

TEST_F(ws, recv_efault)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  "fault", 5);
	usleep(100000);
	EXPECT_EQ(-1, recv(self->fd, (void *)8, 5, 0));
	EXPECT_EQ(EFAULT, errno);
	/* The socket still works. */
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "ok", 2);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "ok", 2);
}

TEST_F(ws, recvmsg_iov_multiple)
{
	char a[3], b[10];
	struct iovec iov[2] = {
		{ .iov_base = a, .iov_len = sizeof(a) },
		{ .iov_base = b, .iov_len = sizeof(b) },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_TEXT,
		  "abcdefgh", 8);
	EXPECT_EQ(8, recvmsg(self->fd, &msg, 0));
	EXPECT_TRUE(msg.msg_flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(a, "abc", 3));
	EXPECT_EQ(0, memcmp(b, "defgh", 5));
}

/*
 * -- the receive copy: a masked message (the server variants) is unmasked
 * on its way into the user's buffer; these check what that copy can get
 * wrong: segment and page edges, mask phases, partial reads, faults.
 */

/*
 * recvmsg() into many tiny iovecs (1-7 bytes at odd addresses, with guard
 * bytes between them), starting at every mask phase: every byte lands in
 * its place, once, and nothing between the iovecs is written.
 */
TEST_F(ws, recv_tiny_iovecs_every_phase)
{
	enum { LEN = 1500, GUARD = 0xa5 };
	static uint8_t area[LEN * 3];
	static struct iovec iov[LEN];
	uint8_t msg[LEN], head[4];
	unsigned int phase;

	for (phase = 0; phase < 4; phase++) {
		struct msghdr mh = { .msg_iov = iov };
		size_t pos = 1, left = LEN - phase, off = phase, i;

		fill_pattern(msg, LEN, phase + 40);
		peer_send(_metadata, self->peer, variant->role, true,
			  WS_OP_BINARY, msg, LEN);
		/* The first bytes apart: the rest starts at mask phase @phase. */
		if (phase) {
			ASSERT_EQ(phase, recv(self->fd, head, phase, 0));
			EXPECT_EQ(0, memcmp(head, msg, phase));
		}
		memset(area, GUARD, sizeof(area));
		for (i = 0; left; i++) {
			size_t n = 1 + i % 7;

			n = n < left ? n : left;
			iov[i].iov_base = area + pos;
			iov[i].iov_len = n;
			pos += n + 1 + i % 3;
			left -= n;
		}
		mh.msg_iovlen = i;
		ASSERT_LE(pos, sizeof(area));
		ASSERT_EQ(LEN - phase, recvmsg(self->fd, &mh, 0)) {
			TH_LOG("phase %u: %s", phase, strerror(errno));
		}
		EXPECT_TRUE(mh.msg_flags & MSG_EOR);
		for (i = 0, pos = 1; i < mh.msg_iovlen; i++) {
			uint8_t *p = iov[i].iov_base;

			ASSERT_EQ(0, memcmp(p, msg + off, iov[i].iov_len)) {
				TH_LOG("phase %u, iovec %zu", phase, i);
			}
			off += iov[i].iov_len;
			for (; area + pos < p; pos++)
				ASSERT_EQ(GUARD, area[pos]) {
					TH_LOG("phase %u: guard byte %zu",
					       phase, pos);
				}
			pos += iov[i].iov_len;
		}
		EXPECT_EQ(GUARD, area[pos]);
	}
}

/*
 * A fragmented message read in parts of odd sizes: each part continues
 * where the last stopped, whatever the record and fragment edges, and
 * MSG_EOR comes with the last byte only. The next message is not merged in.
 */
TEST_F(ws, recv_odd_parts_eor_last)
{
	static const size_t frags[] = { 1000, 1, 130, 2869 };
	enum { LEN = 4000 };
	uint8_t msg[LEN], next[300], out[LEN];
	size_t got = 0, part = 1, off = 0, i;
	struct wbuf wb = {};
	struct rx rx;

	fill_pattern(msg, LEN, 17);
	fill_pattern(next, sizeof(next), 18);
	for (i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		wb_frame_raw(&wb, B0(i == 3, 0, i ? WS_OP_CONT : WS_OP_BINARY),
			     peer_masks(variant->role), frags[i], msg + off,
			     frags[i]);
		off += frags[i];
	}
	ASSERT_EQ(LEN, off);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, next,
		 sizeof(next));
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);

	while (got < LEN) {
		size_t want = part < LEN - got ? part : LEN - got;
		ssize_t n = ws_recv(self->fd, out + got, want, 0, &rx);

		ASSERT_GT(n, 0) {
			TH_LOG("after %zu bytes: %s", got, strerror(errno));
		}
		got += n;
		if (got < LEN)
			ASSERT_FALSE(rx.flags & MSG_EOR) {
				TH_LOG("MSG_EOR after %zu bytes", got);
			}
		part += 2;
	}
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(out, msg, LEN));
	expect_message(_metadata, self->fd, WS_OP_BINARY, next, sizeof(next));
}

/* MSG_PEEK copies without consuming, from any offset into the message. */
TEST_F(ws, recv_peek_then_read_large)
{
	enum { LEN = 3000 };
	uint8_t msg[LEN], out[LEN];
	struct rx rx;

	fill_pattern(msg, LEN, 23);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  msg, LEN);
	ASSERT_EQ(1001, ws_recv(self->fd, out, 1001, MSG_PEEK, &rx));
	EXPECT_EQ(0, memcmp(out, msg, 1001));
	EXPECT_FALSE(rx.flags & MSG_EOR);
	ASSERT_EQ(7, ws_recv(self->fd, out, 7, 0, &rx));
	EXPECT_EQ(0, memcmp(out, msg, 7));
	ASSERT_EQ(LEN - 7, ws_recv(self->fd, out, LEN, MSG_PEEK, &rx));
	EXPECT_EQ(0, memcmp(out, msg + 7, LEN - 7));
	EXPECT_TRUE(rx.flags & MSG_EOR);
	ASSERT_EQ(LEN - 7, ws_recv(self->fd, out, LEN, 0, &rx));
	EXPECT_EQ(0, memcmp(out, msg + 7, LEN - 7));
	EXPECT_TRUE(rx.flags & MSG_EOR);
	EXPECT_EQ(-1, ws_recv(self->fd, out, LEN, MSG_DONTWAIT, &rx));
	EXPECT_EQ(EAGAIN, errno);
}

/*
 * A message of several MiB, so in paged skbs, read with recvmsg() into three
 * iovecs of odd lengths that move the destination's alignment every call.
 */
TEST_F_TIMEOUT(ws, recv_large_odd_iovecs, 120)
{
	size_t len = (3u << 20) + 5, got = 0;
	uint8_t *buf = malloc(len), *in = malloc(len + 65536);
	struct wbuf wb = {};
	bool eor = false;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, in);
	fill_pattern(buf, len, 29);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, len);
	set_timeouts(self->fd, 60000);
	pid = spawn_sender(self->peer, wb.p, wb.len, 0);
	ASSERT_LE(0, pid);
	while (!eor) {
		struct iovec iov[3] = {
			{ .iov_base = in + got, .iov_len = 4093 },
			{ .iov_base = in + got + 4093, .iov_len = 1 },
			{ .iov_base = in + got + 4094, .iov_len = 65521 },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
		ssize_t n = recvmsg(self->fd, &mh, 0);

		ASSERT_GT(n, 0) {
			TH_LOG("after %zu bytes: %s", got,
			       n ? strerror(errno) : "EOF");
		}
		got += n;
		eor = mh.msg_flags & MSG_EOR;
		ASSERT_LE(got, len);
	}
	EXPECT_EQ(len, got);
	EXPECT_EQ(0, memcmp(in, buf, len));
	EXPECT_EQ(0, reap(pid));
	wb_free(&wb);
	free(buf);
	free(in);
}

/*
 * A fault part way through a masked record: recvmsg() returns the bytes
 * that reached the buffer (no MSG_EOR), and the next call goes on from
 * exactly there. A fault on the first byte is EFAULT and consumes nothing.
 * Both for a buffer that runs into an inaccessible page and for a bad iovec
 * after a good one. An unmasked record is copied as TCP copies (all of it or
 * EFAULT, nothing consumed): either way nothing is lost or duplicated.
 */
TEST_F(ws, recv_efault_partial_nothing_lost)
{
	enum { LEN = 3000, MAPPED = 1001 };
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t msg[LEN], out[LEN], *map, *dst;
	struct iovec iov[2] = {
		{ .iov_base = out, .iov_len = 501 },
		{ .iov_base = (void *)8, .iov_len = LEN },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	struct rx rx;
	ssize_t n;

	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + pg, pg, PROT_NONE));
	dst = map + pg - MAPPED;

	fill_pattern(msg, LEN, 31);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  msg, LEN);
	n = ws_recv(self->fd, dst, LEN, 0, &rx);
	if (n < 0 && !peer_masks(variant->role)) {
		EXPECT_EQ(EFAULT, errno);
		n = 0;
	} else {
		ASSERT_EQ(MAPPED, n) {
			TH_LOG("%zd: %s", n, n < 0 ? strerror(errno) : "");
		}
		EXPECT_FALSE(rx.flags & MSG_EOR);
		EXPECT_EQ(0, memcmp(dst, msg, MAPPED));
	}
	expect_message(_metadata, self->fd, WS_OP_BINARY, msg + n, LEN - n);

	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  msg, LEN);
	EXPECT_EQ(-1, ws_recv(self->fd, map + pg, LEN, 0, &rx));
	EXPECT_EQ(EFAULT, errno);
	n = recvmsg(self->fd, &mh, 0);
	if (n < 0 && !peer_masks(variant->role)) {
		EXPECT_EQ(EFAULT, errno);
		n = 0;
	} else {
		ASSERT_EQ(501, n);
		EXPECT_FALSE(mh.msg_flags & MSG_EOR);
		EXPECT_EQ(0, memcmp(out, msg, 501));
	}
	expect_message(_metadata, self->fd, WS_OP_BINARY, msg + n, LEN - n);
	munmap(map, 2 * pg);
}

TEST_F(ws, sendmsg_iov_multiple)
{
	struct iovec iov[3] = {
		{ .iov_base = "one", .iov_len = 3 },
		{ .iov_base = "", .iov_len = 0 },
		{ .iov_base = "two", .iov_len = 3 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };

	EXPECT_EQ(6, sendmsg(self->fd, &msg, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "onetwo", 6);
}

/* A pong may go between the application's fragments (they are frames). */
TEST_F(ws, auto_pong_between_app_fragments)
{
	ASSERT_EQ(1, ws_send(self->fd, "a", 1, MSG_MORE, WS_OP_TEXT));
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_TEXT,
		     "a", 1);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "mid", 3);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "mid", 3);
	ASSERT_EQ(1, ws_send(self->fd, "b", 1, 0, -1));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		     "b", 1);
}

/* Data, a delivered ping, data: three records, never merged. */
TEST_F(ws, data_control_data)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	uint8_t buf[64];
	struct rx rx;
	int fd, peer;

	if (!ws_pair(_metadata, variant->family, variant->role,
		     WS_F_DELIVER_CONTROL, 0, &fd, &peer))
		return;
	wb_frame(&wb, masks, true, WS_OP_TEXT, "d1", 2);
	wb_frame(&wb, masks, true, WS_OP_PING, "c", 1);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "d2", 2);
	wb_send(_metadata, peer, &wb, 0, 0);
	usleep(100000);
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	EXPECT_EQ(1, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_PING, rx.op);
	EXPECT_EQ(2, ws_recv(fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(WS_OP_TEXT, rx.op);
	EXPECT_EQ(0, memcmp(buf, "d2", 2));
	wb_free(&wb);
	close(fd);
	close(peer);
}

/* @n pings "ping <i>" sent in pieces of @chunk; @n pongs back, in order. */
static void pings_each_answered(struct __test_metadata *_metadata, int peer,
				int role, int n, size_t plen, size_t chunk)
{
	bool masks = peer_masks(role);
	struct wbuf wb = {};
	uint8_t p[125];
	int i;

	for (i = 0; i < n; i++) {
		memset(p, '.', sizeof(p));
		snprintf((char *)p, sizeof(p), "ping %d", i);
		wb_frame(&wb, masks, true, WS_OP_PING, p, plen);
	}
	wb_send(_metadata, peer, &wb, chunk, 0);
	for (i = 0; i < n; i++) {
		struct rframe f;

		memset(p, '.', sizeof(p));
		snprintf((char *)p, sizeof(p), "ping %d", i);
		ASSERT_EQ(RF_OK, peer_read_frame(peer, &f, IO_TIMEOUT_MS)) {
			TH_LOG("no pong for ping %d of %d", i, n);
		}
		ASSERT_EQ(WS_OP_PONG, f.op);
		ASSERT_EQ(plen, f.len);
		ASSERT_EQ(0, memcmp(f.data, p, plen)) {
			TH_LOG("pong %d answers '%.*s'", i, (int)f.len, f.data);
		}
		rframe_free(&f);
	}
	/* One pong per ping, no more. */
	expect_quiet(_metadata, peer, QUIET_MS);
	wb_free(&wb);
}

/* Autobahn 2.10: ten pings in one segment, ten pongs with their payloads. */
TEST_F(ws, pings_back_to_back_each_answered)
{
	struct ws_stats st;

	pings_each_answered(_metadata, self->peer, variant->role, 10, 20, 0);
	st = get_stats(_metadata, self->fd);
	EXPECT_EQ(10, st.pings_answered);
}

/* Autobahn 2.11: the same, one octet per segment. */
TEST_F(ws, pings_octetwise_each_answered)
{
	pings_each_answered(_metadata, self->peer, variant->role, 10, 20, 1);
}

/*
 * Many pings while nobody reads pongs: every ping is answered, in order,
 * and the kernel holds one pong at a time (parsing waits for it: the rest
 * stays in TCP, whose window closes), so the work is paced by the peer.
 */
TEST_F_TIMEOUT(ws, ping_flood_all_answered, 60)
{
	pings_each_answered(_metadata, self->peer, variant->role, 2000, 125, 0);
}

/* A data message after pings is delivered once their pongs are out. */
TEST_F(ws, pings_then_message_delivered)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, true, WS_OP_PING, "p1", 2);
	wb_frame(&wb, masks, true, WS_OP_PING, "p2", 2);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "after", 5);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "after", 5);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "p1", 2);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "p2", 2);
	wb_free(&wb);
}

/*
 * While the application's data frame is half sent no pong can go out, and
 * parsing does not wait for one: the application can still read (its peer
 * may not read before its own send completes). Pings that arrive meanwhile
 * are answered by one pong for the latest (RFC 6455 5.5.3), after the frame.
 */
TEST_F_TIMEOUT(ws, pings_during_half_sent_frame_latest_answered, 60)
{
	bool masks = peer_masks(variant->role);
	size_t len = 4u << 20, got;
	uint8_t *buf = malloc(len);
	struct wbuf wb = {};
	int sndbuf = 16384;
	struct rframe f;
	ssize_t n;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, len, 31);
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				sizeof(sndbuf)));
	n = send(self->fd, buf, len, MSG_DONTWAIT);
	ASSERT_GT(n, 0);
	ASSERT_LT(n, (ssize_t)len);
	got = n;

	wb_frame(&wb, masks, true, WS_OP_PING, "early", 5);
	wb_frame(&wb, masks, true, WS_OP_PING, "late", 4);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "read me", 7);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "read me", 7);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		set_timeouts(self->fd, 30000);
		while (got < len) {
			n = send(self->fd, buf + got, len - got, 0);
			if (n <= 0)
				_exit(1);
			got += n;
		}
		_exit(0);
	}
	ASSERT_EQ(RF_OK, peer_read_frame(self->peer, &f, 30000));
	EXPECT_EQ(WS_OP_BINARY, f.op);
	ASSERT_EQ(len, f.len);
	EXPECT_EQ(0, memcmp(f.data, buf, len));
	rframe_free(&f);
	EXPECT_EQ(0, reap(pid));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PONG,
		     "late", 4);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	wb_free(&wb);
	free(buf);
}

/* close(2) while a large message streams in: no hang, no splat. */
TEST_F_TIMEOUT(ws, close_during_large_recv, 60)
{
	size_t len = 8u << 20;
	uint8_t *buf = malloc(len), in[4096];
	struct wbuf wb = {};
	struct rx rx;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, len, 41);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_BINARY, buf, len);
	pid = spawn_sender(self->peer, wb.p, wb.len, 65536);
	ASSERT_LE(0, pid);
	ASSERT_LT(0, ws_recv(self->fd, in, sizeof(in), 0, &rx));
	EXPECT_FALSE(rx.flags & MSG_EOR);
	close(self->fd);
	self->fd = -1;
	/* The sender ends with EPIPE/ECONNRESET or after its last byte. */
	reap(pid);
	wb_free(&wb);
	free(buf);
}

/*
 * A second reader must not wait behind a blocked first one longer than
 * its own MSG_DONTWAIT / SO_RCVTIMEO allows (kTLS: tls_rx_reader_acquire).
 */
TEST_F(ws, recv_dontwait_with_blocked_reader)
{
	struct timespec t0;
	uint8_t buf[16];
	struct rx rx;
	long ms;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		/* Blocks for up to 3 s: nothing comes. */
		set_timeouts(self->fd, 3000);
		ws_recv(self->fd, buf, sizeof(buf), 0, &rx);
		_exit(0);
	}
	usleep(300000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), MSG_DONTWAIT, &rx));
	EXPECT_EQ(EAGAIN, errno);
	ms = elapsed_ms(&t0);
	EXPECT_LT(ms, 1000) {
		TH_LOG("MSG_DONTWAIT recv waited %ld ms behind another reader", ms);
	}
	reap(pid);
}

TEST_F(ws, recv_rcvtimeo_with_blocked_reader)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct timespec t0;
	uint8_t buf[16];
	struct rx rx;
	long ms;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct timeval ctv = { .tv_sec = 4 };

		setsockopt(self->fd, SOL_SOCKET, SO_RCVTIMEO, &ctv, sizeof(ctv));
		ws_recv(self->fd, buf, sizeof(buf), 0, &rx);
		_exit(0);
	}
	usleep(300000);
	/* The same socket: this changes the child's timeout too, which is
	 * already sleeping with its own copy.
	 */
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(-1, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_EQ(EAGAIN, errno);
	ms = elapsed_ms(&t0);
	EXPECT_LT(ms, 2000) {
		TH_LOG("recv with a 200 ms timeout took %ld ms behind another reader",
		       ms);
	}
	reap(pid);
}

/* Two processes read: every message goes whole to one of them. */
TEST_F_TIMEOUT(ws, multiproc_readers, 60)
{
	enum { NMSG = 200, NPROC = 2 };
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	int i, total = 0, status;
	pid_t pids[NPROC];
	uint8_t m[300];

	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			int count = 0;

			set_timeouts(self->fd, IO_TIMEOUT_MS);
			for (;;) {
				uint8_t buf[512];
				struct rx rx;
				ssize_t n = ws_recv(self->fd, buf, sizeof(buf),
						    0, &rx);
				size_t k;

				if (n < 0)
					fprintf(stderr, "# reader %d: %s after %d messages\n",
						i, strerror(errno), count);
				if (n <= 0 || rx.has_close)
					break;
				/* Whole, and all the same byte. */
				if (!(rx.flags & MSG_EOR) || n < 1)
					_exit(200);
				for (k = 1; k < (size_t)n; k++)
					if (buf[k] != buf[0])
						_exit(201);
				if (n != 1 + (ssize_t)buf[0])
					_exit(202);
				count++;
			}
			_exit(count);
		}
	}
	for (i = 0; i < NMSG; i++) {
		memset(m, i & 0xff, sizeof(m));
		wb_frame(&wb, masks, true, WS_OP_BINARY, m, 1 + (i & 0xff));
		if (wb.len > 16384)
			wb_send(_metadata, self->peer, &wb, 0, 0);
	}
	wb_close(&wb, masks, 1000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_LE(WEXITSTATUS(status), NMSG) {
			TH_LOG("reader %d: bad message (%d)", i,
			       WEXITSTATUS(status));
		}
		total += WEXITSTATUS(status);
	}
	EXPECT_EQ(NMSG, total);
	wb_free(&wb);
}

/* Two processes write: frames never interleave on the wire. */
TEST_F_TIMEOUT(ws, multiproc_writers, 60)
{
	enum { NMSG = 100, NPROC = 2, LEN = 3000 };
	int i, seen[NPROC] = {};
	pid_t pids[NPROC];

	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			uint8_t m[LEN];
			int j;

			memset(m, 'A' + i, sizeof(m));
			for (j = 0; j < NMSG; j++)
				if (send(self->fd, m, sizeof(m), 0) != LEN)
					_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < NMSG * NPROC; i++) {
		struct rframe f;
		size_t k;

		expect_frame_hdr(_metadata, self->peer, variant->role, true,
				 WS_OP_BINARY, &f);
		ASSERT_EQ(LEN, f.len);
		ASSERT_TRUE(f.data[0] == 'A' || f.data[0] == 'B');
		for (k = 1; k < LEN; k++)
			ASSERT_EQ(f.data[0], f.data[k]);
		seen[f.data[0] - 'A']++;
		rframe_free(&f);
	}
	EXPECT_EQ(NMSG, seen[0]);
	EXPECT_EQ(NMSG, seen[1]);
	for (i = 0; i < NPROC; i++)
		EXPECT_EQ(0, reap(pids[i]));
}

struct frame_reader {
	int fd;
	size_t data_len;	/* payload of data frames */
	int pongs;
	int ok;			/* 1: data complete and equal to expect */
	const uint8_t *expect;
	size_t expect_len;
};

static void *read_frames_thread(void *arg)
{
	struct frame_reader *r = arg;
	uint8_t *got = malloc(r->expect_len);
	bool fin = false;

	r->ok = 0;
	while (got && !fin) {
		struct rframe f;

		if (peer_read_frame(r->fd, &f, 20000) != RF_OK)
			break;
		if (f.op == WS_OP_PONG) {
			r->pongs++;
		} else if (f.op == WS_OP_BINARY || f.op == WS_OP_CONT) {
			if (r->data_len + f.len > r->expect_len) {
				rframe_free(&f);
				break;
			}
			memcpy(got + r->data_len, f.data, f.len);
			r->data_len += f.len;
			fin = f.fin;
		} else {
			rframe_free(&f);
			break;
		}
		rframe_free(&f);
	}
	if (fin && r->data_len == r->expect_len &&
	    !memcmp(got, r->expect, r->expect_len))
		r->ok = 1;
	free(got);
	return NULL;
}

/*
 * Both directions at once, with pings inside the incoming stream: the
 * pongs wait for the outgoing frame to end, and nothing gets corrupted.
 */
TEST_F_TIMEOUT(ws, bidir_large_with_pings, 120)
{
	size_t len = 2u << 20, got;
	uint8_t *out = malloc(len), *in = malloc(len), *rbuf = malloc(len + 1);
	bool masks = peer_masks(variant->role);
	struct frame_reader r = { .fd = self->peer };
	struct wbuf wb = {};
	pthread_t th;
	pid_t tx, rx;
	size_t i;
	int op;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	ASSERT_NE(NULL, rbuf);
	fill_pattern(out, len, 43);
	fill_pattern(in, len, 47);
	/* The incoming message in 16 fragments with a ping after each. */
	for (i = 0; i < 16; i++) {
		wb_frame(&wb, masks, i == 15, i ? WS_OP_CONT : WS_OP_BINARY,
			 in + i * (len / 16), len / 16);
		wb_frame(&wb, masks, true, WS_OP_PING, "x", 1);
	}
	r.expect = out;
	r.expect_len = len;
	set_timeouts(self->fd, 30000);
	ASSERT_EQ(0, pthread_create(&th, NULL, read_frames_thread, &r));
	tx = fork();
	ASSERT_LE(0, tx);
	if (!tx)
		_exit(send(self->fd, out, len, 0) == (ssize_t)len ? 0 : 1);
	rx = spawn_sender(self->peer, wb.p, wb.len, 0);
	ASSERT_LE(0, rx);
	got = recv_message(_metadata, self->fd, rbuf, len + 1, &op);
	EXPECT_EQ(len, got);
	EXPECT_EQ(0, memcmp(rbuf, in, len));
	EXPECT_EQ(0, reap(tx));
	EXPECT_EQ(0, reap(rx));
	pthread_join(th, NULL);
	EXPECT_EQ(1, r.ok) {
		TH_LOG("outgoing message corrupted (%zu bytes, %d pongs)",
		       r.data_len, r.pongs);
	}
	wb_free(&wb);
	free(out);
	free(in);
	free(rbuf);
}

/* A close frame in the leftover closes as soon as the layer starts. */
TEST_F(ws, leftover_close_echoed)
{
	struct wbuf wb = {};
	int fd, peer;

	if (!ws_pair_attached(_metadata, variant->family, variant->role, &fd,
			      &peer))
		return;
	wb_close(&wb, peer_masks(variant->role), 1001, "gone", 4);
	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_LEFTOVER, wb.p, wb.len));
	ASSERT_EQ(0, ws_config(fd, variant->role, 0, 0));
	expect_close_frame(_metadata, peer, variant->role, 1001, NULL, 0);
	expect_app_close(_metadata, fd, 1001, 0, "gone", 4);
	wb_free(&wb);
	close(fd);
	close(peer);
}

/* The leftover is parsed with the same rules: a bad frame fails. */
TEST_F(ws, leftover_invalid_1002)
{
	struct wbuf wb = {};
	int fd, peer;

	if (!ws_pair_attached(_metadata, variant->family, variant->role, &fd,
			      &peer))
		return;
	wb_frame(&wb, !peer_masks(variant->role), true, WS_OP_TEXT, "x", 1);
	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_LEFTOVER, wb.p, wb.len));
	ASSERT_EQ(0, ws_config(fd, variant->role, 0, 0));
	expect_close_frame(_metadata, peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
	expect_app_close(_metadata, fd, WS_CLOSE_PROTOCOL_ERROR,
			 WS_CLOSE_LOCAL, NULL, 0);
	wb_free(&wb);
	close(fd);
	close(peer);
}

/* ---- ws_err: malformed input, exact close codes -------------------------- */

FIXTURE(ws_err) {
	int fd, peer;
};

FIXTURE_VARIANT(ws_err) {
	int role;
};

FIXTURE_VARIANT_ADD(ws_err, server) {
	.role = WS_ROLE_SERVER,
};

FIXTURE_VARIANT_ADD(ws_err, client) {
	.role = WS_ROLE_CLIENT,
};

FIXTURE_SETUP(ws_err)
{
	self->fd = self->peer = -1;
	ws_pair(_metadata, AF_INET, variant->role, 0, 0, &self->fd, &self->peer);
}

FIXTURE_TEARDOWN(ws_err)
{
	close(self->fd);
	close(self->peer);
}

/*
 * Send @wb (in @chunk-byte pieces) on a fresh pair and expect the kernel to
 * fail the connection with @code: the close frame, then FIN, and the
 * application sees the local close.
 */
static void fresh_expect_fail(struct __test_metadata *_metadata, int role,
			      struct wbuf *wb, size_t chunk, int code,
			      const char *what)
{
	struct ws_state st;
	int fd, peer;

	if (!ws_pair(_metadata, AF_INET, role, 0, 0, &fd, &peer))
		return;
	TH_LOG("case: %s", what);
	wb_send(_metadata, peer, wb, chunk, 0);
	expect_close_frame(_metadata, peer, role, code, NULL, 0);
	expect_app_close(_metadata, fd, code, WS_CLOSE_LOCAL, NULL, 0);
	st = get_state(_metadata, fd);
	EXPECT_EQ(WS_STATE_CLOSED, st.state);
	EXPECT_EQ(code, st.close_sent);
	EXPECT_EQ(1, get_stats(_metadata, fd).protocol_errors);
	close(fd);
	close(peer);
}

/* Same, on the fixture's pair. */
static void expect_fail(struct __test_metadata *_metadata, int fd, int peer,
			int role, int code)
{
	expect_close_frame(_metadata, peer, role, code, NULL, 0);
	expect_app_close(_metadata, fd, code, WS_CLOSE_LOCAL, NULL, 0);
}

/* Autobahn 2.5 */
TEST_F(ws_err, ping_too_big_1002)
{
	uint8_t p[126];

	memset(p, 'x', sizeof(p));
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING, p, 126);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
}

TEST_F(ws_err, pong_too_big_1002)
{
	uint8_t p[200];

	memset(p, 'x', sizeof(p));
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PONG, p, 200);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
}

/* Autobahn 3.1-3.7, every RSV combination, on data and control frames. */
TEST_F(ws_err, rsv_bits_1002)
{
	static const int ops[] = { WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING,
				   WS_OP_CLOSE };
	struct wbuf wb = {};
	char what[64];
	int rsv;

	for (rsv = 1; rsv <= 7; rsv++) {
		int op = ops[rsv % 4];
		const char *pl = op == WS_OP_CLOSE ? "\x03\xe8" : "hi";

		wb_frame_raw(&wb, B0(true, rsv, op), peer_masks(variant->role),
			     2, pl, 2);
		snprintf(what, sizeof(what), "RSV=%d on %s", rsv, opname(op));
		fresh_expect_fail(_metadata, variant->role, &wb, 0,
				  WS_CLOSE_PROTOCOL_ERROR, what);
	}
	wb_free(&wb);
}

/* Autobahn 3.2/3.3: the message before is delivered, the ping after is not answered. */
TEST_F(ws_err, rsv_after_message_no_pong)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, true, WS_OP_TEXT, "Hello", 5);
	wb_frame_raw(&wb, B0(true, 2, WS_OP_TEXT), masks, 5, "Hello", 5);
	wb_frame(&wb, masks, true, WS_OP_PING, "p", 1);
	wb_send(_metadata, self->peer, &wb, 1, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "Hello", 5);
	/* The close, not a pong. */
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	expect_eof(_metadata, self->peer);
	wb_free(&wb);
}

/* Autobahn 4.1.x, 4.2.x */
TEST_F(ws_err, reserved_opcodes_1002)
{
	static const int ops[] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf };
	struct wbuf wb = {};
	char what[64];
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		wb_frame(&wb, peer_masks(variant->role), true, ops[i],
			 "payload", i & 1 ? 7 : 0);
		snprintf(what, sizeof(what), "opcode 0x%x", ops[i]);
		fresh_expect_fail(_metadata, variant->role, &wb, 0,
				  WS_CLOSE_PROTOCOL_ERROR, what);
	}
	wb_free(&wb);
}

/* Autobahn 4.1.3 */
TEST_F(ws_err, reserved_opcode_after_message_no_pong)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, true, WS_OP_TEXT, "Hello", 5);
	wb_frame(&wb, masks, true, 5, "", 0);
	wb_frame(&wb, masks, true, WS_OP_PING, "p", 1);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "Hello", 5);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

/* Autobahn 5.9-5.11: CONT (FIN) with nothing to continue, at every chop. */
TEST_F(ws_err, cont_without_start_1002)
{
	static const size_t chops[] = { 0, 1 };
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	size_t i;

	for (i = 0; i < 2; i++) {
		wb_frame(&wb, masks, true, WS_OP_CONT, "non-continuation payload",
			 24);
		wb_frame(&wb, masks, true, WS_OP_TEXT, "Hello, world!", 13);
		fresh_expect_fail(_metadata, variant->role, &wb, chops[i],
				  WS_CLOSE_PROTOCOL_ERROR, "CONT FIN=1 first");
	}
	wb_free(&wb);
}

/* Autobahn 5.12-5.14 */
TEST_F(ws_err, cont_nofin_without_start_1002)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_CONT, "non-continuation payload", 24);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "Hello, world!", 13);
	wb_send(_metadata, self->peer, &wb, 1, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

/* Autobahn 5.15: a message, then a CONT that continues nothing. */
TEST_F(ws_err, cont_after_complete_message_1002)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_TEXT, "fragment1", 9);
	wb_frame(&wb, masks, true, WS_OP_CONT, "fragment2", 9);
	wb_frame(&wb, masks, false, WS_OP_CONT, "fragment3", 9);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "fragment4", 9);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_message(_metadata, self->fd, WS_OP_TEXT, "fragment1fragment2", 18);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

/* Autobahn 5.18: a new TEXT while a message is open. */
TEST_F(ws_err, text_inside_fragmented_1002)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_TEXT, "fragment1", 9);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "fragment2", 9);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
	wb_free(&wb);
}

TEST_F(ws_err, binary_inside_fragmented_1002)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_BINARY, "f1", 2);
	wb_frame(&wb, masks, false, WS_OP_BINARY, "f2", 2);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
	wb_free(&wb);
}

/* Autobahn 5.1, 5.2, and the same for close: control frames never fragment. */
TEST_F(ws_err, fragmented_control_1002)
{
	static const int ops[] = { WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE };
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	size_t i;

	for (i = 0; i < 3; i++) {
		wb_frame(&wb, masks, false, ops[i], "\x03\xe8", 2);
		wb_frame(&wb, masks, true, WS_OP_CONT, "xy", 2);
		fresh_expect_fail(_metadata, variant->role, &wb, 0,
				  WS_CLOSE_PROTOCOL_ERROR, opname(ops[i]));
	}
	wb_free(&wb);
}

/* RFC 6455 5.1: servers fail unmasked input, clients fail masked input. */
TEST_F(ws_err, wrong_mask_1002)
{
	struct wbuf wb = {};

	wb_frame(&wb, !peer_masks(variant->role), true, WS_OP_TEXT, "mask", 4);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

TEST_F(ws_err, wrong_mask_control_1002)
{
	struct wbuf wb = {};

	wb_frame(&wb, !peer_masks(variant->role), true, WS_OP_PING, "m", 1);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

/* RFC 6455 5.2: the most significant bit of a 64-bit length must be 0. */
TEST_F(ws_err, length_top_bit_1002)
{
	struct wbuf wb = {};

	wb_frame_raw(&wb, B0(true, 0, WS_OP_BINARY), peer_masks(variant->role),
		     1ULL << 63, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

/* A header announcing more than the limit fails before any payload comes. */
TEST_F(ws_err, huge_length_header_1009)
{
	struct wbuf wb = {};

	wb_frame_raw(&wb, B0(true, 0, WS_OP_BINARY), peer_masks(variant->role),
		     WS_MAX_MSG_DEFAULT + 1, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_TOO_BIG);
	wb_free(&wb);
}

static int unhex(const char *hex, uint8_t *out)
{
	int n = 0;

	while (hex[0] && hex[1]) {
		unsigned int b;

		sscanf(hex, "%2x", &b);
		out[n++] = b;
		hex += 2;
	}
	return n;
}

/* Autobahn 6.x: payloads that are not UTF-8. */
static const char * const utf8_invalid[] = {
	"cebae1bdb9cf83cebcceb5eda080656469746564",	/* 6.3.1 */
	"ce", "cebae1", "cebae1bd", "cebae1bdb9cf83ce",	/* 6.6.x */
	"f888808080", "fc8480808080",			/* 6.8.x */
	"f7bfbfbf", "fbbfbfbfbf", "fdbfbfbfbfbf",	/* 6.10.x */
	"f4908080",					/* 6.11.5 */
	"80", "bf", "80bf", "80bf80bf80bf",		/* 6.12.x */
	"c020c120", "e020e120", "f020f120", "f820", "fc20", /* 6.13.x */
	"c0", "e080", "f08080", "df", "efbf", "f7bfbf",	/* 6.14.x */
	"fe", "ff", "fefeffff",				/* 6.16.x */
	"c0af", "e080af", "f08080af", "f8808080af",	/* 6.17.x */
	"c1bf", "e09fbf", "f08fbfbf",			/* 6.18.x */
	"c080", "e08080", "f0808080",			/* 6.19.x */
	"eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf",
	"eda080edb080", "edafbfedbfbf",			/* 6.21.x */
};

/* Autobahn 6.x: valid edge cases. */
static const char * const utf8_valid[] = {
	"48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121", /* 6.2.1 */
	"cebae1bdb9cf83cebcceb5", "ceba", "cebae1bdb9cf83cebc",
	"00", "c280", "e0a080", "f0908080",		/* 6.7.x */
	"7f", "dfbf", "efbfbf", "f48fbfbf",		/* 6.9.x */
	"ed9fbf", "ee8080", "efbfbd",			/* 6.11.x */
	"efbfbe", "efbfbf",				/* 6.23: non-characters */
};

TEST_F(ws_err, utf8_invalid_1007)
{
	struct wbuf wb = {};
	uint8_t p[64];
	size_t i;

	for (i = 0; i < sizeof(utf8_invalid) / sizeof(utf8_invalid[0]); i++) {
		int n = unhex(utf8_invalid[i], p);

		wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, p, n);
		fresh_expect_fail(_metadata, variant->role, &wb, 0,
				  WS_CLOSE_INVALID_DATA, utf8_invalid[i]);
	}
	wb_free(&wb);
}

TEST_F(ws_err, utf8_valid_delivered)
{
	struct wbuf wb = {};
	uint8_t p[64];
	size_t i;

	for (i = 0; i < sizeof(utf8_valid) / sizeof(utf8_valid[0]); i++) {
		int n = unhex(utf8_valid[i], p);

		TH_LOG("case: %s", utf8_valid[i]);
		wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, p, n);
		wb_send(_metadata, self->peer, &wb, 0, 0);
		expect_message(_metadata, self->fd, WS_OP_TEXT, p, n);
	}
	wb_free(&wb);
}

/* Binary messages are never checked. */
TEST_F(ws_err, utf8_not_checked_in_binary)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		  "\xff\xc0\x80", 3);
	expect_message(_metadata, self->fd, WS_OP_BINARY, "\xff\xc0\x80", 3);
}

/* Autobahn 6.3.2: invalid, one octet per segment. */
TEST_F(ws_err, utf8_invalid_octetwise_1007)
{
	struct wbuf wb = {};
	uint8_t p[64];
	int n = unhex(utf8_invalid[0], p);

	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_TEXT, p, n);
	wb_send(_metadata, self->peer, &wb, 1, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_INVALID_DATA);
	wb_free(&wb);
}

/* Autobahn 6.2.3/6.2.4: valid text, one octet per fragment. */
TEST_F(ws_err, utf8_valid_split_fragments)
{
	static const char * const msgs[] = {
		"48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121",
		"cebae1bdb9cf83cebcceb5",
	};
	struct wbuf wb = {};
	uint8_t p[64];
	size_t m;
	int i, n;

	for (m = 0; m < 2; m++) {
		n = unhex(msgs[m], p);
		for (i = 0; i < n; i++)
			wb_frame(&wb, peer_masks(variant->role), i == n - 1,
				 i ? WS_OP_CONT : WS_OP_TEXT, p + i, 1);
		wb_send(_metadata, self->peer, &wb, 0, 0);
		expect_message(_metadata, self->fd, WS_OP_TEXT, p, n);
	}
	wb_free(&wb);
}

/* The invalid sequence is split across two fragments. */
TEST_F(ws_err, utf8_invalid_split_fragments_1007)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_TEXT, "ab\xed", 3);
	wb_frame(&wb, masks, true, WS_OP_CONT, "\xa0\x80", 2);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_INVALID_DATA);
	wb_free(&wb);
}

/* A message may not end inside a sequence, even after valid fragments. */
TEST_F(ws_err, utf8_truncated_at_end_1007)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, false, WS_OP_TEXT, "ok\xce", 3);
	wb_frame(&wb, masks, true, WS_OP_CONT, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_INVALID_DATA);
	wb_free(&wb);
}

/*
 * Autobahn 6.4.1/6.4.2: the connection fails as soon as a fragment proves
 * the text invalid, before the message's later fragments are even sent.
 */
TEST_F(ws_err, utf8_fail_fast_fragments)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	uint8_t p[32];
	int n;

	n = unhex("cebae1bdb9cf83cebcceb5", p);
	wb_frame(&wb, masks, false, WS_OP_TEXT, p, n);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	n = unhex("f4908080", p);
	wb_frame(&wb, masks, false, WS_OP_CONT, p, n);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	/* Fails now; "656469746564" and FIN are never sent. */
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_INVALID_DATA);
	wb_free(&wb);
}

/* Autobahn 6.4.3/6.4.4: the same inside one frame, in chops. */
TEST_F(ws_err, utf8_fail_fast_chops)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	uint8_t p[32];
	size_t first;
	int n;

	n = unhex("cebae1bdb9cf83cebcceb5f4908080656469746564", p);
	wb_frame(&wb, masks, true, WS_OP_TEXT, p, n);
	first = wb.len - n + 11;	/* header + the valid part */
	ASSERT_EQ(0, send_chunks(self->peer, wb.p, first, 0, 0));
	expect_quiet(_metadata, self->peer, QUIET_MS);
	ASSERT_EQ(0, send_chunks(self->peer, wb.p + first, 2, 0, 0)); /* f4 90 */
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_INVALID_DATA);
	wb_free(&wb);
}

/* Autobahn 7.3.2 */
TEST_F(ws_err, close_one_byte_1002)
{
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_CLOSE,
		  "\x03", 1);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
}

/* Autobahn 7.9.x, 7.13.x */
TEST_F(ws_err, close_invalid_codes_1002)
{
	static const int codes[] = { 0, 999, 1004, 1005, 1006, 1015, 1016,
				     1100, 2000, 2999, 5000, 65535 };
	struct wbuf wb = {};
	char what[32];
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		int fd, peer;

		if (!ws_pair(_metadata, AF_INET, variant->role, 0, 0, &fd, &peer))
			return;
		snprintf(what, sizeof(what), "close code %d", codes[i]);
		TH_LOG("case: %s", what);
		wb_close(&wb, peer_masks(variant->role), codes[i], "", 0);
		wb_send(_metadata, peer, &wb, 0, 0);
		expect_close_frame(_metadata, peer, variant->role,
				   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
		close(fd);
		close(peer);
	}
	wb_free(&wb);
}

/* Autobahn 7.7.x: valid codes are echoed, and reach the application. */
TEST_F(ws_err, close_valid_codes_echoed)
{
	static const int codes[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009,
				     1010, 1011, 3000, 3999, 4000, 4999 };
	struct wbuf wb = {};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		int fd, peer;

		if (!ws_pair(_metadata, AF_INET, variant->role, 0, 0, &fd, &peer))
			return;
		TH_LOG("case: close code %d", codes[i]);
		wb_close(&wb, peer_masks(variant->role), codes[i], "why", 3);
		wb_send(_metadata, peer, &wb, 0, 0);
		expect_close_frame(_metadata, peer, variant->role, codes[i],
				   NULL, 0);
		expect_app_close(_metadata, fd, codes[i], 0, "why", 3);
		close(fd);
		close(peer);
	}
	wb_free(&wb);
}

/* Autobahn 7.3.5/7.3.6: 123 bytes of reason fit, 124 make a 126-byte frame. */
TEST_F(ws_err, close_reason_max_echoed)
{
	uint8_t r[123];

	memset(r, 'r', sizeof(r));
	{
		struct wbuf wb = {};

		wb_close(&wb, peer_masks(variant->role), 1000, r, sizeof(r));
		wb_send(_metadata, self->peer, &wb, 0, 0);
		wb_free(&wb);
	}
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_app_close(_metadata, self->fd, 1000, 0, r, sizeof(r));
}

TEST_F(ws_err, close_reason_too_long_1002)
{
	uint8_t r[124];
	struct wbuf wb = {};

	memset(r, 'r', sizeof(r));
	wb_close(&wb, peer_masks(variant->role), 1000, r, sizeof(r));
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
	wb_free(&wb);
}

/* Autobahn 7.5.1 */
TEST_F(ws_err, close_invalid_utf8_reason_1007)
{
	uint8_t r[32];
	struct wbuf wb = {};
	int n = unhex("cebae1bdb9cf83cebcceb5eda080656469746564", r);

	wb_close(&wb, peer_masks(variant->role), 1000, r, n);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_INVALID_DATA, NULL, 0);
	wb_free(&wb);
}

/* Autobahn 7.1.3: no pong after a close. */
TEST_F(ws_err, ping_after_close_no_pong)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_close(&wb, masks, 1000, "", 0);
	wb_frame(&wb, masks, true, WS_OP_PING, "late", 4);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	expect_tcp_end(_metadata, self->peer, variant->role);
	wb_free(&wb);
}

/* Autobahn 7.1.5: a close inside a fragmented message is still a clean close. */
TEST_F(ws_err, close_inside_fragmented)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	uint8_t buf[16];
	struct rx rx;

	wb_frame(&wb, masks, false, WS_OP_TEXT, "fragment1", 9);
	wb_close(&wb, masks, 1000, "", 0);
	wb_frame(&wb, masks, true, WS_OP_CONT, "fragment2", 9);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	/* The open message's part, without MSG_EOR, then the close. */
	EXPECT_EQ(9, ws_recv(self->fd, buf, sizeof(buf), 0, &rx));
	EXPECT_FALSE(rx.flags & MSG_EOR);
	expect_app_close(_metadata, self->fd, 1000, 0, "", 0);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
	wb_free(&wb);
}

/* After a failure nothing more is delivered, even if it was already sent. */
TEST_F(ws_err, no_delivery_after_failure)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	wb_frame(&wb, masks, true, 3, "", 0);
	wb_frame(&wb, masks, true, WS_OP_TEXT, "after", 5);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	expect_fail(_metadata, self->fd, self->peer, variant->role,
		    WS_CLOSE_PROTOCOL_ERROR);
	wb_free(&wb);
}

TEST_F(ws_err, failure_then_fin)
{
	peer_send(_metadata, self->peer, variant->role, true, 0xb, "", 0);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
	expect_eof(_metadata, self->peer);
}

TEST_HARNESS_MAIN
