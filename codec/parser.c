// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * kws codec: the receive rules of RFC 6455 on top of the wire format.
 *
 * kws_parser_feed() walks a span in three phases per frame: gather the
 * header (at most 14 bytes, kept in p->hdr across calls), then either pass
 * data payload through as chunks of the caller's span (never copied,
 * validated as UTF-8 on the fly for text) or gather a control payload into
 * p->control. Every rule is checked as soon as the bytes it depends on are
 * in, so an error is reported the same way whatever the chunking of the
 * input, and as early as the input allows.
 */
#include "codec_priv.h"

#define KWS_EV_LEN_MAX		0xffffffffU	/* struct kws_event.len is u32 */

void kws_parser_init(struct kws_parser *p, u8 role, u64 max_msg, u8 flags)
{
	*p = (struct kws_parser){
		.max_msg = max_msg,
		.role = role,
		.flags = flags,
	};
}

static u64 parser_fail(struct kws_parser *p, struct kws_event *ev, u16 code,
		       u64 used)
{
	p->failed = 1;
	p->fail_code = code;
	ev->type = KWS_EV_ERROR;
	ev->code = code;
	return used;
}

/* The rules that the first two header bytes, @b0 and @b1, decide. */
static u16 parser_check_start(const struct kws_parser *p, u8 b0, u8 b1)
{
	u8 opcode = b0 & 0x0f, rsv = (b0 >> 4) & 7;
	int fin = b0 >> 7, masked = b1 >> 7;

	/*
	 * RFC 6455 5.2: "If a nonzero value is received and none of the
	 * negotiated extensions defines the meaning of such a nonzero value,
	 * the receiving endpoint MUST _Fail the WebSocket Connection_."
	 */
	if (rsv & ~p->rsv_allowed)
		return KWS_CLOSE_PROTOCOL;

	switch (opcode) {
	case KWS_OP_CONT:
		/* RFC 6455 5.4: continuation frames only follow a first one. */
		if (!p->msg_opcode)
			return KWS_CLOSE_PROTOCOL;
		break;
	case KWS_OP_TEXT:
	case KWS_OP_BINARY:
		/*
		 * RFC 6455 5.4: "fragments of one message MUST NOT be
		 * interleaved between the fragments of another message".
		 */
		if (p->msg_opcode)
			return KWS_CLOSE_PROTOCOL;
		break;
	case KWS_OP_CLOSE:
	case KWS_OP_PING:
	case KWS_OP_PONG:
		/*
		 * RFC 6455 5.5: "All control frames MUST have a payload
		 * length of 125 bytes or less and MUST NOT be fragmented."
		 * The 7-bit field decides: a 16- or 64-bit length on a control
		 * frame fails at once, even one that encodes <= 125, which
		 * 5.2 forbids anyway ("the minimal number of bytes MUST be
		 * used").
		 */
		if (!fin || (b1 & 0x7f) > KWS_CONTROL_MAX)
			return KWS_CLOSE_PROTOCOL;
		break;
	default:
		/*
		 * RFC 6455 5.2: "If an unknown opcode is received, the
		 * receiving endpoint MUST _Fail the WebSocket Connection_."
		 */
		return KWS_CLOSE_PROTOCOL;
	}

	/*
	 * RFC 6455 5.1: "The server MUST close the connection upon receiving
	 * a frame that is not masked" and "A client MUST close a connection
	 * if it detects a masked frame."
	 */
	if (p->role == KWS_ROLE_SERVER && !masked)
		return KWS_CLOSE_PROTOCOL;
	if (p->role == KWS_ROLE_CLIENT && masked)
		return KWS_CLOSE_PROTOCOL;
	return 0;
}

/* The header is complete in p->frame: the length rules, then set up. */
static u16 parser_start_frame(struct kws_parser *p)
{
	struct kws_frame *f = &p->frame;

	p->in_payload = 1;
	p->frame_left = f->len;
	p->phase = 0;

	if (f->opcode & 0x8) {
		p->control_len = 0;
		return 0;
	}

	if (f->opcode != KWS_OP_CONT) {
		p->msg_opcode = f->opcode;
		p->msg_first = 1;
		p->msg_len = 0;
		p->utf8 = KWS_UTF8_ACCEPT;
	}
	/*
	 * RFC 6455 10.4: implementations "MUST protect themselves against
	 * exceeding those limits"; 7.4.1: 1009 is for "a message that is too
	 * big for it to process". Checked at the header, before any payload
	 * of the frame is read. msg_len never exceeds max_msg, so the
	 * subtraction cannot wrap.
	 */
	if (f->len > p->max_msg - p->msg_len)
		return KWS_CLOSE_TOO_BIG;
	p->msg_len += f->len;
	return 0;
}

/* Header length announced by the second header byte. */
static unsigned int parser_hdr_need(u8 b1)
{
	unsigned int need = (b1 & 0x80) ? 2 + 4 : 2;

	if ((b1 & 0x7f) == 126)
		need += 2;
	else if ((b1 & 0x7f) == 127)
		need += 8;
	return need;
}

/*
 * Gather header bytes from @in[*used..@len). Returns 0 when the header is
 * still incomplete (everything consumed) or complete (p->in_payload set),
 * else the close code to fail with.
 */
static u16 parser_header(struct kws_parser *p, const u8 *in, u64 len,
			 u64 *used)
{
	const u8 *b = in + *used;
	unsigned int need;
	u16 err;
	int ret;

	/* A whole header in the span: parse it in place, no copy. */
	if (!p->hdr_len && len - *used >= 2) {
		need = parser_hdr_need(b[1]);
		if (len - *used >= need) {
			err = parser_check_start(p, b[0], b[1]);
			if (err) {
				*used += 2;
				return err;
			}
			*used += need;
			if (kws_frame_parse(&p->frame, b, need) < 0)
				return KWS_CLOSE_PROTOCOL;
			return parser_start_frame(p);
		}
	}

	/* Split header: gather it in p->hdr, checking what is decided. */
	if (p->hdr_len < 2) {
		while (p->hdr_len < 2 && *used < len)
			p->hdr[p->hdr_len++] = in[(*used)++];
		if (p->hdr_len < 2)
			return 0;
		err = parser_check_start(p, p->hdr[0], p->hdr[1]);
		if (err)
			return err;
	}
	need = parser_hdr_need(p->hdr[1]);
	while (p->hdr_len < need && *used < len)
		p->hdr[p->hdr_len++] = in[(*used)++];

	ret = kws_frame_parse(&p->frame, p->hdr, p->hdr_len);
	if (ret < 0)
		return KWS_CLOSE_PROTOCOL;	/* 64-bit length MSB set */
	if (ret == 0)
		return 0;
	return parser_start_frame(p);
}

static void parser_frame_done(struct kws_parser *p)
{
	p->in_payload = 0;
	p->hdr_len = 0;
}

static u64 parser_data(struct kws_parser *p, const u8 *in, u64 len, u64 used,
		       struct kws_event *ev)
{
	const struct kws_frame *f = &p->frame;
	u64 n = len - used;
	int bad;

	if (n > p->frame_left)
		n = p->frame_left;
	if (n > KWS_EV_LEN_MAX)
		n = KWS_EV_LEN_MAX;
	/* An empty frame still yields its (empty) chunk, below. */
	if (!n && p->frame_left)
		return used;

	if (p->msg_opcode == KWS_OP_TEXT && !(p->flags & KWS_PARSER_NO_UTF8)) {
		/*
		 * RFC 6455 8.1: "When an endpoint is to interpret a byte
		 * stream as UTF-8 but finds that the byte stream is not, in
		 * fact, a valid UTF-8 stream, that endpoint MUST _Fail the
		 * WebSocket Connection_." Checked before the chunk is given
		 * out, and at the end of the message for a truncated
		 * character.
		 */
		if (f->masked)
			bad = kws_utf8_feed_masked(&p->utf8, in + used, n,
						   f->mask, p->phase);
		else
			bad = kws_utf8_feed(&p->utf8, in + used, n);
		if (bad || (n == p->frame_left && f->fin &&
			    p->utf8 != KWS_UTF8_ACCEPT))
			return parser_fail(p, ev, KWS_CLOSE_INVALID_DATA,
					   used);
	}

	ev->type = KWS_EV_DATA;
	ev->opcode = p->msg_opcode;
	ev->masked = f->masked;
	ev->phase = p->phase;
	ev->off = used;		/* at most a header's length */
	ev->len = n;
	if (p->msg_first)
		ev->flags |= KWS_EV_FIRST;
	p->msg_first = 0;
	p->phase = (p->phase + n) & 3;
	p->frame_left -= n;
	if (!p->frame_left) {
		ev->flags |= KWS_EV_FRAME_END;
		if (f->fin) {
			ev->flags |= KWS_EV_EOM;
			p->msg_opcode = 0;
		}
		parser_frame_done(p);
	}
	return used + n;
}

static u64 parser_control(struct kws_parser *p, const u8 *in, u64 len,
			  u64 used, struct kws_event *ev)
{
	const struct kws_frame *f = &p->frame;
	u64 n = len - used;
	u16 err, code = 0;

	if (n > p->frame_left)
		n = p->frame_left;
	/* frame_left <= 125 here: parser_check_start() saw to it. */
	p->phase = kws_mask_copy(p->control + p->control_len, in + used, n,
				 f->mask, p->phase);
	p->control_len += n;
	p->frame_left -= n;
	used += n;
	if (p->frame_left)
		return used;

	parser_frame_done(p);
	if (f->opcode == KWS_OP_CLOSE) {
		err = kws_close_check(p->control, p->control_len, &code,
				      !(p->flags & KWS_PARSER_NO_UTF8));
		if (err)
			return parser_fail(p, ev, err, used);
		/*
		 * RFC 6455 1.4: "after receiving a control frame indicating
		 * the connection should be closed, a peer discards any
		 * further data received."
		 */
		p->closed = 1;
	}
	ev->type = KWS_EV_CONTROL;
	ev->opcode = f->opcode;
	ev->code = code;
	ev->len = p->control_len;
	return used;
}

u64 kws_parser_feed(struct kws_parser *p, const u8 *in, u64 len,
		    struct kws_event *ev)
{
	u64 used = 0;
	u16 err;

	*ev = (struct kws_event){ .type = KWS_EV_NONE };
	if (p->failed)
		return parser_fail(p, ev, p->fail_code, 0);
	if (p->closed)
		return len;

	if (!p->in_payload) {
		err = parser_header(p, in, len, &used);
		if (err)
			return parser_fail(p, ev, err, used);
		if (!p->in_payload)
			return used;
	}
	if (p->frame.opcode & 0x8)
		return parser_control(p, in, len, used, ev);
	return parser_data(p, in, len, used, ev);
}
