// SPDX-License-Identifier: GPL-2.0
/*
 * kws selftests: batched receive and io_uring on "ws" sockets.
 *
 * Same setup as ws.c (ws_peer.h): the ULP side is a loopback TCP socket with
 * "ws" attached and configured in a role, the peer is plain TCP and writes
 * and reads WebSocket frames itself.
 *
 * Fixtures:
 *   mmsg   recvmmsg(2): many whole messages per call, each entry with its
 *          own WS_CMSG_OPCODE and MSG_EOR, the close as the last entry,
 *          EOF entries after it; messages larger than an entry's buffer
 *          continue in the next entries; MSG_WAITFORONE, MSG_DONTWAIT
 *   bat    WS_RECV_BATCH: whole messages back to back per recvmsg, one
 *          WS_CMSG_BATCH array describing them; control records and the
 *          close alone; limits from the buffer and the control buffer
 *   uring  io_uring (liburing): recv, recvmsg (cmsg), send and sendmsg
 *          (framing, opcode and close by cmsg, MSG_MORE, large sends),
 *          multishot recv and recvmsg with a provided buffer ring
 *
 * What io_uring does on its own side (not kws's; Documentation/abi.md):
 * plain recv has no control buffer, so a zero-length message and the close
 * read as 0 bytes, like read(); a multishot recv/recvmsg ends (CQE without
 * IORING_CQE_F_MORE) on every 0-byte result, so after a zero-length message
 * the application re-arms it (recvmsg still shows the opcode and MSG_EOR).
 *
 * Without the module every test skips; with KWS_REQUIRE_MODULE=1 a missing
 * "ws" ULP fails. Without io_uring (kernel.io_uring_disabled, seccomp) the
 * uring tests skip and say why. Every wait is bounded (SO_RCVTIMEO and
 * SO_SNDTIMEO, CQE waits of IO_TIMEOUT_MS, the harness's limit per test).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <liburing.h>
#include <linux/kws.h>

#include "kselftest_harness.h"

#include "ws_peer.h"

/* ---- messages the peer sends and the ULP side checks --------------------- */

struct msg_spec {
	int op;
	size_t len;
};

/* Text must be UTF-8 (the kernel checks): letters. Binary: any bytes. */
static void fill_msg(uint8_t *p, int op, size_t len, unsigned int seed)
{
	size_t i;

	if (op == WS_OP_TEXT) {
		for (i = 0; i < len; i++)
			p[i] = 'a' + (i + seed) % 26;
	} else {
		fill_pattern(p, len, seed);
	}
}

/* Payload of message @i of a list, for sending and for checking. */
static uint8_t *msg_payload(const struct msg_spec *m, unsigned int i)
{
	uint8_t *p = malloc(m[i].len + 1);

	if (!p)
		abort();
	fill_msg(p, m[i].op, m[i].len, i);
	return p;
}

/* Append message @i of @m to @wb as one frame, as the peer sends it. */
static void wb_message(struct wbuf *wb, int role, const struct msg_spec *m,
		       unsigned int i)
{
	uint8_t *p = msg_payload(m, i);

	wb_frame(wb, peer_masks(role), true, m[i].op, p, m[i].len);
	free(p);
}

static void wb_messages(struct wbuf *wb, int role, const struct msg_spec *m,
			unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		wb_message(wb, role, m, i);
}

static void peer_send_messages(struct __test_metadata *_metadata, int peer,
			       int role, const struct msg_spec *m,
			       unsigned int n)
{
	struct wbuf wb = {};

	wb_messages(&wb, role, m, n);
	wb_send(_metadata, peer, &wb, 0, 0);
	wb_free(&wb);
}

/*
 * Wait until the kernel has parsed @n data messages on @fd (WS_STATS counts
 * them as they complete), so a non-blocking batch finds them all queued.
 */
static void wait_parsed(struct __test_metadata *_metadata, int fd, uint64_t n)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (get_stats(_metadata, fd).rx_messages < n) {
		ASSERT_LT(elapsed_ms(&t0), IO_TIMEOUT_MS) {
			TH_LOG("only %llu of %llu messages parsed",
			       (unsigned long long)get_stats(_metadata, fd).rx_messages,
			       (unsigned long long)n);
		}
		usleep(2000);
	}
}

/* One received record, from any of the receive paths. */
static void expect_record(struct __test_metadata *_metadata, const char *what,
			  const struct rx *rx, const uint8_t *data, size_t got,
			  int op, const uint8_t *payload, size_t len, bool eor)
{
	EXPECT_EQ(op, rx->op) {
		TH_LOG("%s: opcode %s, expected %s", what, opname(rx->op),
		       opname(op));
	}
	EXPECT_FALSE(rx->has_close) {
		TH_LOG("%s: a close (%u) on a data record", what,
		       rx->close.code);
	}
	EXPECT_EQ(0, rx->foreign);
	EXPECT_FALSE(rx->flags & MSG_CTRUNC);
	EXPECT_EQ(eor, !!(rx->flags & MSG_EOR)) {
		TH_LOG("%s: MSG_EOR %s", what, eor ? "missing" : "too early");
	}
	ASSERT_EQ(len, got) {
		TH_LOG("%s: %zu bytes, expected %zu", what, got, len);
	}
	if (len)
		EXPECT_EQ(0, memcmp(data, payload, len)) {
			TH_LOG("%s: payload differs", what);
		}
}

static void expect_close_record(struct __test_metadata *_metadata,
				const char *what, const struct rx *rx,
				const uint8_t *data, size_t got, int code,
				int flags, const char *reason)
{
	ASSERT_TRUE(rx->has_close) {
		TH_LOG("%s: expected the close %d, got %zu bytes op %s", what,
		       code, got, opname(rx->op));
	}
	EXPECT_EQ(WS_OP_CLOSE, rx->op);
	EXPECT_EQ(code, rx->close.code);
	EXPECT_EQ(flags, rx->close.flags);
	EXPECT_TRUE(rx->flags & MSG_EOR);
	if (reason) {
		ASSERT_EQ(strlen(reason), got);
		EXPECT_EQ(0, memcmp(data, reason, got));
	}
}

/* EOF: 0 bytes and nothing else (a zero-length message has its opcode). */
static void expect_eof_record(struct __test_metadata *_metadata,
			      const char *what, const struct rx *rx, size_t got)
{
	EXPECT_EQ(0, got);
	EXPECT_EQ(-1, rx->op) {
		TH_LOG("%s: EOF expected, got opcode %s", what, opname(rx->op));
	}
	EXPECT_FALSE(rx->has_close);
	EXPECT_FALSE(rx->flags & MSG_EOR);
}

/* ---- recvmmsg ------------------------------------------------------------ */

#define MM_MAX	64

/* A recvmmsg vector: MM_MAX entries of @entry_len bytes, each a cmsg area. */
struct mm {
	struct mmsghdr hdr[MM_MAX];
	struct iovec iov[MM_MAX];
	union {
		char buf[WS_RX_CMSG_SPACE];
		struct cmsghdr align;
	} ctl[MM_MAX];
	uint8_t *data;
	size_t entry_len;
};

static struct mm *mm_new(size_t entry_len)
{
	struct mm *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	m->entry_len = entry_len;
	m->data = calloc(MM_MAX, entry_len);
	if (!m->data)
		abort();
	return m;
}

static void mm_free(struct mm *m)
{
	free(m->data);
	free(m);
}

/* recvmmsg into the first @vlen entries; each entry's buffers reset first. */
static int mm_recv(int fd, struct mm *m, unsigned int vlen, int flags)
{
	unsigned int i;

	for (i = 0; i < vlen; i++) {
		struct msghdr *h = &m->hdr[i].msg_hdr;

		m->iov[i].iov_base = m->data + i * m->entry_len;
		m->iov[i].iov_len = m->entry_len;
		memset(h, 0, sizeof(*h));
		h->msg_iov = &m->iov[i];
		h->msg_iovlen = 1;
		h->msg_control = m->ctl[i].buf;
		h->msg_controllen = sizeof(m->ctl[i].buf);
		m->hdr[i].msg_len = ~0u;
	}
	return recvmmsg(fd, m->hdr, vlen, flags, NULL);
}

static void mm_rx(struct mm *m, unsigned int i, struct rx *rx)
{
	rx_from_msghdr(rx, &m->hdr[i].msg_hdr);
}

static const uint8_t *mm_buf(struct mm *m, unsigned int i)
{
	return m->data + i * m->entry_len;
}

/* Entry @i holds message @k of @msgs, whole. */
static void expect_mm_message(struct __test_metadata *_metadata, struct mm *m,
			      unsigned int i, const struct msg_spec *msgs,
			      unsigned int k)
{
	uint8_t *p = msg_payload(msgs, k);
	char what[48];
	struct rx rx;

	snprintf(what, sizeof(what), "entry %u (message %u)", i, k);
	mm_rx(m, i, &rx);
	expect_record(_metadata, what, &rx, mm_buf(m, i), m->hdr[i].msg_len,
		      msgs[k].op, p, msgs[k].len, true);
	free(p);
}

static void expect_mm_close(struct __test_metadata *_metadata, struct mm *m,
			    unsigned int i, int code, int flags,
			    const char *reason)
{
	char what[32];
	struct rx rx;

	snprintf(what, sizeof(what), "entry %u", i);
	mm_rx(m, i, &rx);
	expect_close_record(_metadata, what, &rx, mm_buf(m, i),
			    m->hdr[i].msg_len, code, flags, reason);
}

static void expect_mm_eof(struct __test_metadata *_metadata, struct mm *m,
			  unsigned int i)
{
	char what[32];
	struct rx rx;

	snprintf(what, sizeof(what), "entry %u", i);
	mm_rx(m, i, &rx);
	expect_eof_record(_metadata, what, &rx, m->hdr[i].msg_len);
}

/* Mixed opcodes and sizes, zero-length ones included, none over 4096. */
static const struct msg_spec mixed[] = {
	{ WS_OP_BINARY, 64 }, { WS_OP_TEXT, 0 }, { WS_OP_BINARY, 1 },
	{ WS_OP_TEXT, 125 }, { WS_OP_BINARY, 126 }, { WS_OP_BINARY, 0 },
	{ WS_OP_TEXT, 1000 }, { WS_OP_BINARY, 4096 }, { WS_OP_TEXT, 17 },
	{ WS_OP_BINARY, 0 }, { WS_OP_BINARY, 65 }, { WS_OP_TEXT, 3 },
};

#define N_MIXED	(sizeof(mixed) / sizeof(mixed[0]))

FIXTURE(mmsg) {
	int fd;		/* "ws" attached and configured in variant->role */
	int peer;	/* plain TCP */
	struct mm *m;
};

FIXTURE_VARIANT(mmsg) {
	int role;
};

FIXTURE_VARIANT_ADD(mmsg, server) {
	.role = WS_ROLE_SERVER,
};

FIXTURE_VARIANT_ADD(mmsg, client) {
	.role = WS_ROLE_CLIENT,
};

FIXTURE_SETUP(mmsg)
{
	self->fd = self->peer = -1;
	self->m = mm_new(4096);
	ws_pair(_metadata, AF_INET, variant->role, 0, 0, &self->fd,
		&self->peer);
}

FIXTURE_TEARDOWN(mmsg)
{
	close(self->fd);
	close(self->peer);
	mm_free(self->m);
}

/*
 * One blocking call with room for more than everything: the messages, the
 * close (last, with its code and reason), then EOF entries, which do not
 * block (every call after the close returns 0).
 */
TEST_F(mmsg, whole_messages_then_close_then_eof)
{
	struct wbuf wb = {};
	unsigned int i;
	int n;

	wb_messages(&wb, variant->role, mixed, N_MIXED);
	wb_close(&wb, peer_masks(variant->role), 1000, "bye", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);

	n = mm_recv(self->fd, self->m, N_MIXED + 4, 0);
	ASSERT_EQ(N_MIXED + 4, n) {
		TH_LOG("recvmmsg: %d (%s)", n, n < 0 ? strerror(errno) : "");
	}
	for (i = 0; i < N_MIXED; i++)
		expect_mm_message(_metadata, self->m, i, mixed, i);
	expect_mm_close(_metadata, self->m, N_MIXED, 1000, 0, "bye");
	for (i = N_MIXED + 1; i < N_MIXED + 4; i++)
		expect_mm_eof(_metadata, self->m, i);
	/* The close was echoed on the wire. */
	expect_close_frame(_metadata, self->peer, variant->role, 1000, NULL, 0);
}

/* vlen far above what is queued: MSG_DONTWAIT returns what is there. */
TEST_F(mmsg, vlen_over_queued_dontwait)
{
	unsigned int i;
	int n;

	peer_send_messages(_metadata, self->peer, variant->role, mixed, N_MIXED);
	wait_parsed(_metadata, self->fd, N_MIXED);

	n = mm_recv(self->fd, self->m, MM_MAX, MSG_DONTWAIT);
	ASSERT_EQ(N_MIXED, n) {
		TH_LOG("recvmmsg: %d (%s)", n, n < 0 ? strerror(errno) : "");
	}
	for (i = 0; i < N_MIXED; i++)
		expect_mm_message(_metadata, self->m, i, mixed, i);

	n = mm_recv(self->fd, self->m, MM_MAX, MSG_DONTWAIT);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EAGAIN, errno);
}

struct delayed_send {
	int fd;
	struct wbuf wb;
	unsigned int delay_us;
};

static void *delayed_send_fn(void *arg)
{
	struct delayed_send *d = arg;

	usleep(d->delay_us);
	if (send_chunks(d->fd, d->wb.p, d->wb.len, 0, 0))
		return (void *)1;
	return NULL;
}

/*
 * MSG_WAITFORONE: the call blocks for the first message only, then takes
 * what is queued without waiting for vlen.
 */
TEST_F(mmsg, waitforone)
{
	struct delayed_send d = { .fd = self->peer, .delay_us = 200000 };
	pthread_t t;
	void *ret;
	unsigned int i;
	int n;

	/* Nothing queued: blocks until the first (and only) message. */
	wb_messages(&d.wb, variant->role, mixed, 1);
	ASSERT_EQ(0, pthread_create(&t, NULL, delayed_send_fn, &d));
	n = mm_recv(self->fd, self->m, 8, MSG_WAITFORONE);
	ASSERT_EQ(0, pthread_join(t, &ret));
	EXPECT_EQ(NULL, ret);
	wb_free(&d.wb);
	ASSERT_EQ(1, n) {
		TH_LOG("recvmmsg: %d (%s)", n, n < 0 ? strerror(errno) : "");
	}
	expect_mm_message(_metadata, self->m, 0, mixed, 0);

	/* Several queued: all of them in one call, fewer than vlen. */
	peer_send_messages(_metadata, self->peer, variant->role, mixed, 5);
	wait_parsed(_metadata, self->fd, 1 + 5);
	n = mm_recv(self->fd, self->m, 8, MSG_WAITFORONE);
	ASSERT_EQ(5, n);
	for (i = 0; i < 5; i++)
		expect_mm_message(_metadata, self->m, i, mixed, i);
}

/*
 * A message larger than an entry's buffer continues in the next entries,
 * each with the opcode again, MSG_EOR only on its last part; a fragmented
 * message is one message; the next message starts a new entry.
 */
TEST_F(mmsg, message_spans_entries)
{
	static const struct msg_spec big[] = {
		{ WS_OP_BINARY, 10000 }, { WS_OP_TEXT, 10 },
	};
	const size_t el = self->m->entry_len;
	uint8_t *p = msg_payload(big, 0);
	struct wbuf wb = {};
	struct rx rx;
	unsigned int i;
	size_t off;
	int n;

	wb_messages(&wb, variant->role, big, 2);
	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_TEXT, "abc", 3);
	wb_frame(&wb, peer_masks(variant->role), false, WS_OP_CONT, "def", 3);
	wb_frame(&wb, peer_masks(variant->role), true, WS_OP_CONT, "ghi", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);
	wait_parsed(_metadata, self->fd, 3);

	n = mm_recv(self->fd, self->m, MM_MAX, MSG_DONTWAIT);
	ASSERT_EQ(3 + 2, n) {
		TH_LOG("recvmmsg: %d (%s)", n, n < 0 ? strerror(errno) : "");
	}
	for (i = 0, off = 0; i < 3; i++, off += el) {
		size_t part = big[0].len - off < el ? big[0].len - off : el;
		char what[32];

		snprintf(what, sizeof(what), "part %u", i);
		mm_rx(self->m, i, &rx);
		expect_record(_metadata, what, &rx, mm_buf(self->m, i),
			      self->m->hdr[i].msg_len, WS_OP_BINARY, p + off,
			      part, i == 2);
	}
	expect_mm_message(_metadata, self->m, 3, big, 1);
	mm_rx(self->m, 4, &rx);
	expect_record(_metadata, "fragmented", &rx, mm_buf(self->m, 4),
		      self->m->hdr[4].msg_len, WS_OP_TEXT,
		      (const uint8_t *)"abcdefghi", 9, true);
	free(p);
}

/* The kernel fails the connection: the messages before, then its close. */
TEST_F(mmsg, failure_close_last)
{
	struct wbuf wb = {};
	unsigned int i;
	int n;

	wb_messages(&wb, variant->role, mixed, 3);
	wb_frame(&wb, peer_masks(variant->role), true, 0x3, "x", 1);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);

	n = mm_recv(self->fd, self->m, 6, 0);
	ASSERT_EQ(6, n) {
		TH_LOG("recvmmsg: %d (%s)", n, n < 0 ? strerror(errno) : "");
	}
	for (i = 0; i < 3; i++)
		expect_mm_message(_metadata, self->m, i, mixed, i);
	expect_mm_close(_metadata, self->m, 3, WS_CLOSE_PROTOCOL_ERROR,
			WS_CLOSE_LOCAL, NULL);
	expect_mm_eof(_metadata, self->m, 4);
	expect_mm_eof(_metadata, self->m, 5);
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_PROTOCOL_ERROR, NULL, 0);
}

/* TCP FIN without a close frame: the messages, then 1006, then EOF. */
TEST_F(mmsg, peer_fin_1006_last)
{
	int n;

	peer_send_messages(_metadata, self->peer, variant->role, mixed, 2);
	ASSERT_EQ(0, shutdown(self->peer, SHUT_WR));

	n = mm_recv(self->fd, self->m, 4, 0);
	ASSERT_EQ(4, n);
	expect_mm_message(_metadata, self->m, 0, mixed, 0);
	expect_mm_message(_metadata, self->m, 1, mixed, 1);
	expect_mm_close(_metadata, self->m, 2, WS_CLOSE_ABNORMAL_CODE,
			WS_CLOSE_ABNORMAL, "");
	expect_mm_eof(_metadata, self->m, 3);
}

/* With WS_F_DELIVER_CONTROL, pings and pongs are entries of their own. */
TEST_F(mmsg, control_entries)
{
	struct rx rx;
	int fd, peer, n;
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};

	if (!ws_pair(_metadata, AF_INET, variant->role, WS_F_DELIVER_CONTROL,
		     0, &fd, &peer))
		return;
	wb_messages(&wb, variant->role, mixed, 1);
	wb_frame(&wb, masks, true, WS_OP_PING, "p1", 2);
	wb_frame(&wb, masks, true, WS_OP_PONG, "", 0);
	wb_message(&wb, variant->role, mixed, 1);
	wb_send(_metadata, peer, &wb, 0, 0);
	wb_free(&wb);
	wait_parsed(_metadata, fd, 2);

	n = mm_recv(fd, self->m, 8, MSG_DONTWAIT);
	ASSERT_EQ(4, n) {
		TH_LOG("recvmmsg: %d (%s)", n, n < 0 ? strerror(errno) : "");
	}
	expect_mm_message(_metadata, self->m, 0, mixed, 0);
	mm_rx(self->m, 1, &rx);
	expect_record(_metadata, "ping", &rx, mm_buf(self->m, 1),
		      self->m->hdr[1].msg_len, WS_OP_PING,
		      (const uint8_t *)"p1", 2, true);
	mm_rx(self->m, 2, &rx);
	expect_record(_metadata, "pong", &rx, mm_buf(self->m, 2),
		      self->m->hdr[2].msg_len, WS_OP_PONG, NULL, 0, true);
	expect_mm_message(_metadata, self->m, 3, mixed, 1);
	close(fd);
	close(peer);
}

/* ---- WS_RECV_BATCH ------------------------------------------------------- */

/* What one batched recvmsg returned. */
struct brx {
	ssize_t n;
	int flags;			/* msg_flags */
	unsigned int nr;		/* WS_CMSG_BATCH entries */
	struct ws_msg_desc d[64];
	struct rx rx;			/* the other control messages */
};

/* recvmsg with a control buffer for @entries descriptors (and no more). */
static void batch_recv(int fd, void *buf, size_t len, unsigned int entries,
		       int flags, struct brx *b)
{
	union {
		char buf[CMSG_SPACE(64 * sizeof(struct ws_msg_desc)) +
			 WS_RX_CMSG_SPACE];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = entries ?
			CMSG_SPACE(entries * sizeof(struct ws_msg_desc)) :
			sizeof(cbuf.buf),
	};
	struct cmsghdr *c;

	memset(b, 0, sizeof(*b));
	rx_init(&b->rx, 0);
	b->n = recvmsg(fd, &msg, flags);
	if (b->n < 0)
		return;
	b->flags = msg.msg_flags;
	b->rx.flags = msg.msg_flags;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_WS && c->cmsg_type == WS_CMSG_BATCH) {
			b->nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(b->d[0]);
			memcpy(b->d, CMSG_DATA(c), b->nr * sizeof(b->d[0]));
		} else {
			rx_note_cmsg(&b->rx, c);
		}
	}
}

static void set_batch(struct __test_metadata *_metadata, int fd, int on)
{
	int got = -1;
	socklen_t len = sizeof(got);

	ASSERT_EQ(0, setsockopt(fd, SOL_WS, WS_RECV_BATCH, &on, sizeof(on)));
	ASSERT_EQ(0, getsockopt(fd, SOL_WS, WS_RECV_BATCH, &got, &len));
	ASSERT_EQ(on, got);
}

/*
 * Entries @first.. of @b hold messages @k.. of @msgs, whole, back to back
 * from @buf; returns the bytes they take.
 */
static size_t expect_batch(struct __test_metadata *_metadata,
			   const struct brx *b, const uint8_t *buf,
			   unsigned int nr, const struct msg_spec *msgs,
			   unsigned int k)
{
	size_t off = 0;
	unsigned int i;

	EXPECT_FALSE(b->flags & MSG_CTRUNC);
	EXPECT_EQ(-1, b->rx.op);
	EXPECT_EQ(0, b->rx.foreign);
	ASSERT_EQ(nr, b->nr);
	for (i = 0; i < nr; i++) {
		uint8_t *p = msg_payload(msgs, k + i);

		EXPECT_EQ(msgs[k + i].op, b->d[i].opcode) {
			TH_LOG("entry %u: opcode %s", i, opname(b->d[i].opcode));
		}
		EXPECT_EQ(WS_MSG_EOR, b->d[i].flags);
		EXPECT_EQ(0, b->d[i].reserved);
		ASSERT_EQ(msgs[k + i].len, b->d[i].len) {
			TH_LOG("entry %u: %u bytes, expected %zu", i,
			       b->d[i].len, msgs[k + i].len);
		}
		if (msgs[k + i].len)
			EXPECT_EQ(0, memcmp(buf + off, p, msgs[k + i].len)) {
				TH_LOG("entry %u: payload differs", i);
			}
		off += msgs[k + i].len;
		free(p);
	}
	EXPECT_EQ((ssize_t)off, b->n);
	EXPECT_TRUE(b->flags & MSG_EOR);
	return off;
}

FIXTURE(bat) {
	int fd;
	int peer;
	uint8_t *buf;
};

FIXTURE_VARIANT(bat) {
	int role;
};

FIXTURE_VARIANT_ADD(bat, server) {
	.role = WS_ROLE_SERVER,
};

FIXTURE_VARIANT_ADD(bat, client) {
	.role = WS_ROLE_CLIENT,
};

#define BAT_BUF	65536

FIXTURE_SETUP(bat)
{
	self->fd = self->peer = -1;
	self->buf = malloc(BAT_BUF);
	if (!self->buf)
		abort();
	if (!ws_pair(_metadata, AF_INET, variant->role, WS_F_DELIVER_CONTROL,
		     0, &self->fd, &self->peer))
		return;
	set_batch(_metadata, self->fd, 1);
}

FIXTURE_TEARDOWN(bat)
{
	close(self->fd);
	close(self->peer);
	free(self->buf);
}

/* Many small messages, text and binary, zero-length ones: one call. */
TEST_F(bat, many_messages_one_call)
{
	struct msg_spec m[60];
	unsigned int i;
	struct brx b;

	for (i = 0; i < 60; i++) {
		m[i].op = i % 3 ? WS_OP_BINARY : WS_OP_TEXT;
		m[i].len = i % 7 == 3 ? 0 : (i * 37) % 200;
	}
	peer_send_messages(_metadata, self->peer, variant->role, m, 60);
	wait_parsed(_metadata, self->fd, 60);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	ASSERT_LT(0, b.n);
	expect_batch(_metadata, &b, self->buf, 60, m, 0);
	/* The mixed list too: a 4 KiB message among them. */
	peer_send_messages(_metadata, self->peer, variant->role, mixed,
			   N_MIXED);
	wait_parsed(_metadata, self->fd, 60 + N_MIXED);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, N_MIXED, mixed, 0);
}

/*
 * A message that does not fit ends the batch; alone, it comes in parts
 * without WS_MSG_EOR, and its end is the first entry of a later batch.
 */
TEST_F(bat, message_larger_than_buffer)
{
	static const struct msg_spec m[] = {
		{ WS_OP_TEXT, 64 }, { WS_OP_BINARY, 2500 },
		{ WS_OP_BINARY, 10 }, { WS_OP_TEXT, 0 },
	};
	uint8_t *big = msg_payload(m, 1);
	struct brx b;

	peer_send_messages(_metadata, self->peer, variant->role, m, 4);
	wait_parsed(_metadata, self->fd, 4);
	batch_recv(self->fd, self->buf, 1000, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 1, m, 0);

	batch_recv(self->fd, self->buf, 1000, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(1000, b.n);
	ASSERT_EQ(1, b.nr);
	EXPECT_EQ(1000, b.d[0].len);
	EXPECT_EQ(WS_OP_BINARY, b.d[0].opcode);
	EXPECT_EQ(0, b.d[0].flags);
	EXPECT_FALSE(b.flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(self->buf, big, 1000));
	batch_recv(self->fd, self->buf, 1000, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(1000, b.n);
	EXPECT_EQ(0, b.d[0].flags);
	EXPECT_EQ(0, memcmp(self->buf, big + 1000, 1000));
	/* The last 500 bytes end it; the two small messages follow. */
	batch_recv(self->fd, self->buf, 1000, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(510, b.n);
	ASSERT_EQ(3, b.nr);
	EXPECT_EQ(500, b.d[0].len);
	EXPECT_EQ(WS_OP_BINARY, b.d[0].opcode);
	EXPECT_EQ(WS_MSG_EOR, b.d[0].flags);
	EXPECT_EQ(0, memcmp(self->buf, big + 2000, 500));
	EXPECT_EQ(10, b.d[1].len);
	EXPECT_EQ(0, b.d[2].len);
	EXPECT_EQ(WS_OP_TEXT, b.d[2].opcode);
	EXPECT_EQ(WS_MSG_EOR, b.d[2].flags);
	EXPECT_TRUE(b.flags & MSG_EOR);
	free(big);
}

/* Pings, pongs and the close are never in a batch: each comes alone. */
TEST_F(bat, control_and_close_end_batch)
{
	bool masks = peer_masks(variant->role);
	struct wbuf wb = {};
	struct brx b;

	wb_messages(&wb, variant->role, mixed, 3);
	wb_frame(&wb, masks, true, WS_OP_PING, "p1", 2);
	wb_message(&wb, variant->role, mixed, 3);
	wb_close(&wb, masks, 1000, "bye", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);
	wait_parsed(_metadata, self->fd, 4);

	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 3, mixed, 0);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(2, b.n);
	EXPECT_EQ(0, b.nr);
	EXPECT_EQ(WS_OP_PING, b.rx.op);
	EXPECT_TRUE(b.flags & MSG_EOR);
	EXPECT_EQ(0, memcmp(self->buf, "p1", 2));
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 1, mixed, 3);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(3, b.n);
	EXPECT_EQ(0, b.nr);
	EXPECT_EQ(WS_OP_CLOSE, b.rx.op);
	ASSERT_TRUE(b.rx.has_close);
	EXPECT_EQ(1000, b.rx.close.code);
	EXPECT_EQ(0, memcmp(self->buf, "bye", 3));
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	EXPECT_EQ(0, b.n);
	EXPECT_EQ(0, b.nr);
}

/*
 * The control buffer bounds the entries, never with MSG_CTRUNC; without a
 * control buffer (recv) one message comes per call, as unbatched.
 */
TEST_F(bat, entry_limit_from_control_buffer)
{
	struct brx b;
	ssize_t n;

	peer_send_messages(_metadata, self->peer, variant->role, mixed,
			   N_MIXED);
	wait_parsed(_metadata, self->fd, N_MIXED);
	batch_recv(self->fd, self->buf, BAT_BUF, 5, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 5, mixed, 0);
	batch_recv(self->fd, self->buf, BAT_BUF, 1, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 1, mixed, 5);
	n = recv(self->fd, self->buf, BAT_BUF, MSG_DONTWAIT);
	EXPECT_EQ((ssize_t)mixed[6].len, n);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, N_MIXED - 7, mixed, 7);
}

/* The rest of a message read in part comes first in the next batch. */
TEST_F(bat, rest_of_partial_message_first)
{
	uint8_t *p = msg_payload(mixed, 0);
	struct brx b;

	peer_send_messages(_metadata, self->peer, variant->role, mixed, 4);
	wait_parsed(_metadata, self->fd, 4);
	batch_recv(self->fd, self->buf, 10, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(10, b.n);
	ASSERT_EQ(1, b.nr);
	EXPECT_EQ(0, b.d[0].flags);
	EXPECT_EQ(0, memcmp(self->buf, p, 10));
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	ASSERT_EQ(4, b.nr);
	EXPECT_EQ(mixed[0].len - 10, b.d[0].len);
	EXPECT_EQ(WS_MSG_EOR, b.d[0].flags);
	EXPECT_EQ(0, memcmp(self->buf, p + 10, mixed[0].len - 10));
	EXPECT_EQ(mixed[3].len, b.d[3].len);
	EXPECT_EQ((ssize_t)(mixed[0].len - 10 + 1 + mixed[3].len), b.n);
	free(p);
}

/*
 * A fault in the user's buffer ends the batch at the bytes that reached it:
 * the entries add up to what was returned, and the next call goes on from
 * there (the stream of bytes and boundaries is the same as without it).
 */
TEST_F(bat, fault_mid_batch)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map, *want = malloc(8192), *got = malloc(8192);
	size_t off = 0, total = 0;
	unsigned int i, k = 0;
	struct brx b;

	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + pg, pg));
	for (i = 0; i < 6; i++) {
		uint8_t *p = msg_payload(mixed, i);

		memcpy(want + total, p, mixed[i].len);
		total += mixed[i].len;
		free(p);
	}
	peer_send_messages(_metadata, self->peer, variant->role, mixed, 6);
	wait_parsed(_metadata, self->fd, 6);
	/* 100 bytes of room before the hole, 1000 asked for. */
	batch_recv(self->fd, map + pg - 100, 1000, 0, MSG_DONTWAIT, &b);
	ASSERT_LT(0, b.n);
	ASSERT_GE(100, b.n);
	for (i = 0; i < b.nr; i++)
		off += b.d[i].len;
	EXPECT_EQ((size_t)b.n, off);
	memcpy(got, map + pg - 100, b.n);
	for (i = 0; i < b.nr; i++)
		k += b.d[i].flags & WS_MSG_EOR;
	EXPECT_FALSE(b.flags & MSG_EOR);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	ASSERT_LT(0, b.n);
	memcpy(got + off, self->buf, b.n);
	for (i = 0; i < b.nr; i++)
		k += b.d[i].flags & WS_MSG_EOR;
	EXPECT_EQ(6, k);
	ASSERT_EQ(total, off + b.n);
	EXPECT_EQ(0, memcmp(want, got, total));
	munmap(map, pg);
	free(want);
	free(got);
}

/* MSG_PEEK returns the batch the next call takes. */
TEST_F(bat, peek)
{
	struct brx b;

	peer_send_messages(_metadata, self->peer, variant->role, mixed,
			   N_MIXED);
	wait_parsed(_metadata, self->fd, N_MIXED);
	batch_recv(self->fd, self->buf, 2000, 0, MSG_DONTWAIT | MSG_PEEK, &b);
	expect_batch(_metadata, &b, self->buf, 7, mixed, 0);
	batch_recv(self->fd, self->buf, 2000, 0, MSG_DONTWAIT | MSG_PEEK, &b);
	expect_batch(_metadata, &b, self->buf, 7, mixed, 0);
	batch_recv(self->fd, self->buf, 2000, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 7, mixed, 0);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT | MSG_PEEK,
		   &b);
	expect_batch(_metadata, &b, self->buf, N_MIXED - 7, mixed, 7);
}

/* Off: one message per call with WS_CMSG_OPCODE; on again: batches. */
TEST_F(bat, toggle_between_calls)
{
	int bad = 2;
	struct brx b;

	EXPECT_EQ(-1, setsockopt(self->fd, SOL_WS, WS_RECV_BATCH, &bad,
				 sizeof(bad)));
	EXPECT_EQ(EINVAL, errno);
	peer_send_messages(_metadata, self->peer, variant->role, mixed,
			   N_MIXED);
	wait_parsed(_metadata, self->fd, N_MIXED);
	batch_recv(self->fd, self->buf, BAT_BUF, 2, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, 2, mixed, 0);
	set_batch(_metadata, self->fd, 0);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	EXPECT_EQ(0, b.nr);
	EXPECT_EQ((ssize_t)mixed[2].len, b.n);
	EXPECT_EQ(mixed[2].op, b.rx.op);
	EXPECT_TRUE(b.flags & MSG_EOR);
	set_batch(_metadata, self->fd, 1);
	batch_recv(self->fd, self->buf, BAT_BUF, 0, MSG_DONTWAIT, &b);
	expect_batch(_metadata, &b, self->buf, N_MIXED - 3, mixed, 3);
}

/* recvmmsg: every entry is a batch of its own. */
TEST_F(bat, recvmmsg_entries_are_batches)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(struct ws_msg_desc))];
		struct cmsghdr align;
	} ctl[2];
	struct mmsghdr h[2] = {};
	struct iovec iov[2];
	struct cmsghdr *c;
	unsigned int i;
	int n;

	peer_send_messages(_metadata, self->peer, variant->role, mixed, 8);
	wait_parsed(_metadata, self->fd, 8);
	for (i = 0; i < 2; i++) {
		iov[i].iov_base = self->buf + i * 8192;
		iov[i].iov_len = 8192;
		h[i].msg_hdr.msg_iov = &iov[i];
		h[i].msg_hdr.msg_iovlen = 1;
		h[i].msg_hdr.msg_control = ctl[i].buf;
		h[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	n = recvmmsg(self->fd, h, 2, MSG_DONTWAIT, NULL);
	ASSERT_EQ(2, n);
	for (i = 0; i < 2; i++) {
		struct brx b = { .n = h[i].msg_len, .flags = h[i].msg_hdr.msg_flags };

		rx_init(&b.rx, b.flags);
		c = CMSG_FIRSTHDR(&h[i].msg_hdr);
		ASSERT_NE(NULL, c);
		ASSERT_EQ(WS_CMSG_BATCH, c->cmsg_type);
		b.nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(b.d[0]);
		memcpy(b.d, CMSG_DATA(c), b.nr * sizeof(b.d[0]));
		expect_batch(_metadata, &b, self->buf + i * 8192, 4, mixed,
			     i * 4);
	}
}

/* ---- io_uring ------------------------------------------------------------ */

#define RING_ENTRIES	64
#define BGID		7	/* provided-buffer group */

/* A provided-buffer ring of @count buffers of @size bytes each. */
struct pbuf {
	struct io_uring_buf_ring *br;
	size_t ring_bytes;
	uint8_t *bufs;
	unsigned int count;
	size_t size;
};

FIXTURE(uring) {
	int fd;		/* "ws" attached and configured in variant->role */
	int peer;	/* plain TCP */
	struct io_uring ring;
	bool have_ring;
	struct pbuf pb;
};

FIXTURE_VARIANT(uring) {
	int role;
};

FIXTURE_VARIANT_ADD(uring, server) {
	.role = WS_ROLE_SERVER,
};

FIXTURE_VARIANT_ADD(uring, client) {
	.role = WS_ROLE_CLIENT,
};

FIXTURE_SETUP(uring)
{
	int err;

	self->fd = self->peer = -1;
	err = io_uring_queue_init(RING_ENTRIES, &self->ring, 0);
	if (err)
		SKIP(return, "io_uring_queue_init: %s (io_uring unavailable: "
		     "kernel.io_uring_disabled, seccomp or no CONFIG_IO_URING)",
		     strerror(-err));
	self->have_ring = true;
	ws_pair(_metadata, AF_INET, variant->role, 0, 0, &self->fd,
		&self->peer);
}

FIXTURE_TEARDOWN(uring)
{
	if (self->pb.br) {
		io_uring_unregister_buf_ring(&self->ring, BGID);
		munmap(self->pb.br, self->pb.ring_bytes);
		free(self->pb.bufs);
	}
	if (self->have_ring)
		io_uring_queue_exit(&self->ring);
	close(self->fd);
	close(self->peer);
}

static struct io_uring_sqe *get_sqe(struct __test_metadata *_metadata,
				    struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		TH_LOG("submission queue full");
		abort();
	}
	return sqe;
}

/* The next completion, within IO_TIMEOUT_MS; consumed, its res returned. */
static int wait_cqe(struct __test_metadata *_metadata, struct io_uring *ring,
		    uint64_t *user_data, uint32_t *cflags)
{
	struct __kernel_timespec ts = { .tv_sec = IO_TIMEOUT_MS / 1000 };
	struct io_uring_cqe *cqe;
	int err, res;

	err = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (err) {
		TH_LOG("no io_uring completion: %s", strerror(-err));
		return INT32_MIN;
	}
	res = cqe->res;
	if (user_data)
		*user_data = cqe->user_data;
	if (cflags)
		*cflags = cqe->flags;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* Submit what is queued and wait for one completion. */
static int submit_wait(struct __test_metadata *_metadata,
		       struct io_uring *ring)
{
	int err = io_uring_submit(ring);

	if (err < 0) {
		TH_LOG("io_uring_submit: %s", strerror(-err));
		return err;
	}
	return wait_cqe(_metadata, ring, NULL, NULL);
}

/* No completion arrives for @ms. */
static void expect_no_cqe(struct __test_metadata *_metadata,
			  struct io_uring *ring, int ms)
{
	struct __kernel_timespec ts = { .tv_nsec = ms * 1000000L };
	struct io_uring_cqe *cqe;
	int err = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	EXPECT_EQ(-ETIME, err) {
		TH_LOG("unexpected completion: res %d", err ? err : cqe->res);
	}
}

/*
 * Register the provided-buffer ring (6.1 has IORING_REGISTER_PBUF_RING, in
 * since 5.19) and fill it. False after SKIP when the kernel refuses it.
 */
static bool pbuf_setup(struct __test_metadata *_metadata, struct io_uring *ring,
		       struct pbuf *pb, unsigned int count, size_t size)
{
	struct io_uring_buf_reg reg = {};
	unsigned int i;
	int err;

	pb->count = count;
	pb->size = size;
	pb->ring_bytes = count * sizeof(struct io_uring_buf);
	pb->br = mmap(NULL, pb->ring_bytes, PROT_READ | PROT_WRITE,
		      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (pb->br == MAP_FAILED) {
		pb->br = NULL;
		TH_LOG("mmap: %s", strerror(errno));
		return false;
	}
	reg.ring_addr = (unsigned long)pb->br;
	reg.ring_entries = count;
	reg.bgid = BGID;
	err = io_uring_register_buf_ring(ring, &reg, 0);
	if (err) {
		munmap(pb->br, pb->ring_bytes);
		pb->br = NULL;
		if (err == -EINVAL || err == -EOPNOTSUPP)
			SKIP(return false, "no provided-buffer rings: %s",
			     strerror(-err));
		TH_LOG("io_uring_register_buf_ring: %s", strerror(-err));
		return false;
	}
	pb->bufs = malloc(count * size);
	if (!pb->bufs)
		abort();
	io_uring_buf_ring_init(pb->br);
	for (i = 0; i < count; i++)
		io_uring_buf_ring_add(pb->br, pb->bufs + i * size, size, i,
				      io_uring_buf_ring_mask(count), i);
	io_uring_buf_ring_advance(pb->br, count);
	return true;
}

static uint8_t *pbuf_get(struct pbuf *pb, uint32_t cflags)
{
	return pb->bufs + (cflags >> IORING_CQE_BUFFER_SHIFT) * pb->size;
}

/* Give a consumed buffer back to the ring. */
static void pbuf_recycle(struct pbuf *pb, uint32_t cflags)
{
	unsigned int bid = cflags >> IORING_CQE_BUFFER_SHIFT;

	io_uring_buf_ring_add(pb->br, pb->bufs + bid * pb->size, pb->size, bid,
			      io_uring_buf_ring_mask(pb->count), 0);
	io_uring_buf_ring_advance(pb->br, 1);
}

/*
 * Three recv SQEs submitted at once (one io_uring_enter) after three
 * messages are queued: each returns one whole message, in order.
 */
TEST_F(uring, recv_one_message_each)
{
	static const struct msg_spec m[] = {
		{ WS_OP_BINARY, 100 }, { WS_OP_TEXT, 20 }, { WS_OP_BINARY, 3000 },
	};
	uint8_t bufs[3][4096];
	unsigned int i;
	int res;

	peer_send_messages(_metadata, self->peer, variant->role, m, 3);
	wait_parsed(_metadata, self->fd, 3);
	for (i = 0; i < 3; i++) {
		struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);

		io_uring_prep_recv(sqe, self->fd, bufs[i], sizeof(bufs[i]), 0);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = i;
	}
	ASSERT_EQ(3, io_uring_submit(&self->ring));
	for (i = 0; i < 3; i++) {
		uint64_t ud;
		uint8_t *p;

		res = wait_cqe(_metadata, &self->ring, &ud, NULL);
		ASSERT_LT(ud, 3);
		p = msg_payload(m, ud);
		ASSERT_EQ((int)m[ud].len, res) {
			TH_LOG("recv %llu: %d (%s)", (unsigned long long)ud,
			       res, res < 0 ? strerror(-res) : "bytes");
		}
		EXPECT_EQ(0, memcmp(bufs[ud], p, m[ud].len));
		free(p);
	}
}

/*
 * A recv armed before anything arrived completes on the whole message, not
 * on a partial frame (poll readiness is per message).
 */
TEST_F(uring, recv_armed_before_data)
{
	static const struct msg_spec m[] = { { WS_OP_BINARY, 700 } };
	struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);
	uint8_t buf[1024], *p = msg_payload(m, 0);
	struct wbuf wb = {};
	size_t half;
	int res;

	io_uring_prep_recv(sqe, self->fd, buf, sizeof(buf), 0);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	expect_no_cqe(_metadata, &self->ring, 100);

	wb_messages(&wb, variant->role, m, 1);
	half = wb.len / 2;
	ASSERT_EQ((ssize_t)half, send(self->peer, wb.p, half, 0));
	expect_no_cqe(_metadata, &self->ring, QUIET_MS);
	ASSERT_EQ((ssize_t)(wb.len - half),
		  send(self->peer, wb.p + half, wb.len - half, 0));
	wb_free(&wb);

	res = wait_cqe(_metadata, &self->ring, NULL, NULL);
	ASSERT_EQ(700, res) {
		TH_LOG("recv: %d (%s)", res, res < 0 ? strerror(-res) : "");
	}
	EXPECT_EQ(0, memcmp(buf, p, 700));
	free(p);
}

/* IORING_OP_RECVMSG: opcode cmsg, MSG_EOR, parts, the close, EOF. */
TEST_F(uring, recvmsg_cmsg)
{
	static const struct msg_spec m[] = {
		{ WS_OP_TEXT, 5 }, { WS_OP_BINARY, 0 }, { WS_OP_BINARY, 2000 },
	};
	static const struct { unsigned int k; size_t off, len; bool eor; }
	want[] = {
		{ 0, 0, 5, true }, { 1, 0, 0, true },
		{ 2, 0, 1024, false }, { 2, 1024, 976, true },
	};
	union {
		char buf[WS_RX_CMSG_SPACE];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg;
	uint8_t buf[1024];
	struct wbuf wb = {};
	struct rx rx;
	unsigned int i;
	int res;

	wb_messages(&wb, variant->role, m, 3);
	wb_close(&wb, peer_masks(variant->role), 1001, "gone", 4);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);

	for (i = 0; i < 4 + 2; i++) {
		struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);
		char what[16];

		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		io_uring_prep_recvmsg(sqe, self->fd, &msg, 0);
		res = submit_wait(_metadata, &self->ring);
		ASSERT_GE(res, 0) {
			TH_LOG("recvmsg %u: %s", i, strerror(-res));
		}
		rx_from_msghdr(&rx, &msg);
		snprintf(what, sizeof(what), "recvmsg %u", i);
		if (i < 4) {
			uint8_t *p = msg_payload(m, want[i].k);

			expect_record(_metadata, what, &rx, buf, res,
				      m[want[i].k].op, p + want[i].off,
				      want[i].len, want[i].eor);
			free(p);
		} else if (i == 4) {
			expect_close_record(_metadata, what, &rx, buf, res,
					    1001, 0, "gone");
		} else {
			expect_eof_record(_metadata, what, &rx, res);
		}
	}
}

/* IORING_OP_SEND: one frame per SQE, binary (WS_TX_OPCODE default). */
TEST_F(uring, send_frames)
{
	static const struct msg_spec m[] = {
		{ WS_OP_BINARY, 0 }, { WS_OP_BINARY, 125 },
		{ WS_OP_BINARY, 126 }, { WS_OP_BINARY, 4000 },
	};
	uint8_t *p[4];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);

		p[i] = msg_payload(m, i);
		io_uring_prep_send(sqe, self->fd, p[i], m[i].len, 0);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = i;
	}
	ASSERT_EQ(4, io_uring_submit(&self->ring));
	for (i = 0; i < 4; i++) {
		uint64_t ud;
		int res = wait_cqe(_metadata, &self->ring, &ud, NULL);

		ASSERT_LT(ud, 4);
		EXPECT_EQ((int)m[ud].len, res) {
			TH_LOG("send %llu: %d (%s)", (unsigned long long)ud,
			       res, res < 0 ? strerror(-res) : "bytes");
		}
	}
	for (i = 0; i < 4; i++) {
		expect_frame(_metadata, self->peer, variant->role, true,
			     WS_OP_BINARY, p[i], m[i].len);
		free(p[i]);
	}
}

/*
 * IORING_OP_SENDMSG with cmsgs: a text fragment (MSG_MORE), a ping between
 * fragments, the final fragment, then a close with code and reason.
 */
TEST_F(uring, sendmsg_opcode_fragments_close)
{
	struct ws_txmsg t[4];
	struct msghdr *msg[4] = {
		ws_txmsg_op(&t[0], "frag1", 5, WS_OP_TEXT),
		ws_txmsg_op(&t[1], "pi", 2, WS_OP_PING),
		ws_txmsg_op(&t[2], "frag2", 5, -1),
		ws_txmsg_close(&t[3], 1000, "done", 4),
	};
	static const int flags[4] = { MSG_MORE, 0, 0, 0 };
	static const int len[4] = { 5, 2, 5, 4 };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);

		io_uring_prep_sendmsg(sqe, self->fd, msg[i], flags[i]);
		sqe->flags |= IOSQE_IO_LINK;
		sqe->user_data = i;
	}
	ASSERT_EQ(4, io_uring_submit(&self->ring));
	for (i = 0; i < 4; i++) {
		uint64_t ud;
		int res = wait_cqe(_metadata, &self->ring, &ud, NULL);

		ASSERT_LT(ud, 4);
		EXPECT_EQ(len[ud], res) {
			TH_LOG("sendmsg %llu: %d (%s)", (unsigned long long)ud,
			       res, res < 0 ? strerror(-res) : "bytes");
		}
	}
	expect_frame(_metadata, self->peer, variant->role, false, WS_OP_TEXT,
		     "frag1", 5);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_PING,
		     "pi", 2);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_CONT,
		     "frag2", 5);
	expect_close_frame(_metadata, self->peer, variant->role, 1000, "done",
			   4);
}

/*
 * What the peer read while the ULP side sent: one binary message of @len
 * bytes of @p, in one frame (abi.md: a send the app completes is one frame).
 */
static void expect_one_frame(struct __test_metadata *_metadata,
			     struct peer_job *j, const uint8_t *p, size_t len)
{
	peer_job_wait(j);
	expect_peer_msg(_metadata, &j->msg, WS_OP_BINARY, p, len);
	EXPECT_EQ(1, j->msg.frames);
	peer_msg_free(&j->msg);
}

#define LARGE	(1u << 20)

/*
 * A 1 MiB send through a 64 KiB socket buffer: io_uring's non-blocking
 * attempt sends part and completes with that count. The frame stays open
 * (abi.md); the application submits the rest and the peer gets one 1 MiB
 * frame.
 */
TEST_F_TIMEOUT(uring, send_large_resubmit, 120)
{
	struct peer_job j;
	uint8_t *p = malloc(LARGE);
	unsigned int rounds = 0;
	int sndbuf = 65536;
	size_t done;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				sizeof(sndbuf)));
	fill_pattern(p, LARGE, 5);
	peer_job_start_timeout(_metadata, &j, self->peer, variant->role,
			       4 * IO_TIMEOUT_MS);
	for (done = 0; done < LARGE && rounds < 10000; rounds++) {
		struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);
		int res;

		io_uring_prep_send(sqe, self->fd, p + done, LARGE - done, 0);
		res = submit_wait(_metadata, &self->ring);
		ASSERT_GT(res, 0) {
			TH_LOG("send at %zu: %d (%s)", done, res,
			       res < 0 ? strerror(-res) : "bytes");
		}
		done += res;
	}
	EXPECT_EQ(LARGE, done);
	TH_LOG("%u submissions for 1 MiB", rounds);
	expect_one_frame(_metadata, &j, p, LARGE);
	free(p);
}

/*
 * io_uring's own way to send everything: MSG_WAITALL makes io_uring
 * continue a partial send with the rest (TCP ignores the flag on send), so
 * it must be accepted and give one frame.
 */
TEST_F_TIMEOUT(uring, send_waitall, 120)
{
	struct peer_job j;
	uint8_t *p = malloc(LARGE);
	struct io_uring_sqe *sqe;
	int res;

	ASSERT_NE(NULL, p);
	fill_pattern(p, LARGE, 6);
	peer_job_start_timeout(_metadata, &j, self->peer, variant->role,
			       4 * IO_TIMEOUT_MS);
	sqe = get_sqe(_metadata, &self->ring);
	io_uring_prep_send(sqe, self->fd, p, LARGE, MSG_WAITALL);
	res = submit_wait(_metadata, &self->ring);
	if (res != (int)LARGE) {
		/* Let the reader give up rather than wait for the frame. */
		shutdown(self->fd, SHUT_RDWR);
		peer_job_wait(&j);
		peer_msg_free(&j.msg);
		free(p);
	}
	ASSERT_EQ((int)LARGE, res) {
		TH_LOG("send MSG_WAITALL: %d (%s)", res,
		       res < 0 ? strerror(-res) : "bytes");
	}
	expect_one_frame(_metadata, &j, p, LARGE);
	free(p);
}

/*
 * io_uring recv with MSG_WAITALL: io_uring retries a short receive on a
 * stream socket into the rest of the buffer, so it joins messages (kws
 * ignores MSG_WAITALL; the joining is io_uring's). Pinned here because
 * abi.md tells applications not to use it.
 */
TEST_F(uring, recv_waitall_joins_messages)
{
	static const struct msg_spec m[] = {
		{ WS_OP_BINARY, 100 }, { WS_OP_BINARY, 100 },
	};
	struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);
	uint8_t buf[200], *p0 = msg_payload(m, 0), *p1 = msg_payload(m, 1);
	int res;

	peer_send_messages(_metadata, self->peer, variant->role, m, 2);
	wait_parsed(_metadata, self->fd, 2);
	io_uring_prep_recv(sqe, self->fd, buf, sizeof(buf), MSG_WAITALL);
	res = submit_wait(_metadata, &self->ring);
	EXPECT_EQ(200, res) {
		TH_LOG("recv MSG_WAITALL: %d (%s)", res,
		       res < 0 ? strerror(-res) : "bytes");
	}
	if (res == 200) {
		EXPECT_EQ(0, memcmp(buf, p0, 100));
		EXPECT_EQ(0, memcmp(buf + 100, p1, 100));
	}
	free(p0);
	free(p1);
}

/*
 * A multishot receive's completions, gathered until it ends: each record
 * with its buffer copied out and the buffer recycled. Re-armed (by @arm)
 * when it ends on a 0-byte result that is not EOF yet.
 */
struct mshot_rec {
	int res;
	uint32_t cflags;
	uint8_t *data;
};

#define MSHOT_MAX	32

static unsigned int mshot_collect(struct __test_metadata *_metadata,
				  struct io_uring *ring, struct pbuf *pb,
				  struct mshot_rec *rec, unsigned int max)
{
	unsigned int n = 0;

	while (n < max) {
		uint32_t cflags = 0;
		int res = wait_cqe(_metadata, ring, NULL, &cflags);

		rec[n].res = res;
		rec[n].cflags = cflags;
		rec[n].data = NULL;
		if (res >= 0 && (cflags & IORING_CQE_F_BUFFER)) {
			rec[n].data = malloc(pb->size);
			memcpy(rec[n].data, pbuf_get(pb, cflags), res);
			pbuf_recycle(pb, cflags);
		}
		n++;
		if (!(cflags & IORING_CQE_F_MORE))
			break;
	}
	return n;
}

static void mshot_free(struct mshot_rec *rec, unsigned int n)
{
	while (n--)
		free(rec[n].data);
}

/*
 * Multishot recv with provided buffers: one completion per message (parts
 * for one larger than a buffer); the close reads as 0 (no control buffer,
 * like read()) and ends it.
 */
TEST_F(uring, recv_multishot)
{
	static const struct msg_spec m[] = {
		{ WS_OP_BINARY, 100 }, { WS_OP_TEXT, 1 }, { WS_OP_BINARY, 2048 },
		{ WS_OP_BINARY, 3000 }, { WS_OP_TEXT, 77 },
	};
	static const struct { unsigned int k; size_t off, len; } want[] = {
		{ 0, 0, 100 }, { 1, 0, 1 }, { 2, 0, 2048 }, { 3, 0, 2048 },
		{ 3, 2048, 952 }, { 4, 0, 77 },
	};
	struct mshot_rec rec[MSHOT_MAX];
	struct io_uring_sqe *sqe;
	struct wbuf wb = {};
	unsigned int i, n;

	if (!pbuf_setup(_metadata, &self->ring, &self->pb, 16, 2048))
		return;
	wb_messages(&wb, variant->role, m, 5);
	wb_close(&wb, peer_masks(variant->role), 1000, "", 0);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);

	sqe = get_sqe(_metadata, &self->ring);
	io_uring_prep_recv_multishot(sqe, self->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	n = mshot_collect(_metadata, &self->ring, &self->pb, rec, MSHOT_MAX);
	if (n == 1 && rec[0].res == -EINVAL)
		SKIP(goto out, "multishot recv refused (-EINVAL): kernel too old");

	ASSERT_EQ(6 + 1, n) {
		TH_LOG("%u completions, last res %d", n, rec[n - 1].res);
	}
	for (i = 0; i < 6; i++) {
		uint8_t *p = msg_payload(m, want[i].k);

		EXPECT_TRUE(rec[i].cflags & IORING_CQE_F_MORE);
		ASSERT_EQ((int)want[i].len, rec[i].res) {
			TH_LOG("completion %u: %d, expected %zu", i, rec[i].res,
			       want[i].len);
		}
		EXPECT_EQ(0, memcmp(rec[i].data, p + want[i].off,
				    want[i].len));
		free(p);
	}
	EXPECT_EQ(0, rec[6].res);
	EXPECT_FALSE(rec[6].cflags & IORING_CQE_F_MORE);
out:
	mshot_free(rec, n);
}

/* One multishot recvmsg completion, taken apart like a recvmsg() result. */
static void mshot_msg_rx(struct __test_metadata *_metadata,
			 const struct mshot_rec *rec, struct msghdr *tmpl,
			 struct rx *rx, const uint8_t **data, size_t *len)
{
	struct io_uring_recvmsg_out *o;
	struct cmsghdr *c;

	o = io_uring_recvmsg_validate(rec->data, rec->res, tmpl);
	ASSERT_NE(NULL, o) {
		TH_LOG("recvmsg completion of %d bytes does not parse",
		       rec->res);
	}
	rx_init(rx, o->flags);
	for (c = io_uring_recvmsg_cmsg_firsthdr(o, tmpl); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, tmpl, c))
		rx_note_cmsg(rx, c);
	*data = io_uring_recvmsg_payload(o, tmpl);
	*len = io_uring_recvmsg_payload_length(o, rec->res, tmpl);
}

/*
 * Multishot recvmsg with provided buffers: per completion the opcode cmsg
 * and MSG_EOR, parts of a large message, the close with its code; EOF last.
 * io_uring ends the multishot on each 0-byte payload (a zero-length
 * message): the test re-arms it there, as an application must.
 */
TEST_F(uring, recvmsg_multishot)
{
	static const struct msg_spec m[] = {
		{ WS_OP_TEXT, 5 }, { WS_OP_BINARY, 0 }, { WS_OP_BINARY, 1500 },
		{ WS_OP_TEXT, 30 },
	};
	static const struct { unsigned int k; size_t off, len; bool eor; }
	want[] = {
		{ 0, 0, 5, true }, { 1, 0, 0, true }, { 2, 0, 1024, false },
		{ 2, 1024, 476, true }, { 3, 0, 30, true },
	};
	const size_t payload_room = 1024;
	struct msghdr tmpl = { .msg_controllen = WS_RX_CMSG_SPACE };
	struct mshot_rec rec[MSHOT_MAX];
	unsigned int i, n = 0, arms = 0, got;
	struct wbuf wb = {};
	bool eof = false;

	if (!pbuf_setup(_metadata, &self->ring, &self->pb, 16,
			sizeof(struct io_uring_recvmsg_out) + WS_RX_CMSG_SPACE +
			payload_room))
		return;
	wb_messages(&wb, variant->role, m, 4);
	wb_close(&wb, peer_masks(variant->role), 1000, "bye", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);

	while (!eof && n < MSHOT_MAX && arms < 8) {
		struct io_uring_sqe *sqe = get_sqe(_metadata, &self->ring);

		io_uring_prep_recvmsg_multishot(sqe, self->fd, &tmpl, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
		ASSERT_EQ(1, io_uring_submit(&self->ring));
		arms++;
		got = mshot_collect(_metadata, &self->ring, &self->pb, rec + n,
				    MSHOT_MAX - n);
		if (arms == 1 && got == 1 && rec[n].res == -EINVAL)
			SKIP(goto out, "multishot recvmsg refused (-EINVAL)");
		n += got;
		ASSERT_GE(rec[n - 1].res, 0) {
			TH_LOG("multishot recvmsg ended with %s",
			       strerror(-rec[n - 1].res));
		}
		/* EOF: no payload and no control message. */
		if (rec[n - 1].res == (int)(sizeof(struct io_uring_recvmsg_out))) {
			eof = true;
		} else {
			const uint8_t *d;
			struct rx rx;
			size_t len;

			mshot_msg_rx(_metadata, &rec[n - 1], &tmpl, &rx, &d,
				     &len);
			eof = len == 0 && rx.op < 0;
		}
	}
	TH_LOG("%u completions, %u arms", n, arms);
	ASSERT_TRUE(eof);
	ASSERT_EQ(5 + 2, n);
	for (i = 0; i < n; i++) {
		const uint8_t *d;
		struct rx rx;
		char what[24];
		size_t len;

		snprintf(what, sizeof(what), "completion %u", i);
		mshot_msg_rx(_metadata, &rec[i], &tmpl, &rx, &d, &len);
		if (i < 5) {
			uint8_t *p = msg_payload(m, want[i].k);

			expect_record(_metadata, what, &rx, d, len,
				      m[want[i].k].op, p + want[i].off,
				      want[i].len, want[i].eor);
			free(p);
		} else if (i == 5) {
			expect_close_record(_metadata, what, &rx, d, len, 1000,
					    0, "bye");
		} else {
			expect_eof_record(_metadata, what, &rx, len);
		}
	}
out:
	mshot_free(rec, n);
}

/*
 * WS_RECV_BATCH with multishot recvmsg and provided buffers: the queued
 * messages come in one completion with their WS_CMSG_BATCH, the close in
 * the next (WS_CMSG_OPCODE and WS_CMSG_CLOSE), then EOF.
 */
TEST_F(uring, recvmsg_multishot_batch)
{
	struct msghdr tmpl = {
		.msg_controllen = CMSG_SPACE(64 * sizeof(struct ws_msg_desc)),
	};
	struct io_uring_recvmsg_out *o;
	struct mshot_rec rec[MSHOT_MAX];
	struct io_uring_sqe *sqe;
	struct wbuf wb = {};
	const uint8_t *d;
	struct cmsghdr *c;
	unsigned int n = 0;
	struct brx b;
	int on = 1;
	size_t len;

	if (!self->have_ring)
		return;
	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_RECV_BATCH, &on,
				sizeof(on)));
	if (!pbuf_setup(_metadata, &self->ring, &self->pb, 8,
			sizeof(*o) + tmpl.msg_controllen + 8192))
		return;
	wb_messages(&wb, variant->role, mixed, N_MIXED);
	wb_close(&wb, peer_masks(variant->role), 1000, "bye", 3);
	wb_send(_metadata, self->peer, &wb, 0, 0);
	wb_free(&wb);
	wait_parsed(_metadata, self->fd, N_MIXED);

	sqe = get_sqe(_metadata, &self->ring);
	io_uring_prep_recvmsg_multishot(sqe, self->fd, &tmpl, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	n = mshot_collect(_metadata, &self->ring, &self->pb, rec, MSHOT_MAX);
	if (n == 1 && rec[0].res == -EINVAL)
		SKIP(goto out, "multishot recvmsg refused (-EINVAL)");
	ASSERT_EQ(3, n);
	ASSERT_LT(0, rec[0].res);

	o = io_uring_recvmsg_validate(rec[0].data, rec[0].res, &tmpl);
	ASSERT_NE(NULL, o);
	memset(&b, 0, sizeof(b));
	rx_init(&b.rx, o->flags);
	b.flags = o->flags;
	for (c = io_uring_recvmsg_cmsg_firsthdr(o, &tmpl); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, &tmpl, c)) {
		if (c->cmsg_level == SOL_WS && c->cmsg_type == WS_CMSG_BATCH) {
			b.nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(b.d[0]);
			memcpy(b.d, CMSG_DATA(c), b.nr * sizeof(b.d[0]));
		} else {
			rx_note_cmsg(&b.rx, c);
		}
	}
	d = io_uring_recvmsg_payload(o, &tmpl);
	b.n = io_uring_recvmsg_payload_length(o, rec[0].res, &tmpl);
	expect_batch(_metadata, &b, d, N_MIXED, mixed, 0);

	{
		struct rx rx;

		mshot_msg_rx(_metadata, &rec[1], &tmpl, &rx, &d, &len);
		expect_close_record(_metadata, "close", &rx, d, len, 1000, 0,
				    "bye");
		mshot_msg_rx(_metadata, &rec[2], &tmpl, &rx, &d, &len);
		expect_eof_record(_metadata, "eof", &rx, len);
	}
out:
	mshot_free(rec, n);
}

TEST_HARNESS_MAIN
