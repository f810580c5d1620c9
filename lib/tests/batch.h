/* SPDX-License-Identifier: MIT */
/*
 * kws_recv_batch() checks shared by test_user (userspace codec) and
 * kernel_test (WS_RECV_BATCH in the ULP): the same scenarios and the same
 * rules for both paths, from the API's comment in kws.h and abi.md "Batch
 * receive". Where a batch is cut depends on what has arrived, so every call
 * is checked against the rules and the messages are compared after
 * reassembly; the scenarios send everything before reading so that batches
 * of more than one message must happen.
 */
#ifndef KWS_TEST_BATCH_H
#define KWS_TEST_BATCH_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kws.h"
#include "tap.h"
#include "util.h"

#define BATCH_MSGS	512
#define BATCH_DATA	(4 * 1024 * 1024)

/* What a receiver got, over all its kws_recv_batch() calls. */
struct batch_rx {
	struct kws_conn *tx;	/* the sender, connected to conn */
	struct kws_conn *conn;
	char name[128];		/* of the test */
	size_t len;		/* buffer per call */
	unsigned int ndesc;	/* entries per call */
	int calls;
	unsigned int max_nr;	/* most entries in one call */
	int parts;		/* entries without WS_MSG_EOR */
	int broken;		/* a rule was broken (diagnosed) */
	int eof;
	int nmsg;		/* messages reassembled, close included */
	int open;		/* the last one is not complete yet */
	uint8_t opcode[BATCH_MSGS];
	uint32_t mlen[BATCH_MSGS];
	size_t moff[BATCH_MSGS];
	size_t dlen;
	uint16_t close_code, close_flags;
	uint8_t data[BATCH_DATA];
	uint8_t buf[BATCH_DATA];
};

static inline int batch_broken(struct batch_rx *r, int call, const char *why)
{
	tap_diag("call %d: %s", call, why);
	r->broken = 1;
	return -1;
}

/* Append one entry to the reassembled messages. */
static inline int batch_add(struct batch_rx *r, const struct ws_msg_desc *d,
			    const uint8_t *p)
{
	int i = r->open ? r->nmsg - 1 : r->nmsg;

	if (i >= BATCH_MSGS || r->dlen + d->len > BATCH_DATA)
		return batch_broken(r, r->calls, "more than the test expects");
	if (r->open && r->opcode[i] != d->opcode)
		return batch_broken(r, r->calls, "opcode changed inside a message");
	if (!r->open) {
		r->opcode[i] = d->opcode;
		r->mlen[i] = 0;
		r->moff[i] = r->dlen;
		r->nmsg++;
	}
	memcpy(r->data + r->dlen, p, d->len);
	r->dlen += d->len;
	r->mlen[i] += d->len;
	r->open = !(d->flags & WS_MSG_EOR);
	return 0;
}

/*
 * One kws_recv_batch() call, checked against the rules. Returns the number
 * of entries, 0 at EOF, -1 on an error or a broken rule.
 */
static inline int batch_step(struct batch_rx *r)
{
	struct ws_msg_desc desc[KWS_RECV_BATCH_MAX + 1];
	struct kws_msg_info mi;
	size_t off = 0;
	int nr, call = ++r->calls;

	memset(desc, 0xa5, sizeof(desc));
	nr = kws_recv_batch(r->conn, r->buf, r->len, desc, r->ndesc, &mi);
	if (nr < 0) {
		tap_diag("call %d: kws_recv_batch: %s", call, strerror(errno));
		r->broken = 1;
		return -1;
	}
	if (nr == 0) {
		if (mi.opcode || r->open)
			return batch_broken(r, call, "EOF with an opcode or open message");
		r->eof = 1;
		return 0;
	}
	if ((unsigned int)nr > r->ndesc || nr > KWS_RECV_BATCH_MAX)
		return batch_broken(r, call, "more entries than asked");
	if ((unsigned int)nr > r->max_nr)
		r->max_nr = nr;
	for (int i = 0; i < nr; i++) {
		const struct ws_msg_desc *d = &desc[i];
		int control = d->opcode & 0x8;

		if (d->reserved || d->flags & ~WS_MSG_EOR)
			return batch_broken(r, call, "reserved bits set");
		if (d->opcode != WS_OP_TEXT && d->opcode != WS_OP_BINARY &&
		    !control)
			return batch_broken(r, call, "bad opcode");
		if (control && nr != 1)
			return batch_broken(r, call, "control entry in a batch");
		if (!(d->flags & WS_MSG_EOR) && nr != 1)
			return batch_broken(r, call, "partial entry in a batch");
		if (i && r->open)
			return batch_broken(r, call, "message left open in a batch");
		if (off + d->len > r->len)
			return batch_broken(r, call, "entries overflow the buffer");
		r->parts += !(d->flags & WS_MSG_EOR);
		if (batch_add(r, d, r->buf + off))
			return -1;
		off += d->len;
	}
	if (mi.opcode != desc[nr - 1].opcode ||
	    mi.eom != !!(desc[nr - 1].flags & WS_MSG_EOR))
		return batch_broken(r, call, "info is not the last entry's");
	if (mi.opcode == WS_OP_CLOSE) {
		r->close_code = mi.close_code;
		r->close_flags = mi.close_flags;
	}
	return nr;
}

/* Receive until EOF (bounded). Returns 0 if every call kept the rules. */
static inline int batch_drain(struct batch_rx *r)
{
	while (!r->eof && r->calls < 100000)
		if (batch_step(r) < 0)
			return -1;
	return r->eof ? 0 : -1;
}

/* Message @i is @opcode with @len bytes of @p. */
static inline int batch_msg_is(const struct batch_rx *r, int i, int opcode,
			       const void *p, size_t len)
{
	return i < r->nmsg && !(r->open && i == r->nmsg - 1) &&
	       r->opcode[i] == opcode && r->mlen[i] == len &&
	       !memcmp(r->data + r->moff[i], p, len);
}

/*
 * A sender and a receiver connected to each other; @rx_flags are the
 * receiver's WS_F_* flags. Returns 0 or -1.
 */
typedef int (*batch_pair_fn)(struct kws_conn **tx, struct kws_conn **rx,
			     uint32_t rx_flags);

/*
 * A connected sender and receiver (@rx_flags: the receiver's WS_F_*) for
 * the test named by @fmt, reading with @len and @ndesc; NULL (reported as
 * a failed test) if they cannot be set up.
 */
static inline __attribute__((format(printf, 5, 6)))
struct batch_rx *batch_open(batch_pair_fn pair, uint32_t rx_flags, size_t len,
			    unsigned int ndesc, const char *fmt, ...)
{
	struct batch_rx *r = calloc(1, sizeof(*r));
	va_list ap;

	if (!r)
		abort();
	va_start(ap, fmt);
	vsnprintf(r->name, sizeof(r->name), fmt, ap);
	va_end(ap);
	if (pair(&r->tx, &r->conn, rx_flags)) {
		tap_ok(0, "%s setup: %s", r->name, strerror(errno));
		kws_close(r->tx);
		kws_close(r->conn);
		free(r);
		return NULL;
	}
	r->len = len;
	r->ndesc = ndesc;
	return r;
}

/* Report the test (@ok and no rule broken) and free it all. */
static inline void batch_done(struct batch_rx *r, int ok)
{
	if (!tap_ok(ok && !r->broken, "%s", r->name))
		tap_diag("messages %d calls %d max %u parts %d close %u/%u",
			 r->nmsg, r->calls, r->max_nr, r->parts, r->close_code,
			 r->close_flags);
	kws_close(r->tx);
	kws_close(r->conn);
	free(r);
}

static inline size_t batch_small_len(int i)
{
	return (i % 7) * 13;	/* 0 to 78 bytes: zero-length ones included */
}

/* @n small messages, then close 1000 "bye"; read with @len and @ndesc. */
static void batch_test_small(const char *prefix, batch_pair_fn pair, int n,
			     size_t len, unsigned int ndesc)
{
	struct batch_rx *r;
	uint8_t out[128];
	int ok = 1;

	r = batch_open(pair, 0, len, ndesc,
		       "%s_batch_%d_small_messages_ndesc_%u_len_%zu", prefix, n,
		       ndesc, len);
	if (!r)
		return;
	for (int i = 0; i < n; i++) {
		int op = i & 1 ? WS_OP_BINARY : WS_OP_TEXT;

		fill(out, batch_small_len(i), op, i);
		ok = ok && kws_send(r->tx, op, out, batch_small_len(i), 0) ==
			   (ssize_t)batch_small_len(i);
	}
	ok = ok && kws_send_close(r->tx, WS_CLOSE_NORMAL, "bye") == 0;
	ok = ok && batch_drain(r) == 0 && r->nmsg == n + 1;
	for (int i = 0; ok && i < n; i++) {
		int op = i & 1 ? WS_OP_BINARY : WS_OP_TEXT;

		fill(out, batch_small_len(i), op, i);
		ok = batch_msg_is(r, i, op, out, batch_small_len(i));
	}
	ok = ok && batch_msg_is(r, n, WS_OP_CLOSE, "bye", 3) &&
	     r->close_code == 1000 && !r->close_flags;
	/*
	 * Everything was queued before the first call: batches must form,
	 * except below 4 entries, where the kernel path takes one at a time.
	 */
	ok = ok && r->max_nr >= (ndesc >= 4 ? 2U : 1U) &&
	     r->max_nr <= (ndesc < KWS_RECV_BATCH_MAX ? ndesc :
			   KWS_RECV_BATCH_MAX);
	batch_done(r, ok && !r->parts);
}

struct batch_sender {
	struct kws_conn *tx;
	int n;
	int ok;
};

static inline size_t batch_mixed_len(int i)
{
	return i % 3 ? (size_t)i * 7 : (size_t)100000 + i;
}

/* Sends messages of batch_mixed_len() bytes, then a close. */
static inline void *batch_sender_main(void *arg)
{
	struct batch_sender *b = arg;
	uint8_t *out = malloc(200000);

	b->ok = out != NULL;
	for (int i = 0; b->ok && i < b->n; i++) {
		fill(out, batch_mixed_len(i), WS_OP_BINARY, i);
		b->ok = kws_send(b->tx, WS_OP_BINARY, out, batch_mixed_len(i),
				 0) == (ssize_t)batch_mixed_len(i);
	}
	b->ok = b->ok && kws_send_close(b->tx, WS_CLOSE_NORMAL, NULL) == 0;
	free(out);
	return NULL;
}

/* Messages over the buffer among small ones, while the sender still sends. */
static void batch_test_large(const char *prefix, batch_pair_fn pair)
{
	struct batch_sender b = { .n = 30 };
	struct batch_rx *r;
	pthread_t th;
	uint8_t *out = malloc(200000);
	int ok;

	r = batch_open(pair, 0, 65536, 64, "%s_batch_large_and_small_streamed",
		       prefix);
	if (!r || !out) {
		free(out);
		return;
	}
	b.tx = r->tx;
	pthread_create(&th, NULL, batch_sender_main, &b);
	ok = batch_drain(r) == 0;
	pthread_join(th, NULL);
	ok = ok && b.ok && r->nmsg == b.n + 1 && r->parts > 0;
	for (int i = 0; ok && i < b.n; i++) {
		fill(out, batch_mixed_len(i), WS_OP_BINARY, i);
		ok = batch_msg_is(r, i, WS_OP_BINARY, out, batch_mixed_len(i));
		if (!ok)
			tap_diag("message %d: %u bytes, want %zu", i,
				 r->mlen[i], batch_mixed_len(i));
	}
	free(out);
	batch_done(r, ok);
}

/* A message bigger than the buffer: a part alone, then the rest first. */
static void batch_test_big_first(const char *prefix, batch_pair_fn pair)
{
	struct batch_rx *r;
	uint8_t big[1000];
	int ok;

	r = batch_open(pair, 0, 600, 64,
		       "%s_batch_message_over_buffer_then_batch", prefix);
	if (!r)
		return;
	fill(big, sizeof(big), WS_OP_BINARY, 7);
	ok = kws_send(r->tx, WS_OP_BINARY, big, sizeof(big), 0) == sizeof(big) &&
	     kws_send(r->tx, WS_OP_TEXT, "a", 1, 0) == 1 &&
	     kws_send(r->tx, WS_OP_TEXT, "", 0, 0) == 0 &&
	     kws_send(r->tx, WS_OP_TEXT, "b", 1, 0) == 1 &&
	     kws_send_close(r->tx, WS_CLOSE_NORMAL, NULL) == 0;
	ok = ok && batch_step(r) == 1 && r->parts == 1 && r->mlen[0] == 600;
	/* the rest of it, then the small ones, in one call */
	ok = ok && batch_step(r) == 4 && r->mlen[0] == 1000 && r->nmsg == 4;
	ok = ok && batch_drain(r) == 0 && r->nmsg == 5 &&
	     batch_msg_is(r, 0, WS_OP_BINARY, big, sizeof(big)) &&
	     batch_msg_is(r, 1, WS_OP_TEXT, "a", 1) &&
	     batch_msg_is(r, 2, WS_OP_TEXT, "", 0) &&
	     batch_msg_is(r, 3, WS_OP_TEXT, "b", 1) &&
	     r->opcode[4] == WS_OP_CLOSE && r->close_code == 1000;
	batch_done(r, ok);
}

/* Delivered pings and pongs and the close come alone; fragments whole. */
static void batch_test_control(const char *prefix, batch_pair_fn pair)
{
	struct batch_rx *r;
	int ok;

	r = batch_open(pair, WS_F_DELIVER_CONTROL, 65536, 64,
		       "%s_batch_control_and_close_alone_fragments_whole", prefix);
	if (!r)
		return;
	ok = kws_send(r->tx, WS_OP_TEXT, "x", 1, 0) == 1 &&
	     kws_send(r->tx, WS_OP_TEXT, "ab", 2, KWS_MORE) == 2 &&
	     kws_send(r->tx, WS_OP_TEXT, "cd", 2, 0) == 2 &&
	     kws_send(r->tx, WS_OP_TEXT, "y", 1, 0) == 1 &&
	     kws_ping(r->tx, "p", 1) == 0 &&
	     kws_pong(r->tx, "q", 1) == 0 &&
	     kws_send(r->tx, WS_OP_BINARY, "z", 1, 0) == 1 &&
	     kws_send_close(r->tx, 4000, "end") == 0;
	/*
	 * The kernel takes "x", "abcd", "y" in one batch, the userspace
	 * codec ends a batch before a fragmented message (kws.h).
	 */
	ok = ok && batch_drain(r) == 0 && r->nmsg == 7 &&
	     batch_msg_is(r, 0, WS_OP_TEXT, "x", 1) &&
	     batch_msg_is(r, 1, WS_OP_TEXT, "abcd", 4) &&
	     batch_msg_is(r, 2, WS_OP_TEXT, "y", 1) &&
	     batch_msg_is(r, 3, WS_OP_PING, "p", 1) &&
	     batch_msg_is(r, 4, WS_OP_PONG, "q", 1) &&
	     batch_msg_is(r, 5, WS_OP_BINARY, "z", 1) &&
	     batch_msg_is(r, 6, WS_OP_CLOSE, "end", 3) &&
	     r->close_code == 4000 && r->max_nr >= 2;
	batch_done(r, ok);
}

/*
 * The messages of a batch can still be answered when the peer's close came
 * right behind them: the close is echoed when it is read (abi.md).
 */
static void batch_test_answer_before_close(const char *prefix,
					   batch_pair_fn pair)
{
	struct kws_msg_info mi;
	struct batch_rx *r;
	char back[8];
	int ok;

	r = batch_open(pair, 0, 65536, 64, "%s_batch_answered_before_close_echo",
		       prefix);
	if (!r)
		return;
	ok = kws_send(r->tx, WS_OP_TEXT, "a", 1, 0) == 1 &&
	     kws_send(r->tx, WS_OP_TEXT, "b", 1, 0) == 1 &&
	     kws_send_close(r->tx, 4001, NULL) == 0;
	ok = ok && batch_step(r) == 2 &&
	     kws_send(r->conn, WS_OP_TEXT, "A", 1, 0) == 1 &&
	     kws_send(r->conn, WS_OP_TEXT, "B", 1, 0) == 1;
	ok = ok && batch_drain(r) == 0 && r->nmsg == 3 &&
	     r->close_code == 4001;
	/* the sender gets both answers, then the echo of its close */
	ok = ok && kws_recv(r->tx, back, sizeof(back), &mi) == 1 &&
	     back[0] == 'A' && kws_recv(r->tx, back, sizeof(back), &mi) == 1 &&
	     back[0] == 'B' && kws_recv(r->tx, back, sizeof(back), &mi) == 0 &&
	     mi.opcode == WS_OP_CLOSE && mi.close_code == 4001;
	batch_done(r, ok);
}

/* kws_recv() and kws_recv_batch() in turn take the messages in order. */
static void batch_test_mixed(const char *prefix, batch_pair_fn pair)
{
	struct kws_msg_info mi;
	struct batch_rx *r;
	char one[8];
	int ok = 1, first;

	r = batch_open(pair, 0, 4096, 4, "%s_batch_mixed_with_kws_recv",
		       prefix);
	if (!r)
		return;
	for (int i = 0; i < 10; i++)
		ok = ok && kws_send(r->tx, WS_OP_TEXT, "0123456789" + i, 1,
				    0) == 1;
	kws_send_close(r->tx, WS_CLOSE_NORMAL, NULL);
	ok = ok && kws_recv(r->conn, one, sizeof(one), &mi) == 1 &&
	     one[0] == '0' && mi.eom;
	first = ok ? batch_step(r) : -1;
	ok = ok && first > 1 && batch_msg_is(r, 0, WS_OP_TEXT, "1", 1);
	/* the message after the batch, alone */
	ok = ok && kws_recv(r->conn, one, sizeof(one), &mi) == 1 && mi.eom &&
	     one[0] == '1' + first;
	ok = ok && batch_drain(r) == 0;
	for (int i = 0; ok && i < r->nmsg - 1; i++)
		ok = r->mlen[i] == 1 &&
		     r->data[r->moff[i]] == (i < first ? '1' : '2') + i;
	ok = ok && r->nmsg == 9 && r->opcode[8] == WS_OP_CLOSE;
	batch_done(r, ok);
}

/* Invalid text fails the connection after the messages before it. */
static void batch_test_failure(const char *prefix, batch_pair_fn pair)
{
	struct batch_rx *r;
	int ok;

	r = batch_open(pair, 0, 65536, 64,
		       "%s_batch_1007_after_the_good_messages", prefix);
	if (!r)
		return;
	/* kws_send() does not check UTF-8: the receiver does */
	ok = kws_send(r->tx, WS_OP_TEXT, "ok1", 3, 0) == 3 &&
	     kws_send(r->tx, WS_OP_BINARY, "ok2", 3, 0) == 3 &&
	     kws_send(r->tx, WS_OP_TEXT, "\xc0\xaf", 2, 0) == 2;
	/* discarded; EPIPE if the 1007 close came back first */
	kws_send(r->tx, WS_OP_TEXT, "after", 5, 0);
	ok = ok && batch_drain(r) == 0 && r->nmsg == 3 &&
	     batch_msg_is(r, 0, WS_OP_TEXT, "ok1", 3) &&
	     batch_msg_is(r, 1, WS_OP_BINARY, "ok2", 3) &&
	     r->opcode[2] == WS_OP_CLOSE && r->close_code == 1007 &&
	     r->close_flags & WS_CLOSE_LOCAL;
	batch_done(r, ok);
}

static void batch_tests(const char *prefix, batch_pair_fn pair)
{
	struct ws_msg_desc d;
	struct kws_msg_info mi;
	struct batch_rx *r;
	char buf[8];

	batch_test_small(prefix, pair, 200, 65536, KWS_RECV_BATCH_MAX);
	batch_test_small(prefix, pair, 200, 65536, 1000);
	batch_test_small(prefix, pair, 100, 65536, 5);
	batch_test_small(prefix, pair, 50, 65536, 2);
	batch_test_small(prefix, pair, 50, 65536, 1);
	batch_test_small(prefix, pair, 100, 200, 64);
	batch_test_big_first(prefix, pair);
	batch_test_large(prefix, pair);
	batch_test_control(prefix, pair);
	batch_test_answer_before_close(prefix, pair);
	batch_test_mixed(prefix, pair);
	batch_test_failure(prefix, pair);

	r = batch_open(pair, 0, sizeof(buf), 0, "%s_batch_ndesc_0_einval",
		       prefix);
	if (!r)
		return;
	errno = 0;
	batch_done(r, kws_recv_batch(r->conn, buf, sizeof(buf), &d, 0,
				     &mi) == -1 && errno == EINVAL);
}

#endif /* KWS_TEST_BATCH_H */
