// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kws codec: built-in self-tests, small enough to run at module load.
 *
 * The host suite (codec/tests) is the thorough one; this is a check that
 * the codec built into a given kernel, compiler and architecture behaves:
 * the RFC 6455 5.7 examples, every receive rule with its close code, UTF-8
 * edge cases and masking at every phase, each stream fed whole and byte by
 * byte. No allocation, no libc; about 1 KiB of stack at most.
 */
#include "codec_priv.h"

struct kws_st_vec {
	const char *name;
	u8 role;
	u8 max_msg;		/* 0: no limit */
	u8 len;
	u8 in[24];
	/* the outcome: all data payload, then a control frame or an error */
	const char *data;	/* NULL: none */
	u8 eoms;		/* messages completed */
	u8 ctrl_op;
	u16 code;		/* close code of ctrl_op CLOSE, or the error */
	const char *ctrl;
};

#define C	KWS_ROLE_CLIENT
#define S	KWS_ROLE_SERVER

static const struct kws_st_vec kws_st_vecs[] = {
	/* RFC 6455 5.7 */
	{ "unmasked text", C, 0, 7, { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' },
	  .data = "Hello", .eoms = 1 },
	{ "masked text", S, 0, 11, { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				     0x7f, 0x9f, 0x4d, 0x51, 0x58 },
	  .data = "Hello", .eoms = 1 },
	{ "fragmented text", C, 0, 9, { 0x01, 0x03, 'H', 'e', 'l',
					0x80, 0x02, 'l', 'o' },
	  .data = "Hello", .eoms = 1 },
	{ "ping", C, 0, 7, { 0x89, 0x05, 'H', 'e', 'l', 'l', 'o' },
	  .ctrl_op = KWS_OP_PING, .ctrl = "Hello" },
	{ "masked pong", S, 0, 11, { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				     0x7f, 0x9f, 0x4d, 0x51, 0x58 },
	  .ctrl_op = KWS_OP_PONG, .ctrl = "Hello" },
	{ "16-bit length", C, 0, 7, { 0x82, 0x7e, 0x00, 0x03, 'a', 'b', 'c' },
	  .data = "abc", .eoms = 1 },
	{ "empty messages", C, 0, 6, { 0x81, 0x00, 0x01, 0x00, 0x80, 0x00 },
	  .eoms = 2 },
	{ "ping inside a message", C, 0, 8, { 0x01, 0x01, 'a', 0x89, 0x00,
					      0x80, 0x01, 'b' },
	  .data = "ab", .eoms = 1, .ctrl_op = KWS_OP_PING, .ctrl = "" },
	{ "close", C, 0, 5, { 0x88, 0x03, 0x03, 0xe8, 'x' },
	  .ctrl_op = KWS_OP_CLOSE, .code = 1000, .ctrl = "\x03\xe8x" },
	{ "close ends input", C, 0, 6, { 0x88, 0x00, 0x81, 0x01, 'a', 0xff },
	  .ctrl_op = KWS_OP_CLOSE, .code = 1005, .ctrl = "" },
	/* Receive rules */
	{ "rsv1", C, 0, 3, { 0xc1, 0x01, 'a' },
	  .code = 1002 },
	{ "opcode 3", C, 0, 2, { 0x83, 0x00 },
	  .code = 1002 },
	{ "opcode 0xb", C, 0, 2, { 0x8b, 0x00 },
	  .code = 1002 },
	{ "ping of 126", C, 0, 4, { 0x89, 0x7e, 0x00, 0x7e },
	  .code = 1002 },
	{ "fragmented ping", C, 0, 2, { 0x09, 0x00 },
	  .code = 1002 },
	{ "unmasked to server", S, 0, 3, { 0x81, 0x01, 'a' },
	  .code = 1002 },
	{ "masked to client", C, 0, 7, { 0x81, 0x81, 1, 2, 3, 4, 'a' },
	  .code = 1002 },
	{ "orphan continuation", C, 0, 3, { 0x80, 0x01, 'a' },
	  .code = 1002 },
	{ "text inside text", C, 0, 6, { 0x01, 0x01, 'a', 0x81, 0x01, 'b' },
	  .data = "a", .code = 1002 },
	{ "64-bit length MSB", C, 0, 10, { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 },
	  .code = 1002 },
	{ "too big", C, 4, 7, { 0x82, 0x05, '1', '2', '3', '4', '5' },
	  .code = 1009 },
	{ "too big in parts", C, 4, 8, { 0x02, 0x02, '1', '2', 0x80, 0x03, '3', '4' },
	  .data = "12", .code = 1009 },
	{ "surrogate", C, 0, 5, { 0x81, 0x03, 0xed, 0xa0, 0x80 },
	  .code = 1007 },
	{ "truncated", C, 0, 3, { 0x81, 0x01, 0xce },
	  .code = 1007 },
	{ "code point split", C, 0, 6, { 0x01, 0x01, 0xce, 0x80, 0x01, 0xba },
	  .data = "\xce\xba", .eoms = 1 },
	{ "close of 1 byte", C, 0, 3, { 0x88, 0x01, 0x03 },
	  .code = 1002 },
	{ "close 1005", C, 0, 4, { 0x88, 0x02, 0x03, 0xed },
	  .code = 1002 },
	{ "close reason", C, 0, 5, { 0x88, 0x03, 0x03, 0xe8, 0xc0 },
	  .code = 1007 },
};

#undef C
#undef S

struct kws_st_out {
	u8 data[16];
	u8 data_len;
	u8 eoms;
	u8 ctrl_op;
	u16 code;
	u8 ctrl[8];
	u8 ctrl_len;
	u8 bad;			/* an event broke the interface contract */
};

/*
 * Feed @in[0..len) in pieces of @step bytes (0: whole). Only whole frames
 * count as data: how much of a failing frame was handed out before its bad
 * byte depends on the pieces.
 */
static void kws_st_run(const struct kws_st_vec *v, unsigned int step,
		       struct kws_st_out *o)
{
	unsigned int pos = 0, i, frame_start = 0;
	struct kws_parser p;
	struct kws_event ev;
	u64 n, left;

	for (i = 0; i < sizeof(*o); i++)
		((u8 *)o)[i] = 0;
	kws_parser_init(&p, v->role, v->max_msg ? v->max_msg : ~0ULL, 0);
	while (pos < v->len && !o->code) {
		left = step && v->len - pos > step ? step : v->len - pos;
		for (;;) {
			n = kws_parser_feed(&p, v->in + pos, left, &ev);
			if (n > left || (ev.type == KWS_EV_DATA &&
					 ev.off + ev.len > n)) {
				o->bad = 1;
				return;
			}
			if (ev.type == KWS_EV_NONE)
				break;
			if (ev.type == KWS_EV_ERROR) {
				o->code = ev.code;
				o->data_len = frame_start;
				break;
			}
			if (ev.type == KWS_EV_CONTROL) {
				o->ctrl_op = ev.opcode;
				o->code = ev.code;
				o->ctrl_len = ev.len;
				if (ev.len > sizeof(o->ctrl)) {
					o->bad = 1;
					return;
				}
				for (i = 0; i < ev.len; i++)
					o->ctrl[i] = p.control[i];
			} else {
				if (o->data_len + ev.len > sizeof(o->data)) {
					o->bad = 1;
					return;
				}
				if (ev.masked)
					kws_mask_copy(o->data + o->data_len,
						      v->in + pos + ev.off,
						      ev.len, p.frame.mask,
						      ev.phase);
				else
					for (i = 0; i < ev.len; i++)
						o->data[o->data_len + i] =
							v->in[pos + ev.off + i];
				o->data_len += ev.len;
				o->eoms += !!(ev.flags & KWS_EV_EOM);
				if (ev.flags & KWS_EV_FRAME_END)
					frame_start = o->data_len;
			}
			pos += n;
			left -= n;
		}
		pos += left;
	}
}

static int kws_st_bytes_eq(const u8 *a, const char *b, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		if (!b[i] || a[i] != (u8)b[i])
			return 0;
	return !b[len];
}

static int kws_st_parser(const struct kws_st_vec *v)
{
	struct kws_st_out o;
	unsigned int step;

	/* Whole, byte by byte, and in threes. */
	for (step = 0; step <= 3; step += step ? 2 : 1) {
		kws_st_run(v, step, &o);
		if (o.bad || o.eoms != v->eoms || o.ctrl_op != v->ctrl_op ||
		    o.code != v->code ||
		    !kws_st_bytes_eq(o.data, v->data ? v->data : "",
				     o.data_len) ||
		    (v->ctrl && !kws_st_bytes_eq(o.ctrl, v->ctrl, o.ctrl_len)))
			return 0;
	}
	return 1;
}

static int kws_st_utf8(void)
{
	static const struct {
		u8 len, valid;
		u8 s[6];
	} v[] = {
		{ 2, 1, { 0xc2, 0x80 } }, { 3, 1, { 0xe0, 0xa0, 0x80 } },
		{ 4, 1, { 0xf0, 0x90, 0x80, 0x80 } },
		{ 4, 1, { 0xf4, 0x8f, 0xbf, 0xbf } },
		{ 3, 1, { 0xed, 0x9f, 0xbf } }, { 3, 1, { 0xef, 0xbf, 0xbf } },
		{ 2, 0, { 0xc0, 0xaf } }, { 2, 0, { 0xc1, 0xbf } },
		{ 3, 0, { 0xe0, 0x9f, 0xbf } }, { 4, 0, { 0xf0, 0x8f, 0xbf, 0xbf } },
		{ 3, 0, { 0xed, 0xa0, 0x80 } }, { 3, 0, { 0xed, 0xbf, 0xbf } },
		{ 4, 0, { 0xf4, 0x90, 0x80, 0x80 } }, { 1, 0, { 0xf5 } },
		{ 1, 0, { 0x80 } }, { 1, 0, { 0xfe } }, { 2, 0, { 0xe2, 0x82 } },
		{ 2, 0, { 0xc2, 0x41 } },
	};
	static const u8 key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	u8 text[80], masked[80];
	unsigned int i, k, at;
	u32 st, phase;
	int r;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		/* Alone, and inside ASCII long enough for the word paths. */
		for (at = 0; at < 70; at += 23) {
			for (k = 0; k < sizeof(text); k++)
				text[k] = 'a';
			for (k = 0; k < v[i].len; k++)
				text[at + k] = v[i].s[k];
			st = KWS_UTF8_ACCEPT;
			r = kws_utf8_feed(&st, text, at ? sizeof(text) :
					  v[i].len);
			if ((!r && st == KWS_UTF8_ACCEPT) != v[i].valid)
				return 0;
			for (phase = 0; phase < 4; phase++) {
				kws_mask_copy(masked, text, sizeof(text), key,
					      phase);
				st = KWS_UTF8_ACCEPT;
				r = kws_utf8_feed_masked(&st, masked,
							 sizeof(masked), key,
							 phase);
				if (at && (!r && st == KWS_UTF8_ACCEPT) !=
					  v[i].valid)
					return 0;
			}
		}
	}
	return 1;
}

static int kws_st_mask(void)
{
	static const u8 key[4] = { 0x01, 0x80, 0x7f, 0xfe };
	u8 src[48], dst[56];
	unsigned int len, off, i;
	u32 phase, ret;

	for (i = 0; i < sizeof(src); i++)
		src[i] = i * 37;
	for (len = 0; len <= 40; len++) {
		for (off = 0; off < 8; off++) {
			for (phase = 0; phase < 4; phase++) {
				ret = kws_mask_copy(dst + off, src, len, key,
						    phase);
				if (ret != ((phase + len) & 3))
					return 0;
				for (i = 0; i < len; i++)
					if (dst[off + i] !=
					    (src[i] ^ key[(phase + i) & 3]))
						return 0;
			}
		}
	}
	return 1;
}

int kws_codec_selftest(const char **failed)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kws_st_vecs); i++) {
		if (!kws_st_parser(&kws_st_vecs[i])) {
			*failed = kws_st_vecs[i].name;
			return -1;
		}
	}
	if (!kws_st_utf8()) {
		*failed = "UTF-8 validation";
		return -1;
	}
	if (!kws_st_mask()) {
		*failed = "masking";
		return -1;
	}
	return 0;
}
