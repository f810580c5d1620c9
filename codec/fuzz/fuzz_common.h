/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shared bits of the codec fuzz targets: a checked abort, a PRNG seeded
 * from the input (so chunkings reproduce from the crashing input alone),
 * and a reference UTF-8 validator written the obvious way.
 */
#ifndef KWS_FUZZ_COMMON_H
#define KWS_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kws_codec.h"

#define FUZZ_ASSERT(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: assertion failed: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

static inline u64 fuzz_rng(u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* RFC 3629: decode each character and check its range. */
static inline int ref_utf8_valid(const u8 *s, size_t n)
{
	size_t i = 0, k, len;
	u32 cp, min;

	while (i < n) {
		u8 c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

#endif /* KWS_FUZZ_COMMON_H */
