// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kws codec: payload masking (RFC 6455 5.3), a word at a time.
 *
 * "Octet i of the transformed data is the XOR of octet i of the original
 * data with octet at index i modulo 4 of the masking key." Every 8-byte
 * word sees the same four key bytes twice, so once the mask is rotated to
 * the phase of the first word, whole words are XORed with one constant.
 */
#include "codec_priv.h"

u32 kws_mask_copy(u8 *dst, const u8 *src, u64 len, const u8 mask[4], u32 phase)
{
	u64 m;

	phase &= 3;
	/* Align the stores: a split store costs more than a split load. */
	while (len && ((unsigned long)dst & 7)) {
		*dst++ = *src++ ^ mask[phase];
		phase = (phase + 1) & 3;
		len--;
	}

	/* Whole words keep the phase: 8 is a multiple of 4. */
	m = kws_mask_word(mask, phase);
	/* Loads grouped ahead of stores: the loop is bound by stores. */
	while (len >= 64) {
		u64 w0 = kws_load64(src), w1 = kws_load64(src + 8);
		u64 w2 = kws_load64(src + 16), w3 = kws_load64(src + 24);
		u64 w4 = kws_load64(src + 32), w5 = kws_load64(src + 40);
		u64 w6 = kws_load64(src + 48), w7 = kws_load64(src + 56);

		kws_store64(dst, w0 ^ m);
		kws_store64(dst + 8, w1 ^ m);
		kws_store64(dst + 16, w2 ^ m);
		kws_store64(dst + 24, w3 ^ m);
		kws_store64(dst + 32, w4 ^ m);
		kws_store64(dst + 40, w5 ^ m);
		kws_store64(dst + 48, w6 ^ m);
		kws_store64(dst + 56, w7 ^ m);
		dst += 64;
		src += 64;
		len -= 64;
	}
	while (len >= 8) {
		kws_store64(dst, kws_load64(src) ^ m);
		dst += 8;
		src += 8;
		len -= 8;
	}

	while (len) {
		*dst++ = *src++ ^ mask[phase];
		phase = (phase + 1) & 3;
		len--;
	}
	return phase;
}
