// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * A plain 8-bytes-a-step copy, built like the codec (no SSE/AVX): the
 * ceiling for any scalar loop that stores every byte, kws_mask_copy()
 * included. Comparing against it separates "the masking loop is slow"
 * from "scalar stores are narrower than glibc's vector stores".
 */
#include "../codec_priv.h"

void bench_scalar_copy(u8 *dst, const u8 *src, u64 len);

void bench_scalar_copy(u8 *dst, const u8 *src, u64 len)
{
	while (len >= 32) {
		u64 w0 = kws_load64(src), w1 = kws_load64(src + 8);
		u64 w2 = kws_load64(src + 16), w3 = kws_load64(src + 24);

		kws_store64(dst, w0);
		kws_store64(dst + 8, w1);
		kws_store64(dst + 16, w2);
		kws_store64(dst + 24, w3);
		dst += 32;
		src += 32;
		len -= 32;
	}
	while (len--)
		*dst++ = *src++;
}
