/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Private helpers of the codec .c files: unaligned stores, byte shifts,
 * close codes, and the few kernel macros a userspace build lacks.
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
 * Unaligned stores (kws_load64(), the loads, is in kws_codec.h):
 * __builtin_memcpy with a constant size becomes a single move on every
 * architecture that allows unaligned access, and never a call.
 */
static inline void kws_store64(u8 *p, u64 v)
{
	__builtin_memcpy(p, &v, sizeof(v));
}

/* The shift that brings byte @i (memory order) of a loaded word to 0..7. */
#if KWS_BIG_ENDIAN
#define KWS_BYTE_SHIFT(i)	(56 - 8 * (i))
#else
#define KWS_BYTE_SHIFT(i)	(8 * (i))
#endif

#endif /* KWS_CODEC_PRIV_H */
