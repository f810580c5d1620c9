/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The reference the codec's UTF-8 validator is checked against, by the
 * unit tests and the fuzz targets: slow and plainly correct.
 */
#ifndef KWS_REF_UTF8_H
#define KWS_REF_UTF8_H

#include "../kws_codec.h"

/* RFC 3629, the obvious way: decode each character and check its range. */
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

#endif /* KWS_REF_UTF8_H */
