// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Round trip: build a valid stream of frames with kws_frame_build() and
 * kws_mask_copy() from fuzz-chosen opcode, FIN, length, mask and payload,
 * parse it back in fuzz-chosen chunks, and require the same frames.
 *
 * Input: byte 0 role, then per frame: opcode/fin selector, length (1 or 3
 * bytes), and the payload taken from the input; masking keys come from a
 * PRNG seeded by the input so every frame's key differs.
 */
#include "fuzz_common.h"

#define RT_MAX_FRAMES	64

struct rt_frame {
	u8 opcode, fin, first;
	u8 msg_op;	/* data frames: TEXT or BINARY of the message */
	const u8 *payload;
	u64 len;
};

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static u8 stream[1 << 20];
	struct rt_frame fr[RT_MAX_FRAMES];
	unsigned int nfr = 0, i = 0, hl, k;
	size_t in = 1, out = 0;
	int server, msg_open = 0;
	u64 seed = 1, pos, done;
	struct kws_parser p;
	struct kws_event ev;
	u8 hdr[KWS_FRAME_HDR_MAX], key[4], msg_op = 0;
	struct kws_frame f;

	if (size < 1)
		return 0;
	server = data[0] & 1;
	for (k = 0; k < size; k++)
		seed = seed * 31 + data[k];

	/* Build. */
	while (in + 2 <= size && nfr < RT_MAX_FRAMES) {
		u8 sel = data[in++];
		struct rt_frame *t = &fr[nfr];
		u64 len = data[in++];

		if (sel & 0x80 && in + 2 <= size) {	/* 16-bit and up */
			len = len << 8 | data[in++];
			len = len << (sel & 0x40 ? 2 : 0);
		}
		switch (sel & 3) {
		case 0:		/* control */
			t->opcode = KWS_OP_PING + (sel >> 2 & 1);
			t->fin = 1;
			len %= KWS_CONTROL_MAX + 1;
			break;
		default:	/* data: continue or start a message */
			t->opcode = msg_open ? KWS_OP_CONT :
				    (sel & 1) ? KWS_OP_TEXT : KWS_OP_BINARY;
			t->fin = !!(sel & 8);
			break;
		}
		if (len > size - in)
			len = size - in;
		if (out + KWS_FRAME_HDR_MAX + len > sizeof(stream))
			break;
		t->payload = data + in;
		t->len = len;
		in += len;
		t->first = !(t->opcode & 8) && !msg_open;
		if (!(t->opcode & 8)) {
			if (!msg_open)
				msg_op = t->opcode;
			msg_open = !t->fin;
			t->msg_op = msg_op;
		}

		if (server) {
			u64 r = fuzz_rng(&seed);

			memcpy(key, &r, sizeof(key));
		}
		hl = kws_frame_build(stream + out, t->opcode, t->fin, len,
				     server ? key : NULL);
		FUZZ_ASSERT(hl == kws_frame_hdr_len(len, server));
		/* The wire format alone round-trips, at every prefix. */
		for (k = 0; k < hl; k++)
			FUZZ_ASSERT(kws_frame_parse(&f, stream + out, k) == 0);
		FUZZ_ASSERT(kws_frame_parse(&f, stream + out, hl) == (int)hl);
		FUZZ_ASSERT(f.len == len && f.opcode == t->opcode &&
			    f.fin == t->fin && f.rsv == 0 &&
			    f.masked == server);
		FUZZ_ASSERT(!server || !memcmp(f.mask, key, 4));
		memcpy(hdr, stream + out, hl);
		out += hl;
		if (server)
			FUZZ_ASSERT(kws_mask_copy(stream + out, t->payload,
						  len, key, 0) == (len & 3));
		else
			memcpy(stream + out, t->payload, len);
		out += len;
		nfr++;
	}

	/* Parse back in chunks; TEXT is not UTF-8 checked here. */
	kws_parser_init(&p, server ? KWS_ROLE_SERVER : KWS_ROLE_CLIENT, ~0ULL,
			KWS_PARSER_NO_UTF8);
	pos = 0;
	done = 0;	/* payload bytes of fr[i] seen */
	while (pos < out) {
		u64 r = fuzz_rng(&seed), n = 1 + (r >> 8) % ((r & 1) ? 7 : 3000);
		u64 cpos = 0;
		u8 *copy;

		if (n > out - pos)
			n = out - pos;
		copy = malloc(n);
		FUZZ_ASSERT(copy);
		memcpy(copy, stream + pos, n);
		for (;;) {
			u64 used = kws_parser_feed(&p, copy + cpos, n - cpos,
						   &ev);

			FUZZ_ASSERT(ev.type != KWS_EV_ERROR);
			FUZZ_ASSERT(used <= n - cpos);
			if (ev.type == KWS_EV_NONE)
				break;
			FUZZ_ASSERT(i < nfr);
			if (ev.type == KWS_EV_CONTROL) {
				FUZZ_ASSERT(ev.opcode == fr[i].opcode);
				FUZZ_ASSERT(ev.len == fr[i].len);
				FUZZ_ASSERT(!memcmp(p.control, fr[i].payload,
						    ev.len));
				i++;
			} else {
				u8 tmp[3000];

				FUZZ_ASSERT(ev.len <= sizeof(tmp));
				FUZZ_ASSERT(!(fr[i].opcode & 8));
				FUZZ_ASSERT(ev.opcode == fr[i].msg_op);
				FUZZ_ASSERT(!!(ev.flags & KWS_EV_FIRST) ==
					    (fr[i].first && !done));
				FUZZ_ASSERT(done + ev.len <= fr[i].len);
				FUZZ_ASSERT(ev.masked == server);
				if (ev.masked)
					kws_mask_copy(tmp, copy + cpos + ev.off,
						      ev.len, p.frame.mask,
						      ev.phase);
				else
					memcpy(tmp, copy + cpos + ev.off,
					       ev.len);
				FUZZ_ASSERT(!memcmp(tmp, fr[i].payload + done,
						    ev.len));
				done += ev.len;
				FUZZ_ASSERT(!!(ev.flags & KWS_EV_FRAME_END) ==
					    (done == fr[i].len));
				FUZZ_ASSERT(!!(ev.flags & KWS_EV_EOM) ==
					    (done == fr[i].len && fr[i].fin));
				if (done == fr[i].len) {
					i++;
					done = 0;
				}
			}
			cpos += used;
		}
		free(copy);
		pos += n;
	}
	FUZZ_ASSERT(i == nfr);
	return 0;
}
