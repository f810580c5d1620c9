/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * kws codec: the RFC 6455 frame codec shared by kws.ko and libkws.
 *
 * Plain C with no kernel or libc dependency beyond fixed-width types, so the
 * same source files build into the module, into libkws and into the fuzzers.
 * Sans-I/O and push-style: the caller hands in byte spans (an skb fragment in
 * the kernel, a buffer in libkws) and gets back events. The state has a fixed
 * size, allocates nothing and keeps no input buffer, so it runs in softirq.
 *
 * Layers:
 *   kws_frame_*  wire format: header parse/build, length encodings;
 *   kws_mask_*   XOR masking, word at a time;
 *   kws_utf8_*   incremental, fail-fast UTF-8 validation;
 *   kws_close_*  close frame payload rules (RFC 6455 5.5.1, 7.4);
 *   kws_parser_* the receive rules: role masking, control frames,
 *                fragmentation order, size limit, UTF-8 of text messages.
 */
#ifndef KWS_CODEC_H
#define KWS_CODEC_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stddef.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#endif

#define KWS_FRAME_HDR_MAX	14	/* 2 + 8 (64-bit length) + 4 (mask) */
#define KWS_CONTROL_MAX		125	/* RFC 6455 5.5: control payload limit */

#define KWS_OP_CONT		0x0
#define KWS_OP_TEXT		0x1
#define KWS_OP_BINARY		0x2
#define KWS_OP_CLOSE		0x8
#define KWS_OP_PING		0x9
#define KWS_OP_PONG		0xa

#define KWS_ROLE_CLIENT		1
#define KWS_ROLE_SERVER		2

/* ---- wire format ------------------------------------------------------- */

struct kws_frame {
	u64	len;		/* payload length */
	u8	opcode;
	u8	fin;		/* 0 or 1 */
	u8	rsv;		/* RSV1..RSV3 as bits 2..0 */
	u8	masked;		/* 0 or 1 */
	u8	mask[4];	/* valid when masked */
};

/*
 * Parse the header at @buf. Returns the header length (2..14) and fills @f,
 * 0 if @len bytes are not enough yet (call again with more), or -1 if the
 * 64-bit length has its most significant bit set (RFC 6455 5.2: fail, 1002).
 * Non-minimal length encodings are accepted (Documentation/design.md).
 * Opcode and RSV rules are the parser's business, not this function's.
 */
int kws_frame_parse(struct kws_frame *f, const u8 *buf, u64 len);

/* Header length that kws_frame_build() writes for this payload length. */
unsigned int kws_frame_hdr_len(u64 payload_len, int masked);

/*
 * Write a header into @out (room for KWS_FRAME_HDR_MAX bytes) using the
 * minimal length encoding. @mask is NULL for an unmasked frame. Returns the
 * header length.
 */
unsigned int kws_frame_build(u8 *out, u8 opcode, int fin, u64 payload_len,
			     const u8 *mask);

/* ---- masking ----------------------------------------------------------- */

/*
 * dst[i] = src[i] ^ mask[(phase + i) & 3] for i < len; @dst may equal @src.
 * @phase is the payload offset of src[0] (only its low two bits matter).
 * Returns the phase after the last byte, for the next call.
 */
u32 kws_mask_copy(u8 *dst, const u8 *src, u64 len, const u8 mask[4], u32 phase);

/*
 * For loops that store the words themselves (the kernel's unmasking copy
 * into user memory) and the codec's own: kws_mask_word() is the key as a
 * word for payload whose first byte has phase @phase (byte i in memory order
 * is mask[(phase + i) & 3]); XORed into 8-byte words loaded with
 * kws_load64() it unmasks them and keeps the phase, 8 being a multiple of 4.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define KWS_BIG_ENDIAN		1
#else
#define KWS_BIG_ENDIAN		0
#endif

/*
 * An unaligned load: __builtin_memcpy with a constant size is a single move
 * on every architecture that allows unaligned access, and never a call (so
 * it may run with user access open), and free of aliasing UB.
 */
static inline u64 kws_load64(const u8 *p)
{
	u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline u64 kws_mask_word(const u8 mask[4], u32 phase)
{
	u32 m, sh = 8 * (phase & 3);

	__builtin_memcpy(&m, mask, sizeof(m));
	/* Move the word @sh bits towards lower addresses, wrapping. */
	if (sh && KWS_BIG_ENDIAN)
		m = m << sh | m >> (32 - sh);
	else if (sh)
		m = m >> sh | m << (32 - sh);
	return (u64)m << 32 | m;
}

/* ---- UTF-8 ------------------------------------------------------------- */

#define KWS_UTF8_ACCEPT		0	/* at a character boundary */
#define KWS_UTF8_REJECT		1	/* invalid; sticky */

/*
 * Feed @len bytes to the validator whose state is *@state (KWS_UTF8_ACCEPT
 * at message start). Returns 0 while the bytes seen can still be valid UTF-8,
 * -1 as soon as they cannot (overlongs, surrogates, > U+10FFFF, bad
 * continuation); *@state is then KWS_UTF8_REJECT. A message is valid only if
 * the state is KWS_UTF8_ACCEPT after its last byte.
 */
int kws_utf8_feed(u32 *state, const u8 *s, u64 len);

/* The same on masked bytes, unmasking on the fly (@phase as kws_mask_copy). */
int kws_utf8_feed_masked(u32 *state, const u8 *s, u64 len,
			 const u8 mask[4], u32 phase);

/* ---- close frames ------------------------------------------------------ */

/* 1 if @code may be sent in a close frame (RFC 6455 7.4.1, 7.4.2). */
int kws_close_code_valid(u16 code);

/*
 * Check a received close payload (unmasked). Returns 0 and sets *@code to
 * the status code (1005 when the payload is empty), or the close code to
 * fail the connection with: 1002 for a one-byte payload or a code that may
 * not be sent, 1007 for a reason that is not UTF-8 (when @check_utf8).
 */
u16 kws_close_check(const u8 *payload, u64 len, u16 *code, int check_utf8);

/*
 * Write a close payload (2-byte code then @reason) into @out, which has room
 * for KWS_CONTROL_MAX bytes. Returns its length, or -1 if the code may not be
 * sent or code + reason exceed 125 bytes. @code 0 writes an empty payload.
 */
int kws_close_build(u8 *out, u16 code, const u8 *reason, u64 reason_len);

/* ---- receive rules ----------------------------------------------------- */

#define KWS_PARSER_NO_UTF8	(1U << 0)	/* skip UTF-8 validation */

enum kws_event_type {
	KWS_EV_NONE,		/* all input consumed; feed more */
	KWS_EV_DATA,		/* a chunk of a data message's payload */
	KWS_EV_CONTROL,		/* a whole ping, pong or close frame */
	KWS_EV_ERROR,		/* fail the connection with ev->code */
};

/* kws_event.flags for KWS_EV_DATA */
#define KWS_EV_FIRST		(1U << 0)	/* first chunk of the message */
#define KWS_EV_FRAME_END	(1U << 1)	/* last chunk of its frame */
#define KWS_EV_EOM		(1U << 2)	/* last chunk of the message */

struct kws_event {
	enum kws_event_type type;
	u8	opcode;		/* DATA: TEXT or BINARY; CONTROL: its opcode */
	u8	flags;		/* DATA: KWS_EV_* */
	u8	masked;		/* DATA: chunk is still masked with p->frame.mask */
	u8	phase;		/* DATA: mask phase of the chunk's first byte */
	u16	code;		/* ERROR: close code to send. CONTROL close:
				 * the peer's code (1005 if none)
				 */
	u32	off;		/* DATA: chunk offset in the span fed */
	u32	len;		/* DATA: chunk length. CONTROL: payload length,
				 * payload (unmasked) in p->control
				 */
};

struct kws_parser {
	/* configuration, set by kws_parser_init() */
	u64	max_msg;	/* largest data message, bytes */
	u8	role;		/* KWS_ROLE_* */
	u8	flags;		/* KWS_PARSER_* */
	u8	rsv_allowed;	/* RSV bits negotiated by extensions (0) */

	/* frame being parsed */
	u8	hdr_len;	/* header bytes gathered in hdr[] */
	u8	hdr[KWS_FRAME_HDR_MAX];
	u8	in_payload;	/* header done, payload bytes pending */
	u8	closed;		/* close frame received: input is ignored */
	u8	failed;		/* error reported: sticky */
	u16	fail_code;
	struct kws_frame frame;
	u64	frame_left;	/* payload bytes of the frame still to come */
	u32	phase;		/* mask phase of the next payload byte */

	/* data message being assembled (utf8 first: no padding holes) */
	u32	utf8;		/* validator state of a text message */
	u64	msg_len;	/* payload bytes of the message so far */
	u8	msg_opcode;	/* TEXT/BINARY while a message is open, else 0 */
	u8	msg_first;	/* no chunk of the message emitted yet */

	/* control frame being gathered */
	u8	control_len;
	u8	control[KWS_CONTROL_MAX];
};

/*
 * Set up @p for a connection in @role (KWS_ROLE_*) accepting data messages of
 * at most @max_msg bytes (1009 beyond) with KWS_PARSER_* @flags.
 */
void kws_parser_init(struct kws_parser *p, u8 role, u64 max_msg, u8 flags);

/*
 * Consume bytes of @in[0..@len) and report at most one event in @ev.
 * Returns the number of bytes consumed. Call again with the rest of the span
 * until it returns with ev->type == KWS_EV_NONE, which means every byte fed so
 * far was consumed and more input is needed.
 *
 * KWS_EV_DATA: ev->len payload bytes of a data message are at @in + ev->off
 *   (inside the bytes consumed by this call), still masked if ev->masked.
 *   Text is already validated up to and including the chunk. A zero-length
 *   chunk is reported for a frame that ends with no payload, so that
 *   KWS_EV_EOM is never lost (zero-length messages are valid).
 * KWS_EV_CONTROL: a whole control frame; its payload is p->control[0..len).
 *   A close frame has been checked (kws_close_check); after it the parser
 *   consumes and ignores all input (RFC 6455 1.4: no data after close).
 * KWS_EV_ERROR: the peer broke the protocol; send a close frame with ev->code
 *   (1002, 1007 or 1009) and stop reading. The parser stays failed: later
 *   calls consume nothing and report the same error.
 */
u64 kws_parser_feed(struct kws_parser *p, const u8 *in, u64 len,
		    struct kws_event *ev);

/* ---- self-tests -------------------------------------------------------- */

/*
 * Run the built-in self-tests (codec/selftest.c: RFC 6455 examples, every
 * receive rule, UTF-8 edge cases, masking), e.g. at module load. Returns 0
 * if all pass, else -1 with *@failed naming the first failure.
 */
int kws_codec_selftest(const char **failed);

#endif /* KWS_CODEC_H */
