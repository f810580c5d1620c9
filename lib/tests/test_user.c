// SPDX-License-Identifier: MIT
/*
 * The userspace fallback end to end: both roles over a socketpair and over
 * TCP loopback, messages of 0 bytes to 1 MiB, fragments, partial reads, ping
 * and pong, the close handshake, failure closes against a raw peer that
 * writes crafted frames, leftover bytes, and the handshake over a socket
 * never reading past the head.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kws.h"
#include "kws_codec.h"
#include "tap.h"
#include "util.h"
#include "batch.h"

static const struct kws_attach_opts user_opts = {
	.flags = KWS_ATTACH_USERSPACE,
};

/* ---- helpers ------------------------------------------------------------ */

/* A connected pair of raw stream sockets: AF_UNIX or TCP loopback. */
static int raw_pair(int tcp, int fds[2])
{
	uint16_t port;
	int lfd;

	if (!tcp)
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
	lfd = tcp_listener(AF_INET, &port);
	if (lfd < 0)
		return -1;
	fds[0] = tcp_connect(port);
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return fds[0] < 0 || fds[1] < 0 ? -1 : 0;
}

/* Client conn on fds[0], server conn on fds[1]. */
static int conn_pair(int tcp, struct kws_conn **c, struct kws_conn **s,
		     const struct kws_attach_opts *copts,
		     const struct kws_attach_opts *sopts)
{
	int fds[2];

	if (raw_pair(tcp, fds))
		return -1;
	if (kws_attach(fds[0], WS_ROLE_CLIENT, copts ? copts : &user_opts,
		       NULL, 0, c) ||
	    kws_attach(fds[1], WS_ROLE_SERVER, sopts ? sopts : &user_opts,
		       NULL, 0, s))
		return -1;
	return 0;
}

/* ---- echo of every size, both roles ------------------------------------ */

static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 65537,
				MIB };

static void test_echo(int tcp, int client_sends)
{
	const char *tr = tcp ? "tcp" : "unix";
	const char *who = client_sends ? "client" : "server";
	struct kws_conn *c, *s, *me, *peer;
	uint8_t *out = malloc(MIB), *in = malloc(MIB);
	struct echo e = { .chunk = 4093 };
	pthread_t th;

	if (conn_pair(tcp, &c, &s, NULL, NULL)) {
		tap_ok(0, "echo_%s_%s setup: %s", tr, who, strerror(errno));
		return;
	}
	me = client_sends ? c : s;
	peer = client_sends ? s : c;
	e.conn = peer;
	pthread_create(&th, NULL, echo_main, &e);
	for (int op = WS_OP_TEXT; op <= WS_OP_BINARY; op++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			int opcode = 0, ok;
			ssize_t got;

			fill(out, n, op, i);
			ok = kws_send(me, op, out, n, 0) == (ssize_t)n;
			/* read back in pieces of an odd size: partial reads */
			got = recv_msg(me, in, MIB, 65521, &opcode);
			ok = ok && got == (ssize_t)n && opcode == op &&
			     !memcmp(in, out, n);
			tap_ok(ok, "%s_echo_%s_%s_%zu", who, tr,
			       op == WS_OP_TEXT ? "text" : "binary", n);
		}
	}
	kws_send_close(me, WS_CLOSE_NORMAL, NULL);
	pthread_join(th, NULL);
	tap_ok(e.close_code == 1000 && e.messages == 18 && !kws_is_kernel(me),
	       "%s_echo_%s_all_userspace", who, tr);
	kws_close(c);
	kws_close(s);
	free(out);
	free(in);
}

/* ---- fragments and partial reads ------------------------------------------ */

static void test_fragments(void)
{
	struct kws_conn *c, *s;
	struct kws_msg_info mi;
	uint8_t buf[64], *big, *got;
	int opcode, ok = 1;
	ssize_t n;
	size_t off;

	conn_pair(0, &c, &s, NULL, NULL);
	ok = kws_send(c, WS_OP_TEXT, "abc", 3, KWS_MORE) == 3 &&
	     kws_send(c, WS_OP_TEXT, "", 0, KWS_MORE) == 0 &&
	     kws_send(c, WS_OP_TEXT, "defg", 4, 0) == 4;
	n = recv_msg(s, buf, sizeof(buf), sizeof(buf), &opcode);
	tap_ok(ok && n == 7 && opcode == WS_OP_TEXT && !memcmp(buf, "abcdefg", 7),
	       "server_recv_fragmented_text_as_one_message");

	errno = 0;
	tap_ok(kws_send(c, WS_OP_BINARY, "x", 1, KWS_MORE) == 1 &&
	       kws_send(c, WS_OP_TEXT, "y", 1, 0) == -1 && errno == EINVAL,
	       "client_refuse_opcode_change_inside_message");
	kws_send(c, WS_OP_BINARY, "z", 1, 0);
	n = recv_msg(s, buf, sizeof(buf), sizeof(buf), &opcode);
	tap_ok(n == 2 && opcode == WS_OP_BINARY && !memcmp(buf, "xz", 2),
	       "server_recv_message_after_refused_change");

	/* the eom flag only on the call returning the last byte */
	kws_send(s, WS_OP_BINARY, "0123456789", 10, 0);
	ok = 1;
	for (off = 0; off < 10; off += 3) {
		n = kws_recv(c, buf + off, 3, &mi);
		ok = ok && n == (off + 3 <= 10 ? 3 : 1) &&
		     mi.opcode == WS_OP_BINARY && mi.eom == (off + 3 >= 10);
	}
	tap_ok(ok && !memcmp(buf, "0123456789", 10),
	       "client_partial_reads_eom_on_last");

	/* a zero-length message is a record, not EOF */
	kws_send(s, WS_OP_TEXT, NULL, 0, 0);
	kws_send(s, WS_OP_BINARY, "", 0, 0);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = n == 0 && mi.opcode == WS_OP_TEXT && mi.eom;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 0 && mi.opcode == WS_OP_BINARY && mi.eom,
	       "client_recv_zero_length_messages");

	/* one message per call: two queued messages come in two calls */
	kws_send(s, WS_OP_TEXT, "one", 3, 0);
	kws_send(s, WS_OP_TEXT, "two", 3, 0);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = n == 3 && mi.eom && !memcmp(buf, "one", 3) && kws_pending(c);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 3 && mi.eom && !memcmp(buf, "two", 3),
	       "client_recv_one_message_per_call");

	errno = 0;
	tap_ok(kws_send(c, 3, "x", 1, 0) == -1 && errno == EINVAL &&
	       kws_send(c, WS_OP_PING, "x", 1, 0) == -1 &&
	       kws_send(c, WS_OP_TEXT, "x", 1, 0x80) == -1,
	       "client_refuse_bad_opcode_or_flags");
	kws_close(c);
	kws_close(s);

	/* a big fragmented binary message over TCP, with a reader thread */
	conn_pair(1, &c, &s, NULL, NULL);
	big = malloc(3 * 300000);
	got = malloc(3 * 300000 + 1);
	fill(big, 3 * 300000, WS_OP_BINARY, 7);
	{
		struct echo e = { .conn = s, .chunk = 100000 };
		pthread_t th;

		pthread_create(&th, NULL, echo_main, &e);
		ok = 1;
		for (int i = 0; i < 3; i++)
			ok = ok && kws_send(c, WS_OP_BINARY, big + i * 300000,
					    300000, i < 2 ? KWS_MORE : 0) == 300000;
		n = recv_msg(c, got, 3 * 300000 + 1, 3 * 300000 + 1, &opcode);
		tap_ok(ok && n == 900000 && !memcmp(got, big, 900000),
		       "client_send_3_fragments_900k_echoed_whole");
		kws_send_close(c, WS_CLOSE_NORMAL, NULL);
		pthread_join(th, NULL);
	}
	/* non-blocking userspace sender: it waits for room, sends it all */
	kws_close(c);
	kws_close(s);
	conn_pair(1, &c, &s, NULL, NULL);
	{
		struct echo e = { .conn = s, .chunk = 100000 };
		pthread_t th;
		ssize_t sent;

		fcntl(kws_fd(c), F_SETFL, O_NONBLOCK);
		pthread_create(&th, NULL, echo_main, &e);
		sent = kws_send(c, WS_OP_BINARY, big, 900000, 0);
		fcntl(kws_fd(c), F_SETFL, 0);
		n = recv_msg(c, got, 3 * 300000 + 1, 3 * 300000 + 1, &opcode);
		tap_ok(sent == 900000 && n == 900000 && !memcmp(got, big, n),
		       "client_nonblocking_userspace_send_is_whole");
		kws_send_close(c, WS_CLOSE_NORMAL, NULL);
		pthread_join(th, NULL);
	}
	free(big);
	free(got);
	kws_close(c);
	kws_close(s);
}

/* ---- concurrency: a sender thread, a receiver thread, pings between ------ */

#define STRESS_MSGS 600

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

struct stress {
	struct kws_conn *conn;
	int bad;
};

/* Send STRESS_MSGS messages of random sizes in random fragments, and pings. */
static void *stress_send(void *arg)
{
	struct stress *st = arg;
	uint8_t *buf = malloc(70000);
	uint32_t seed = 12345;

	for (int i = 0; i < STRESS_MSGS && !st->bad; i++) {
		size_t len = xorshift(&seed) % 70000, off = 0;
		int op = (i & 1) ? WS_OP_BINARY : WS_OP_TEXT;

		fill(buf, len, op, i);
		do {
			size_t n = xorshift(&seed) % (len + 1);

			if (n > len - off)
				n = len - off;
			if (kws_send(st->conn, op, buf + off, n,
				     off + n < len ? KWS_MORE : 0) != (ssize_t)n)
				st->bad = 1;
			if (xorshift(&seed) % 4 == 0 &&
			    kws_ping(st->conn, "s", 1))
				st->bad = 1;
			off += n;
		} while (off < len && !st->bad);
	}
	free(buf);
	return NULL;
}

static void test_stress(void)
{
	struct kws_conn *c, *s;
	struct stress st = { 0 };
	struct echo e = { .chunk = 8191 };
	uint8_t *in = malloc(70000), *want = malloc(70000);
	uint32_t seed = 12345, rseed = 777;
	pthread_t th, eth;
	int bad = 0;

	conn_pair(1, &c, &s, NULL, NULL);
	st.conn = c;
	e.conn = s;
	pthread_create(&eth, NULL, echo_main, &e);
	pthread_create(&th, NULL, stress_send, &st);
	/* the receiver replays the sender's sizes from the same seed */
	for (int i = 0; i < STRESS_MSGS && !bad; i++) {
		size_t len = xorshift(&seed) % 70000, off = 0, got = 0;
		int op = (i & 1) ? WS_OP_BINARY : WS_OP_TEXT;
		struct kws_msg_info mi;

		do {
			size_t n = xorshift(&seed) % (len + 1);

			if (n > len - off)
				n = len - off;
			xorshift(&seed);	/* the ping draw */
			off += n;
		} while (off < len);
		fill(want, len, op, i);
		for (;;) {
			size_t room = 1 + xorshift(&rseed) % 20000;
			ssize_t n;

			if (room > 70000 - got)
				room = 70000 - got;
			n = kws_recv(c, in + got, room, &mi);
			if (n < 0 || mi.opcode != op) {
				bad = 1;
				break;
			}
			got += n;
			if (mi.eom)
				break;
		}
		if (!bad && (got != len || memcmp(in, want, len)))
			bad = 1;
	}
	pthread_join(th, NULL);
	tap_ok(!bad && !st.bad && e.messages == STRESS_MSGS,
	       "stress_%d_random_messages_fragments_pings_two_threads",
	       STRESS_MSGS);
	kws_send_close(c, WS_CLOSE_NORMAL, NULL);
	pthread_join(eth, NULL);
	kws_close(c);
	kws_close(s);
	free(in);
	free(want);
}

/* ---- ping, pong ------------------------------------------------------------ */

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

static void test_ping(void)
{
	struct kws_attach_opts deliver = {
		.flags = KWS_ATTACH_USERSPACE,
		.ws_flags = WS_F_DELIVER_CONTROL,
	};
	struct kws_attach_opts no_pong = {
		.flags = KWS_ATTACH_USERSPACE,
		.ws_flags = WS_F_NO_AUTO_PONG | WS_F_DELIVER_CONTROL,
	};
	struct kws_conn *c, *s;
	struct kws_msg_info mi;
	char buf[256], ping[125];
	ssize_t n;
	int ok;

	/* auto-pong by a default server; the client sees the pong */
	conn_pair(0, &c, &s, &deliver, NULL);
	kws_ping(c, "hi", 2);
	kws_send(c, WS_OP_TEXT, "after", 5, 0);
	n = kws_recv(s, buf, sizeof(buf), &mi);
	tap_ok(n == 5 && mi.opcode == WS_OP_TEXT && !memcmp(buf, "after", 5),
	       "server_ping_not_delivered_by_default");
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(n == 2 && mi.opcode == WS_OP_PONG && mi.eom &&
	       !memcmp(buf, "hi", 2), "server_auto_pong_same_payload");

	/* a ping between fragments of a message */
	kws_send(s, WS_OP_TEXT, "ab", 2, KWS_MORE);
	kws_ping(s, "", 0);
	kws_send(s, WS_OP_TEXT, "cd", 2, 0);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = n == 2 && mi.opcode == WS_OP_TEXT && !mi.eom;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = ok && n == 0 && mi.opcode == WS_OP_PING && mi.eom;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 2 && mi.opcode == WS_OP_TEXT && mi.eom &&
	       !memcmp(buf, "cd", 2),
	       "client_ping_between_fragments_delivered_in_order");
	kws_close(c);
	kws_close(s);

	/* pings delivered to a server that also answers them */
	conn_pair(0, &c, &s, &deliver, &deliver);
	memset(ping, 'p', sizeof(ping));
	kws_ping(c, ping, sizeof(ping));
	n = kws_recv(s, buf, sizeof(buf), &mi);
	ok = n == 125 && mi.opcode == WS_OP_PING && !memcmp(buf, ping, 125);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 125 && mi.opcode == WS_OP_PONG,
	       "server_deliver_ping_and_pong_it");
	/* a small buffer reads a control payload in parts */
	kws_ping(c, "12345", 5);
	n = kws_recv(s, buf, 3, &mi);
	ok = n == 3 && mi.opcode == WS_OP_PING && !mi.eom;
	n = kws_recv(s, buf + 3, 3, &mi);
	tap_ok(ok && n == 2 && mi.opcode == WS_OP_PING && mi.eom &&
	       !memcmp(buf, "12345", 5), "server_partial_read_of_ping");
	errno = 0;
	tap_ok(kws_ping(c, ping, 126) == -1 && errno == EINVAL,
	       "client_refuse_ping_over_125");
	tap_ok(kws_pong(c, "u", 1) == 0 && kws_recv(s, buf, 8, &mi) == 1 &&
	       mi.opcode == WS_OP_PONG, "client_unsolicited_pong");
	kws_close(c);
	kws_close(s);

	/* WS_F_NO_AUTO_PONG: the server answers nothing itself */
	conn_pair(0, &c, &s, &deliver, &no_pong);
	kws_ping(c, "q", 1);
	n = kws_recv(s, buf, sizeof(buf), &mi);
	ok = n == 1 && mi.opcode == WS_OP_PING;
	tap_ok(ok && wait_readable(kws_fd(c), 100) == 0,
	       "server_no_auto_pong");
	kws_close(c);
	kws_close(s);
}

/* ---- close handshake ------------------------------------------------------- */

static void test_close(int tcp)
{
	const char *tr = tcp ? "tcp" : "unix";
	struct kws_conn *c, *s;
	struct kws_msg_info mi;
	char buf[256], reason[130];
	ssize_t n;
	int ok;

	conn_pair(tcp, &c, &s, NULL, NULL);
	ok = kws_send_close(c, WS_CLOSE_NORMAL, "bye") == 0;
	errno = 0;
	ok = ok && kws_send(c, WS_OP_TEXT, "x", 1, 0) == -1 && errno == EPIPE;
	ok = ok && kws_send_close(c, WS_CLOSE_NORMAL, NULL) == -1 &&
	     errno == EPIPE;
	tap_ok(ok, "client_%s_no_send_after_close", tr);

	/* the server still had something to say before reading the close */
	kws_send(s, WS_OP_TEXT, "late", 4, 0);
	n = kws_recv(s, buf, 2, &mi);
	ok = n == 2 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1000 &&
	     !mi.eom && !memcmp(buf, "by", 2);
	n = kws_recv(s, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 1 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1000 &&
	       mi.close_flags == 0 && mi.eom && buf[0] == 'e',
	       "server_%s_recv_close_reason_in_two_reads", tr);
	n = kws_recv(s, buf, sizeof(buf), &mi);
	tap_ok(n == 0 && mi.opcode == 0, "server_%s_eof_after_close", tr);
	errno = 0;
	tap_ok(kws_send(s, WS_OP_TEXT, "x", 1, 0) == -1 && errno == EPIPE,
	       "server_%s_no_send_after_echo", tr);

	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = n == 4 && mi.opcode == WS_OP_TEXT && !memcmp(buf, "late", 4);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 0 && mi.opcode == WS_OP_CLOSE &&
	       mi.close_code == 1000 && mi.close_flags == 0,
	       "client_%s_data_then_echoed_close", tr);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = n == 0 && mi.opcode == 0;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 0 && mi.opcode == 0, "client_%s_eof_stays", tr);
	kws_close(c);
	kws_close(s);

	/* no status code: the peer sees 1005 */
	conn_pair(tcp, &c, &s, NULL, NULL);
	kws_send_close(s, 0, NULL);
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(n == 0 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1005,
	       "client_%s_close_without_code_is_1005", tr);
	n = kws_recv(s, buf, sizeof(buf), &mi);
	tap_ok(n == 0 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1005,
	       "server_%s_echo_without_code", tr);

	memset(reason, 'r', sizeof(reason));
	reason[124] = 0;
	errno = 0;
	ok = kws_send_close(c, 1005, NULL) == -1 && errno == EINVAL;
	ok = ok && kws_send_close(c, 999, NULL) == -1 && errno == EINVAL;
	ok = ok && kws_send_close(c, 1000, reason) == -1 && errno == EINVAL;
	ok = ok && kws_send_close(c, 0, "why") == -1 && errno == EINVAL;
	tap_ok(ok, "client_%s_refuse_bad_close_args", tr);
	kws_close(c);
	kws_close(s);
}

/* ---- failures against a raw peer ------------------------------------------- */

/* Append a frame as a peer would write it, masked if @mask is not NULL. */
static void test_fail_one(const char *name, int role, uint64_t max,
			  const uint8_t *frames, size_t len, uint16_t code,
			  const char *first)
{
	struct kws_attach_opts opts = {
		.flags = KWS_ATTACH_USERSPACE,
		.max_msg_size = max,
	};
	struct kws_conn *conn;
	struct kws_msg_info mi;
	char buf[256];
	int fds[2], ok = 1;
	ssize_t n;

	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	kws_attach(fds[0], role, &opts, NULL, 0, &conn);
	if (write(fds[1], frames, len) != (ssize_t)len)
		abort();
	if (first) {
		n = kws_recv(conn, buf, sizeof(buf), &mi);
		ok = n == (ssize_t)strlen(first) && !memcmp(buf, first, n);
	}
	n = kws_recv(conn, buf, sizeof(buf), &mi);
	ok = ok && n == 0 && mi.opcode == WS_OP_CLOSE &&
	     mi.close_code == code && mi.close_flags == WS_CLOSE_LOCAL;
	ok = ok && raw_expect_close(fds[1], code, role == WS_ROLE_CLIENT);
	n = kws_recv(conn, buf, sizeof(buf), &mi);
	ok = ok && n == 0 && mi.opcode == 0;
	errno = 0;
	ok = ok && kws_send(conn, WS_OP_TEXT, "x", 1, 0) == -1 &&
	     errno == EPIPE;
	tap_ok(ok, "%s_fail_%u_%s", role == WS_ROLE_CLIENT ? "client" : "server",
	       code, name);
	kws_close(conn);
	close(fds[1]);
}

static void test_failures(void)
{
	static const uint8_t m[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t buf[512];
	size_t n;
	int fds[2];



	n = 0; frame_put(buf, &n, 0x81, "hi", 2, NULL);
	test_fail_one("unmasked_from_client", WS_ROLE_SERVER, 0, buf, n, 1002, NULL);
	n = 0; frame_put(buf, &n, 0x81, "hi", 2, m);
	test_fail_one("masked_from_server", WS_ROLE_CLIENT, 0, buf, n, 1002, NULL);
	n = 0; frame_put(buf, &n, 0x83, "hi", 2, m);
	test_fail_one("reserved_opcode", WS_ROLE_SERVER, 0, buf, n, 1002, NULL);
	n = 0; frame_put(buf, &n, 0xc1, "hi", 2, m);
	test_fail_one("rsv1_set", WS_ROLE_SERVER, 0, buf, n, 1002, NULL);
	n = 0; frame_put(buf, &n, 0x80, "hi", 2, m);
	test_fail_one("continuation_without_start", WS_ROLE_SERVER, 0, buf, n,
		      1002, NULL);
	n = 0; frame_put(buf, &n, 0x09, "hi", 2, m);
	test_fail_one("fragmented_ping", WS_ROLE_SERVER, 0, buf, n, 1002, NULL);
	n = 0; frame_put(buf, &n, 0x88, "\x03\xed", 2, m);	/* 1005 may not be sent */
	test_fail_one("close_code_1005_on_wire", WS_ROLE_SERVER, 0, buf, n,
		      1002, NULL);
	n = 0; frame_put(buf, &n, 0x88, "\x03", 1, m);
	test_fail_one("close_payload_one_byte", WS_ROLE_SERVER, 0, buf, n,
		      1002, NULL);
	n = 0; frame_put(buf, &n, 0x81, "ok", 2, m); frame_put(buf, &n, 0x81, "\xff", 1, m);
	test_fail_one("text_not_utf8_after_good_message", WS_ROLE_SERVER, 0,
		      buf, n, 1007, "ok");
	n = 0; frame_put(buf, &n, 0x01, "\xe2\x82", 2, m); frame_put(buf, &n, 0x80, "\x28", 1, m);
	test_fail_one("text_utf8_broken_across_fragments", WS_ROLE_SERVER, 0,
		      buf, n, 1007, "\xe2\x82");
	n = 0; frame_put(buf, &n, 0x88, "\x03\xe8\xff", 3, m);
	test_fail_one("close_reason_not_utf8", WS_ROLE_SERVER, 0, buf, n, 1007,
		      NULL);
	n = 0; frame_put(buf, &n, 0x82, "0123456789a", 11, m);
	test_fail_one("message_over_max_msg_size", WS_ROLE_SERVER, 10, buf, n,
		      1009, NULL);
	n = 0; frame_put(buf, &n, 0x02, "012345", 6, m); frame_put(buf, &n, 0x80, "6789a", 5, m);
	test_fail_one("fragments_over_max_msg_size", WS_ROLE_SERVER, 10, buf, n,
		      1009, "012345");
	n = 0; frame_put(buf, &n, 0x82, "0123456789a", 11, NULL);
	test_fail_one("message_over_max_msg_size", WS_ROLE_CLIENT, 10, buf, n,
		      1009, NULL);

	/* TCP ends without a close frame: 1006, abnormal, nothing sent */
	{
		struct kws_conn *conn;
		struct kws_msg_info mi;
		char b[16];
		ssize_t r;
		int ok;

		socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
		kws_attach(fds[0], WS_ROLE_SERVER, &user_opts, NULL, 0, &conn);
		n = 0; frame_put(buf, &n, 0x01, "par", 3, m);
		if (write(fds[1], buf, n) != (ssize_t)n)
			abort();
		shutdown(fds[1], SHUT_WR);
		r = kws_recv(conn, b, sizeof(b), &mi);
		ok = r == 3 && mi.opcode == WS_OP_TEXT && !mi.eom;
		r = kws_recv(conn, b, sizeof(b), &mi);
		ok = ok && r == 0 && mi.opcode == WS_OP_CLOSE &&
		     mi.close_code == 1006 && mi.close_flags == WS_CLOSE_ABNORMAL;
		r = kws_recv(conn, b, sizeof(b), &mi);
		ok = ok && r == 0 && mi.opcode == 0;
		errno = 0;
		ok = ok && kws_send(conn, WS_OP_TEXT, "x", 1, 0) == -1 &&
		     errno == EPIPE;
		tap_ok(ok && read(fds[1], b, sizeof(b)) == 0,
		       "server_tcp_eof_mid_message_is_1006_abnormal");
		kws_close(conn);
		close(fds[1]);
	}
}

/* ---- masking on the wire, leftover, non-blocking ------------------------ */

static void test_wire(void)
{
	static const uint8_t m[4] = { 1, 2, 3, 4 };
	struct kws_conn *conn;
	struct kws_msg_info mi;
	uint8_t b[64], lo[32];
	int fds[2], ok;
	ssize_t n;

	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	kws_attach(fds[0], WS_ROLE_CLIENT, &user_opts, NULL, 0, &conn);
	kws_send(conn, WS_OP_BINARY, "aaaa", 4, 0);
	kws_send(conn, WS_OP_BINARY, "aaaa", 4, 0);
	n = read(fds[1], b, sizeof(b));
	ok = n == 20 && b[0] == 0x82 && b[1] == 0x84 && b[10] == 0x82 &&
	     b[11] == 0x84 && memcmp(b + 2, b + 12, 4);
	kws_mask_copy(b + 6, b + 6, 4, b + 2, 0);
	kws_mask_copy(b + 16, b + 16, 4, b + 12, 0);
	tap_ok(ok && !memcmp(b + 6, "aaaa", 4) && !memcmp(b + 16, "aaaa", 4),
	       "client_mask_every_frame_with_fresh_key");
	kws_close(conn);
	close(fds[1]);

	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	kws_attach(fds[0], WS_ROLE_SERVER, &user_opts, NULL, 0, &conn);
	kws_send(conn, WS_OP_TEXT, "hey", 3, 0);
	n = read(fds[1], b, sizeof(b));
	tap_ok(n == 5 && !memcmp(b, "\x81\x03hey", 5), "server_send_unmasked");

	/* server: leftover frames are parsed before the socket's bytes */
	kws_close(conn);
	close(fds[1]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	lo[0] = 0x81;
	lo[1] = 0x85;
	memcpy(lo + 2, m, 4);
	kws_mask_copy(lo + 6, (const uint8_t *)"first", 5, m, 0);
	lo[11] = 0x81;		/* and half of a second frame's header */
	b[0] = 0x86;
	memcpy(b + 1, m, 4);
	kws_mask_copy(b + 5, (const uint8_t *)"second", 6, m, 0);
	if (write(fds[1], b, 11) != 11)
		abort();
	ok = kws_attach(fds[0], WS_ROLE_SERVER, &user_opts, lo, 12, &conn) == 0;
	n = kws_recv(conn, b, sizeof(b), &mi);
	ok = ok && n == 5 && !memcmp(b, "first", 5) && mi.eom;
	n = kws_recv(conn, b, sizeof(b), &mi);
	tap_ok(ok && n == 6 && !memcmp(b, "second", 6) && mi.eom,
	       "server_parse_leftover_then_socket");

	/* non-blocking: EAGAIN with nothing buffered */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	errno = 0;
	n = kws_recv(conn, b, sizeof(b), &mi);
	tap_ok(n == -1 && errno == EAGAIN && !kws_pending(conn),
	       "server_nonblocking_eagain");
	kws_close(conn);
	close(fds[1]);

	/* kws_close of an open connection: 1001 going away, like close(2) */
	for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
		socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
		kws_attach(fds[0], role, &user_opts, NULL, 0, &conn);
		kws_close(conn);
		tap_ok(raw_expect_close(fds[1], 1001, role == WS_ROLE_CLIENT),
		       "%s_close_sends_1001_going_away",
		       role == WS_ROLE_CLIENT ? "client" : "server");
		close(fds[1]);
	}
	/* ... but nothing after a close was sent */
	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	kws_attach(fds[0], WS_ROLE_SERVER, &user_opts, NULL, 0, &conn);
	kws_send_close(conn, 4000, NULL);
	kws_close(conn);
	tap_ok(raw_expect_close(fds[1], 4000, 0), "server_close_after_close_sends_nothing");
	close(fds[1]);

	/* WS_F_NO_UTF8_CHECK: invalid text is delivered as is */
	socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
	kws_attach(fds[0], WS_ROLE_SERVER, &(struct kws_attach_opts){
		.flags = KWS_ATTACH_USERSPACE,
		.ws_flags = WS_F_NO_UTF8_CHECK }, NULL, 0, &conn);
	{
		size_t fn = 0;

		frame_put(lo, &fn, 0x81, "\xff\xfe", 2, m);
		if (write(fds[1], lo, fn) != (ssize_t)fn)
			abort();
	}
	n = kws_recv(conn, b, sizeof(b), &mi);
	tap_ok(n == 2 && mi.opcode == WS_OP_TEXT && mi.eom &&
	       !memcmp(b, "\xff\xfe", 2), "server_no_utf8_check_delivers_invalid_text");
	kws_close(conn);
	close(fds[1]);

	/* a delivered ping, then a failure / TCP EOF: an empty close report */
	for (int eof = 0; eof <= 1; eof++) {
		size_t fn = 0;
		int ok;

		socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
		kws_attach(fds[0], WS_ROLE_SERVER, &(struct kws_attach_opts){
			.flags = KWS_ATTACH_USERSPACE,
			.ws_flags = WS_F_DELIVER_CONTROL }, NULL, 0, &conn);
		frame_put(lo, &fn, 0x89, "abc", 3, m);
		if (!eof)
			frame_put(lo, &fn, 0x81, "x", 1, NULL);
		if (write(fds[1], lo, fn) != (ssize_t)fn)
			abort();
		shutdown(fds[1], SHUT_WR);
		n = kws_recv(conn, b, sizeof(b), &mi);
		ok = n == 3 && mi.opcode == WS_OP_PING && mi.eom;
		n = kws_recv(conn, b, sizeof(b), &mi);
		tap_ok(ok && n == 0 && mi.opcode == WS_OP_CLOSE &&
		       mi.close_code == (eof ? 1006 : 1002),
		       "server_ping_then_%s_reports_empty_close",
		       eof ? "tcp_eof" : "failure");
		kws_close(conn);
		close(fds[1]);
	}

	/* KWS_ATTACH_KERNEL where the module is missing: no fallback */
	if (raw_pair(1, fds) == 0) {
		int r;

		errno = 0;
		r = kws_attach(fds[0], WS_ROLE_CLIENT, &(struct kws_attach_opts){
			.flags = KWS_ATTACH_KERNEL }, NULL, 0, &conn);
		if (r == 0) {
			tap_skip("kws.ko is loaded", "attach_kernel_only_enoprotoopt");
			kws_close(conn);
		} else {
			tap_ok(errno == ENOPROTOOPT, "attach_kernel_only_enoprotoopt");
			close(fds[0]);
		}
		close(fds[1]);
	}
	errno = 0;
	tap_ok(kws_attach(0, WS_ROLE_CLIENT, &(struct kws_attach_opts){
		.flags = KWS_ATTACH_KERNEL | KWS_ATTACH_USERSPACE }, NULL, 0,
		&conn) == -1 && errno == EINVAL, "attach_refuse_kernel_and_userspace");

	errno = 0;
	tap_ok(kws_attach(0, 3, NULL, NULL, 0, &conn) == -1 && errno == EINVAL,
	       "attach_refuse_bad_role");
	errno = 0;
	tap_ok(kws_attach(0, WS_ROLE_CLIENT, &(struct kws_attach_opts){
		.ws_flags = 0x100 }, NULL, 0, &conn) == -1 && errno == EINVAL,
	       "attach_refuse_unknown_ws_flags");
}

/* ---- handshake over sockets ------------------------------------------------ */

struct raw_server {
	int lfd;
	const char *reply;	/* with "@A" for the accept value */
	size_t extra_len;	/* bytes after the reply, e.g. a frame */
	const char *extra;
	int silent;		/* never answer */
	int bytewise;		/* write the reply one byte at a time */
	char request[4096];
};

static void *raw_server_main(void *arg)
{
	struct raw_server *rs = arg;
	int fd = accept(rs->lfd, NULL, NULL);
	char out[4096], key[64] = "", acc[29] = "";
	const char *k, *at;
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(rs->request) - 1 &&
	       (n = read(fd, rs->request + len, sizeof(rs->request) - 1 - len)) > 0) {
		len += n;
		rs->request[len] = 0;
		if (strstr(rs->request, "\r\n\r\n"))
			break;
	}
	k = strstr(rs->request, "Sec-WebSocket-Key: ");
	if (k)
		sscanf(k + 19, "%63[^\r]", key);
	kws_accept_key(key, acc);
	at = strstr(rs->reply, "@A");
	if (at)
		len = snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - rs->reply),
			       rs->reply, acc, at + 2);
	else
		len = snprintf(out, sizeof(out), "%s", rs->reply);
	if (rs->extra_len)
		memcpy(out + len, rs->extra, rs->extra_len);
	len += rs->extra_len;
	if (rs->silent) {
		sleep(1);
	} else if (rs->bytewise) {
		for (size_t i = 0; i < len; i++) {
			if (write(fd, out + i, 1) != 1)
				abort();
			usleep(200);
		}
	} else if (write(fd, out, len) != (ssize_t)len) {
		abort();
	}
	/* hold the connection until the client is done with it */
	while (read(fd, out, sizeof(out)) > 0)
		;
	close(fd);
	return NULL;
}

static void test_client_socket(void)
{
	const char *protos[] = { "chat", NULL };
	struct kws_client_opts opts = {
		.protocols = protos,
		.attach.flags = KWS_ATTACH_USERSPACE,
	};
	struct raw_server rs = {
		.reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Protocol: chat\r\n"
			 "Sec-WebSocket-Accept: @A\r\n\r\n",
		.extra = "\x81\x05" "early",
		.extra_len = 7,
	};
	struct kws_conn *c;
	struct kws_msg_info mi;
	char url[64], buf[64];
	uint16_t port;
	pthread_t th;
	ssize_t n;
	int r;

	rs.lfd = tcp_listener(AF_INET, &port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/p?q=1", port);
	pthread_create(&th, NULL, raw_server_main, &rs);
	opts.timeout_ms = 5000;
	r = kws_connect(url, &opts, &c);
	tap_ok(r == 0 && kws_protocol(c) && !strcmp(kws_protocol(c), "chat") &&
	       !(fcntl(kws_fd(c), F_GETFL) & O_NONBLOCK),
	       "client_connect_with_protocol_and_timeout_stays_blocking");
	opts.timeout_ms = 0;
	n = r ? -1 : kws_recv(c, buf, sizeof(buf), &mi);
	/* the frame came in the same segment as the 101: not over-read */
	tap_ok(n == 5 && !memcmp(buf, "early", 5) && mi.eom,
	       "client_frame_in_same_segment_as_101");
	tap_ok(strstr(rs.request, "GET /p?q=1 HTTP/1.1\r\n") &&
	       strstr(rs.request, "\r\nHost: 127.0.0.1:" ) != NULL,
	       "client_request_target_and_host");
	if (!r)
		kws_close(c);
	pthread_join(th, NULL);
	close(rs.lfd);

	/* the 101 and a frame trickling in byte by byte: peek, take, repeat */
	memset(&rs, 0, sizeof(rs));
	rs.reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		   "Connection: Upgrade\r\nSec-WebSocket-Accept: @A\r\n\r\n";
	rs.extra = "\x82\x03" "abc";
	rs.extra_len = 5;
	rs.bytewise = 1;
	rs.lfd = tcp_listener(AF_INET, &port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/", port);
	pthread_create(&th, NULL, raw_server_main, &rs);
	r = kws_connect(url, &opts, &c);
	n = r ? -1 : recv_msg(c, (uint8_t *)buf, sizeof(buf), sizeof(buf),
			      &(int){ 0 });
	tap_ok(r == 0 && n == 3 && !memcmp(buf, "abc", 3),
	       "client_101_byte_by_byte_then_frame");
	if (!r)
		kws_close(c);
	pthread_join(th, NULL);
	close(rs.lfd);

	memset(&rs, 0, sizeof(rs));
	rs.reply = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
	rs.lfd = tcp_listener(AF_INET, &port);
	snprintf(url, sizeof(url), "ws://localhost:%u/", port);
	pthread_create(&th, NULL, raw_server_main, &rs);
	errno = 0;
	r = kws_connect(url, NULL, &c);
	tap_ok(r == -1 && errno == ECONNREFUSED && !c,
	       "client_connect_refused_by_403");
	pthread_join(th, NULL);
	close(rs.lfd);

	memset(&rs, 0, sizeof(rs));
	rs.reply = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		   "Connection: Upgrade\r\nSec-WebSocket-Accept: xxx\r\n\r\n";
	rs.lfd = tcp_listener(AF_INET, &port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/", port);
	pthread_create(&th, NULL, raw_server_main, &rs);
	errno = 0;
	r = kws_connect(url, NULL, &c);
	tap_ok(r == -1 && errno == EPROTO, "client_connect_bad_accept_eproto");
	pthread_join(th, NULL);
	close(rs.lfd);

	memset(&rs, 0, sizeof(rs));
	rs.reply = "";
	rs.silent = 1;
	rs.lfd = tcp_listener(AF_INET, &port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/", port);
	pthread_create(&th, NULL, raw_server_main, &rs);
	errno = 0;
	r = kws_connect(url, &(struct kws_client_opts){ .timeout_ms = 200 }, &c);
	tap_ok(r == -1 && errno == ETIMEDOUT, "client_connect_timeout");
	pthread_join(th, NULL);
	close(rs.lfd);

	/* nothing listens on the port any more */
	errno = 0;
	tap_ok(kws_connect(url, NULL, &c) == -1 && errno == ECONNREFUSED,
	       "client_connect_closed_port");
	errno = 0;
	tap_ok(kws_connect("ws://no-such-host.invalid/", NULL, &c) == -1 &&
	       errno == EHOSTUNREACH, "client_connect_unknown_host");
	errno = 0;
	tap_ok(kws_connect("wss://example.org/", NULL, &c) == -1 &&
	       errno == EPROTONOSUPPORT, "client_connect_refuse_wss");
}

#define REQ "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" \
	"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
	"Sec-WebSocket-Version: 13\r\n"

static void test_server_socket(void)
{
	static const uint8_t m[4] = { 9, 8, 7, 6 };
	const char *protos[] = { "v2", "v1", NULL };
	struct kws_server_opts opts = {
		.protocols = protos,
		.attach.flags = KWS_ATTACH_USERSPACE,
	};
	struct accept_arg a = { .opts = &opts };
	char req[1024], resp[1024];
	struct kws_msg_info mi;
	uint16_t port;
	pthread_t th;
	size_t len;
	ssize_t n;
	int fd, ok;

	a.lfd = tcp_listener(AF_INET, &port);
	pthread_create(&th, NULL, accept_main, &a);
	fd = tcp_connect(port);
	/* request and a first frame in one segment */
	len = snprintf(req, sizeof(req),
		       REQ "Sec-WebSocket-Protocol: v1, v2\r\n\r\n");
	req[len++] = 0x81;
	req[len++] = 0x80 | 5;
	memcpy(req + len, m, 4);
	len += 4;
	kws_mask_copy((uint8_t *)req + len, (const uint8_t *)"early", 5, m, 0);
	len += 5;
	if (write(fd, req, len) != (ssize_t)len)
		abort();
	pthread_join(th, NULL);
	read_head(fd, resp, sizeof(resp));
	tap_ok(a.r == 0 && strstr(resp, "101 Switching") &&
	       strstr(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") &&
	       strstr(resp, "Sec-WebSocket-Protocol: v2\r\n") &&
	       !strcmp(kws_protocol(a.conn), "v2"), "server_accept_101");
	n = a.r ? -1 : kws_recv(a.conn, resp, sizeof(resp), &mi);
	tap_ok(n == 5 && !memcmp(resp, "early", 5),
	       "server_frame_in_same_segment_as_request");
	if (!a.r)
		kws_close(a.conn);
	close(fd);

	/* a bad request gets its status and the socket closed */
	pthread_create(&th, NULL, accept_main, &a);
	fd = tcp_connect(port);
	len = snprintf(req, sizeof(req), "%s",
		       REQ "Sec-WebSocket-Version: 8\r\n\r\n");
	if (write(fd, req, len) != (ssize_t)len)
		abort();
	pthread_join(th, NULL);
	n = read_head(fd, resp, sizeof(resp));
	ok = a.r == -1 && a.err == EPROTO &&
	     !strncmp(resp, "HTTP/1.1 426 ", 13) &&
	     strstr(resp, "Sec-WebSocket-Version: 13\r\n");
	tap_ok(ok && read(fd, resp, 1) == 0, "server_accept_answers_426_and_closes");
	close(fd);

	/* the peer goes away mid-request */
	pthread_create(&th, NULL, accept_main, &a);
	fd = tcp_connect(port);
	if (write(fd, "GET / HTTP/1.1\r\n", 16) != 16)
		abort();
	close(fd);
	pthread_join(th, NULL);
	tap_ok(a.r == -1 && a.err == ECONNRESET, "server_accept_peer_gone_econnreset");

	/* a 9 KiB request: 431 */
	pthread_create(&th, NULL, accept_main, &a);
	fd = tcp_connect(port);
	{
		char big[9300];

		len = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
		memset(big + len, 'x', 9000);
		len += 9000;
		/* the server may stop reading at 8 KiB: ignore EPIPE */
		n = send(fd, big, len, MSG_NOSIGNAL);
		(void)n;
	}
	pthread_join(th, NULL);
	n = read_head(fd, resp, sizeof(resp));
	tap_ok(a.r == -1 && a.err == EMSGSIZE && !strncmp(resp, "HTTP/1.1 431 ", 13),
	       "server_accept_431_for_big_head");
	close(fd);

	/* a timeout on a silent client */
	opts.timeout_ms = 200;
	pthread_create(&th, NULL, accept_main, &a);
	fd = tcp_connect(port);
	pthread_join(th, NULL);
	tap_ok(a.r == -1 && a.err == ETIMEDOUT, "server_accept_timeout");
	close(fd);
	close(a.lfd);
}

/* kws_connect + kws_accept, no forced userspace: the host has no module. */
static void test_connect_accept(int family)
{
	const char *name = family == AF_INET ? "v4" : "v6";
	struct accept_arg a = { 0 };
	struct kws_conn *c = NULL;
	struct echo e = { .chunk = 1000 };
	uint8_t buf[5000], out[5000];
	char url[64];
	uint16_t port;
	pthread_t th, eth;
	int opcode, ok;
	ssize_t n;

	a.lfd = tcp_listener(family, &port);
	if (a.lfd < 0) {
		tap_skip("no loopback for this family", "connect_accept_%s", name);
		return;
	}
	snprintf(url, sizeof(url), family == AF_INET ? "ws://127.0.0.1:%u/e" :
		 "ws://[::1]:%u/e", port);
	pthread_create(&th, NULL, accept_main, &a);
	ok = kws_connect(url, NULL, &c) == 0;
	pthread_join(th, NULL);
	ok = ok && a.r == 0;
	tap_ok(ok, "connect_accept_%s (%s path)", name,
	       ok && kws_is_kernel(c) ? "kernel" : "userspace");
	if (!ok)
		return;
	e.conn = a.conn;
	pthread_create(&eth, NULL, echo_main, &e);
	fill(out, sizeof(out), WS_OP_TEXT, 3);
	kws_send(c, WS_OP_TEXT, out, sizeof(out), 0);
	n = recv_msg(c, buf, sizeof(buf), 777, &opcode);
	tap_ok(n == (ssize_t)sizeof(out) && !memcmp(buf, out, n),
	       "connect_accept_%s_echo", name);
	kws_send_close(c, 1001, "going");
	n = recv_msg(c, buf, sizeof(buf), sizeof(buf), &opcode);
	pthread_join(eth, NULL);
	tap_ok(n == -2 && opcode == WS_OP_CLOSE, "connect_accept_%s_close", name);
	kws_close(c);
	kws_close(a.conn);
	close(a.lfd);
}

/* ---- kws_recv_batch() -------------------------------------------------- */

static int batch_pair_tcp;

static int batch_pair(struct kws_conn **tx, struct kws_conn **rx,
		      uint32_t rx_flags)
{
	struct kws_attach_opts ropts = {
		.flags = KWS_ATTACH_USERSPACE,
		.ws_flags = rx_flags,
	};

	return conn_pair(batch_pair_tcp, tx, rx, NULL, &ropts);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	for (int tcp = 0; tcp <= 1; tcp++)
		for (int cs = 1; cs >= 0; cs--)
			test_echo(tcp, cs);
	test_fragments();
	test_stress();
	test_ping();
	test_close(0);
	test_close(1);
	test_failures();
	test_wire();
	test_client_socket();
	test_server_socket();
	test_connect_accept(AF_INET);
	test_connect_accept(AF_INET6);
	batch_tests("user_unix", batch_pair);
	batch_pair_tcp = 1;
	batch_tests("user_tcp", batch_pair);
	return tap_done();
}
