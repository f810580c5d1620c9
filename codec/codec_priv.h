/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Private helpers of the codec .c files: unaligned word access, the mask as
 * a word, close codes, and the few kernel macros a userspace build lacks.
 */
#ifndef KWS_CODEC_PRIV_H
#define KWS_CODEC_PRIV_H

#include "kws_codec.h"

#ifdef __KERNEL__
#include <linux/compiler.h>
#include <linux/kernel.h>
#else
#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#endif

/* RFC 6455 7.4.1: the close codes the codec itself produces. */
#define KWS_CLOSE_PROTOCOL	1002
#define KWS_CLOSE_NO_STATUS	1005
#define KWS_CLOSE_INVALID_DATA	1007
#define KWS_CLOSE_TOO_BIG	1009

#define KWS_HIGH_BITS		0x8080808080808080ULL

/*
 * Unaligned loads and stores. __builtin_memcpy with a constant size becomes
 * a single move on every architecture that allows unaligned access, and
 * never a call, so this is safe in the kernel and free of aliasing UB.
 */
static inline u64 kws_load64(const u8 *p)
{
	u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline void kws_store64(u8 *p, u64 v)
{
	__builtin_memcpy(p, &v, sizeof(v));
}

/* The shift that brings byte @i (memory order) of a loaded word to 0..7. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define KWS_BIG_ENDIAN		1
#define KWS_BYTE_SHIFT(i)	(56 - 8 * (i))
#else
#define KWS_BIG_ENDIAN		0
#define KWS_BYTE_SHIFT(i)	(8 * (i))
#endif

/*
 * The masking key as a word for data whose first byte has mask phase
 * @phase: byte i of the word, in memory order, is mask[(phase + i) & 3].
 */
static inline u64 kws_mask_word(const u8 mask[4], u32 phase)
{
	u32 m, sh = 8 * (phase & 3);

	__builtin_memcpy(&m, mask, sizeof(m));
	/* Move the word @sh bits towards lower addresses, wrapping. */
	if (sh && KWS_BIG_ENDIAN)
		m = m << sh | m >> (32 - sh);
	else if (sh)
		m = m >> sh | m << (32 - sh);
	return (u64)m << 32 | m;
}

#endif /* KWS_CODEC_PRIV_H */
