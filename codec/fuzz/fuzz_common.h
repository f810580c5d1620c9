/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shared bits of the codec fuzz targets: a checked abort, a PRNG seeded
 * from the input (so chunkings reproduce from the crashing input alone).
 * The reference UTF-8 validator is shared with the unit tests.
 */
#ifndef KWS_FUZZ_COMMON_H
#define KWS_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kws_codec.h"
#include "../tests/ref_utf8.h"

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

#endif /* KWS_FUZZ_COMMON_H */
