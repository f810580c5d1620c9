// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kws codec: incremental, fail-fast UTF-8 validation (RFC 3629 section 4).
 *
 * A shift-based DFA: the nine states of the RFC 3629 grammar are numbered
 * by a bit offset (6 * index), and each input byte has a 64-bit row whose
 * 6-bit field at a state's offset holds the offset of the next state. One
 * step is then "state = row[byte] >> state": the row load does not depend
 * on the state, so the loop-carried dependency is a single shift, and
 * multi-byte text runs at about a byte per cycle, with no branch per
 * character. Long spans run as two halves whose chains the CPU overlaps
 * (utf8_dual()), and ASCII words skip the DFA altogether.
 *
 * The grammar (RFC 3629 section 4), which rejects overlongs, surrogates
 * (U+D800..U+DFFF) and code points past U+10FFFF by construction:
 *
 *   UTF8-2 = %xC2-DF UTF8-tail
 *   UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *            %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *            %xF4 %x80-8F 2( UTF8-tail )
 */
#include "codec_priv.h"

enum kws_utf8_dfa_state {
	U8_ACCEPT,	/* at a character boundary */
	U8_REJECT,	/* sticky */
	U8_TAIL1,	/* one UTF8-tail byte to come */
	U8_TAIL2,	/* two UTF8-tail bytes to come */
	U8_E0,		/* after E0: A0..BF, then one tail */
	U8_ED,		/* after ED: 80..9F (no surrogates), then one tail */
	U8_F0,		/* after F0: 90..BF (no overlong), then two tails */
	U8_F1_F3,	/* after F1..F3: any tail, then two tails */
	U8_F4,		/* after F4: 80..8F (<= U+10FFFF), then two tails */
};

#define U8_OFF(s)		((u64)(s) * 6)
#define U8_FIELD(from, to)	(U8_OFF(to) << U8_OFF(from))

/* A row: the next state for each current state, in enum order. */
#define U8_ROW(acc, t1, t2, e0, ed, f0, f13, f4)			\
	(U8_FIELD(U8_ACCEPT, acc) | U8_FIELD(U8_REJECT, U8_REJECT) |	\
	 U8_FIELD(U8_TAIL1, t1) | U8_FIELD(U8_TAIL2, t2) |		\
	 U8_FIELD(U8_E0, e0) | U8_FIELD(U8_ED, ed) |			\
	 U8_FIELD(U8_F0, f0) | U8_FIELD(U8_F1_F3, f13) |		\
	 U8_FIELD(U8_F4, f4))

#define R			U8_REJECT
#define U8_LEAD(next)		U8_ROW(next, R, R, R, R, R, R, R)

static const u64 kws_utf8_rows[256] = {
	[0x00 ... 0x7f] = U8_ROW(U8_ACCEPT, R, R, R, R, R, R, R),
	[0x80 ... 0x8f] = U8_ROW(R, U8_ACCEPT, U8_TAIL1, R, U8_TAIL1,
				 R, U8_TAIL2, U8_TAIL2),
	[0x90 ... 0x9f] = U8_ROW(R, U8_ACCEPT, U8_TAIL1, R, U8_TAIL1,
				 U8_TAIL2, U8_TAIL2, R),
	[0xa0 ... 0xbf] = U8_ROW(R, U8_ACCEPT, U8_TAIL1, U8_TAIL1, R,
				 U8_TAIL2, U8_TAIL2, R),
	[0xc0 ... 0xc1] = U8_LEAD(R),		/* always overlong */
	[0xc2 ... 0xdf] = U8_LEAD(U8_TAIL1),
	[0xe0]		= U8_LEAD(U8_E0),
	[0xe1 ... 0xec] = U8_LEAD(U8_TAIL2),
	[0xed]		= U8_LEAD(U8_ED),
	[0xee ... 0xef] = U8_LEAD(U8_TAIL2),
	[0xf0]		= U8_LEAD(U8_F0),
	[0xf1 ... 0xf3] = U8_LEAD(U8_F1_F3),
	[0xf4]		= U8_LEAD(U8_F4),
	[0xf5 ... 0xff] = U8_LEAD(R),		/* past U+10FFFF */
};

#undef R

/*
 * One DFA step. Only the low six bits of @st are the state; the bits above
 * are left over from the row and ignored, which saves a mask per step.
 */
static inline u64 utf8_step(u64 st, u8 byte)
{
	return kws_utf8_rows[byte] >> (st & 63);
}

static inline u64 utf8_step_word(u64 st, u64 w)
{
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(0));
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(1));
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(2));
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(3));
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(4));
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(5));
	st = utf8_step(st, w >> KWS_BYTE_SHIFT(6));
	return utf8_step(st, w >> KWS_BYTE_SHIFT(7));
}

/* The mask byte for offset @i from a span at phase @phase, or 0. */
static inline u8 utf8_mask_byte(const u8 *mask, u32 phase, u64 i)
{
	return mask ? mask[(phase + i) & 3] : 0;
}

/*
 * One stream, from state @st over s[0..len); returns the state after it,
 * early on REJECT (sticky in the DFA anyway). @mask is NULL for plain
 * bytes: the word loop then XORs with 0, a cycle per 8 bytes.
 */
static u64 utf8_seq(u64 st, const u8 *s, u64 len, const u8 *mask,
		    u32 phase)
{
	u64 m = mask ? kws_mask_word(mask, phase) : 0, w;

	while (len >= 8) {
		w = kws_load64(s) ^ m;
		s += 8;
		len -= 8;
		/*
		 * Test the word before the state: in non-ASCII text the state
		 * at a word boundary is random, the word's high bits are not,
		 * so this order keeps the branch predictable.
		 */
		if (!(w & KWS_HIGH_BITS) && !(st & 63)) {
			/* ASCII at a character boundary: skip 16 bytes a step. */
			while (len >= 16) {
				w = (kws_load64(s) ^ m) | (kws_load64(s + 8) ^ m);
				if (w & KWS_HIGH_BITS)
					break;
				s += 16;
				len -= 16;
			}
			continue;
		}
		st = utf8_step_word(st, w);
		if (unlikely((st & 63) == U8_OFF(U8_REJECT)))
			return st;
	}

	/* Words keep the mask phase (8 is a multiple of 4). */
	while (len) {
		st = utf8_step(st, *s++ ^ utf8_mask_byte(mask, phase++, 0));
		len--;
		if (unlikely((st & 63) == U8_OFF(U8_REJECT)))
			return st;
	}
	return st;
}

/* Below this, splitting the span in two does not pay. */
#define U8_DUAL_MIN		64

static inline int utf8_is_tail(u8 byte)
{
	return (byte & 0xc0) == 0x80;
}

/*
 * Two streams at once. A DFA step depends on the previous one, so a single
 * stream runs at a step per cycle at best; two independent halves let the
 * CPU overlap their chains. UTF-8 is self-synchronizing: the second half
 * starts at a byte that is not a UTF8-tail, where a valid text must be at
 * a character boundary. So the second half starts in ACCEPT, and the first
 * half must end in ACCEPT, or the byte at the seam proves the text invalid
 * (every mid-character state rejects a byte that is not a tail).
 */
static u64 utf8_dual(u64 st, const u8 *s, u64 len, const u8 *mask,
		     u32 phase)
{
	u64 half = (len + 1) / 2, seam, n, st2 = U8_OFF(U8_ACCEPT), w, w2, m, m2;
	const u8 *a = s, *b;

	for (seam = half; seam < half + 4; seam++)
		if (!utf8_is_tail(s[seam] ^ utf8_mask_byte(mask, phase, seam)))
			break;
	/* RFC 3629: a character has at most three tails. */
	if (seam == half + 4)
		return U8_OFF(U8_REJECT);

	b = s + seam;
	m = mask ? kws_mask_word(mask, phase) : 0;
	m2 = mask ? kws_mask_word(mask, phase + seam) : 0;
	/* The second half is the shorter: seam >= len - seam. */
	for (n = (len - seam) / 8; n; n--) {
		w = kws_load64(a) ^ m;
		w2 = kws_load64(b) ^ m2;
		a += 8;
		b += 8;
		if ((w & KWS_HIGH_BITS) || (st & 63))
			st = utf8_step_word(st, w);
		if ((w2 & KWS_HIGH_BITS) || (st2 & 63))
			st2 = utf8_step_word(st2, w2);
		if (unlikely((st & 63) == U8_OFF(U8_REJECT) ||
			     (st2 & 63) == U8_OFF(U8_REJECT)))
			return U8_OFF(U8_REJECT);
	}

	st = utf8_seq(st, a, s + seam - a, mask, phase + (a - s));
	if ((st & 63) != U8_OFF(U8_ACCEPT))
		return U8_OFF(U8_REJECT);
	return utf8_seq(st2, b, s + len - b, mask, phase + (b - s));
}

/*
 * The length of the ASCII run at @s, rounded down to 32 bytes. Loads only,
 * so it runs at the load ports' rate; separate from the masked variant to
 * keep the XORs out of the common case.
 */
static u64 utf8_ascii_run(const u8 *s, u64 len)
{
	u64 n = 0;

	while (len - n >= 32 &&
	       !((kws_load64(s + n) | kws_load64(s + n + 8) |
		  kws_load64(s + n + 16) | kws_load64(s + n + 24)) &
		 KWS_HIGH_BITS))
		n += 32;
	return n;
}

static u64 utf8_ascii_run_masked(const u8 *s, u64 len, const u8 *mask,
				 u32 phase)
{
	u64 m = kws_mask_word(mask, phase), n = 0;

	while (len - n >= 32 &&
	       !(((kws_load64(s + n) ^ m) | (kws_load64(s + n + 8) ^ m) |
		  (kws_load64(s + n + 16) ^ m) | (kws_load64(s + n + 24) ^ m)) &
		 KWS_HIGH_BITS))
		n += 32;
	return n;
}

/*
 * The validator for both entry points. Fails within the call that hands in
 * the first byte that proves the input invalid.
 */
static int utf8_run(u32 *state, const u8 *s, u64 len, const u8 *mask,
		    u32 phase)
{
	u64 st;

	/* The public states are ACCEPT 0, REJECT 1, others U8_OFF(state). */
	if (*state == KWS_UTF8_REJECT)
		return -1;
	st = *state;

	/* An ASCII run at a character boundary: 32 bytes a step. */
	if (!st) {
		u64 skip = mask ? utf8_ascii_run_masked(s, len, mask, phase) :
				  utf8_ascii_run(s, len);

		/* A multiple of 32, so the mask phase is unchanged. */
		s += skip;
		len -= skip;
	}

	if (len >= U8_DUAL_MIN)
		st = utf8_dual(st, s, len, mask, phase);
	else
		st = utf8_seq(st, s, len, mask, phase);
	if ((st & 63) == U8_OFF(U8_REJECT)) {
		*state = KWS_UTF8_REJECT;
		return -1;
	}
	*state = st & 63;
	return 0;
}

int kws_utf8_feed(u32 *state, const u8 *s, u64 len)
{
	return utf8_run(state, s, len, NULL, 0);
}

int kws_utf8_feed_masked(u32 *state, const u8 *s, u64 len,
			 const u8 mask[4], u32 phase)
{
	return utf8_run(state, s, len, mask, phase);
}
