// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kws codec: close frame payloads (RFC 6455 5.5.1, 7.4).
 */
#include "codec_priv.h"

int kws_close_code_valid(u16 code)
{
	/*
	 * RFC 6455 7.4.1 and the IANA "WebSocket Close Code Number" registry
	 * (7.4.2: 1000-2999 are the protocol's). 1005, 1006 and 1015 "MUST
	 * NOT be set as a status code in a Close control frame", 1004 is
	 * reserved, 1016-2999 are unassigned; 3000-3999 are for libraries and
	 * applications and 4000-4999 private. Below 1000 and past 4999 are
	 * not used at all.
	 */
	if (code >= 3000 && code <= 4999)
		return 1;
	switch (code) {
	case 1000 ... 1003:
	case 1007 ... 1014:
		return 1;
	default:
		return 0;
	}
}

u16 kws_close_check(const u8 *payload, u64 len, u16 *code, int check_utf8)
{
	u32 state = KWS_UTF8_ACCEPT;
	u16 c;

	/* RFC 6455 5.5.1: the body, if any, starts with a 2-byte code. */
	if (len == 0) {
		*code = KWS_CLOSE_NO_STATUS;
		return 0;
	}
	if (len == 1 || len > KWS_CONTROL_MAX)
		return KWS_CLOSE_PROTOCOL;
	c = (u16)(payload[0] << 8 | payload[1]);
	if (!kws_close_code_valid(c))
		return KWS_CLOSE_PROTOCOL;
	/* RFC 6455 5.5.1: "the data MAY contain a reason, UTF-8 encoded" */
	if (check_utf8 &&
	    (kws_utf8_feed(&state, payload + 2, len - 2) ||
	     state != KWS_UTF8_ACCEPT))
		return KWS_CLOSE_INVALID_DATA;
	*code = c;
	return 0;
}

int kws_close_build(u8 *out, u16 code, const u8 *reason, u64 reason_len)
{
	u64 i;

	if (code == 0)
		return reason_len ? -1 : 0;
	if (!kws_close_code_valid(code) || reason_len > KWS_CONTROL_MAX - 2)
		return -1;
	out[0] = code >> 8;
	out[1] = code;
	for (i = 0; i < reason_len; i++)
		out[2 + i] = reason[i];
	return 2 + reason_len;
}
