/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kws selftest programs (ws.c, batch.c): loopback
 * pairs with "ws" attached, the plain peer's own frame encoder and reader
 * (an independent reading of RFC 6455: nothing here uses codec/), and the
 * ULP side's cmsg-aware recvmsg/sendmsg wrappers.
 *
 * Include after kselftest_harness.h: the helpers take the harness's
 * _metadata and use its ASSERT/EXPECT macros. Everything is static inline,
 * so a program pays only for what it uses.
 */
#ifndef KWS_SELFTESTS_WS_PEER_H
#define KWS_SELFTESTS_WS_PEER_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <linux/kws.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define IO_TIMEOUT_MS	5000	/* anything expected arrives by then */
#define QUIET_MS	300	/* how long "nothing happens" is watched */
#define MAX_FRAME_READ	(64u << 20)

/* ---- helpers: sockets --------------------------------------------------- */

static inline bool require_module(void)
{
	const char *v = getenv("KWS_REQUIRE_MODULE");

	return v && *v && strcmp(v, "0");
}

static inline void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A connected loopback pair: *cfd connected to *afd, which was accepted. */
static inline int tcp_pair(int family, int *cfd, int *afd)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int lfd;

	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	lfd = socket(family, SOCK_STREAM, 0);
	if (lfd < 0)
		return -1;
	if (bind(lfd, (void *)&ss, len) || listen(lfd, 1) ||
	    getsockname(lfd, (void *)&ss, &len))
		goto err;
	*cfd = socket(family, SOCK_STREAM, 0);
	if (*cfd < 0)
		goto err;
	if (connect(*cfd, (void *)&ss, len)) {
		close(*cfd);
		goto err;
	}
	*afd = accept(lfd, NULL, NULL);
	if (*afd < 0) {
		close(*cfd);
		goto err;
	}
	close(lfd);
	return 0;
err:
	close(lfd);
	return -1;
}

/* "ws" missing: skip on a host without kws.ko, fail where it must be there. */
static inline void ulp_missing(struct __test_metadata *_metadata,
			       const char *why)
{
	if (require_module()) {
		TH_LOG("ws ULP missing with KWS_REQUIRE_MODULE set: %s", why);
		ASSERT_TRUE(false);
	}
	SKIP(return, "ws ULP not available (kws.ko not loaded): %s", why);
}

/* Attach "ws"; false (after ulp_missing) when the ULP does not exist. */
static inline bool ws_attach(struct __test_metadata *_metadata, int fd)
{
	if (!setsockopt(fd, IPPROTO_TCP, TCP_ULP, "ws", sizeof("ws")))
		return true;
	if (errno == ENOENT) {
		ulp_missing(_metadata, "setsockopt(TCP_ULP, \"ws\"): ENOENT");
		return false;
	}
	TH_LOG("setsockopt(TCP_ULP, \"ws\"): %s", strerror(errno));
	ASSERT_TRUE(false);
	return false;
}

static inline int ws_config(int fd, int role, uint32_t flags, uint64_t max)
{
	struct ws_config cfg = {
		.role = role,
		.flags = flags,
		.max_msg_size = max,
	};

	return setsockopt(fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg));
}

/*
 * The ULP side *fd (the accepted socket for a server, the connecting one for
 * a client) attached but not configured, and the plain *peer. Both have
 * bounded blocking calls; the peer has TCP_NODELAY so that each send() is
 * its own segment.
 */
static inline void tcp_pair_role(struct __test_metadata *_metadata, int family,
				 int role, int *fd, int *peer)
{
	int cfd, afd, one = 1;

	ASSERT_EQ(0, tcp_pair(family, &cfd, &afd)) {
		TH_LOG("loopback pair: %s", strerror(errno));
	}
	*fd = role == WS_ROLE_SERVER ? afd : cfd;
	*peer = role == WS_ROLE_SERVER ? cfd : afd;
	set_timeouts(*fd, IO_TIMEOUT_MS);
	set_timeouts(*peer, IO_TIMEOUT_MS);
	setsockopt(*peer, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static inline bool ws_pair_attached(struct __test_metadata *_metadata,
				    int family, int role, int *fd, int *peer)
{
	tcp_pair_role(_metadata, family, role, fd, peer);
	if (!ws_attach(_metadata, *fd)) {
		close(*fd);
		close(*peer);
		return false;
	}
	return true;
}

static inline bool ws_pair(struct __test_metadata *_metadata, int family,
			   int role, uint32_t flags, uint64_t max, int *fd,
			   int *peer)
{
	if (!ws_pair_attached(_metadata, family, role, fd, peer))
		return false;
	ASSERT_EQ(0, ws_config(*fd, role, flags, max)) {
		TH_LOG("WS_CONFIG: %s", strerror(errno));
	}
	return true;
}

/* ---- helpers: the peer's frame encoder ---------------------------------- */

static inline uint32_t rnd32(void)
{
	static uint32_t x;

	if (!x)
		x = (uint32_t)getpid() * 2654435761u ^ (uint32_t)time(NULL) ^ 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static inline void *wb_grow(struct wbuf *wb, size_t n)
{
	if (wb->len + n > wb->cap) {
		size_t cap = wb->cap ? wb->cap : 256;

		while (cap < wb->len + n)
			cap *= 2;
		wb->p = realloc(wb->p, cap);
		if (!wb->p)
			abort();
		wb->cap = cap;
	}
	wb->len += n;
	return wb->p + wb->len - n;
}

static inline void wb_put(struct wbuf *wb, const void *data, size_t n)
{
	if (n)
		memcpy(wb_grow(wb, n), data, n);
}

static inline void wb_free(struct wbuf *wb)
{
	free(wb->p);
	memset(wb, 0, sizeof(*wb));
}

#define B0(fin, rsv, op)	(((fin) ? 0x80 : 0) | ((rsv) << 4) | (op))

/*
 * Append a frame whose header announces @len_field payload bytes (normally
 * @len; anything, to lie) and carries @b0 as its first byte.
 */
static inline void wb_frame_raw(struct wbuf *wb, uint8_t b0, bool masked,
				uint64_t len_field, const void *payload,
				size_t len)
{
	uint8_t hdr[14], key[4], *out;
	uint8_t mbit = masked ? 0x80 : 0;
	const uint8_t *in = payload;
	size_t n = 0, i;
	uint32_t k = rnd32();

	hdr[n++] = b0;
	if (len_field < 126) {
		hdr[n++] = mbit | len_field;
	} else if (len_field <= 0xffff) {
		hdr[n++] = mbit | 126;
		hdr[n++] = len_field >> 8;
		hdr[n++] = len_field;
	} else {
		hdr[n++] = mbit | 127;
		for (i = 0; i < 8; i++)
			hdr[n++] = len_field >> (56 - 8 * i);
	}
	memcpy(key, &k, 4);
	if (masked) {
		memcpy(hdr + n, key, 4);
		n += 4;
	}
	wb_put(wb, hdr, n);
	if (!len)
		return;
	out = wb_grow(wb, len);
	for (i = 0; i < len; i++)
		out[i] = in[i] ^ (masked ? key[i & 3] : 0);
}

static inline void wb_frame(struct wbuf *wb, bool masked, bool fin, int op,
			    const void *payload, size_t len)
{
	wb_frame_raw(wb, B0(fin, 0, op), masked, len, payload, len);
}

/* Close frame payload: code (if nonzero) then reason. */
static inline void wb_close(struct wbuf *wb, bool masked, int code,
			    const void *reason, size_t rlen)
{
	uint8_t p[256];
	size_t n = 0;

	if (code >= 0) {
		p[n++] = code >> 8;
		p[n++] = code;
	}
	memcpy(p + n, reason, rlen);
	wb_frame(wb, masked, true, WS_OP_CLOSE, p, n + rlen);
}

/* The peer masks what it sends exactly when the ULP is the server. */
static inline bool peer_masks(int role)
{
	return role == WS_ROLE_SERVER;
}

/*
 * Send @len bytes in pieces of @chunk (0: at once), sleeping @gap_us
 * between pieces so each one is parsed on its own. 0 or -1 (errno).
 */
static inline int send_chunks(int fd, const void *buf, size_t len, size_t chunk,
			      unsigned int gap_us)
{
	const uint8_t *p = buf;

	if (!chunk)
		chunk = len;
	while (len) {
		size_t n = len < chunk ? len : chunk;
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0)
			return -1;
		p += r;
		len -= r;
		if (len && gap_us)
			usleep(gap_us);
	}
	return 0;
}

static inline void wb_send(struct __test_metadata *_metadata, int fd,
			   struct wbuf *wb, size_t chunk, unsigned int gap_us)
{
	ASSERT_EQ(0, send_chunks(fd, wb->p, wb->len, chunk, gap_us)) {
		TH_LOG("peer send: %s", strerror(errno));
	}
	wb->len = 0;
}

/* One frame from the peer, whole, at once. */
static inline void peer_send(struct __test_metadata *_metadata, int peer,
			     int role, bool fin, int op, const void *payload,
			     size_t len)
{
	struct wbuf wb = {};

	wb_frame(&wb, peer_masks(role), fin, op, payload, len);
	wb_send(_metadata, peer, &wb, 0, 0);
	wb_free(&wb);
}

/* ---- helpers: the peer's frame reader ------------------------------------ */

/* n, 0 on EOF before the first byte, -1 on error/timeout/EOF inside. */
static inline ssize_t read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		r = poll(&pfd, 1, timeout_ms);
		if (r <= 0) {
			errno = r ? errno : ETIMEDOUT;
			return -1;
		}
		r = recv(fd, p + got, n - got, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		if (!r) {
			if (!got)
				return 0;
			errno = EPROTO;
			return -1;
		}
		got += r;
	}
	return got;
}

struct rframe {
	bool fin;
	int rsv;
	int op;
	bool masked;
	uint8_t key[4];
	uint64_t len;
	uint8_t *data;		/* unmasked, malloc()ed, len bytes */
};

enum { RF_OK = 0, RF_EOF = 1, RF_ERR = -1 };

/* Read and unmask one frame the kernel sent. RF_OK, RF_EOF or RF_ERR. */
static inline int peer_read_frame(int fd, struct rframe *f, int timeout_ms)
{
	uint8_t h[8];
	uint64_t i;
	ssize_t r;

	memset(f, 0, sizeof(*f));
	r = read_full(fd, h, 2, timeout_ms);
	if (r <= 0)
		return r ? RF_ERR : RF_EOF;
	f->fin = h[0] & 0x80;
	f->rsv = (h[0] >> 4) & 7;
	f->op = h[0] & 0xf;
	f->masked = h[1] & 0x80;
	f->len = h[1] & 0x7f;
	if (f->len == 126) {
		if (read_full(fd, h, 2, timeout_ms) != 2)
			return RF_ERR;
		f->len = (uint64_t)h[0] << 8 | h[1];
	} else if (f->len == 127) {
		if (read_full(fd, h, 8, timeout_ms) != 8)
			return RF_ERR;
		f->len = 0;
		for (i = 0; i < 8; i++)
			f->len = f->len << 8 | h[i];
	}
	if (f->masked && read_full(fd, f->key, 4, timeout_ms) != 4)
		return RF_ERR;
	if (f->len > MAX_FRAME_READ) {
		errno = EMSGSIZE;
		return RF_ERR;
	}
	f->data = malloc(f->len + 1);
	if (!f->data)
		return RF_ERR;
	if (f->len && read_full(fd, f->data, f->len, timeout_ms) != (ssize_t)f->len) {
		free(f->data);
		f->data = NULL;
		return RF_ERR;
	}
	if (f->masked)
		for (i = 0; i < f->len; i++)
			f->data[i] ^= f->key[i & 3];
	return RF_OK;
}

static inline void rframe_free(struct rframe *f)
{
	free(f->data);
	f->data = NULL;
}

/* What the peer read: one message, and what came with it. */
struct peer_msg {
	int err;		/* 0, or the RF_* / errno of a bad read */
	int first_op;		/* opcode of the first data frame */
	uint8_t *data;		/* the message's payload, concatenated */
	size_t len;
	unsigned int frames;	/* data frames */
	unsigned int empty;	/* zero-length data frames */
	uint64_t max_frame;	/* largest data frame payload */
	bool bad_mask;		/* a frame masked (or not) against the role */
	bool bad_op;		/* CONT first, or TEXT/BINARY inside */
	unsigned int pongs;	/* pongs between its frames */
	unsigned int pong_after;/* data frames before the first pong */
	uint8_t pong[125];
	size_t pong_len;
	unsigned int others;	/* any other frame */
};

/*
 * Read frames from @peer until a data frame with FIN. Runs in a thread
 * too (no harness asserts here): the caller checks @m.
 */
static inline void peer_read_message(int peer, int role,
				     struct peer_msg *m, int timeout_ms)
{
	memset(m, 0, sizeof(*m));
	m->first_op = -1;
	for (;;) {
		struct rframe f;
		int r = peer_read_frame(peer, &f, timeout_ms);

		if (r != RF_OK) {
			m->err = r == RF_EOF ? EPIPE : errno ? errno : EIO;
			return;
		}
		if (f.masked != (role == WS_ROLE_CLIENT))
			m->bad_mask = true;
		if (f.op == WS_OP_PONG) {
			if (!m->pongs++) {
				m->pong_after = m->frames;
				m->pong_len = f.len;
				memcpy(m->pong, f.data, f.len);
			}
			rframe_free(&f);
			continue;
		}
		if (f.op & 0x8) {
			m->others++;
			rframe_free(&f);
			continue;
		}
		if (m->first_op < 0)
			m->first_op = f.op;
		if ((m->frames == 0) != (f.op != WS_OP_CONT))
			m->bad_op = true;
		m->data = realloc(m->data, m->len + f.len + 1);
		if (!m->data)
			abort();
		memcpy(m->data + m->len, f.data, f.len);
		m->len += f.len;
		m->frames++;
		if (!f.len)
			m->empty++;
		if (f.len > m->max_frame)
			m->max_frame = f.len;
		rframe_free(&f);
		if (f.fin)
			return;
	}
}

/* Check @m is one message of @op carrying @len bytes of @want. */
static inline void expect_peer_msg(struct __test_metadata *_metadata,
				   const struct peer_msg *m, int op,
				   const uint8_t *want, size_t len)
{
	ASSERT_EQ(0, m->err) {
		TH_LOG("peer: %s after %zu bytes in %u frames",
		       strerror(m->err), m->len, m->frames);
	}
	EXPECT_FALSE(m->bad_mask);
	EXPECT_FALSE(m->bad_op);
	EXPECT_EQ(op, m->first_op);
	EXPECT_EQ(0, m->others);
	ASSERT_EQ(len, m->len);
	EXPECT_EQ(0, memcmp(m->data, want, len)) {
		TH_LOG("payload differs from what was sent");
	}
}

static inline void peer_msg_free(struct peer_msg *m)
{
	free(m->data);
	m->data = NULL;
}

/* An unlinked file holding @len pattern bytes; also returned in *@buf. */
struct peer_job {
	pthread_t thread;
	int peer, role;
	int timeout_ms;		/* per frame */
	struct peer_msg msg;
};

static inline void *peer_job_run(void *arg)
{
	struct peer_job *j = arg;

	peer_read_message(j->peer, j->role, &j->msg, j->timeout_ms);
	return NULL;
}

/* Read one message on @peer in a thread while the test thread sends. */
static inline void peer_job_start_timeout(struct __test_metadata *_metadata,
					  struct peer_job *j, int peer,
					  int role, int timeout_ms)
{
	j->peer = peer;
	j->role = role;
	j->timeout_ms = timeout_ms;
	ASSERT_EQ(0, pthread_create(&j->thread, NULL, peer_job_run, j));
}

static inline void peer_job_start(struct __test_metadata *_metadata,
				  struct peer_job *j, int peer, int role)
{
	peer_job_start_timeout(_metadata, j, peer, role, IO_TIMEOUT_MS);
}

static inline void peer_job_wait(struct peer_job *j)
{
	pthread_join(j->thread, NULL);
}

static inline const char *opname(int op)
{
	static const char * const names[16] = {
		"CONT", "TEXT", "BINARY", "op3", "op4", "op5", "op6", "op7",
		"CLOSE", "PING", "PONG", "opB", "opC", "opD", "opE", "opF",
	};

	return op >= 0 && op < 16 ? names[op] : "none";
}

/* Read one frame and check its header: mask bit by role, RSV 0, FIN, op. */
static inline void expect_frame_hdr(struct __test_metadata *_metadata, int peer,
				    int role, bool fin, int op,
				    struct rframe *f)
{
	int r = peer_read_frame(peer, f, IO_TIMEOUT_MS);

	ASSERT_EQ(RF_OK, r) {
		TH_LOG("expected a %s frame on the wire, got %s (%s)",
		       opname(op), r == RF_EOF ? "EOF" : "an error",
		       strerror(errno));
	}
	EXPECT_EQ(role == WS_ROLE_CLIENT, f->masked) {
		TH_LOG("a %s must %smask what it sends", role == WS_ROLE_CLIENT ?
		       "client" : "server", role == WS_ROLE_CLIENT ? "" : "not ");
	}
	EXPECT_EQ(0, f->rsv);
	ASSERT_EQ(op, f->op) {
		TH_LOG("expected %s, got %s (len %llu)", opname(op),
		       opname(f->op), (unsigned long long)f->len);
	}
	EXPECT_EQ(fin, f->fin);
}

/* Read one frame and check it entirely. */
static inline void expect_frame(struct __test_metadata *_metadata, int peer,
				int role, bool fin, int op, const void *payload,
				size_t len)
{
	struct rframe f;

	expect_frame_hdr(_metadata, peer, role, fin, op, &f);
	ASSERT_EQ((uint64_t)len, f.len);
	if (len)
		EXPECT_EQ(0, memcmp(f.data, payload, len));
	rframe_free(&f);
}

/* The next frame is a close with @code (and the optional reason). */
static inline void expect_close_frame(struct __test_metadata *_metadata,
				      int peer, int role, int code,
				      const void *reason, size_t rlen)
{
	struct rframe f;
	int got;

	expect_frame_hdr(_metadata, peer, role, true, WS_OP_CLOSE, &f);
	ASSERT_GE(f.len, 2) {
		TH_LOG("close frame without a code, expected %d", code);
	}
	got = f.data[0] << 8 | f.data[1];
	EXPECT_EQ(code, got) {
		TH_LOG("close code on the wire: expected %d, got %d", code, got);
	}
	if (reason) {
		EXPECT_EQ((uint64_t)rlen + 2, f.len);
		if (f.len == rlen + 2)
			EXPECT_EQ(0, memcmp(f.data + 2, reason, rlen));
	}
	rframe_free(&f);
}

/* TCP FIN from the ULP side, with nothing before it. */
static inline void expect_eof(struct __test_metadata *_metadata, int peer)
{
	uint8_t b;
	ssize_t r = read_full(peer, &b, 1, IO_TIMEOUT_MS);

	ASSERT_EQ(0, r) {
		TH_LOG("expected TCP FIN, got %s", r > 0 ? "more bytes" :
		       strerror(errno));
	}
}

/*
 * After both closes, TCP ends (RFC 6455 7.1.1): a server ULP shuts first;
 * a client ULP waits for the server's FIN, so the peer sends it first.
 */
static inline void expect_quiet(struct __test_metadata *_metadata, int fd,
				int ms);

static inline void expect_tcp_end(struct __test_metadata *_metadata, int peer,
				  int role)
{
	if (role == WS_ROLE_CLIENT) {
		/* Not before the server (the peer) has ended TCP. */
		expect_quiet(_metadata, peer, QUIET_MS);
		ASSERT_EQ(0, shutdown(peer, SHUT_WR));
	}
	expect_eof(_metadata, peer);
}

/* Nothing arrives on @fd for @ms. */
static inline void expect_quiet(struct __test_metadata *_metadata, int fd,
				int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ASSERT_EQ(0, poll(&pfd, 1, ms)) {
		TH_LOG("expected nothing to read, revents 0x%x", pfd.revents);
	}
}

/* ---- helpers: the ULP side ---------------------------------------------- */

struct rx {
	int op;			/* WS_CMSG_OPCODE, -1 if none */
	bool has_close;		/* WS_CMSG_CLOSE seen */
	struct ws_close close;
	int flags;		/* msg_flags */
	int foreign;		/* control messages of other types */
};

/* Note one control message of a received message in @rx. */
static inline void rx_note_cmsg(struct rx *rx, const struct cmsghdr *c)
{
	if (c->cmsg_level == SOL_WS && c->cmsg_type == WS_CMSG_OPCODE &&
	    c->cmsg_len >= CMSG_LEN(1)) {
		rx->op = *(const uint8_t *)CMSG_DATA(c);
	} else if (c->cmsg_level == SOL_WS && c->cmsg_type == WS_CMSG_CLOSE &&
		   c->cmsg_len >= CMSG_LEN(sizeof(struct ws_close))) {
		memcpy(&rx->close, CMSG_DATA(c), sizeof(rx->close));
		rx->has_close = true;
	} else {
		rx->foreign++;
	}
}

static inline void rx_init(struct rx *rx, int msg_flags)
{
	memset(rx, 0, sizeof(*rx));
	rx->op = -1;
	rx->flags = msg_flags;
}

/* What a filled-in msghdr (recvmsg, one recvmmsg entry) carried. */
static inline void rx_from_msghdr(struct rx *rx, struct msghdr *msg)
{
	struct cmsghdr *c;

	rx_init(rx, msg->msg_flags);
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c))
		rx_note_cmsg(rx, c);
}

/* Room for every control message kws puts on one received message. */
#define WS_RX_CMSG_SPACE	(CMSG_SPACE(sizeof(uint8_t)) + \
				 CMSG_SPACE(sizeof(struct ws_close)) + 64)

static inline ssize_t ws_recv(int fd, void *buf, size_t len, int flags,
			      struct rx *rx)
{
	union {
		char buf[WS_RX_CMSG_SPACE];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	rx_init(rx, 0);
	n = recvmsg(fd, &msg, flags);
	if (n < 0)
		return n;
	rx_from_msghdr(rx, &msg);
	return n;
}

/*
 * One outgoing message as a msghdr, for sendmsg() and io_uring alike: the
 * payload and at most one SOL_WS control message.
 */
struct ws_txmsg {
	struct iovec iov;
	struct msghdr msg;
	union {
		char buf[CMSG_SPACE(sizeof(struct ws_close))];
		struct cmsghdr align;
	} cbuf;
};

static inline struct msghdr *ws_txmsg_cmsg(struct ws_txmsg *t, const void *buf,
					   size_t len, int type,
					   const void *data, size_t dlen)
{
	struct cmsghdr *c;

	memset(t, 0, sizeof(*t));
	t->iov.iov_base = (void *)buf;
	t->iov.iov_len = len;
	t->msg.msg_iov = &t->iov;
	t->msg.msg_iovlen = 1;
	if (!dlen)
		return &t->msg;
	t->msg.msg_control = t->cbuf.buf;
	t->msg.msg_controllen = CMSG_SPACE(dlen);
	c = CMSG_FIRSTHDR(&t->msg);
	c->cmsg_level = SOL_WS;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(dlen);
	memcpy(CMSG_DATA(c), data, dlen);
	return &t->msg;
}

/* With WS_CMSG_OPCODE @op, or none when @op < 0. */
static inline struct msghdr *ws_txmsg_op(struct ws_txmsg *t, const void *buf,
					 size_t len, int op)
{
	uint8_t op8 = op;

	return ws_txmsg_cmsg(t, buf, len, WS_CMSG_OPCODE, &op8, op < 0 ? 0 : 1);
}

/* A close: WS_CMSG_CLOSE with @code, the reason as data. */
static inline struct msghdr *ws_txmsg_close(struct ws_txmsg *t, uint16_t code,
					    const void *reason, size_t rlen)
{
	struct ws_close wc = { .code = code };

	return ws_txmsg_cmsg(t, reason, rlen, WS_CMSG_CLOSE, &wc, sizeof(wc));
}

/* sendmsg with an optional WS_CMSG_OPCODE (@op < 0: none). */
static inline ssize_t ws_send(int fd, const void *buf, size_t len, int flags,
			      int op)
{
	struct ws_txmsg t;

	return sendmsg(fd, ws_txmsg_op(&t, buf, len, op), flags);
}

/* A close frame from the application: WS_CMSG_CLOSE, the reason as data. */
static inline ssize_t ws_send_close(int fd, uint16_t code, const void *reason,
				    size_t rlen, int flags)
{
	struct ws_txmsg t;

	return sendmsg(fd, ws_txmsg_close(&t, code, reason, rlen), flags);
}

/*
 * Receive one whole data message (several calls if needed, until MSG_EOR)
 * into @buf; returns its length, its opcode in *@op.
 */
static inline size_t recv_message(struct __test_metadata *_metadata, int fd,
				  void *buf, size_t cap, int *op)
{
	size_t total = 0;
	struct rx rx;
	ssize_t n;

	*op = -1;
	for (;;) {
		n = ws_recv(fd, (uint8_t *)buf + total, cap - total, 0, &rx);
		ASSERT_GE(n, 0) {
			TH_LOG("recvmsg after %zu bytes: %s", total,
			       strerror(errno));
		}
		ASSERT_FALSE(rx.has_close) {
			TH_LOG("close %u (flags %u) instead of a data message",
			       rx.close.code, rx.close.flags);
		}
		if (*op < 0) {
			ASSERT_NE(-1, rx.op) {
				TH_LOG("data without WS_CMSG_OPCODE");
			}
			*op = rx.op;
		} else if (rx.op >= 0) {
			EXPECT_EQ(*op, rx.op);
		}
		total += n;
		if (rx.flags & MSG_EOR)
			return total;
		ASSERT_NE(0, n) {
			TH_LOG("EOF inside a message after %zu bytes", total);
		}
		ASSERT_LT(total, cap) {
			TH_LOG("message longer than %zu, no MSG_EOR", cap);
		}
	}
}

static inline void expect_message(struct __test_metadata *_metadata, int fd,
				  int op, const void *payload, size_t len)
{
	uint8_t *buf = malloc(len + 64);
	size_t n;
	int got_op;

	ASSERT_NE(NULL, buf);
	n = recv_message(_metadata, fd, buf, len + 64, &got_op);
	EXPECT_EQ(op, got_op) {
		TH_LOG("opcode %s, expected %s", opname(got_op), opname(op));
	}
	ASSERT_EQ(len, n);
	if (len)
		EXPECT_EQ(0, memcmp(buf, payload, len));
	free(buf);
}

/*
 * The application sees one close (code, flags, and the reason as data when
 * @reason is given), then EOF.
 */
static inline void expect_app_close(struct __test_metadata *_metadata, int fd,
				    int code, int flags, const void *reason,
				    size_t rlen)
{
	uint8_t buf[256];
	struct rx rx;
	ssize_t n;

	n = ws_recv(fd, buf, sizeof(buf), 0, &rx);
	/*
	 * A failed text message may have been streamed in part before its
	 * bad bytes came (Autobahn 6.4): allowed, but never completed.
	 */
	while (n > 0 && (flags & WS_CLOSE_LOCAL) && !rx.has_close) {
		ASSERT_FALSE(rx.flags & MSG_EOR) {
			TH_LOG("a message completed before the failure close");
		}
		n = ws_recv(fd, buf, sizeof(buf), 0, &rx);
	}
	ASSERT_GE(n, 0) {
		TH_LOG("recvmsg for the close: %s", strerror(errno));
	}
	ASSERT_TRUE(rx.has_close) {
		TH_LOG("expected a close cmsg (code %d), got %zd bytes op %s",
		       code, n, opname(rx.op));
	}
	EXPECT_EQ(code, rx.close.code);
	EXPECT_EQ(flags, rx.close.flags);
	EXPECT_EQ(WS_OP_CLOSE, rx.op);
	EXPECT_TRUE(rx.flags & MSG_EOR);
	if (reason) {
		ASSERT_EQ((ssize_t)rlen, n);
		EXPECT_EQ(0, memcmp(buf, reason, rlen));
	}
	n = ws_recv(fd, buf, sizeof(buf), 0, &rx);
	EXPECT_EQ(0, n) {
		TH_LOG("expected EOF after the close, got %zd (%s)", n,
		       n < 0 ? strerror(errno) : "data");
	}
	EXPECT_FALSE(rx.has_close);
}

static inline struct ws_state get_state(struct __test_metadata *_metadata,
					int fd)
{
	struct ws_state st = {};
	socklen_t len = sizeof(st);

	EXPECT_EQ(0, getsockopt(fd, SOL_WS, WS_STATE, &st, &len)) {
		TH_LOG("WS_STATE: %s", strerror(errno));
	}
	return st;
}

static inline struct ws_stats get_stats(struct __test_metadata *_metadata,
					int fd)
{
	struct ws_stats s = {};
	socklen_t len = sizeof(s);

	EXPECT_EQ(0, getsockopt(fd, SOL_WS, WS_STATS, &s, &len)) {
		TH_LOG("WS_STATS: %s", strerror(errno));
	}
	return s;
}

static inline void fill_pattern(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

static inline long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Run @len bytes of @buf out of @fd in a child: for writes that block. */
static inline pid_t spawn_sender(int fd, const void *buf, size_t len,
				 size_t chunk)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(send_chunks(fd, buf, len, chunk, 0) ? 1 : 0);
	return pid;
}

static inline int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#endif /* KWS_SELFTESTS_WS_PEER_H */
