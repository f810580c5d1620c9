// SPDX-License-Identifier: GPL-2.0
/*
 * kws receive path: parse what TCP received into records, deliver them.
 *
 * Parsing pulls bytes out of TCP with tcp_read_sock(), from softirq
 * (data_ready, socket not owned), from a work item (data_ready found the
 * socket owned) or from recvmsg(). The codec walks the bytes in place; a data
 * chunk becomes a record that is a clone of the TCP skb plus offset, length,
 * mask and phase in skb->cb, so payload is never copied or written before
 * recvmsg() unmasks it into the user's buffer. Control frames are handled
 * at once (ctrl.c queues the pong or the close echo); their payload goes
 * into the small skb kept ready before a control frame's feed
 * (rx_small_spare), so they never need an allocation the parser could not
 * undo; a ping answered from ctl_frame at once needs none. The close the
 * application receives last (peer's close, our failure, or TCP EOF) is kept
 * in the context rather than in a record, its reason in that small skb.
 *
 * Bytes held in records are charged to ctx->rx_held; parsing stops pulling
 * from TCP at sk_rcvbuf, so the TCP window closes behind them.
 */
#include <linux/highmem.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "kws.h"

struct kws_rx_desc {
	struct sock	*sk;
	struct kws_ctx	*ctx;
	bool		stop;		/* stop pulling (limit or no memory) */
	bool		nomem;
	bool		queued;		/* a record or the close was queued */
	bool		kick;		/* ctrl.c has a frame to send */
	bool		pack;		/* small chunks seen: keep a pack spare */
	bool		pong_now;	/* kws_ctrl_pong_now() follows the pass */
};

void kws_rx_init(struct kws_ctx *ctx)
{
	__skb_queue_head_init(&ctx->rx_queue);
	__skb_queue_head_init(&ctx->rx_leftover);
	init_waitqueue_head(&ctx->rx_wq);
	INIT_DELAYED_WORK(&ctx->rx_work, kws_rx_work);
}

/*
 * The EPOLLIN rule: a whole message (or control record) is queued, or held
 * bytes reach half the receive buffer (a big message is then read in parts,
 * without MSG_EOR), or the close/EOF/an error is pending. Lockless.
 */
bool kws_rx_readable(const struct sock *sk, const struct kws_ctx *ctx)
{
	return READ_ONCE(ctx->rx_ready) || READ_ONCE(ctx->rx_eof) ||
	       READ_ONCE(ctx->rx_held) >= (u32)READ_ONCE(sk->sk_rcvbuf) / 2 ||
	       READ_ONCE(sk->sk_err) ||
	       (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN);
}

/*
 * Queue a record, charging @charge bytes to rx_held (what it pins beyond
 * what is already charged). rx_ready counts whole messages, not records: a
 * packed record may end several. Socket lock held.
 */
static void kws_rx_enqueue(struct kws_ctx *ctx, struct sk_buff *skb,
			   u32 charge)
{
	struct kws_rx_cb *cb = KWS_RX_CB(skb);

	cb->charge = charge;
	WRITE_ONCE(ctx->rx_held, ctx->rx_held + cb->charge);
	ctx->rx_payload += cb->len;
	if (cb->eom)
		WRITE_ONCE(ctx->rx_ready, ctx->rx_ready + 1);
	__skb_queue_tail(&ctx->rx_queue, skb);
}

/*
 * One chunk of a message on the queue: a whole record, or one segment of a
 * packed record. What kws_rx_deliver(), MSG_PEEK and SIOCINQ walk.
 */
struct kws_rx_chunk {
	struct sk_buff	*skb;
	u32		seg;		/* packed: offset of its header */
	u32		off;		/* first byte in skb */
	u32		len;
	u8		opcode;
	u8		eom;
};

/* Header @i of packed record @skb, at the end of its buffer. */
static struct kws_rx_seg *kws_rx_seg_hdr(const struct sk_buff *skb, u32 i)
{
	return (struct kws_rx_seg *)skb_end_pointer(skb) - i - 1;
}

/* Bytes a packed record can still take, headers included. */
static u32 kws_rx_pack_left(const struct sk_buff *skb)
{
	return skb_tailroom(skb) -
	       KWS_RX_CB(skb)->nseg * sizeof(struct kws_rx_seg);
}

static void kws_rx_chunk_seg(struct sk_buff *skb, u32 seg, u32 off,
			     struct kws_rx_chunk *c)
{
	const struct kws_rx_seg *h = kws_rx_seg_hdr(skb, seg);

	c->skb = skb;
	c->seg = seg;
	c->off = off;
	c->len = h->len;
	c->opcode = h->opcode;
	c->eom = h->eom;
}

/* The first chunk of record @skb. Socket lock held. */
static void kws_rx_chunk_first(struct sk_buff *skb, struct kws_rx_chunk *c)
{
	const struct kws_rx_cb *cb = KWS_RX_CB(skb);

	if (cb->packed) {
		kws_rx_chunk_seg(skb, cb->seg, cb->off, c);
		return;
	}
	c->skb = skb;
	c->seg = 0;
	c->off = cb->off;
	c->len = cb->len;
	c->opcode = cb->opcode;
	c->eom = cb->eom;
}

/* Step @c to the chunk after it; false at the end. Socket lock held. */
static bool kws_rx_chunk_next(const struct kws_ctx *ctx,
			      struct kws_rx_chunk *c)
{
	struct sk_buff *skb = c->skb;

	if (KWS_RX_CB(skb)->packed && c->seg + 1 < KWS_RX_CB(skb)->nseg) {
		kws_rx_chunk_seg(skb, c->seg + 1, c->off + c->len, c);
		return true;
	}
	skb = skb_peek_next(skb, &ctx->rx_queue);
	if (!skb)
		return false;
	kws_rx_chunk_first(skb, c);
	return true;
}

/* Socket lock held. */
static void kws_rx_unlink(struct kws_ctx *ctx, struct sk_buff *skb)
{
	struct kws_rx_cb *cb = KWS_RX_CB(skb);

	__skb_unlink(skb, &ctx->rx_queue);
	WRITE_ONCE(ctx->rx_held, ctx->rx_held - cb->charge);
	ctx->rx_payload -= cb->len;
	consume_skb(skb);
}

/*
 * @n bytes of the head chunk @c were delivered: uncharge them, step past
 * them, and free the record once it is all delivered. A packed record's
 * header counts what is left of its chunk (the skb is private).
 * Socket lock held.
 */
static void kws_rx_consume(struct kws_ctx *ctx, const struct kws_rx_chunk *c,
			   u32 n)
{
	struct sk_buff *skb = c->skb;
	struct kws_rx_cb *cb = KWS_RX_CB(skb);
	bool whole = n == c->len;

	cb->len -= n;
	cb->charge -= n;
	ctx->rx_payload -= n;
	WRITE_ONCE(ctx->rx_held, ctx->rx_held - n);
	if (whole && c->eom)
		WRITE_ONCE(ctx->rx_ready, ctx->rx_ready - 1);

	if (cb->packed) {
		cb->off += n;
		if (!whole) {
			kws_rx_seg_hdr(skb, c->seg)->len -= n;
			return;
		}
		if (++cb->seg < cb->nseg)
			return;
	} else {
		cb->off += n;
		cb->phase = (cb->phase + n) & 3;
		if (!whole)
			return;
	}
	kws_rx_unlink(ctx, skb);
}

/*
 * Make the close the last thing recvmsg() returns; @reason is a private
 * skb holding its reason, or NULL. Socket lock held.
 */
static void kws_rx_set_close(struct kws_ctx *ctx, u16 code, u16 flags,
			     struct sk_buff *reason)
{
	ctx->rx_close_code = code;
	ctx->rx_close_flags = flags;
	ctx->rx_close_len = reason ? reason->len : 0;
	ctx->rx_close_reason = reason;
	ctx->rx_stopped = 1;
	WRITE_ONCE(ctx->rx_eof, 1);
}

static unsigned int kws_stat_for_code(u16 code)
{
	switch (code) {
	case WS_CLOSE_INVALID_DATA:
		return KWS_STAT_ERR_INVALID_DATA;
	case WS_CLOSE_TOO_BIG:
		return KWS_STAT_ERR_TOO_BIG;
	case WS_CLOSE_INTERNAL:
		return KWS_STAT_ERR_KEEPALIVE;
	default:
		return KWS_STAT_ERR_PROTOCOL;
	}
}

/*
 * Fail the connection (RFC 6455 7.1.7): send a close with @code, read no
 * further, report the close to the application with WS_CLOSE_LOCAL after
 * the records already queued. Socket lock held (either form).
 */
void kws_rx_fail(struct sock *sk, struct kws_ctx *ctx, u16 code)
{
	if (ctx->rx_eof)
		return;
	ctx->rx_failed = code;
	kws_ctrl_queue_close(ctx, code);
	kws_rx_set_close(ctx, code, WS_CLOSE_LOCAL, NULL);
	kws_set_state(ctx);
	ctx->stats.protocol_errors++;
	kws_stats_inc(sock_net(sk), kws_stat_for_code(code));
	kws_ctrl_kick(ctx);
	ctx->saved_data_ready(sk);
}

/* A whole control frame; its payload is in ctx->parser.control. */
static void kws_rx_control(struct kws_rx_desc *rd, const struct kws_event *ev)
{
	struct kws_ctx *ctx = rd->ctx;
	const u8 *payload = ctx->parser.control;
	bool answered = ctx->flags & WS_F_NO_AUTO_PONG;
	struct sk_buff *skb;

	ctx->stats.rx_frames++;
	ctx->stats.rx_bytes += ev->len;

	/*
	 * RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
	 * send a Pong frame in response". Every ping gets its pong, built
	 * behind the others while flush is answering a run of pings (a ping
	 * of a flood then costs no skb), else held in the slot while parsing
	 * waits for flush, so a ping flood holds a page of pongs and is paced
	 * by the peer reading them. While the app's data frame is half sent
	 * the pong cannot go out; parsing goes on then (the app may be
	 * reading to unblock its peer) and a newer ping replaces the pong in
	 * the slot (5.5.3). ctrl.c: kws_ctrl_burst_pong().
	 */
	if (ev->opcode == WS_OP_PING && !answered) {
		rd->kick = true;
		answered = kws_ctrl_burst_pong(ctx, payload, ev->len,
					       rd->pong_now);
		if (answered && !(ctx->flags & WS_F_DELIVER_CONTROL))
			return;
	}

	/*
	 * The payload goes into the small spare kws_rx_actor() made sure of,
	 * shared by whoever keeps it: the pong, the delivered record, the
	 * close's reason. Nothing writes to it after this.
	 */
	skb = ctx->rx_small_spare;
	ctx->rx_small_spare = NULL;
	skb_put_data(skb, payload, ev->len);

	switch (ev->opcode) {
	case WS_OP_PING:
		if (!answered)
			kws_ctrl_queue_pong(ctx, skb);
		break;
	case WS_OP_PONG:
		/* 5.5.3: an unsolicited pong needs no answer. */
		ctx->stats.pongs_received++;
		ctx->ping_outstanding = 0;
		break;
	case WS_OP_CLOSE:
		/*
		 * 5.5.1: "If an endpoint receives a Close frame and did not
		 * previously send a Close frame, the endpoint MUST send a
		 * Close frame in response" -- with the same code, or empty.
		 * "It SHOULD do so as soon as practical" and "MAY delay
		 * sending a Close frame until its current message is sent":
		 * the echo waits until the application has read what came
		 * before the close, so it can still answer those messages
		 * (Autobahn 7.1.1). With nothing queued it goes now.
		 */
		ctx->close_rcvd = ev->code;
		/* The code is in ev->code; keep the reason, if any. */
		skb_pull(skb, min_t(u32, skb->len, 2));
		if (!skb->len) {
			consume_skb(skb);
			skb = NULL;
		}
		kws_rx_set_close(ctx, ev->code, 0, skb);
		if (!ctx->close_sent) {
			ctx->close_echo_wait = 1;
			if (skb_queue_empty(&ctx->rx_queue))
				kws_ctrl_echo_close(ctx);
		}
		kws_set_state(ctx);
		rd->kick = true;
		rd->queued = true;
		return;
	}

	if (!(ctx->flags & WS_F_DELIVER_CONTROL)) {
		consume_skb(skb);
		return;
	}
	*KWS_RX_CB(skb) = (struct kws_rx_cb){
		.len = ev->len,
		.opcode = ev->opcode,
		.eom = 1,
		.priv = 1,
	};
	kws_rx_enqueue(ctx, skb, skb->truesize);
	rd->queued = true;
}

/* Copy a chunk into a private record, unmasking it on the way. */
static void kws_rx_copy_in(struct sk_buff *rec, const u8 *src,
			   const struct kws_event *ev, const u8 *mask)
{
	u8 *dst = skb_put(rec, ev->len);

	if (ev->masked)
		kws_mask_copy(dst, src, ev->len, mask, ev->phase);
	else
		memcpy(dst, src, ev->len);
}

/* Append a chunk to packed record @rec as a segment of its own. */
static void kws_rx_put_seg(struct sk_buff *rec, const u8 *src,
			   const struct kws_event *ev, const u8 *mask,
			   bool eom)
{
	struct kws_rx_cb *cb = KWS_RX_CB(rec);

	*kws_rx_seg_hdr(rec, cb->nseg++) = (struct kws_rx_seg){
		.len = ev->len,
		.opcode = ev->opcode,
		.eom = eom,
	};
	kws_rx_copy_in(rec, src, ev, mask);
}

/*
 * A chunk of data payload at @src, which is offset @off of @skb. Small
 * chunks are copied into a packed record (the tail one while it has room),
 * so a record never pins a whole TCP skb for a few bytes and small messages
 * do not cost an allocation each; larger ones become a clone of @skb
 * (*@spare), charged by length.
 */
static void kws_rx_data(struct kws_rx_desc *rd, struct sk_buff *skb,
			u32 off, const u8 *src, const struct kws_event *ev,
			struct sk_buff **spare)
{
	struct kws_ctx *ctx = rd->ctx;
	const u8 *mask = ctx->parser.frame.mask;
	bool eom = ev->flags & KWS_EV_EOM;
	struct sk_buff *tail, *rec;
	struct kws_rx_cb *cb;

	/* Empty chunks matter only at a message end. */
	if (!ev->len && !eom)
		return;
	rd->queued = true;

	if (ev->len > KWS_RX_COPY_MAX)
		goto by_ref;

	/*
	 * Into the tail record when it is packed and has room: as more of its
	 * last chunk's message, or as the next message's first chunk.
	 */
	tail = skb_peek_tail(&ctx->rx_queue);
	cb = tail ? KWS_RX_CB(tail) : NULL;
	if (cb && cb->packed) {
		bool first = ev->flags & KWS_EV_FIRST;
		struct kws_rx_seg *h;

		if (!first && !cb->eom && kws_rx_pack_left(tail) >= ev->len) {
			h = kws_rx_seg_hdr(tail, cb->nseg - 1);
			kws_rx_copy_in(tail, src, ev, mask);
			h->len += ev->len;
			h->eom = eom;
			goto appended;
		}
		/* A message's first chunk may have been empty, not queued. */
		if (kws_rx_pack_left(tail) >= sizeof(*h) + ev->len) {
			kws_rx_put_seg(tail, src, ev, mask, eom);
			goto appended;
		}
	}

	/*
	 * kws_rx_actor() keeps a pack spare ready only once small chunks
	 * show up (or when every chunk must be small), so that a larger
	 * message does not pay for one: the first small chunk of a parse is
	 * kept by reference instead, as a larger one is.
	 */
	if (!ctx->rx_pack_spare) {
		rd->pack = true;
		goto by_ref;
	}
	rec = ctx->rx_pack_spare;
	ctx->rx_pack_spare = NULL;
	*KWS_RX_CB(rec) = (struct kws_rx_cb){
		.len = ev->len,
		.opcode = ev->opcode,
		.eom = eom,
		.priv = 1,
		.packed = 1,
	};
	kws_rx_put_seg(rec, src, ev, mask, eom);
	kws_rx_enqueue(ctx, rec, rec->truesize);
	return;

by_ref:
	rec = *spare;
	*spare = NULL;
	*KWS_RX_CB(rec) = (struct kws_rx_cb){
		.off = off,
		.len = ev->len,
		.phase = ev->phase,
		.masked = ev->masked,
		.opcode = ev->opcode,
		.eom = eom,
	};
	memcpy(KWS_RX_CB(rec)->mask, mask, 4);
	kws_rx_enqueue(ctx, rec, ev->len + KWS_RX_RECORD_COST);
	return;

appended:
	/* Already charged: the tailroom is in truesize. */
	cb->len += ev->len;
	cb->opcode = ev->opcode;
	cb->eom = eom;
	ctx->rx_payload += ev->len;
	if (eom)
		WRITE_ONCE(ctx->rx_ready, ctx->rx_ready + 1);
}

/* Can the tail record take a small chunk of any size? Socket lock held. */
static bool kws_rx_pack_room(struct kws_ctx *ctx)
{
	struct sk_buff *tail = skb_peek_tail(&ctx->rx_queue);

	return tail && KWS_RX_CB(tail)->packed &&
	       kws_rx_pack_left(tail) >= sizeof(struct kws_rx_seg) +
					 KWS_RX_COPY_MAX;
}

/*
 * Data room for the next packed record, @rest bytes being left of the skb
 * the actor parses. A 2 KiB record pays off only when more chunks may
 * follow; when TCP holds no more than a small one (a closed-loop echo
 * of small messages), a kmalloc-512 record costs ~3.3k instructions less
 * per message to allocate and free (64-byte echo, issue #11). rcv_nxt -
 * copied_seq bounds what TCP holds from @skb on: tcp_read_sock() moves
 * copied_seq past bytes only after the actor took them. Socket lock held.
 */
static unsigned int kws_rx_pack_size(const struct sock *sk, u32 rest)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 unread = READ_ONCE(tp->rcv_nxt) - READ_ONCE(tp->copied_seq);

	/* kws_rx_data() puts any small chunk into a fresh record. */
	BUILD_BUG_ON(KWS_RX_PACK_SMALL <
		     sizeof(struct kws_rx_seg) + KWS_RX_COPY_MAX);
	if (max(rest, unread) <= KWS_RX_PACK_SMALL)
		return KWS_RX_PACK_SMALL;
	return KWS_RX_PACK_SIZE;
}

/*
 * The opcode of the frame the parser's next event comes from: the one it
 * is in, else the one whose header starts at @next. One feed reports at
 * most one event, so a control frame's feed needs no packed record, and a
 * data frame's no control skb.
 */
static u8 kws_rx_next_opcode(const struct kws_parser *p, u8 next)
{
	if (p->in_payload)
		return p->frame.opcode;
	return (p->hdr_len ? p->hdr[0] : next) & 0x0f;
}

/*
 * A ping whose pong ctrl.c will build in ctl_frame and send right after
 * this pass (kws_ctrl_burst_pong()): its payload needs no skb.
 */
static bool kws_rx_pong_direct(const struct kws_rx_desc *rd, u8 opcode)
{
	const struct kws_ctx *ctx = rd->ctx;

	return opcode == WS_OP_PING && rd->pong_now &&
	       !(ctx->flags & (WS_F_NO_AUTO_PONG | WS_F_DELIVER_CONTROL)) &&
	       kws_ctrl_pong_direct_ok(ctx);
}

/*
 * tcp_read_sock() actor, also fed the WS_LEFTOVER skbs. Runs with the
 * socket lock held in either form, possibly in softirq: GFP_ATOMIC only.
 * Returns the bytes consumed; 0 makes tcp_read_sock() stop.
 */
static int kws_rx_actor(read_descriptor_t *desc, struct sk_buff *skb,
			unsigned int offset, size_t len)
{
	struct kws_rx_desc *rd = desc->arg.data;
	struct kws_ctx *ctx = rd->ctx;
	struct sock *sk = rd->sk;
	struct sk_buff *spare = NULL;
	struct skb_seq_state seq;
	unsigned int consumed = 0;

	if (rd->stop)
		return 0;
	/* RFC 6455 1.4: after a close (or failing), input is discarded. */
	if (ctx->rx_stopped)
		return len;
	/* Input after a ping waits in TCP until flush takes its pong. */
	if (ctx->rx_pong_wait) {
		rd->stop = true;
		return 0;
	}

	ctx->rx_last = jiffies;
	skb_prepare_seq_read(skb, offset, offset + len, &seq);
	while (consumed < len && !ctx->rx_stopped) {
		const u8 *data;
		unsigned int blk, used = 0;

		blk = skb_seq_read(consumed, &data, &seq);
		if (!blk)
			break;
		while (used < blk) {
			/* A chunk from here on may be too big to copy. */
			bool big = len - consumed - used > KWS_RX_COPY_MAX;
			struct kws_event ev;
			bool pack, small;
			u8 opcode;
			u64 n;

			if (ctx->rx_held >= (u32)READ_ONCE(sk->sk_rcvbuf) ||
			    ctx->rx_pong_wait) {
				rd->stop = true;
				ctx->rx_throttled = !ctx->rx_pong_wait;
				/* The parser has taken these: never again. */
				consumed += used;
				goto out;
			}
			/*
			 * Allocate before feeding: the parser cannot undo. A
			 * clone only when a chunk could need one: a chunk is
			 * never longer than what is left of @skb.
			 */
			opcode = kws_rx_next_opcode(&ctx->parser, data[used]);
			small = (opcode & 0x8) && !kws_rx_pong_direct(rd, opcode);
			if (big && !spare)
				spare = skb_clone(skb, GFP_ATOMIC);
			if (small && !ctx->rx_small_spare)
				ctx->rx_small_spare = alloc_skb(KWS_RX_COPY_MAX,
								GFP_ATOMIC);
			pack = (!big || rd->pack) && !(opcode & 0x8) &&
			       !ctx->rx_pack_spare && !kws_rx_pack_room(ctx);
			if (pack)
				ctx->rx_pack_spare =
					alloc_skb(kws_rx_pack_size(sk, len -
								   consumed -
								   used),
						  GFP_ATOMIC);
			if ((big && !spare) || (small && !ctx->rx_small_spare) ||
			    (pack && !ctx->rx_pack_spare)) {
				rd->stop = true;
				rd->nomem = true;
				consumed += used;
				goto out;
			}

			/*
			 * WS_MAX_MSG_SIZE may have dropped below the open
			 * message's size: cap that message where it is (the
			 * codec requires msg_len <= max_msg), full limit from
			 * the next message on.
			 */
			ctx->parser.max_msg = ctx->max_msg;
			if (ctx->parser.msg_opcode &&
			    ctx->parser.msg_len > ctx->max_msg)
				ctx->parser.max_msg = ctx->parser.msg_len;
			n = kws_parser_feed(&ctx->parser, data + used,
					    blk - used, &ev);
			switch (ev.type) {
			case KWS_EV_DATA:
				if (ev.flags & KWS_EV_FRAME_END)
					ctx->stats.rx_frames++;
				ctx->stats.rx_bytes += ev.len;
				if (ev.flags & KWS_EV_EOM) {
					ctx->stats.rx_messages++;
					kws_stats_inc(sock_net(sk),
						      KWS_STAT_RX_MESSAGES);
				}
				kws_stats_add(sock_net(sk), KWS_STAT_RX_BYTES,
					      ev.len);
				kws_rx_data(rd, skb, offset + consumed + used + ev.off,
					    data + used + ev.off, &ev, &spare);
				break;
			case KWS_EV_CONTROL:
				kws_rx_control(rd, &ev);
				break;
			case KWS_EV_ERROR:
				kws_rx_fail(sk, ctx, ev.code);
				/* The rest of the stream is discarded. */
				n = blk - used;
				rd->queued = true;
				break;
			case KWS_EV_NONE:
				break;
			}
			used += n;
		}
		consumed += used;
	}
out:
	skb_abort_seq_read(&seq);
	kfree_skb(spare);
	return consumed;
}

/* EOF from TCP: a close with 1006, unless a close or an error came first. */
static void kws_rx_check_eof(struct sock *sk, struct kws_ctx *ctx,
			     struct kws_rx_desc *rd)
{
	if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) ||
	    !skb_queue_empty(&sk->sk_receive_queue) ||
	    !skb_queue_empty(&ctx->rx_leftover))
		return;
	if (ctx->rx_eof) {
		/* A client shuts its side once the server closed TCP. */
		if (ctx->close_rcvd && !ctx->shut_wr)
			rd->kick = true;
		return;
	}
	/* sk_err goes to the reader first; the close comes after it. */
	if (READ_ONCE(sk->sk_err))
		return;
	/*
	 * RFC 6455 7.1.5: "If _The WebSocket Connection is Closed_ and no
	 * Close control frame was received by the endpoint [...] _The
	 * WebSocket Connection Close Code_ is considered to be 1006."
	 */
	ctx->rx_abnormal = 1;
	kws_rx_set_close(ctx, WS_CLOSE_ABNORMAL_CODE, WS_CLOSE_ABNORMAL, NULL);
	kws_set_state(ctx);
	rd->queued = true;
}

/* An idle connection keeps no packing spare (2 KiB). Socket lock held. */
static void kws_rx_pack_spare_idle(struct kws_ctx *ctx)
{
	if (skb_queue_empty(&ctx->rx_queue)) {
		kfree_skb(ctx->rx_pack_spare);
		ctx->rx_pack_spare = NULL;
	}
}

/*
 * Parse what is waiting: WS_LEFTOVER bytes first, then the TCP receive
 * queue. Socket lock held in either form (softirq possible).
 */
void kws_rx_parse(struct sock *sk, struct kws_ctx *ctx)
{
	struct kws_rx_desc rd = { .sk = sk, .ctx = ctx };
	read_descriptor_t desc = { .arg.data = &rd, .count = 1 };
	bool kick = false, direct = false;
	struct sk_buff *skb;

	if (!ctx->configured)
		return;

again:
	ctx->rx_throttled = 0;
	rd.stop = false;
	rd.kick = false;
	rd.pong_now = !direct;
	while (!rd.stop && (skb = skb_peek(&ctx->rx_leftover))) {
		ctx->rx_leftover_off += kws_rx_actor(&desc, skb,
						     ctx->rx_leftover_off,
						     skb->len -
						     ctx->rx_leftover_off);
		if (ctx->rx_leftover_off < skb->len)
			break;
		__skb_unlink(skb, &ctx->rx_leftover);
		consume_skb(skb);
		ctx->rx_leftover_off = 0;
	}
	if (!rd.stop && skb_queue_empty(&ctx->rx_leftover))
		tcp_read_sock(sk, &desc, kws_rx_actor);
	kick |= rd.kick;
	/*
	 * A ping stopped parsing: answer it here if we can, then go on. Once
	 * per call: a run of pings is answered by flush, a page of pongs per
	 * TCP send (kws_ctrl_flush()), not a parse pass and a segment each.
	 */
	if (rd.kick && ctx->rx_pong_wait && !rd.nomem && !direct &&
	    kws_ctrl_pong_now(sk, ctx)) {
		direct = true;
		goto again;
	}
	kws_rx_check_eof(sk, ctx, &rd);
	kick |= rd.kick;
	kws_rx_pack_spare_idle(ctx);

	if (rd.nomem)
		kws_queue_delayed_work(ctx, &ctx->rx_work, HZ / 50 + 1);
	/* Only queues tx_work if something is still pending. */
	if (kick)
		kws_ctrl_kick(ctx);
	/* Wake readers only when there is something for them (EPOLLIN). */
	if (rd.queued && kws_rx_readable(sk, ctx))
		ctx->saved_data_ready(sk);
}

/*
 * sk_data_ready: softirq with bh_lock_sock held, or process context from
 * __release_sock() while the socket is still owned (then defer, as
 * tls_strp_data_ready does).
 */
void kws_rx_data_ready(struct sock *sk)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);

	if (sock_owned_by_user_nocheck(sk)) {
		kws_queue_delayed_work(ctx, &ctx->rx_work, 0);
		return;
	}
	kws_rx_parse(sk, ctx);
}

/* Process context; holds a sock reference taken when queued. */
void kws_rx_work(struct work_struct *work)
{
	struct kws_ctx *ctx = container_of(to_delayed_work(work),
					   struct kws_ctx, rx_work);
	struct sock *sk = ctx->sk;

	lock_sock(sk);
	kws_rx_parse(sk, ctx);
	release_sock(sk);
	sock_put(sk);
}

/* Drop every record and any unparsed TCP input. Socket lock held. */
static int kws_rx_discard_actor(read_descriptor_t *desc, struct sk_buff *skb,
				unsigned int offset, size_t len)
{
	return len;
}

void kws_rx_purge(struct sock *sk, struct kws_ctx *ctx)
{
	read_descriptor_t desc = { .count = 1 };

	__skb_queue_purge(&ctx->rx_queue);
	__skb_queue_purge(&ctx->rx_leftover);
	kfree_skb(ctx->rx_small_spare);
	ctx->rx_small_spare = NULL;
	kfree_skb(ctx->rx_pack_spare);
	ctx->rx_pack_spare = NULL;
	kfree_skb(ctx->rx_close_reason);
	ctx->rx_close_reason = NULL;
	WRITE_ONCE(ctx->rx_held, 0);
	WRITE_ONCE(ctx->rx_ready, 0);
	ctx->rx_payload = 0;
	/* Unread TCP data would turn close's FIN into a RST. */
	if (ctx->configured)
		tcp_read_sock(sk, &desc, kws_rx_discard_actor);
}

/* ---- recvmsg ----------------------------------------------------------- */

/* Can recvmsg() return now? Socket lock held. */
static bool kws_rx_can_deliver(const struct sock *sk,
			       const struct kws_ctx *ctx, size_t len)
{
	const struct sk_buff *skb = skb_peek(&ctx->rx_queue);

	if (!skb)
		return ctx->rx_eof;
	/* Control records are whole; nothing more arrives after EOF. */
	if (ctx->rx_ready || ctx->rx_eof || (KWS_RX_CB(skb)->opcode & 0x8))
		return true;
	/* A partial message: when it fills the buffer, or at the EPOLLIN mark. */
	return ctx->rx_payload >= len ||
	       ctx->rx_held >= (u32)READ_ONCE(sk->sk_rcvbuf) / 2;
}

/* sk_wait_event() condition: evaluated with and without the socket lock. */
static bool kws_rx_wait_cond(struct sock *sk, struct kws_ctx *ctx,
			     size_t len)
{
	return kws_rx_readable(sk, ctx) ||
	       READ_ONCE(ctx->rx_payload) >= len;
}

/*
 * Store @len bytes at @src, unmasked, into user memory at @dst: one pass,
 * the XOR on the way into the store. @phase is the mask phase of src[0].
 * Returns the bytes stored, fewer than @len only when a store faulted. No
 * calls while user access is open. The word stores are aligned, so a store
 * that faults writes nothing and the count is exact.
 */
static size_t kws_rx_unmask_to_user(u8 __user *dst, const u8 *src,
				    size_t len, const u8 *mask, u32 phase)
{
	size_t head = min_t(size_t, len, -(unsigned long)dst & 7);
	u64 m = kws_mask_word(mask, phase + head);
	size_t left = len;

	if (!user_access_begin(dst, len))
		return 0;
	for (; head; head--, left--)
		unsafe_put_user(*src++ ^ mask[(phase + len - left) & 3], dst++,
				fault);
	/* Loads grouped ahead of stores, as in kws_mask_copy(). */
	for (; left >= 32; left -= 32, src += 32, dst += 32) {
		u64 w0 = kws_load64(src), w1 = kws_load64(src + 8);
		u64 w2 = kws_load64(src + 16), w3 = kws_load64(src + 24);

		unsafe_put_user(w0 ^ m, (u64 __user *)dst, fault);
		unsafe_put_user(w1 ^ m, (u64 __user *)(dst + 8), fault_8);
		unsafe_put_user(w2 ^ m, (u64 __user *)(dst + 16), fault_16);
		unsafe_put_user(w3 ^ m, (u64 __user *)(dst + 24), fault_24);
	}
	for (; left >= 8; left -= 8, src += 8, dst += 8)
		unsafe_put_user(kws_load64(src) ^ m, (u64 __user *)dst, fault);
	for (; left; left--)
		unsafe_put_user(*src++ ^ mask[(phase + len - left) & 3], dst++,
				fault);
	user_access_end();
	return len;

	/* The stores of the word loop before the one that faulted. */
fault_24:
	left -= 8;
fault_16:
	left -= 8;
fault_8:
	left -= 8;
fault:
	user_access_end();
	return len - left;
}

/*
 * Unmask @len bytes at @src (kernel memory) into the user memory of @to,
 * advancing it. @phase as above. Returns the bytes copied: fewer than @len
 * only on a fault.
 */
static size_t kws_rx_unmask_span(const u8 *src, size_t len, const u8 *mask,
				 u32 phase, struct iov_iter *to)
{
	size_t done = 0;

	while (done < len && iov_iter_count(to)) {
		const struct iovec *iov = iter_iov(to);
		u8 __user *dst;
		size_t seg, n;

		if (iter_is_ubuf(to)) {
			dst = to->ubuf + to->iov_offset;
			seg = iov_iter_count(to);
		} else {
			dst = iov->iov_base + to->iov_offset;
			seg = iov->iov_len - to->iov_offset;
		}
		seg = min(seg, len - done);
		n = seg ? kws_rx_unmask_to_user(dst, src + done, seg, mask,
						phase + done) : 0;
		/* Also steps over an empty iovec. */
		iov_iter_advance(to, n);
		done += n;
		if (n < seg)
			break;
	}
	return done;
}

/*
 * Unmask @len bytes at offset @off of @skb (its head, its page fragments,
 * its frag_list) into user memory, in place: the bytes are read once, and
 * never written (the skb shares its data with TCP). Pages are mapped with
 * kmap_local_page(), which leaves page faults enabled for the user stores.
 * Returns the bytes copied: fewer than @len only on a fault.
 */
static size_t kws_rx_unmask_skb(const struct sk_buff *skb, u32 off, u32 len,
				const u8 *mask, u32 phase, struct iov_iter *to)
{
	u32 start = skb_headlen(skb), copied = 0, n, i;
	const struct sk_buff *frag_iter;

	if (off < start) {
		n = min(len, start - off);
		copied = kws_rx_unmask_span(skb->data + off, n, mask, phase,
					    to);
		if (copied < n || copied == len)
			return copied;
	}
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *frag = &skb_shinfo(skb)->frags[i];
		u32 end = start + skb_frag_size(frag);
		u32 p_off, p_len, pos, got;
		struct page *p;
		u8 *vaddr;

		if (off + copied < end) {
			n = min(len - copied, end - off - copied);
			skb_frag_foreach_page(frag, skb_frag_off(frag) + off +
					      copied - start, n,
					      p, p_off, p_len, pos) {
				vaddr = kmap_local_page(p);
				got = kws_rx_unmask_span(vaddr + p_off, p_len,
							 mask, phase + copied,
							 to);
				kunmap_local(vaddr);
				copied += got;
				if (got < p_len)
					return copied;
			}
			if (copied == len)
				return copied;
		}
		start = end;
	}
	skb_walk_frags(skb, frag_iter) {
		u32 end = start + frag_iter->len, got;

		if (off + copied < end) {
			n = min(len - copied, end - off - copied);
			got = kws_rx_unmask_skb(frag_iter, off + copied - start,
						n, mask, phase + copied, to);
			copied += got;
			if (got < n || copied == len)
				return copied;
		}
		start = end;
	}
	return copied;
}

/*
 * Copy @n bytes at cb->off of @skb to the user's buffer, unmasking them
 * when the record is masked. Returns the bytes copied: fewer than @n only on
 * a fault (the caller consumes just those).
 */
static size_t kws_rx_copy(const struct sk_buff *skb, const struct kws_rx_cb *cb,
			  struct msghdr *msg, u32 n)
{
	u64 bounce[KWS_RX_BOUNCE / sizeof(u64)];
	struct iov_iter *to = &msg->msg_iter;
	size_t before = iov_iter_count(to);
	u32 off = cb->off, phase = cb->phase;

	if (!cb->masked) {
		skb_copy_datagram_msg(skb, off, msg, n);
		return before - iov_iter_count(to);
	}
	/* read(), recvmsg(), recvmmsg(), io_uring: one pass. */
	if (user_backed_iter(to))
		return kws_rx_unmask_skb(skb, off, n, cb->mask, phase, to);

	/* Kernel buffers: through a bounce buffer on the stack. */
	while (n) {
		u32 chunk = min_t(u32, n, sizeof(bounce));

		if (skb_copy_bits(skb, off, bounce, chunk))
			break;
		phase = kws_mask_copy((u8 *)bounce, (u8 *)bounce, chunk,
				      cb->mask, phase);
		if (copy_to_iter(bounce, chunk, to) != chunk)
			break;
		off += chunk;
		n -= chunk;
	}
	return before - iov_iter_count(to);
}

/*
 * Copy @n bytes of chunk @c to the user. Returns the bytes copied: fewer
 * than @n only on a fault.
 */
static size_t kws_rx_copy_chunk(const struct kws_rx_chunk *c,
				struct msghdr *msg, u32 n)
{
	if (!KWS_RX_CB(c->skb)->packed)
		return kws_rx_copy(c->skb, KWS_RX_CB(c->skb), msg, n);
	return copy_to_iter(c->skb->data + c->off, n, &msg->msg_iter);
}

/*
 * The close, after every record: WS_CMSG_OPCODE + WS_CMSG_CLOSE and the
 * reason as payload, MSG_EOR on its last byte; then EOF. Without room for
 * the control messages (read(), recv()) the close reads as EOF directly.
 */
static int kws_rx_deliver_close(struct kws_ctx *ctx, struct msghdr *msg,
				size_t len, int flags)
{
	struct ws_close wc = {
		.code = ctx->rx_close_code,
		.flags = ctx->rx_close_flags,
	};
	u8 opcode = WS_OP_CLOSE;
	size_t n;

	if (ctx->rx_done)
		return 0;
	/* The application caught up with the peer's close: echo it now. */
	if (!(flags & MSG_PEEK))
		kws_ctrl_echo_close(ctx);
	if (put_cmsg(msg, SOL_WS, WS_CMSG_OPCODE, sizeof(opcode), &opcode) ||
	    put_cmsg(msg, SOL_WS, WS_CMSG_CLOSE, sizeof(wc), &wc))
		return -EFAULT;
	if (msg->msg_flags & MSG_CTRUNC) {
		if (!(flags & MSG_PEEK))
			ctx->rx_done = 1;
		return 0;
	}
	n = min_t(size_t, len, ctx->rx_close_len - ctx->rx_close_off);
	if (n && copy_to_iter(ctx->rx_close_reason->data + ctx->rx_close_off,
			      n, &msg->msg_iter) != n)
		return -EFAULT;
	if (ctx->rx_close_off + n == ctx->rx_close_len)
		msg->msg_flags |= MSG_EOR;
	if (!(flags & MSG_PEEK)) {
		ctx->rx_close_off += n;
		if (ctx->rx_close_off == ctx->rx_close_len)
			ctx->rx_done = 1;
	}
	return n;
}

/*
 * Copy up to @len bytes of the message whose next chunk is *@c, never past
 * its end or a control record; *@eom tells whether its last byte went.
 * Leaves *@c at the chunk that follows (the new head unless peeking);
 * returns false in *@more when there is none. Socket lock and the reader
 * flag held.
 */
static int kws_rx_copy_msg(struct kws_ctx *ctx, struct msghdr *msg,
			   size_t len, bool peek, struct kws_rx_chunk *c,
			   bool *eom, bool *more)
{
	size_t copied = 0, done;

	*eom = false;
	for (;;) {
		u32 n = min_t(size_t, c->len, len - copied);
		bool whole = n == c->len;
		bool end = c->eom && whole;
		struct sk_buff *skb;

		done = kws_rx_copy_chunk(c, msg, n);
		/* A fault: consume what reached the user, no more. */
		if (done < n) {
			if (!peek)
				kws_rx_consume(ctx, c, done);
			*more = true;
			copied += done;
			return copied ? copied : -EFAULT;
		}
		copied += n;
		*eom = end;

		if (peek) {
			*more = kws_rx_chunk_next(ctx, c);
		} else {
			kws_rx_consume(ctx, c, n);	/* may free c->skb */
			skb = skb_peek(&ctx->rx_queue);
			*more = skb;
			if (skb)
				kws_rx_chunk_first(skb, c);
		}
		if (*eom || !whole)
			break;
		/*
		 * The next chunk continues this message when it is data;
		 * take it while there is room, and always when it is the
		 * empty end of the message, so MSG_EOR is not left behind.
		 */
		if (!*more || (c->opcode & 0x8) || (copied == len && c->len))
			break;
	}
	return copied;
}

/*
 * Copy (part of) the message at the head of the queue: never more than one
 * message, never a control record together with data. Socket lock and
 * the reader flag held.
 */
static int kws_rx_deliver(struct sock *sk, struct kws_ctx *ctx,
			  struct msghdr *msg, size_t len, int flags)
{
	struct kws_rx_chunk c;
	struct sk_buff *skb;
	bool eom, more;
	int err, copied;

	skb = skb_peek(&ctx->rx_queue);
	if (!skb)
		return kws_rx_deliver_close(ctx, msg, len, flags);

	kws_rx_chunk_first(skb, &c);
	/* read()/recv() of data: no control buffer, so no MSG_CTRUNC noise. */
	if ((c.opcode & 0x8) || msg->msg_controllen) {
		err = put_cmsg(msg, SOL_WS, WS_CMSG_OPCODE, sizeof(c.opcode),
			       &c.opcode);
		if (err)
			return err;
		/* A ping/pong must not pass for data: leave it queued. */
		if ((c.opcode & 0x8) && (msg->msg_flags & MSG_CTRUNC))
			return -EIO;
	}

	copied = kws_rx_copy_msg(ctx, msg, len, flags & MSG_PEEK, &c, &eom,
				 &more);
	if (copied >= 0 && eom)
		msg->msg_flags |= MSG_EOR;
	return copied;
}

/* The bytes of the whole message at *@c, or -1 if it is not all queued. */
static s64 kws_rx_msg_size(const struct kws_ctx *ctx,
			   const struct kws_rx_chunk *c)
{
	struct kws_rx_chunk d = *c;
	s64 size = 0;

	do {
		if (d.opcode & 0x8)
			return -1;
		size += d.len;
		if (d.eom)
			return size;
	} while (kws_rx_chunk_next(ctx, &d));
	return -1;
}

/*
 * A fault in the middle of a packed run: deliver exactly the bytes that
 * reached the user, as kws_rx_copy_msg() does, and end the batch.
 */
static int kws_rx_batch_fault(struct kws_ctx *ctx, bool peek,
			      struct kws_rx_chunk *c, struct ws_msg_desc *d,
			      u32 done, size_t *bytes, bool *more)
{
	unsigned int k = 0;
	u32 take;

	*bytes = done;
	*more = false;
	while (done) {
		take = min(c->len, done);
		d[k].len = take;
		d[k++].flags = take == c->len ? WS_MSG_EOR : 0;
		done -= take;
		/* The run's bytes are all in this record: a chunk follows. */
		if (peek) {
			kws_rx_chunk_next(ctx, c);
		} else {
			kws_rx_consume(ctx, c, take);
			if (done)
				kws_rx_chunk_first(skb_peek(&ctx->rx_queue), c);
		}
	}
	return k ? k : -EFAULT;
}

/*
 * Whole messages that are single chunks of the packed record at *@c, as
 * many as fit in @len and @max: their bytes are contiguous, so one copy and
 * one uncharge serve them all. Returns how many (0: the general path
 * decides), their bytes in *@bytes; leaves *@c after them, *@more false if
 * nothing follows. Socket lock and the reader flag held.
 */
static int kws_rx_batch_packed(struct kws_ctx *ctx, struct msghdr *msg,
			       size_t len, bool peek, struct kws_rx_chunk *c,
			       struct ws_msg_desc *d, unsigned int max,
			       size_t *bytes, bool *more)
{
	struct sk_buff *skb = c->skb;
	struct kws_rx_cb *cb = KWS_RX_CB(skb);
	unsigned int nr = 0;
	u32 seg, n = 0, done;

	for (seg = c->seg; nr < max && seg < cb->nseg; seg++, nr++) {
		const struct kws_rx_seg *h = kws_rx_seg_hdr(skb, seg);

		if (!h->eom || h->len > len - n)
			break;
		d[nr] = (struct ws_msg_desc){
			.len = h->len,
			.opcode = h->opcode,
			.flags = WS_MSG_EOR,
		};
		n += h->len;
	}
	if (!nr)
		return 0;
	done = n ? copy_to_iter(skb->data + c->off, n, &msg->msg_iter) : 0;
	if (done != n)
		return kws_rx_batch_fault(ctx, peek, c, d, done, bytes, more);
	*bytes = n;

	if (peek) {
		if (seg < cb->nseg) {
			kws_rx_chunk_seg(skb, seg, c->off + n, c);
			*more = true;
			return nr;
		}
		skb = skb_peek_next(skb, &ctx->rx_queue);
	} else {
		cb->len -= n;
		cb->charge -= n;
		cb->off += n;
		cb->seg = seg;
		ctx->rx_payload -= n;
		WRITE_ONCE(ctx->rx_held, ctx->rx_held - n);
		WRITE_ONCE(ctx->rx_ready, ctx->rx_ready - nr);
		if (seg == cb->nseg)
			kws_rx_unlink(ctx, skb);
		skb = skb_peek(&ctx->rx_queue);
	}
	*more = skb;
	if (skb)
		kws_rx_chunk_first(skb, c);
	return nr;
}

/*
 * WS_RECV_BATCH: whole data messages back to back, described by one
 * WS_CMSG_BATCH array, as many as fit in @len and in the control buffer
 * (at most KWS_RX_BATCH_MAX). A control record, the close, or a message
 * that is not all queued or does not fit ends the batch; the first message
 * is then returned in part, as without batching. The head is data. Socket
 * lock and the reader flag held.
 */
static int kws_rx_deliver_batch(struct kws_ctx *ctx, struct msghdr *msg,
				size_t len, int flags, unsigned int room)
{
	struct ws_msg_desc desc[KWS_RX_BATCH_MAX];
	bool peek = flags & MSG_PEEK;
	unsigned int nr = 0;
	struct kws_rx_chunk c;
	size_t copied = 0;
	bool eom, more;
	int n;

	kws_rx_chunk_first(skb_peek(&ctx->rx_queue), &c);
	for (;;) {
		struct ws_msg_desc *d = &desc[nr];
		s64 size;

		if (KWS_RX_CB(c.skb)->packed) {
			size_t bytes;

			n = kws_rx_batch_packed(ctx, msg, len - copied, peek,
						&c, d, room - nr, &bytes, &more);
			if (n < 0) {
				if (!nr)
					return n;
				break;
			}
			if (n) {
				nr += n;
				copied += bytes;
				if (!more || (c.opcode & 0x8) || nr == room)
					break;
				continue;
			}
		}

		size = kws_rx_msg_size(ctx, &c);
		if (nr && (size < 0 || size > len - copied))
			break;
		d->opcode = c.opcode;
		n = kws_rx_copy_msg(ctx, msg, len - copied, peek, &c, &eom,
				    &more);
		if (n < 0) {
			if (!nr)
				return n;
			break;
		}
		d->len = n;
		d->flags = eom ? WS_MSG_EOR : 0;
		d->reserved = 0;
		copied += n;
		nr++;
		if (!eom || !more || (c.opcode & 0x8) || nr == room)
			break;
	}

	if (desc[nr - 1].flags & WS_MSG_EOR)
		msg->msg_flags |= MSG_EOR;
	/* Room was checked: no MSG_CTRUNC. */
	n = put_cmsg(msg, SOL_WS, WS_CMSG_BATCH, nr * sizeof(desc[0]), desc);
	return n ? n : copied;
}

/* How many ws_msg_desc fit in the caller's control buffer, at most 64. */
static unsigned int kws_rx_batch_room(const struct msghdr *msg)
{
	/* The native header: a 32-bit caller's is smaller, never larger. */
	size_t hdr = CMSG_LEN(0);

	if (msg->msg_controllen < hdr + sizeof(struct ws_msg_desc))
		return 0;
	return min_t(size_t, KWS_RX_BATCH_MAX,
		     (msg->msg_controllen - hdr) / sizeof(struct ws_msg_desc));
}

/*
 * One reader at a time, also across sk_wait_event(), which drops the socket
 * lock: a flag under the socket lock, waited on with the caller's timeout
 * (a mutex would make MSG_DONTWAIT and SO_RCVTIMEO wait behind a blocked
 * reader), as tls_rx_reader_lock() does. Returns with the socket locked.
 */
static int kws_rx_reader_lock(struct sock *sk, struct kws_ctx *ctx,
			      long *timeo)
{
	lock_sock(sk);
	while (ctx->rx_reader) {
		DEFINE_WAIT_FUNC(wait, woken_wake_function);

		if (!*timeo) {
			release_sock(sk);
			return -EAGAIN;
		}
		if (signal_pending(current)) {
			release_sock(sk);
			return sock_intr_errno(*timeo);
		}
		ctx->rx_contended = 1;
		add_wait_queue(&ctx->rx_wq, &wait);
		sk_wait_event(sk, timeo, !READ_ONCE(ctx->rx_reader), &wait);
		remove_wait_queue(&ctx->rx_wq, &wait);
	}
	WRITE_ONCE(ctx->rx_reader, 1);
	return 0;
}

static void kws_rx_reader_unlock(struct sock *sk, struct kws_ctx *ctx)
{
	WRITE_ONCE(ctx->rx_reader, 0);
	if (ctx->rx_contended) {
		ctx->rx_contended = 0;
		wake_up_all(&ctx->rx_wq);
	}
	release_sock(sk);
}

/* Batched when asked and the head is data. Socket lock, reader flag held. */
static int kws_rx_deliver_any(struct sock *sk, struct kws_ctx *ctx,
			      struct msghdr *msg, size_t len, int flags)
{
	struct sk_buff *skb = skb_peek(&ctx->rx_queue);
	unsigned int room;

	if (ctx->rx_batch && skb && !(KWS_RX_CB(skb)->opcode & 0x8)) {
		room = kws_rx_batch_room(msg);
		/* Without room for one entry: one message, as unbatched. */
		if (room)
			return kws_rx_deliver_batch(ctx, msg, len, flags,
						    room);
	}
	return kws_rx_deliver(sk, ctx, msg, len, flags);
}

int kws_rx_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		   int flags, int *addr_len)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);
	long timeo;
	int err;

	if (unlikely(flags & MSG_ERRQUEUE))
		return ctx->sk_proto->recvmsg(sk, msg, len, flags, addr_len);
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	err = kws_rx_reader_lock(sk, ctx, &timeo);
	if (err)
		return err;
	if (!ctx->configured) {
		err = -ENOTCONN;
		goto out;
	}

	for (;;) {
		DEFINE_WAIT_FUNC(wait, woken_wake_function);

		/*
		 * A whole message queued goes first whatever follows it in
		 * TCP; otherwise parse, as softirq may have left input there
		 * (the socket was ours, a limit, no memory).
		 */
		if (!ctx->rx_ready)
			kws_rx_parse(sk, ctx);
		if (kws_rx_can_deliver(sk, ctx, len))
			break;
		if (sk->sk_err) {
			err = sock_error(sk);
			goto out;
		}
		if (!timeo) {
			err = -EAGAIN;
			goto out;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			goto out;
		}
		add_wait_queue(sk_sleep(sk), &wait);
		sk_set_bit(SOCKWQ_ASYNC_WAITDATA, sk);
		sk_wait_event(sk, &timeo, kws_rx_wait_cond(sk, ctx, len),
			      &wait);
		sk_clear_bit(SOCKWQ_ASYNC_WAITDATA, sk);
		remove_wait_queue(sk_sleep(sk), &wait);
	}

	err = kws_rx_deliver_any(sk, ctx, msg, len, flags);
	/* Room was made: pull what TCP holds back, if it held any back. */
	if (!(flags & MSG_PEEK) && ctx->rx_throttled)
		kws_rx_parse(sk, ctx);
	else
		kws_rx_pack_spare_idle(ctx);
out:
	kws_rx_reader_unlock(sk, ctx);
	return err;
}

/*
 * SIOCINQ/FIONREAD: the payload bytes of the message at the head of the
 * queue that arrived and are not read yet, as far as one recvmsg() could
 * return them (a data message up to a ping/pong record between its
 * fragments; a ping/pong record; the close's reason once nothing precedes
 * it). Bytes still in TCP, not parsed, are not counted. Socket lock held.
 */
int kws_rx_inq(const struct kws_ctx *ctx)
{
	struct sk_buff *skb = skb_peek(&ctx->rx_queue);
	struct kws_rx_chunk c;
	u64 n = 0;

	if (!skb)
		return ctx->rx_eof && !ctx->rx_done ?
		       ctx->rx_close_len - ctx->rx_close_off : 0;
	kws_rx_chunk_first(skb, &c);
	if (c.opcode & 0x8)
		return c.len;
	do {
		if (c.opcode & 0x8)
			break;
		n += c.len;
		if (c.eom)
			break;
	} while (kws_rx_chunk_next(ctx, &c));
	return min_t(u64, n, INT_MAX);
}

/* ---- readiness and the read paths that cannot carry framing ---------- */

bool kws_rx_sock_is_readable(struct sock *sk)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);

	return ctx && READ_ONCE(ctx->configured) && kws_rx_readable(sk, ctx);
}

/* poll/epoll on every kernel version (6.1 has no kTLS-style override). */
__poll_t kws_rx_poll(struct file *file, struct socket *sock,
		     struct poll_table_struct *wait)
{
	struct sock *sk = sock->sk;
	struct kws_ctx *ctx = kws_get_ctx(sk);
	__poll_t mask = tcp_poll(file, sock, wait);

	if (!ctx || !READ_ONCE(ctx->configured))
		return mask;
	if (kws_rx_readable(sk, ctx))
		mask |= EPOLLIN | EPOLLRDNORM;
	else
		mask &= ~(EPOLLIN | EPOLLRDNORM);
	return mask;
}

/* Raw TCP bytes are framed and maybe masked: these paths are refused. */
ssize_t kws_rx_splice_read(struct socket *sock, loff_t *ppos,
			   struct pipe_inode_info *pipe, size_t len,
			   unsigned int flags)
{
	return -EOPNOTSUPP;
}

int kws_rx_read_sock(struct sock *sk, read_descriptor_t *desc,
		     sk_read_actor_t recv_actor)
{
	return -EOPNOTSUPP;
}

int kws_rx_read_skb(struct sock *sk, skb_read_actor_t recv_actor)
{
	return -EOPNOTSUPP;
}
