// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Host unit tests of the kws codec. TAP output, non-zero exit on failure.
 *
 * The parser tests describe a byte stream and the events it must produce,
 * then replay the stream whole, split at every point, byte by byte and in
 * random chunks (wslay's test_wslay_frame_recv_1byte idea), and require the
 * same events every time. Each chunk is fed from its own exact-size heap
 * copy, so AddressSanitizer catches any read past what was handed in.
 *
 * Names read <side>_<verb>_<what>: server tests feed masked client frames,
 * client tests unmasked server frames.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kws_codec.h"
#include "autobahn6.h"
#include "ref_utf8.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int test_failed;

static void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("#   %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	test_failed = 1;
}

#define EXPECT(cond)							\
	do {								\
		if (!(cond))						\
			fail_at(__FILE__, __LINE__, "%s", #cond);	\
	} while (0)

#define EXPECT_EQ(a, b)							\
	do {								\
		unsigned long long a_ = (a), b_ = (b);			\
		if (a_ != b_)						\
			fail_at(__FILE__, __LINE__, "%s == %llu, want %llu", \
				#a, a_, b_);				\
	} while (0)

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static u64 rng_state = 0x9e3779b97f4a7c15ULL;

static u64 rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- growable byte buffers: streams and event logs -------------------- */

struct buf {
	u8 *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("realloc");
			exit(2);
		}
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_byte(struct buf *b, u8 c)
{
	buf_put(b, &c, 1);
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static size_t hex2bin(u8 *out, const char *hex)
{
	size_t n = 0;
	unsigned int v;

	while (hex[0] && hex[1]) {
		if (hex[0] == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		out[n++] = v;
		hex += 2;
	}
	return n;
}

static void buf_hex(struct buf *b, const char *hex)
{
	u8 *tmp = xmalloc(strlen(hex) / 2 + 1);

	buf_put(b, tmp, hex2bin(tmp, hex));
	free(tmp);
}

static const u8 key_rfc[4] = { 0x37, 0xfa, 0x21, 0x3d };

/*
 * Append a frame; masked with a key that varies per frame when @mask is
 * set, as a client would. @rsv goes to bits 6..4 of the first byte.
 */
static void put_frame_rsv(struct buf *b, u8 opcode, int fin, u8 rsv,
			  const void *payload, size_t n, int mask)
{
	u8 hdr[KWS_FRAME_HDR_MAX], key[4];
	unsigned int hl;
	size_t at;

	if (mask) {
		u64 r = rng();

		memcpy(key, &r, 4);
	}
	hl = kws_frame_build(hdr, opcode, fin, n, mask ? key : NULL);
	hdr[0] |= rsv << 4;
	buf_put(b, hdr, hl);
	at = b->len;
	buf_put(b, payload, n);
	if (mask)
		kws_mask_copy(b->p + at, b->p + at, n, key, 0);
}

static void put_frame(struct buf *b, u8 opcode, int fin, const void *payload,
		      size_t n, int mask)
{
	put_frame_rsv(b, opcode, fin, 0, payload, n, mask);
}

/* ---- event logs --------------------------------------------------------- */

/*
 * A log is a byte string of records: 'D' op first eom len64 bytes for each
 * data frame (its chunks merged), 'C' op code16 len bytes for a control
 * frame, 'E' code16 for an error. Chunk boundaries vary with the feed;
 * the log must not.
 */
static void log_data(struct buf *l, u8 op, int first, int eom,
		     const void *p, u64 n)
{
	buf_byte(l, 'D');
	buf_byte(l, op);
	buf_byte(l, first);
	buf_byte(l, eom);
	buf_put(l, &n, sizeof(n));
	buf_put(l, p, n);
}

static void log_ctrl(struct buf *l, u8 op, u16 code, const void *p, u8 n)
{
	buf_byte(l, 'C');
	buf_byte(l, op);
	buf_put(l, &code, 2);
	buf_byte(l, n);
	buf_put(l, p, n);
}

static void log_err(struct buf *l, u16 code)
{
	buf_byte(l, 'E');
	buf_put(l, &code, 2);
}

static void log_print(const char *what, const struct buf *l)
{
	size_t i = 0;
	u64 n;
	u16 c;

	printf("#   %s:", what);
	while (i < l->len) {
		switch (l->p[i]) {
		case 'D':
			memcpy(&n, l->p + i + 4, 8);
			printf(" D(op%u%s%s,%llu)", l->p[i + 1],
			       l->p[i + 2] ? ",first" : "",
			       l->p[i + 3] ? ",eom" : "", (unsigned long long)n);
			i += 12 + n;
			break;
		case 'C':
			memcpy(&c, l->p + i + 2, 2);
			printf(" C(op%u,%u,%u)", l->p[i + 1], c, l->p[i + 4]);
			i += 5 + l->p[i + 4];
			break;
		case 'E':
			memcpy(&c, l->p + i + 1, 2);
			printf(" E(%u)", c);
			i += 3;
			break;
		default:
			printf(" ?");
			i = l->len;
		}
	}
	printf("\n");
}

/* ---- the scripted feed ------------------------------------------------ */

struct cfg {
	u8 role;
	u64 max_msg;
	u8 flags;
};

enum chunking { WHOLE, SPLIT_AT, BYTEWISE, RANDOM };

struct feeder {
	struct kws_parser p;
	struct buf *log;
	struct buf frame;	/* unmasked payload of the current data frame */
	int msg_open;		/* a chunk of an unfinished message was seen */
	int frame_first;	/* the frame's first chunk had KWS_EV_FIRST */
	int chunks_in_frame;
	int done;		/* error seen */
	const char *bad;	/* first invariant broken */
};

/* Feed one chunk (already in its own allocation); log whole records. */
static void feed_chunk(struct feeder *fd, const u8 *chunk, u64 len)
{
	struct kws_event ev;
	u64 pos = 0, n;
	size_t at;

	while (!fd->done) {
		n = kws_parser_feed(&fd->p, chunk + pos, len - pos, &ev);
		if (n > len - pos) {
			fd->bad = "consumed more than fed";
			fd->done = 1;
			return;
		}
		switch (ev.type) {
		case KWS_EV_NONE:
			if (n != len - pos)
				fd->bad = "NONE without consuming everything";
			return;
		case KWS_EV_DATA:
			if ((u64)ev.off + ev.len > n) {
				fd->bad = "chunk outside the bytes consumed";
				break;
			}
			if (!(ev.flags & KWS_EV_FIRST) != !!fd->msg_open)
				fd->bad = "KWS_EV_FIRST on the wrong chunk";
			if (!ev.len && !(ev.flags & KWS_EV_FRAME_END))
				fd->bad = "empty chunk inside a frame";
			if (!ev.len && fd->chunks_in_frame)
				fd->bad = "empty chunk ends a non-empty frame";
			if ((ev.flags & KWS_EV_EOM) &&
			    !(ev.flags & KWS_EV_FRAME_END))
				fd->bad = "EOM without FRAME_END";
			if (!fd->chunks_in_frame++)
				fd->frame_first = !!(ev.flags & KWS_EV_FIRST);
			fd->msg_open = 1;
			at = fd->frame.len;
			buf_put(&fd->frame, chunk + pos + ev.off, ev.len);
			if (ev.masked && ev.len)
				kws_mask_copy(fd->frame.p + at, fd->frame.p + at,
					      ev.len, fd->p.frame.mask, ev.phase);
			if (ev.flags & KWS_EV_FRAME_END) {
				log_data(fd->log, ev.opcode, fd->frame_first,
					 !!(ev.flags & KWS_EV_EOM),
					 fd->frame.p, fd->frame.len);
				fd->frame.len = 0;
				fd->chunks_in_frame = 0;
				fd->msg_open = !(ev.flags & KWS_EV_EOM);
			}
			break;
		case KWS_EV_CONTROL:
			if (ev.len > KWS_CONTROL_MAX)
				fd->bad = "control payload over 125";
			log_ctrl(fd->log, ev.opcode, ev.code, fd->p.control,
				 ev.len);
			break;
		case KWS_EV_ERROR:
			log_err(fd->log, ev.code);
			fd->done = 1;
			/* Sticky: nothing more consumed, the same code. */
			n = kws_parser_feed(&fd->p, chunk, len, &ev);
			if (n || ev.type != KWS_EV_ERROR ||
			    ev.code != fd->p.fail_code)
				fd->bad = "error is not sticky";
			return;
		}
		pos += n;
	}
}

/*
 * Replay @s as chunks: WHOLE, SPLIT_AT @arg, BYTEWISE or RANDOM (seed @arg).
 * The log gets the records; returns the broken invariant or NULL.
 */
static const char *replay(const struct cfg *c, const u8 *s, size_t len,
			  enum chunking how, u64 arg, struct buf *log)
{
	/* Kept across replays: regrowing 64 KiB buffers each time is slow. */
	static struct buf frame;
	struct feeder fd = { .log = log, .frame = frame };
	size_t pos = 0, n;
	u64 saved_rng = rng_state;
	u8 *copy;

	kws_parser_init(&fd.p, c->role, c->max_msg, c->flags);
	rng_state = arg * 0x9e3779b97f4a7c15ULL + 1;
	do {
		switch (how) {
		case WHOLE:
			n = len;
			break;
		case SPLIT_AT:
			n = pos < arg ? arg - pos : len - pos;
			break;
		case BYTEWISE:
			n = 1;
			break;
		default:
			n = 1 + rng() % ((rng() & 1) ? 7 : 300);
			break;
		}
		if (n > len - pos)
			n = len - pos;
		copy = xmalloc(n);
		memcpy(copy, s + pos, n);
		feed_chunk(&fd, copy, n);
		free(copy);
		pos += n;
	} while (pos < len && !fd.done);
	rng_state = saved_rng;
	frame = fd.frame;
	frame.len = 0;
	return fd.bad;
}

static int same_events(const struct cfg *c, const u8 *s, size_t len,
		       enum chunking how, u64 arg, const struct buf *want,
		       const char *label)
{
	static struct buf got;
	const char *bad;
	int ok;

	got.len = 0;
	bad = replay(c, s, len, how, arg, &got);
	ok = !bad && got.len == want->len &&
	     (!got.len || !memcmp(got.p, want->p, got.len));
	if (!ok) {
		fail_at(__FILE__, __LINE__, "%s %llu: %s", label,
			(unsigned long long)arg, bad ? bad : "events differ");
		log_print("want", want);
		log_print("got ", &got);
	}
	return ok;
}

/*
 * The core check: @s gives @want fed whole, at every split point, byte by
 * byte and in random chunkings. Streams over 8 KiB split at every point
 * of their first and last 600 bytes and every 257th point between (each
 * replay is O(len), and the middle of a long payload is all alike).
 */
static void check_stream(const struct cfg *c, const struct buf *s,
			 const struct buf *want)
{
	size_t k;
	u64 seed;

	if (!same_events(c, s->p, s->len, WHOLE, 0, want, "whole"))
		return;
	for (k = 0; k <= s->len; k++) {
		if (s->len > 8192 && k > 600 && k + 600 < s->len && k % 257)
			continue;
		if (!same_events(c, s->p, s->len, SPLIT_AT, k, want, "split at"))
			return;
	}
	if (!same_events(c, s->p, s->len, BYTEWISE, 0, want, "bytewise"))
		return;
	for (seed = 1; seed <= 16; seed++)
		if (!same_events(c, s->p, s->len, RANDOM, seed, want, "random"))
			return;
}

/* ---- test registry ------------------------------------------------------ */

struct test {
	const char *name;
	void (*fn)(u8 role);
	u8 role;
};

#define SRV	KWS_ROLE_SERVER
#define CLI	KWS_ROLE_CLIENT
#define NOLIMIT	(~0ULL)

static struct cfg role_cfg(u8 role)
{
	return (struct cfg){ .role = role, .max_msg = NOLIMIT };
}

/* ---- RFC 6455 5.7 examples -------------------------------------------- */

static void check_hex(u8 role, const char *stream_hex, const struct buf *want)
{
	struct buf s = { 0 };
	struct cfg c = role_cfg(role);

	buf_hex(&s, stream_hex);
	check_stream(&c, &s, want);
	buf_free(&s);
}

static void t_recv_rfc_hello(u8 role)
{
	struct buf want = { 0 };

	log_data(&want, KWS_OP_TEXT, 1, 1, "Hello", 5);
	if (role == CLI)	/* "A single-frame unmasked text message" */
		check_hex(role, "81 05 48 65 6c 6c 6f", &want);
	else			/* "A single-frame masked text message" */
		check_hex(role, "81 85 37 fa 21 3d 7f 9f 4d 51 58", &want);
	buf_free(&want);
}

static void t_recv_rfc_fragmented(u8 role)
{
	struct buf want = { 0 };

	/* "A fragmented unmasked text message" */
	log_data(&want, KWS_OP_TEXT, 1, 0, "Hel", 3);
	log_data(&want, KWS_OP_TEXT, 0, 1, "lo", 2);
	if (role == CLI)
		check_hex(role, "01 03 48 65 6c 80 02 6c 6f", &want);
	else
		check_hex(role, "01 83 37 fa 21 3d 7f 9f 4d"
			  " 80 82 37 fa 21 3d 5b 95", &want);
	buf_free(&want);
}

static void t_recv_rfc_ping_pong(u8 role)
{
	struct buf want = { 0 };

	if (role == CLI) {
		/* "Unmasked Ping request and masked Ping response" */
		log_ctrl(&want, KWS_OP_PING, 0, "Hello", 5);
		check_hex(role, "89 05 48 65 6c 6c 6f", &want);
	} else {
		log_ctrl(&want, KWS_OP_PONG, 0, "Hello", 5);
		check_hex(role, "8a 85 37 fa 21 3d 7f 9f 4d 51 58", &want);
	}
	buf_free(&want);
}

static void recv_rfc_binary(u8 role, size_t n, const char *hdr_hex)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);
	u8 *payload = xmalloc(n), hdr[KWS_FRAME_HDR_MAX], want_hdr[16];
	size_t i;

	for (i = 0; i < n; i++)
		payload[i] = rng();
	/* The header bytes the RFC gives, from kws_frame_build() too. */
	EXPECT_EQ(kws_frame_build(hdr, KWS_OP_BINARY, 1, n, NULL),
		  hex2bin(want_hdr, hdr_hex));
	EXPECT(!memcmp(hdr, want_hdr, hex2bin(want_hdr, hdr_hex)));
	put_frame(&s, KWS_OP_BINARY, 1, payload, n, role == SRV);
	log_data(&want, KWS_OP_BINARY, 1, 1, payload, n);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
	free(payload);
}

static void t_recv_rfc_binary_256(u8 role)
{
	/* "256 bytes binary message in a single unmasked frame" */
	recv_rfc_binary(role, 256, "82 7e 01 00");
}

static void t_recv_rfc_binary_64k(u8 role)
{
	/* "64KiB binary message in a single unmasked frame" */
	recv_rfc_binary(role, 65536, "82 7f 00 00 00 00 00 01 00 00");
}

static void t_mask_rfc_hello(u8 role)
{
	u8 out[5];

	(void)role;
	EXPECT_EQ(kws_mask_copy(out, (const u8 *)"Hello", 5, key_rfc, 0), 1);
	EXPECT(!memcmp(out, "\x7f\x9f\x4d\x51\x58", 5));
}

/* ---- lengths ---------------------------------------------------------- */

static const u64 boundary_lens[] = {
	0, 1, 125, 126, 127, 128, 65535, 65536, 65537,
	0xffffffffULL, 0x100000000ULL, 0x7fffffffffffffffULL,
};

static void t_frame_roundtrip_lengths(u8 role)
{
	u8 hdr[KWS_FRAME_HDR_MAX];
	struct kws_frame f;
	unsigned int hl, k, masked;
	size_t i;

	(void)role;
	for (i = 0; i < ARRAY_SIZE(boundary_lens); i++) {
		for (masked = 0; masked < 2; masked++) {
			u64 len = boundary_lens[i];

			hl = kws_frame_build(hdr, KWS_OP_BINARY, 1, len,
					     masked ? key_rfc : NULL);
			EXPECT_EQ(hl, kws_frame_hdr_len(len, masked));
			EXPECT_EQ(hl, (len < 126 ? 2 : len < 65536 ? 4 : 10) +
				  4 * masked);
			for (k = 0; k < hl; k++)
				EXPECT_EQ(kws_frame_parse(&f, hdr, k), 0);
			EXPECT_EQ(kws_frame_parse(&f, hdr, hl), hl);
			EXPECT_EQ(f.len, len);
			EXPECT_EQ(f.fin, 1);
			EXPECT_EQ(f.opcode, KWS_OP_BINARY);
			EXPECT_EQ(f.masked, masked);
			EXPECT_EQ(f.rsv, 0);
			if (masked)
				EXPECT(!memcmp(f.mask, key_rfc, 4));
		}
	}
	/* The minimal encodings, byte for byte (RFC 6455 5.2). */
	hl = kws_frame_build(hdr, KWS_OP_TEXT, 0, 125, NULL);
	EXPECT(hl == 2 && hdr[0] == 0x01 && hdr[1] == 125);
	hl = kws_frame_build(hdr, KWS_OP_TEXT, 1, 126, NULL);
	EXPECT(hl == 4 && hdr[1] == 126 && hdr[2] == 0 && hdr[3] == 126);
	hl = kws_frame_build(hdr, KWS_OP_TEXT, 1, 65535, NULL);
	EXPECT(hl == 4 && hdr[2] == 0xff && hdr[3] == 0xff);
	hl = kws_frame_build(hdr, KWS_OP_TEXT, 1, 0x100000000ULL, NULL);
	EXPECT(hl == 10 && hdr[1] == 127 &&
	       !memcmp(hdr + 2, "\0\0\0\1\0\0\0\0", 8));
}

static void t_frame_parse_fields(u8 role)
{
	struct kws_frame f;
	u8 h[2] = { 0x70 | KWS_OP_PING, 0x00 };

	(void)role;
	EXPECT_EQ(kws_frame_parse(&f, h, 2), 2);
	EXPECT(f.fin == 0 && f.rsv == 7 && f.opcode == KWS_OP_PING &&
	       f.masked == 0 && f.len == 0);
}

static void t_frame_parse_nonminimal(u8 role)
{
	struct kws_frame f;
	u8 b[KWS_FRAME_HDR_MAX];

	(void)role;
	/* Non-minimal encodings are accepted (Documentation/design.md). */
	EXPECT_EQ(kws_frame_parse(&f, b, hex2bin(b, "82 7e 00 05")), 4);
	EXPECT_EQ(f.len, 5);
	EXPECT_EQ(kws_frame_parse(&f, b,
				  hex2bin(b, "82 7f 00 00 00 00 00 00 00 05")),
		  10);
	EXPECT_EQ(f.len, 5);
}

static void t_frame_parse_msb(u8 role)
{
	struct kws_frame f;
	u8 b[KWS_FRAME_HDR_MAX];
	size_t n, k;

	(void)role;
	/* RFC 6455 5.2: "the most significant bit MUST be 0" */
	n = hex2bin(b, "82 7f 80 00 00 00 00 00 00 00");
	EXPECT_EQ(kws_frame_parse(&f, b, 2), 0);
	for (k = 3; k <= n; k++)
		EXPECT_EQ(kws_frame_parse(&f, b, k), (u64)-1);
	n = hex2bin(b, "82 ff ff ff ff ff ff ff ff ff 01 02 03 04");
	EXPECT_EQ(kws_frame_parse(&f, b, n), (u64)-1);
}

/* Whole messages at each length boundary that fits in memory. */
static void t_recv_length_boundaries(u8 role)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 128, 65535, 65536 };
	struct cfg c = role_cfg(role);
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		struct buf s = { 0 }, want = { 0 };
		u8 *payload = xmalloc(lens[i]);

		for (j = 0; j < lens[i]; j++)
			payload[j] = 'a' + j % 26;
		put_frame(&s, KWS_OP_TEXT, 1, payload, lens[i], role == SRV);
		log_data(&want, KWS_OP_TEXT, 1, 1, payload, lens[i]);
		/* At exactly max_msg: fine. */
		c.max_msg = lens[i];
		check_stream(&c, &s, &want);
		buf_free(&s);
		buf_free(&want);
		free(payload);
	}
}

/* 2^32 and 2^63-1: the header is accepted and payload streams through. */
static void t_recv_huge_lengths(u8 role)
{
	static const u64 lens[] = { 0x100000000ULL, 0x7fffffffffffffffULL };
	struct kws_parser p;
	struct kws_event ev;
	u8 in[4096];
	size_t i;
	u64 n;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		unsigned int hl;

		kws_parser_init(&p, role, NOLIMIT, 0);
		hl = kws_frame_build(in, KWS_OP_BINARY, 1, lens[i],
				     role == SRV ? key_rfc : NULL);
		memset(in + hl, 0, sizeof(in) - hl);
		n = kws_parser_feed(&p, in, sizeof(in), &ev);
		EXPECT_EQ(n, sizeof(in));
		EXPECT_EQ(ev.type, KWS_EV_DATA);
		EXPECT_EQ(ev.off, hl);
		EXPECT_EQ(ev.len, sizeof(in) - hl);
		EXPECT_EQ(ev.flags, KWS_EV_FIRST);
		n = kws_parser_feed(&p, in, sizeof(in), &ev);
		EXPECT(n == sizeof(in) && ev.type == KWS_EV_DATA &&
		       ev.off == 0 && ev.flags == 0);
		EXPECT_EQ(p.frame_left, lens[i] - 2 * sizeof(in) + hl);

		/* One byte under the limit: 1009 before any payload. */
		kws_parser_init(&p, role, lens[i] - 1, 0);
		(void)kws_frame_build(in, KWS_OP_BINARY, 1, lens[i],
				      role == SRV ? key_rfc : NULL);
		n = kws_parser_feed(&p, in, sizeof(in), &ev);
		EXPECT(ev.type == KWS_EV_ERROR && ev.code == 1009);
		EXPECT_EQ(n, hl);
	}
}

static void t_fail_length_msb(u8 role)
{
	struct buf want = { 0 };

	log_err(&want, 1002);
	if (role == CLI)
		check_hex(role, "82 7f 80 00 00 00 00 00 00 00 61", &want);
	else
		check_hex(role, "82 ff 80 00 00 00 00 00 00 00 01 02 03 04 61",
			  &want);
	buf_free(&want);
}

/* ---- every error rule with its close code ------------------------------ */

/* A valid message, then @bad_hex (with the mask bit set for a server). */
static void check_fail_after_message(u8 role, u8 b0, u8 len7,
				     const void *payload, u16 code)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);
	u8 bad[2 + 4 + 125];

	put_frame(&s, KWS_OP_TEXT, 1, "ok", 2, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 1, "ok", 2);
	bad[0] = b0;
	bad[1] = len7 | (role == SRV ? 0x80 : 0);
	memcpy(bad + 2, key_rfc, 4);
	memcpy(bad + (role == SRV ? 6 : 2), payload, len7 > 125 ? 0 : len7);
	buf_put(&s, bad, (role == SRV ? 6 : 2) + (len7 > 125 ? 0 : len7));
	/* A ping after the bad frame must never be seen. */
	put_frame(&s, KWS_OP_PING, 1, "p", 1, role == SRV);
	log_err(&want, code);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

static void t_fail_rsv_bits(u8 role)
{
	u8 rsv;

	/* RFC 6455 5.2, Autobahn 3.1-3.7: RSV1..3 without an extension. */
	for (rsv = 1; rsv < 8; rsv++) {
		check_fail_after_message(role, 0x80 | rsv << 4 | KWS_OP_TEXT,
					 2, "hi", 1002);
		check_fail_after_message(role, 0x80 | rsv << 4 | KWS_OP_PING,
					 0, "", 1002);
	}
}

static void t_fail_reserved_opcodes(u8 role)
{
	static const u8 ops[] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf };
	size_t i;

	/* RFC 6455 5.2, Autobahn 4.1.x and 4.2.x. */
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		check_fail_after_message(role, 0x80 | ops[i], 0, "", 1002);
		check_fail_after_message(role, 0x80 | ops[i], 3, "abc", 1002);
	}
}

static void t_fail_control_too_long(u8 role)
{
	u8 big[126] = { 0 };
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);

	/* RFC 6455 5.5, Autobahn 2.5: a 126-byte ping. */
	check_fail_after_message(role, 0x80 | KWS_OP_PING, 126, big, 1002);
	check_fail_after_message(role, 0x80 | KWS_OP_CLOSE, 127, big, 1002);
	/* 125 is fine (Autobahn 2.4). */
	put_frame(&s, KWS_OP_PING, 1, big, 125, role == SRV);
	log_ctrl(&want, KWS_OP_PING, 0, big, 125);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
	/* Any 16-bit length on a control frame, even a non-minimal 5. */
	check_fail_after_message(role, 0x80 | KWS_OP_PONG, 126, big, 1002);
}

static void t_fail_control_fragmented(u8 role)
{
	/* RFC 6455 5.5, Autobahn 5.1/5.2: control frames with FIN=0. */
	check_fail_after_message(role, KWS_OP_PING, 2, "pi", 1002);
	check_fail_after_message(role, KWS_OP_PONG, 0, "", 1002);
	check_fail_after_message(role, KWS_OP_CLOSE, 2, "\x03\xe8", 1002);
}

static void t_fail_wrong_masking(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);

	/* RFC 6455 5.1: the other role's masking fails with 1002. */
	put_frame(&s, KWS_OP_TEXT, 1, "ok", 2, role == SRV);
	put_frame(&s, KWS_OP_TEXT, 1, "no", 2, role != SRV);
	log_data(&want, KWS_OP_TEXT, 1, 1, "ok", 2);
	log_err(&want, 1002);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);

	s = (struct buf){ 0 };
	want = (struct buf){ 0 };
	put_frame(&s, KWS_OP_PING, 1, "", 0, role != SRV);
	log_err(&want, 1002);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

static void t_fail_orphan_continuation(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);
	int fin;

	/* RFC 6455 5.4, Autobahn 5.9-5.17. */
	for (fin = 0; fin < 2; fin++) {
		check_fail_after_message(role, fin << 7 | KWS_OP_CONT, 3,
					 "abc", 1002);
		check_fail_after_message(role, fin << 7 | KWS_OP_CONT, 0,
					 "", 1002);
	}
	/* Autobahn 5.15: a message, then a continuation of nothing. */
	put_frame(&s, KWS_OP_TEXT, 0, "frag1", 5, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "frag2", 5, role == SRV);
	put_frame(&s, KWS_OP_CONT, 0, "frag3", 5, role == SRV);
	put_frame(&s, KWS_OP_TEXT, 1, "frag4", 5, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, "frag1", 5);
	log_data(&want, KWS_OP_TEXT, 0, 1, "frag2", 5);
	log_err(&want, 1002);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

static void t_fail_interleaved_messages(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);
	u8 op;

	/* RFC 6455 5.4, Autobahn 5.18: a new data frame inside a message. */
	for (op = KWS_OP_TEXT; op <= KWS_OP_BINARY; op++) {
		s.len = 0;
		want.len = 0;
		put_frame(&s, KWS_OP_TEXT, 0, "fragment1", 9, role == SRV);
		put_frame(&s, op, 1, "fragment2", 9, role == SRV);
		log_data(&want, KWS_OP_TEXT, 1, 0, "fragment1", 9);
		log_err(&want, 1002);
		check_stream(&c, &s, &want);
	}
	buf_free(&s);
	buf_free(&want);
}

static void t_fail_message_too_big(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);

	/* One frame past the limit: 1009 at its header, no payload given. */
	c.max_msg = 10;
	put_frame(&s, KWS_OP_BINARY, 1, "0123456789a", 11, role == SRV);
	log_err(&want, 1009);
	check_stream(&c, &s, &want);

	/* Fragments that add up past it: 1009 at the second header. */
	s.len = 0;
	want.len = 0;
	put_frame(&s, KWS_OP_TEXT, 0, "012345", 6, role == SRV);
	put_frame(&s, KWS_OP_PING, 1, "control frames do not count", 27,
		  role == SRV);
	put_frame(&s, KWS_OP_CONT, 0, "6789", 4, role == SRV);
	put_frame(&s, KWS_OP_CONT, 0, "", 0, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "a", 1, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, "012345", 6);
	log_ctrl(&want, KWS_OP_PING, 0, "control frames do not count", 27);
	log_data(&want, KWS_OP_TEXT, 0, 0, "6789", 4);
	log_data(&want, KWS_OP_TEXT, 0, 0, "", 0);
	log_err(&want, 1009);
	check_stream(&c, &s, &want);

	/* The limit is per message: the next one starts from zero. */
	s.len = 0;
	want.len = 0;
	put_frame(&s, KWS_OP_TEXT, 1, "0123456789", 10, role == SRV);
	put_frame(&s, KWS_OP_BINARY, 0, "01234", 5, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "56789", 5, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 1, "0123456789", 10);
	log_data(&want, KWS_OP_BINARY, 1, 0, "01234", 5);
	log_data(&want, KWS_OP_BINARY, 0, 1, "56789", 5);
	check_stream(&c, &s, &want);

	/* max_msg 0: only empty messages. */
	c.max_msg = 0;
	s.len = 0;
	want.len = 0;
	put_frame(&s, KWS_OP_TEXT, 1, "", 0, role == SRV);
	put_frame(&s, KWS_OP_TEXT, 1, "x", 1, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 1, "", 0);
	log_err(&want, 1009);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

/* ---- UTF-8 in text messages (RFC 6455 8.1, Autobahn 6.x) --------------- */

static void t_fail_text_invalid_utf8(u8 role)
{
	struct buf s = { 0 }, want = { 0 }, body = { 0 };
	struct cfg c = role_cfg(role);

	/* 6.3.1: "κόσμε" then a surrogate: fails, nothing of it given out. */
	buf_hex(&body, "cebae1bdb9cf83cebcceb5eda080656469746564");
	put_frame(&s, KWS_OP_TEXT, 1, body.p, body.len, role == SRV);
	log_err(&want, 1007);
	check_stream(&c, &s, &want);

	/* The same bytes in a binary message are fine. */
	s.len = 0;
	want.len = 0;
	put_frame(&s, KWS_OP_BINARY, 1, body.p, body.len, role == SRV);
	log_data(&want, KWS_OP_BINARY, 1, 1, body.p, body.len);
	check_stream(&c, &s, &want);

	/* And in text with KWS_PARSER_NO_UTF8. */
	s.len = 0;
	want.len = 0;
	c.flags = KWS_PARSER_NO_UTF8;
	put_frame(&s, KWS_OP_TEXT, 1, body.p, body.len, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 1, body.p, body.len);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
	buf_free(&body);
}

static void t_fail_text_utf8_fast(u8 role)
{
	static const char *const parts[][3] = {
		/* 6.4.1 and 6.4.2: three frames, the second one invalid. */
		{ "cebae1bdb9cf83cebcceb5", "f4908080", "656469746564" },
		{ "cebae1bdb9cf83cebcceb5f4", "90", "8080656469746564" },
	};
	struct cfg c = role_cfg(role);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		struct buf s = { 0 }, want = { 0 }, p1 = { 0 }, p2 = { 0 },
			   p3 = { 0 };
		struct kws_parser p;
		struct kws_event ev;
		u64 n;

		buf_hex(&p1, parts[i][0]);
		buf_hex(&p2, parts[i][1]);
		buf_hex(&p3, parts[i][2]);
		put_frame(&s, KWS_OP_TEXT, 0, p1.p, p1.len, role == SRV);
		n = s.len;
		put_frame(&s, KWS_OP_CONT, 0, p2.p, p2.len, role == SRV);
		log_data(&want, KWS_OP_TEXT, 1, 0, p1.p, p1.len);
		log_err(&want, 1007);
		/* Fail fast: the error comes with frame 2; 3 never arrives. */
		check_stream(&c, &s, &want);

		/* 6.4.3/6.4.4: one frame, in three chops. */
		s.len = 0;
		buf_put(&p1, p2.p, p2.len);
		buf_put(&p1, p3.p, p3.len);
		put_frame(&s, KWS_OP_TEXT, 1, p1.p, p1.len, role == SRV);
		kws_parser_init(&p, role, NOLIMIT, 0);
		n = (role == SRV ? 6 : 2) + strlen(parts[i][0]) / 2;
		EXPECT_EQ(kws_parser_feed(&p, s.p, n, &ev), n);
		EXPECT_EQ(ev.type, KWS_EV_DATA);
		n += kws_parser_feed(&p, s.p + n, p2.len, &ev);
		EXPECT(ev.type == KWS_EV_ERROR && ev.code == 1007);
		buf_free(&s);
		buf_free(&want);
		buf_free(&p1);
		buf_free(&p2);
		buf_free(&p3);
	}
}

static void t_fail_text_truncated_at_eom(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);

	/* 6.6.1: a lone lead byte is a valid prefix until the message ends. */
	put_frame(&s, KWS_OP_TEXT, 1, "\xce", 1, role == SRV);
	log_err(&want, 1007);
	check_stream(&c, &s, &want);

	/* A character split across frames is fine... */
	s.len = 0;
	want.len = 0;
	put_frame(&s, KWS_OP_TEXT, 0, "\xce", 1, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "\xba", 1, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, "\xce", 1);
	log_data(&want, KWS_OP_TEXT, 0, 1, "\xba", 1);
	check_stream(&c, &s, &want);

	/* ...but not one the final (empty) frame leaves unfinished. */
	s.len = 0;
	want.len = 0;
	put_frame(&s, KWS_OP_TEXT, 0, "ab\xe2\x82", 4, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "", 0, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, "ab\xe2\x82", 4);
	log_err(&want, 1007);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

static void t_recv_autobahn6_text(u8 role)
{
	struct cfg c = role_cfg(role);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(autobahn6_cases); i++) {
		const struct autobahn6_case *ac = &autobahn6_cases[i];
		struct buf s = { 0 }, want = { 0 }, body = { 0 };

		buf_hex(&body, ac->hex);
		put_frame(&s, KWS_OP_TEXT, 1, body.p, body.len, role == SRV);
		if (ac->valid)
			log_data(&want, KWS_OP_TEXT, 1, 1, body.p, body.len);
		else
			log_err(&want, 1007);
		check_stream(&c, &s, &want);
		if (test_failed) {
			printf("#   case %s\n", ac->id);
			break;
		}
		/* And one frame per byte (6.2.3/6.2.4 and 6.3.2 style). */
		s.len = 0;
		want.len = 0;
		{
			size_t k;
			u32 st = KWS_UTF8_ACCEPT;
			int bad = 0;

			for (k = 0; k < body.len && !bad; k++) {
				put_frame(&s, k ? KWS_OP_CONT : KWS_OP_TEXT,
					  k + 1 == body.len, body.p + k, 1,
					  role == SRV);
				bad = kws_utf8_feed(&st, body.p + k, 1) ||
				      (k + 1 == body.len &&
				       st != KWS_UTF8_ACCEPT);
				if (!bad)
					log_data(&want, KWS_OP_TEXT, !k,
						 k + 1 == body.len,
						 body.p + k, 1);
			}
			EXPECT_EQ(bad, !ac->valid);
			if (bad)
				log_err(&want, 1007);
			if (body.len) {
				struct buf *w = &want;

				if (!same_events(&c, s.p, s.len, BYTEWISE, 0,
						 w, "per-byte frames"))
					printf("#   case %s\n", ac->id);
			}
		}
		buf_free(&s);
		buf_free(&want);
		buf_free(&body);
	}
}

static void t_recv_autobahn6_fragments(u8 role)
{
	struct buf s = { 0 }, want = { 0 }, a = { 0 }, b = { 0 };
	struct cfg c = role_cfg(role);

	/* 6.1.2 and 6.1.3: empty fragments. */
	put_frame(&s, KWS_OP_TEXT, 0, "", 0, role == SRV);
	put_frame(&s, KWS_OP_CONT, 0, "", 0, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "", 0, role == SRV);
	put_frame(&s, KWS_OP_TEXT, 0, "", 0, role == SRV);
	put_frame(&s, KWS_OP_CONT, 0, "middle", 6, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "", 0, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, "", 0);
	log_data(&want, KWS_OP_TEXT, 0, 0, "", 0);
	log_data(&want, KWS_OP_TEXT, 0, 1, "", 0);
	log_data(&want, KWS_OP_TEXT, 1, 0, "", 0);
	log_data(&want, KWS_OP_TEXT, 0, 0, "middle", 6);
	log_data(&want, KWS_OP_TEXT, 0, 1, "", 0);
	/* 6.2.2: split on a code point boundary. */
	buf_hex(&a, "48656c6c6f2dc2b540c39fc3b6c3a4");
	buf_hex(&b, "c3bcc3a0c3a12d5554462d382121");
	put_frame(&s, KWS_OP_TEXT, 0, a.p, a.len, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, b.p, b.len, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, a.p, a.len);
	log_data(&want, KWS_OP_TEXT, 0, 1, b.p, b.len);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
	buf_free(&a);
	buf_free(&b);
}

/* ---- control frames and close ------------------------------------------ */

static void t_recv_control_interleaved(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);

	/* RFC 6455 5.4: "Control frames MAY be injected in the middle of a
	 * fragmented message." Autobahn 5.6 and 5.19.
	 */
	put_frame(&s, KWS_OP_TEXT, 0, "fragment1", 9, role == SRV);
	put_frame(&s, KWS_OP_PING, 1, "ping payload", 12, role == SRV);
	put_frame(&s, KWS_OP_CONT, 0, "fragment2", 9, role == SRV);
	put_frame(&s, KWS_OP_PONG, 1, "", 0, role == SRV);
	put_frame(&s, KWS_OP_PING, 1, "\xff\xfe", 2, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "fragment3", 9, role == SRV);
	put_frame(&s, KWS_OP_BINARY, 1, "\xff", 1, role == SRV);
	log_data(&want, KWS_OP_TEXT, 1, 0, "fragment1", 9);
	log_ctrl(&want, KWS_OP_PING, 0, "ping payload", 12);
	log_data(&want, KWS_OP_TEXT, 0, 0, "fragment2", 9);
	log_ctrl(&want, KWS_OP_PONG, 0, "", 0);
	log_ctrl(&want, KWS_OP_PING, 0, "\xff\xfe", 2);
	log_data(&want, KWS_OP_TEXT, 0, 1, "fragment3", 9);
	log_data(&want, KWS_OP_BINARY, 1, 1, "\xff", 1);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

static void check_close_payload(u8 role, const void *payload, size_t n,
				u16 want_code, int valid)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);

	put_frame(&s, KWS_OP_CLOSE, 1, payload, n, role == SRV);
	if (valid)
		log_ctrl(&want, KWS_OP_CLOSE, want_code, payload, n);
	else
		log_err(&want, want_code);
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

static void t_recv_close_payloads(u8 role)
{
	static const u16 valid[] = {
		1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
		1012, 1013, 1014, 3000, 3999, 4000, 4999,
	};
	static const u16 invalid[] = {
		0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
		5000, 65535,
	};
	u8 pl[KWS_CONTROL_MAX];
	size_t i;

	/* Autobahn 7.3.1: empty is fine and reads as 1005. */
	check_close_payload(role, "", 0, 1005, 1);
	/* 7.3.2: a lone byte cannot hold a code. */
	check_close_payload(role, "\x03", 1, 1002, 0);
	for (i = 0; i < ARRAY_SIZE(valid); i++) {		/* 7.7.x */
		pl[0] = valid[i] >> 8;
		pl[1] = valid[i];
		check_close_payload(role, pl, 2, valid[i], 1);
	}
	for (i = 0; i < ARRAY_SIZE(invalid); i++) {		/* 7.9.x */
		pl[0] = invalid[i] >> 8;
		pl[1] = invalid[i];
		check_close_payload(role, pl, 2, 1002, 0);
	}
	/* 7.3.5: a 123-byte reason. */
	memset(pl, 'r', sizeof(pl));
	pl[0] = 1000 >> 8;
	pl[1] = 1000 & 0xff;
	check_close_payload(role, pl, 125, 1000, 1);
	/* 7.5.1: a reason that is not UTF-8; a truncated one too. */
	check_close_payload(role, "\x03\xe8\xce\xba\xe1\xbd\xb9\xed\xa0\x80",
			    10, 1007, 0);
	check_close_payload(role, "\x03\xe8\xce", 3, 1007, 0);
	check_close_payload(role, "\x03\xe8\xce\xba", 4, 1000, 1);
}

static void t_recv_close_then_ignore(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);
	struct kws_parser p;
	struct kws_event ev;

	/* Autobahn 7.1.2-7.1.5: nothing after a close frame counts. */
	put_frame(&s, KWS_OP_TEXT, 0, "frag1", 5, role == SRV);
	put_frame(&s, KWS_OP_CLOSE, 1, "\x03\xe8", 2, role == SRV);
	put_frame(&s, KWS_OP_CONT, 1, "frag2", 5, role == SRV);
	put_frame(&s, KWS_OP_CLOSE, 1, "\x03\xe8", 2, role == SRV);
	put_frame(&s, KWS_OP_PING, 1, "", 0, role == SRV);
	buf_hex(&s, "ff ff ff");	/* even garbage */
	log_data(&want, KWS_OP_TEXT, 1, 0, "frag1", 5);
	log_ctrl(&want, KWS_OP_CLOSE, 1000, "\x03\xe8", 2);
	check_stream(&c, &s, &want);

	kws_parser_init(&p, role, NOLIMIT, 0);
	s.len = 0;
	put_frame(&s, KWS_OP_CLOSE, 1, "", 0, role == SRV);
	EXPECT_EQ(kws_parser_feed(&p, s.p, s.len, &ev), s.len);
	EXPECT(ev.type == KWS_EV_CONTROL && ev.code == 1005 && ev.len == 0);
	EXPECT_EQ(kws_parser_feed(&p, (const u8 *)"\xff\xff", 2, &ev), 2);
	EXPECT_EQ(ev.type, KWS_EV_NONE);
	buf_free(&s);
	buf_free(&want);
}

static void t_close_code_valid(u8 role)
{
	u32 code;

	(void)role;
	for (code = 0; code <= 0xffff; code++) {
		int want = (code >= 1000 && code <= 1003) ||
			   (code >= 1007 && code <= 1014) ||
			   (code >= 3000 && code <= 4999);

		if (kws_close_code_valid(code) != want) {
			EXPECT_EQ(kws_close_code_valid(code), want);
			printf("#   code %u\n", code);
			break;
		}
	}
}

static void t_close_check(u8 role)
{
	u8 pl[200] = { 0 };
	u16 code = 0;

	(void)role;
	EXPECT_EQ(kws_close_check(pl, 0, &code, 1), 0);
	EXPECT_EQ(code, 1005);
	memcpy(pl, "\x03\xe8", 2);
	EXPECT_EQ(kws_close_check(pl, 1, &code, 1), 1002);
	EXPECT_EQ(kws_close_check(pl, 2, &code, 1), 0);
	EXPECT_EQ(code, 1000);
	memset(pl + 2, 'x', sizeof(pl) - 2);
	EXPECT_EQ(kws_close_check(pl, 125, &code, 1), 0);
	EXPECT_EQ(kws_close_check(pl, 126, &code, 1), 1002);
	pl[2] = 0xc0;
	pl[3] = 0x80;
	EXPECT_EQ(kws_close_check(pl, 4, &code, 1), 1007);
	EXPECT_EQ(kws_close_check(pl, 4, &code, 0), 0);
	memcpy(pl, "\x0b\xb8", 2);	/* 3000 */
	EXPECT_EQ(kws_close_check(pl, 2, &code, 1), 0);
	EXPECT_EQ(code, 3000);
	memcpy(pl, "\x03\xed", 2);	/* 1005 may not be sent */
	EXPECT_EQ(kws_close_check(pl, 2, &code, 1), 1002);
}

static void t_close_build(u8 role)
{
	u8 out[KWS_CONTROL_MAX], reason[124];
	u16 code;

	(void)role;
	memset(reason, 'r', sizeof(reason));
	EXPECT_EQ(kws_close_build(out, 0, NULL, 0), 0);
	EXPECT_EQ(kws_close_build(out, 0, reason, 1), (u64)-1);
	EXPECT_EQ(kws_close_build(out, 1000, NULL, 0), 2);
	EXPECT(out[0] == 0x03 && out[1] == 0xe8);
	EXPECT_EQ(kws_close_build(out, 4999, reason, 123), 125);
	EXPECT_EQ(kws_close_check(out, 125, &code, 1), 0);
	EXPECT_EQ(code, 4999);
	EXPECT_EQ(kws_close_build(out, 1000, reason, 124), (u64)-1);
	EXPECT_EQ(kws_close_build(out, 1005, NULL, 0), (u64)-1);
	EXPECT_EQ(kws_close_build(out, 1006, NULL, 0), (u64)-1);
	EXPECT_EQ(kws_close_build(out, 1015, NULL, 0), (u64)-1);
	EXPECT_EQ(kws_close_build(out, 999, NULL, 0), (u64)-1);
}

/* ---- UTF-8 validator ------------------------------------------------- */

/* Feed @s split at @cut; the verdict: 1 valid, 0 invalid, 2 prefix only. */
static int kws_verdict(const u8 *s, size_t n, size_t cut, const u8 *mask,
		       u32 phase)
{
	u32 st = KWS_UTF8_ACCEPT;
	int r;

	if (mask) {
		r = kws_utf8_feed_masked(&st, s, cut, mask, phase);
		if (!r)
			r = kws_utf8_feed_masked(&st, s + cut, n - cut, mask,
						 phase + cut);
	} else {
		r = kws_utf8_feed(&st, s, cut);
		if (!r)
			r = kws_utf8_feed(&st, s + cut, n - cut);
	}
	if (r) {
		if (st != KWS_UTF8_REJECT)
			return -1;
		return 0;
	}
	return st == KWS_UTF8_ACCEPT ? 1 : 2;
}

static void t_utf8_autobahn6(u8 role)
{
	u8 b[256];
	size_t i, n, cut;

	(void)role;
	for (i = 0; i < ARRAY_SIZE(autobahn6_cases); i++) {
		n = hex2bin(b, autobahn6_cases[i].hex);
		for (cut = 0; cut <= n; cut++) {
			int v = kws_verdict(b, n, cut, NULL, 0);

			if ((v == 1) != autobahn6_cases[i].valid) {
				EXPECT_EQ(v, autobahn6_cases[i].valid);
				printf("#   case %s cut %zu\n",
				       autobahn6_cases[i].id, cut);
				return;
			}
		}
	}
}

static void t_utf8_boundaries(u8 role)
{
	/* Markus Kuhn's UTF-8 decoder stress test, sections 2 to 5. */
	static const struct { const char *hex; int want; } v[] = {
		{ "00", 1 }, { "c280", 1 }, { "e0a080", 1 }, { "f0908080", 1 },
		{ "7f", 1 }, { "dfbf", 1 }, { "efbfbf", 1 }, { "f48fbfbf", 1 },
		{ "ed9fbf", 1 }, { "ee8080", 1 }, { "efbfbd", 1 },
		{ "f4908080", 0 }, { "f7bfbfbf", 0 }, { "f888808080", 0 },
		{ "fc8480808080", 0 },
		/* Overlongs: "/" in 2-4 bytes, then the largest overlongs. */
		{ "c0af", 0 }, { "e080af", 0 }, { "f08080af", 0 },
		{ "c1bf", 0 }, { "e09fbf", 0 }, { "f08fbfbf", 0 },
		{ "c080", 0 }, { "e08080", 0 }, { "f0808080", 0 },
		/* Surrogates, lone and paired. */
		{ "eda080", 0 }, { "edadbf", 0 }, { "edae80", 0 },
		{ "edafbf", 0 }, { "edb080", 0 }, { "edbe80", 0 },
		{ "edbfbf", 0 }, { "eda080edb080", 0 }, { "edafbfedbfbf", 0 },
		/* Noncharacters are valid UTF-8. */
		{ "efbfbe", 1 }, { "f09fbfbe", 1 }, { "f48fbfbe", 1 },
		/* Stray continuations, impossible bytes, truncations. */
		{ "80", 0 }, { "bf", 0 }, { "41bf42", 0 }, { "fe", 0 },
		{ "ff", 0 }, { "c2", 0 }, { "e0a0", 0 }, { "f09080", 0 },
		{ "c241", 0 }, { "e0a041", 0 }, { "f0908041", 0 },
		{ "f5808080", 0 },
	};
	u8 b[64];
	size_t i, n, cut;

	(void)role;
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		n = hex2bin(b, v[i].hex);
		for (cut = 0; cut <= n; cut++) {
			int got = kws_verdict(b, n, cut, NULL, 0);

			if ((got == 1) != v[i].want || got < 0) {
				EXPECT_EQ(got, v[i].want);
				printf("#   %s cut %zu\n", v[i].hex, cut);
			}
		}
	}
}

static size_t encode_cp(u8 *o, u32 cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | (cp >> 6 & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | (cp >> 12 & 0x3f);
	o[2] = 0x80 | (cp >> 6 & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static void t_utf8_every_code_point(u8 role)
{
	u8 b[8];
	u32 cp;
	size_t n;

	(void)role;
	/* Every scalar value is accepted, every surrogate and past-max not. */
	for (cp = 0; cp <= 0x13ffff; cp++) {
		int want = cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);

		n = encode_cp(b, cp);
		if (kws_verdict(b, n, 0, NULL, 0) != want) {
			EXPECT_EQ(kws_verdict(b, n, 0, NULL, 0), want);
			printf("#   U+%04X\n", cp);
			return;
		}
	}
}

/* All short byte strings against the reference, as valid or prefix. */
static void t_utf8_exhaustive_short(u8 role)
{
	u8 b[4];
	u32 x;
	int v, want;

	(void)role;
	for (x = 0; x < (1U << 24); x++) {
		size_t n = 3;

		b[0] = x >> 16;
		b[1] = x >> 8;
		b[2] = x;
		v = kws_verdict(b, n, x % 4, NULL, 0);
		want = ref_utf8_valid(b, n);
		if ((v == 1) != want) {
			EXPECT_EQ(v, want);
			printf("#   %02x %02x %02x\n", b[0], b[1], b[2]);
			return;
		}
	}
	/* 4-byte strings led by F0..F7 with bytes near the tail ranges. */
	for (x = 0; x < 8 * 72 * 72 * 72; x++) {
		u32 r = x;

		b[0] = 0xf0 + r % 8;
		r /= 8;
		b[1] = 0x78 + r % 72;
		r /= 72;
		b[2] = 0x78 + r % 72;
		r /= 72;
		b[3] = 0x78 + r % 72;
		v = kws_verdict(b, 4, x % 5, NULL, 0);
		want = ref_utf8_valid(b, 4);
		if ((v == 1) != want) {
			EXPECT_EQ(v, want);
			printf("#   %02x %02x %02x %02x\n", b[0], b[1], b[2],
			       b[3]);
			return;
		}
	}
}

/* Random strings through the word paths, plain and masked, any split. */
static void t_utf8_random_vs_reference(u8 role)
{
	static const u32 cps[] = { 0x41, 0x7f, 0xe9, 0x7ff, 0x800, 0x20ac,
				   0xfffd, 0x10000, 0x1f600, 0x10ffff };
	u8 s[1200], masked[1200], key[4];
	int iter, v, want;

	(void)role;
	for (iter = 0; iter < 200000; iter++) {
		size_t n = 0, cut, target = rng() % 64 + (iter & 1 ? 200 : 0) +
				   (iter % 8 == 1 ? rng() % 900 : 0);
		u32 phase = rng() % 4;

		while (n + 4 < target) {
			u64 r = rng();

			if (r % 3 == 0) {
				s[n++] = 'a' + r % 26;
				continue;
			}
			n += encode_cp(s + n, cps[(r >> 8) % ARRAY_SIZE(cps)]);
		}
		/* Corrupt one byte in half the strings. */
		if ((iter & 2) && n)
			s[rng() % n] = rng();
		cut = n ? rng() % (n + 1) : 0;
		want = ref_utf8_valid(s, n);
		v = kws_verdict(s, n, cut, NULL, 0);
		if (v == 2)
			v = 0;
		EXPECT_EQ(v, want);
		/* Masked: the same verdict, at every phase and offset. */
		{
			u64 r = rng();

			memcpy(key, &r, 4);
		}
		kws_mask_copy(masked, s, n, key, phase);
		v = kws_verdict(masked, n, cut, key, phase);
		if (v == 2)
			v = 0;
		EXPECT_EQ(v, want);
		if (test_failed)
			return;
	}
}

/*
 * Long spans are validated as two halves meeting at a seam near the
 * middle: every single-byte change of a valid text, at every position
 * around the seam, against the reference.
 */
static void t_utf8_two_halves(u8 role)
{
	static const u8 subst[] = { 0x80, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xf0,
				    0xf4, 0xf5, 'a' };
	static const u32 cps[] = { 0xe9, 0x20ac, 0x1f600, 0x61 };
	u8 s[200], masked[200], key[4] = { 1, 2, 3, 4 };
	size_t n, i, k, cut;
	int v, want;

	(void)role;
	for (n = 60; n < 140; n++) {
		size_t len = 0;

		while (len + 4 <= n)
			len += encode_cp(s + len, cps[(len * 7 + n) % 4]);
		for (i = 0; i < len; i++) {
			for (k = 0; k <= ARRAY_SIZE(subst); k++) {
				u8 keep = s[i];

				if (k < ARRAY_SIZE(subst))
					s[i] = subst[k];
				want = ref_utf8_valid(s, len);
				cut = (i * 13 + k) % 3 ? 0 : (i * 5) % (len + 1);
				v = kws_verdict(s, len, cut, NULL, 0);
				EXPECT_EQ(v == 1, want);
				kws_mask_copy(masked, s, len, key, i);
				v = kws_verdict(masked, len, cut, key, i);
				EXPECT_EQ(v == 1, want);
				s[i] = keep;
				if (test_failed) {
					printf("#   len %zu at %zu subst %zu\n",
					       len, i, k);
					return;
				}
			}
		}
	}
}

static void t_utf8_fail_fast(u8 role)
{
	u8 b[256];
	size_t n, bad, k;
	u32 st;

	(void)role;
	/*
	 * A valid prefix, then the byte that proves the input invalid: the
	 * call that hands in that byte fails, whatever came before it.
	 */
	memset(b, 'a', sizeof(b));
	for (n = 0; n < 100; n++) {
		for (bad = 0; bad < 4; bad++) {
			static const char *const bads[] = {
				"\xf4\x90", "\xed\xa0", "\xc0", "\xe0\x80",
			};
			const char *x = bads[bad];

			memset(b, 'a', sizeof(b));
			for (k = 0; k + 1 < n; k += 2)
				memcpy(b + k, "\xc3\xa9", 2);
			memcpy(b + n, x, strlen(x));
			for (k = 0; k <= n; k++) {
				st = KWS_UTF8_ACCEPT;
				EXPECT_EQ(kws_utf8_feed(&st, b, k), 0);
				EXPECT_EQ(kws_utf8_feed(&st, b + k,
							n + strlen(x) - k),
					  (u64)-1);
				EXPECT_EQ(st, KWS_UTF8_REJECT);
				/* Sticky. */
				EXPECT_EQ(kws_utf8_feed(&st, b, 1), (u64)-1);
			}
			if (test_failed) {
				printf("#   n %zu bad %zu\n", n, bad);
				return;
			}
		}
	}
}

/* ---- masking ------------------------------------------------------------- */

static void t_mask_vs_reference(u8 role)
{
	u8 src[200 + 16], dst[200 + 32], ref[200], key[4];
	size_t len, so, dof, i;
	u32 phase, got;

	(void)role;
	for (i = 0; i < sizeof(src); i++)
		src[i] = rng();
	for (len = 0; len <= 200; len++) {
		for (phase = 0; phase < 8; phase++) {
			for (so = 0; so < 8; so++) {
				for (dof = 0; dof < 8; dof++) {
					u64 r = rng();

					memcpy(key, &r, 4);
					for (i = 0; i < len; i++)
						ref[i] = src[so + i] ^
							 key[(phase + i) & 3];
					memset(dst, 0xa5, sizeof(dst));
					got = kws_mask_copy(dst + 8 + dof,
							    src + so, len, key,
							    phase);
					EXPECT_EQ(got, (phase + len) & 3);
					EXPECT(!memcmp(dst + 8 + dof, ref, len));
					/* Nothing outside dst[0..len) touched. */
					for (i = 0; i < 8 + dof; i++)
						EXPECT_EQ(dst[i], 0xa5);
					for (i = 8 + dof + len; i < sizeof(dst);
					     i++)
						EXPECT_EQ(dst[i], 0xa5);
					/* In place. */
					memcpy(dst + dof, src + so, len);
					kws_mask_copy(dst + dof, dst + dof, len,
						      key, phase);
					EXPECT(!memcmp(dst + dof, ref, len));
					if (test_failed) {
						printf("#   len %zu phase %u src+%zu dst+%zu\n",
						       len, phase, so, dof);
						return;
					}
				}
			}
		}
	}
}

static void t_mask_chained_phases(u8 role)
{
	u8 src[1000], a[1000], b[1000];
	size_t i, cut1, cut2;
	u32 ph;

	(void)role;
	for (i = 0; i < sizeof(src); i++)
		src[i] = rng();
	kws_mask_copy(a, src, sizeof(src), key_rfc, 0);
	/* Unmasking in three pieces, chaining the returned phase. */
	for (cut1 = 0; cut1 < 40; cut1++) {
		cut2 = cut1 + 1 + rng() % 500;
		ph = kws_mask_copy(b, a, cut1, key_rfc, 0);
		ph = kws_mask_copy(b + cut1, a + cut1, cut2 - cut1, key_rfc, ph);
		kws_mask_copy(b + cut2, a + cut2, sizeof(src) - cut2, key_rfc,
			      ph);
		EXPECT(!memcmp(b, src, sizeof(src)));
	}
}

/* ---- parser misc -------------------------------------------------------- */

static void t_builtin_selftest(u8 role)
{
	const char *failed = NULL;

	(void)role;
	EXPECT_EQ(kws_codec_selftest(&failed), 0);
	if (failed)
		printf("#   failed: %s\n", failed);
}

static void t_parser_state_size(u8 role)
{
	(void)role;
	printf("#   sizeof(struct kws_parser) = %zu\n",
	       sizeof(struct kws_parser));
	/* Per connection in the kernel: keep it within 200 bytes. */
	EXPECT(sizeof(struct kws_parser) <= 200);
}

static void t_recv_many_frames_one_span(u8 role)
{
	struct buf s = { 0 }, want = { 0 };
	struct cfg c = role_cfg(role);
	u8 payload[300];
	int i;

	/* Many small frames of all kinds back to back in one span. */
	for (i = 0; i < 40; i++) {
		size_t n = rng() % sizeof(payload), k;
		u8 op = (i % 3 == 0) ? KWS_OP_BINARY : KWS_OP_TEXT;

		for (k = 0; k < n; k++)
			payload[k] = op == KWS_OP_TEXT ? 'a' + k % 26 : rng();
		if (i % 5 == 4) {
			n %= 126;
			put_frame(&s, KWS_OP_PING, 1, payload, n, role == SRV);
			log_ctrl(&want, KWS_OP_PING, 0, payload, n);
			continue;
		}
		put_frame(&s, op, 0, payload, n / 2, role == SRV);
		put_frame(&s, KWS_OP_CONT, 1, payload + n / 2, n - n / 2,
			  role == SRV);
		log_data(&want, op, 1, 0, payload, n / 2);
		log_data(&want, op, 0, 1, payload + n / 2, n - n / 2);
	}
	check_stream(&c, &s, &want);
	buf_free(&s);
	buf_free(&want);
}

#define T(fn, role)	{ #fn, fn, role }
#define PAIR(srv, cli, fn) \
	{ srv, fn, SRV }, { cli, fn, CLI }

static const struct test tests[] = {
	/* RFC 6455 5.7 examples */
	PAIR("server_recv_masked_hello", "client_recv_unmasked_hello",
	     t_recv_rfc_hello),
	PAIR("server_recv_fragmented_hello", "client_recv_fragmented_hello",
	     t_recv_rfc_fragmented),
	PAIR("server_recv_pong_hello", "client_recv_ping_hello",
	     t_recv_rfc_ping_pong),
	PAIR("server_recv_binary_256", "client_recv_binary_256",
	     t_recv_rfc_binary_256),
	PAIR("server_recv_binary_64k", "client_recv_binary_64k",
	     t_recv_rfc_binary_64k),
	{ "mask_rfc_hello", t_mask_rfc_hello, 0 },
	/* Lengths (RFC 6455 5.2) */
	{ "frame_roundtrip_lengths", t_frame_roundtrip_lengths, 0 },
	{ "frame_parse_fields", t_frame_parse_fields, 0 },
	{ "frame_parse_nonminimal", t_frame_parse_nonminimal, 0 },
	{ "frame_parse_length_msb", t_frame_parse_msb, 0 },
	PAIR("server_recv_length_boundaries",
	     "client_recv_length_boundaries", t_recv_length_boundaries),
	PAIR("server_recv_huge_lengths", "client_recv_huge_lengths",
	     t_recv_huge_lengths),
	PAIR("server_fail_length_msb", "client_fail_length_msb",
	     t_fail_length_msb),
	/* Receive rules, each with its close code */
	PAIR("server_fail_rsv_bits", "client_fail_rsv_bits", t_fail_rsv_bits),
	PAIR("server_fail_reserved_opcodes", "client_fail_reserved_opcodes",
	     t_fail_reserved_opcodes),
	PAIR("server_fail_control_too_long", "client_fail_control_too_long",
	     t_fail_control_too_long),
	PAIR("server_fail_control_fragmented",
	     "client_fail_control_fragmented", t_fail_control_fragmented),
	PAIR("server_fail_unmasked", "client_fail_masked",
	     t_fail_wrong_masking),
	PAIR("server_fail_orphan_continuation",
	     "client_fail_orphan_continuation", t_fail_orphan_continuation),
	PAIR("server_fail_interleaved_messages",
	     "client_fail_interleaved_messages", t_fail_interleaved_messages),
	PAIR("server_fail_message_too_big", "client_fail_message_too_big",
	     t_fail_message_too_big),
	PAIR("server_recv_control_interleaved",
	     "client_recv_control_interleaved", t_recv_control_interleaved),
	PAIR("server_recv_many_frames_one_span",
	     "client_recv_many_frames_one_span", t_recv_many_frames_one_span),
	/* UTF-8 in text messages (RFC 6455 8.1) */
	PAIR("server_fail_text_invalid_utf8", "client_fail_text_invalid_utf8",
	     t_fail_text_invalid_utf8),
	PAIR("server_fail_text_utf8_fast", "client_fail_text_utf8_fast",
	     t_fail_text_utf8_fast),
	PAIR("server_fail_text_truncated_at_eom",
	     "client_fail_text_truncated_at_eom", t_fail_text_truncated_at_eom),
	PAIR("server_recv_autobahn6_text", "client_recv_autobahn6_text",
	     t_recv_autobahn6_text),
	PAIR("server_recv_autobahn6_fragments",
	     "client_recv_autobahn6_fragments", t_recv_autobahn6_fragments),
	/* Close (RFC 6455 5.5.1, 7.4) */
	PAIR("server_recv_close_payloads", "client_recv_close_payloads",
	     t_recv_close_payloads),
	PAIR("server_recv_close_then_ignore", "client_recv_close_then_ignore",
	     t_recv_close_then_ignore),
	{ "close_code_valid", t_close_code_valid, 0 },
	{ "close_check", t_close_check, 0 },
	{ "close_build", t_close_build, 0 },
	/* The UTF-8 validator (RFC 3629) */
	{ "utf8_autobahn6_every_split", t_utf8_autobahn6, 0 },
	{ "utf8_kuhn_boundaries", t_utf8_boundaries, 0 },
	{ "utf8_every_code_point", t_utf8_every_code_point, 0 },
	{ "utf8_exhaustive_short", t_utf8_exhaustive_short, 0 },
	{ "utf8_random_vs_reference", t_utf8_random_vs_reference, 0 },
	{ "utf8_two_halves", t_utf8_two_halves, 0 },
	{ "utf8_fail_fast", t_utf8_fail_fast, 0 },
	/* Masking (RFC 6455 5.3) */
	{ "mask_vs_reference", t_mask_vs_reference, 0 },
	{ "mask_chained_phases", t_mask_chained_phases, 0 },
	{ "parser_state_size", t_parser_state_size, 0 },
	{ "builtin_selftest", t_builtin_selftest, 0 },
};

int main(int argc, char **argv)
{
	size_t i;
	int failures = 0;

	printf("1..%zu\n", ARRAY_SIZE(tests));
	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1])) {
			printf("ok %zu %s # SKIP not selected\n", i + 1,
			       tests[i].name);
			continue;
		}
		test_failed = 0;
		tests[i].fn(tests[i].role);
		printf("%s %zu %s\n", test_failed ? "not ok" : "ok", i + 1,
		       tests[i].name);
		failures += test_failed;
		fflush(stdout);
	}
	printf("# %zu tests, %d failed\n", ARRAY_SIZE(tests), failures);
	return failures ? 1 : 0;
}
