// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kws codec: the frame header wire format (RFC 6455 5.2).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-------+-+-------------+-------------------------------+
 *  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *  | |1|2|3|       |K|             |                               |
 *  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *  |     Extended payload length continued, if payload len == 127  |
 *  + - - - - - - - - - - - - - - - +-------------------------------+
 *  |                               |Masking-key, if MASK set to 1  |
 *  +-------------------------------+-------------------------------+
 */
#include "codec_priv.h"

#define KWS_LEN16		126	/* 7-bit length value: 16-bit length follows */
#define KWS_LEN64		127	/* 7-bit length value: 64-bit length follows */

int kws_frame_parse(struct kws_frame *f, const u8 *buf, u64 len)
{
	unsigned int need = 2, i;
	u8 len7;
	u64 plen;

	if (len < 2)
		return 0;
	len7 = buf[1] & 0x7f;
	if (len7 == KWS_LEN16)
		need += 2;
	else if (len7 == KWS_LEN64)
		need += 8;
	/*
	 * RFC 6455 5.2: "the most significant bit MUST be 0". Checked as soon
	 * as that byte is here, so a bad header fails before it is complete.
	 */
	if (len7 == KWS_LEN64 && len >= 3 && (buf[2] & 0x80))
		return -1;
	if (buf[1] & 0x80)
		need += 4;
	if (len < need)
		return 0;

	f->fin = buf[0] >> 7;
	f->rsv = (buf[0] >> 4) & 7;
	f->opcode = buf[0] & 0x0f;
	f->masked = buf[1] >> 7;

	/* Lengths are in network byte order (RFC 6455 5.2). */
	if (len7 == KWS_LEN16) {
		plen = (u64)buf[2] << 8 | buf[3];
		i = 4;
	} else if (len7 == KWS_LEN64) {
		plen = 0;
		for (i = 2; i < 10; i++)
			plen = plen << 8 | buf[i];
	} else {
		plen = len7;
		i = 2;
	}
	f->len = plen;

	if (f->masked) {
		f->mask[0] = buf[i];
		f->mask[1] = buf[i + 1];
		f->mask[2] = buf[i + 2];
		f->mask[3] = buf[i + 3];
	} else {
		f->mask[0] = 0;
		f->mask[1] = 0;
		f->mask[2] = 0;
		f->mask[3] = 0;
	}
	return need;
}

unsigned int kws_frame_hdr_len(u64 payload_len, int masked)
{
	unsigned int n = 2;

	if (payload_len > 0xffff)
		n += 8;
	else if (payload_len >= KWS_LEN16)
		n += 2;
	return masked ? n + 4 : n;
}

unsigned int kws_frame_build(u8 *out, u8 opcode, int fin, u64 payload_len,
			     const u8 *mask)
{
	unsigned int n, i;

	out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
	/* RFC 6455 5.2: "the minimal number of bytes MUST be used" */
	if (payload_len > 0xffff) {
		out[1] = KWS_LEN64;
		for (i = 0; i < 8; i++)
			out[2 + i] = payload_len >> (56 - 8 * i);
		n = 10;
	} else if (payload_len >= KWS_LEN16) {
		out[1] = KWS_LEN16;
		out[2] = payload_len >> 8;
		out[3] = payload_len;
		n = 4;
	} else {
		out[1] = payload_len;
		n = 2;
	}
	if (mask) {
		out[1] |= 0x80;
		for (i = 0; i < 4; i++)
			out[n + i] = mask[i];
		n += 4;
	}
	return n;
}
