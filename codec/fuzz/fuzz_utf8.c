// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Differential fuzzing of the UTF-8 validator against a reference decoder,
 * fed in random pieces, plain and masked at a random phase.
 *
 * Input: byte 0 seeds the pieces and picks the mask phase, bytes 1-4 are
 * the masking key, the rest is the text.
 */
#include "fuzz_common.h"

static int verdict(const u8 *s, size_t n, u64 seed, const u8 *key,
		   u32 phase)
{
	u32 st = KWS_UTF8_ACCEPT;
	size_t pos = 0;

	while (pos < n) {
		u64 r = fuzz_rng(&seed);
		size_t k = 1 + (r >> 8) % ((r & 1) ? 5 : 100);
		int ret;

		if (k > n - pos)
			k = n - pos;
		if (key)
			ret = kws_utf8_feed_masked(&st, s + pos, k, key,
						   phase + pos);
		else
			ret = kws_utf8_feed(&st, s + pos, k);
		FUZZ_ASSERT(ret == 0 || ret == -1);
		FUZZ_ASSERT(!ret == (st != KWS_UTF8_REJECT));
		if (ret)
			return 0;
		pos += k;
	}
	return st == KWS_UTF8_ACCEPT;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	u8 *masked;
	const u8 *s, *key;
	size_t n;
	u32 phase;
	int want;

	if (size < 5)
		return 0;
	key = data + 1;
	phase = data[0] >> 6;
	s = data + 5;
	n = size - 5;

	want = ref_utf8_valid(s, n);
	FUZZ_ASSERT(verdict(s, n, data[0] + 1, NULL, 0) == want);

	masked = malloc(n ? n : 1);
	FUZZ_ASSERT(masked);
	kws_mask_copy(masked, s, n, key, phase);
	FUZZ_ASSERT(verdict(masked, n, data[0] + 7, key, phase) == want);
	free(masked);
	return 0;
}
