// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Fuzz kws_parser_feed() with arbitrary byte streams in arbitrary chunks.
 *
 * Input: byte 0 picks role, KWS_PARSER_NO_UTF8 and rsv_allowed; bytes 1-2
 * pick max_msg; bytes 3-4 seed the chunking; the rest is the stream. Each
 * chunk is fed from its own exact-size allocation, so ASan sees any read
 * past it. Checked: no crash, consumed <= fed, events inside the bytes
 * consumed, progress, sticky errors, whole messages valid UTF-8 when text,
 * and -- the strong check -- that the chunked feed reports exactly what the
 * whole-stream feed does.
 */
#include "fuzz_common.h"

struct fz_log {
	u8 *p;
	size_t len, cap;
};

static void fz_put(struct fz_log *l, const void *p, size_t n)
{
	if (!l->p || l->len + n > l->cap) {
		l->cap = (l->len + n) * 2 + 256;
		l->p = realloc(l->p, l->cap);
		FUZZ_ASSERT(l->p);
	}
	if (n)
		memcpy(l->p + l->len, p, n);
	l->len += n;
}

struct fz_run {
	struct kws_parser p;
	struct fz_log log;	/* records, as in codec/tests */
	struct fz_log frame;	/* unmasked payload of the current frame */
	struct fz_log msg;	/* unmasked text message so far */
	int msg_open, failed;
	u8 frame_first;		/* KWS_EV_FIRST of the frame's first chunk */
	u64 frame_chunks;	/* chunks of the current frame so far */
};

static void fz_feed(struct fz_run *r, const u8 *in, u64 len)
{
	struct kws_event ev;
	u64 pos = 0, n;
	u8 rec[8];

	while (!r->failed) {
		n = kws_parser_feed(&r->p, in + pos, len - pos, &ev);
		FUZZ_ASSERT(n <= len - pos);
		switch (ev.type) {
		case KWS_EV_NONE:
			FUZZ_ASSERT(n == len - pos);
			return;
		case KWS_EV_DATA: {
			size_t at = r->frame.len;

			FUZZ_ASSERT(n > 0);
			FUZZ_ASSERT((u64)ev.off + ev.len <= n);
			FUZZ_ASSERT(ev.opcode == KWS_OP_TEXT ||
				    ev.opcode == KWS_OP_BINARY);
			FUZZ_ASSERT(!(ev.flags & KWS_EV_FIRST) == !!r->msg_open);
			FUZZ_ASSERT(ev.masked ==
				    (r->p.role == KWS_ROLE_SERVER));
			FUZZ_ASSERT(ev.len || (ev.flags & KWS_EV_FRAME_END));
			if (!r->frame_chunks++)
				r->frame_first = ev.flags & KWS_EV_FIRST;
			r->msg_open = 1;
			fz_put(&r->frame, in + pos + ev.off, ev.len);
			if (ev.masked && ev.len)
				kws_mask_copy(r->frame.p + at, r->frame.p + at,
					      ev.len, r->p.frame.mask, ev.phase);
			if (ev.opcode == KWS_OP_TEXT && r->msg.len < (1 << 20))
				fz_put(&r->msg, r->frame.p + at, ev.len);
			if (!(ev.flags & KWS_EV_FRAME_END))
				break;
			rec[0] = 'D';
			rec[1] = ev.opcode;
			rec[2] = (ev.flags & KWS_EV_EOM) | r->frame_first;
			fz_put(&r->log, rec, 3);
			fz_put(&r->log, &r->frame.len, sizeof(r->frame.len));
			fz_put(&r->log, r->frame.p, r->frame.len);
			r->frame.len = 0;
			r->frame_chunks = 0;
			if (ev.flags & KWS_EV_EOM) {
				/* RFC 6455 8.1: text messages are UTF-8. */
				if (ev.opcode == KWS_OP_TEXT &&
				    !(r->p.flags & KWS_PARSER_NO_UTF8) &&
				    r->msg.len < (1 << 20))
					FUZZ_ASSERT(ref_utf8_valid(r->msg.p,
								   r->msg.len));
				r->msg.len = 0;
				r->msg_open = 0;
			}
			break;
		}
		case KWS_EV_CONTROL:
			FUZZ_ASSERT(n > 0);
			FUZZ_ASSERT(ev.len <= KWS_CONTROL_MAX);
			FUZZ_ASSERT(ev.opcode == KWS_OP_CLOSE ||
				    ev.opcode == KWS_OP_PING ||
				    ev.opcode == KWS_OP_PONG);
			if (ev.opcode == KWS_OP_CLOSE)
				FUZZ_ASSERT(ev.code == 1005 ||
					    kws_close_code_valid(ev.code));
			rec[0] = 'C';
			rec[1] = ev.opcode;
			memcpy(rec + 2, &ev.code, 2);
			rec[4] = ev.len;
			fz_put(&r->log, rec, 5);
			fz_put(&r->log, r->p.control, ev.len);
			break;
		case KWS_EV_ERROR:
			FUZZ_ASSERT(ev.code == 1002 || ev.code == 1007 ||
				    ev.code == 1009);
			rec[0] = 'E';
			memcpy(rec + 1, &ev.code, 2);
			fz_put(&r->log, rec, 3);
			r->failed = 1;
			/* Sticky: consumes nothing, same code. */
			n = kws_parser_feed(&r->p, in, len, &ev);
			FUZZ_ASSERT(n == 0 && ev.type == KWS_EV_ERROR &&
				    ev.code == r->p.fail_code);
			return;
		}
		pos += n;
	}
}

static void fz_init(struct fz_run *r, const u8 *cfg)
{
	u64 max_msg;

	memset(r, 0, sizeof(*r));
	/* Never NULL, so "p + offset" is always defined. */
	fz_put(&r->log, NULL, 0);
	fz_put(&r->frame, NULL, 0);
	fz_put(&r->msg, NULL, 0);
	max_msg = cfg[1] == 0xff ? ~0ULL : (u64)cfg[1] << (cfg[2] & 31);
	kws_parser_init(&r->p, (cfg[0] & 1) ? KWS_ROLE_SERVER : KWS_ROLE_CLIENT,
			max_msg, (cfg[0] & 2) ? KWS_PARSER_NO_UTF8 : 0);
	r->p.rsv_allowed = (cfg[0] >> 2) & 7 & -((cfg[0] >> 5) & 1);
}

static void fz_done(struct fz_run *r)
{
	free(r->log.p);
	free(r->frame.p);
	free(r->msg.p);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct fz_run whole, chunked;
	u64 seed, pos = 0;
	const u8 *s;
	size_t len;

	if (size < 5)
		return 0;
	s = data + 5;
	len = size - 5;
	seed = ((u64)data[3] << 8 | data[4]) + 1;

	fz_init(&whole, data);
	fz_feed(&whole, s, len);

	fz_init(&chunked, data);
	while (pos < len && !chunked.failed) {
		u64 r = fuzz_rng(&seed), n;
		u8 *copy;

		/* Mostly tiny pieces, sometimes large ones. */
		n = 1 + (r >> 8) % ((r & 3) ? 9 : 4096);
		if (n > len - pos)
			n = len - pos;
		copy = malloc(n);
		FUZZ_ASSERT(copy);
		memcpy(copy, s + pos, n);
		fz_feed(&chunked, copy, n);
		free(copy);
		pos += n;
	}

	/* Records (whole frames, controls, errors) do not depend on chunks. */
	FUZZ_ASSERT(whole.log.len == chunked.log.len);
	FUZZ_ASSERT(!whole.log.len ||
		    !memcmp(whole.log.p, chunked.log.p, whole.log.len));
	fz_done(&whole);
	fz_done(&chunked);
	return 0;
}
