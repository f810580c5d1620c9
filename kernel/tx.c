// SPDX-License-Identifier: GPL-2.0
/*
 * kws send path. One sendmsg() is one frame: a whole message, or with
 * MSG_MORE a fragment of one. The frame header carries the whole length of
 * the call and the payload is streamed, so large messages are never
 * buffered whole. A control frame is at most 139 bytes and is built whole
 * in ctx->ctl_frame.
 *
 * How payload bytes reach TCP (Documentation/design.md, "Send paths"):
 *  - sendmsg(), either role: header and payload are written into the
 *    socket's page frag (sk_page_frag(), as tcp_sendmsg() does), masked
 *    there in client role, and those pages are handed to TCP without a
 *    second copy. One copy, no per-socket buffer.
 *  - splice()/sendfile() in server role: the header is copied, the pipe's
 *    pages go to TCP as they are. No copy. Each call TCP gets (one pipe
 *    batch on 6.5+, one page before) is one frame.
 *  - splice()/sendfile() in client role: the bytes must be masked, so they
 *    take the sendmsg() path from the pipe's pages. One copy.
 *
 * A frame TCP took only part of stays open: the next send must carry the
 * rest of its payload, and nothing else (no kernel pong or close) goes on
 * the wire until it is complete.
 */
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "kws.h"

struct kws_tx_cmsg {
	u8		opcode;		/* 0: not given */
	bool		has_close;
	struct ws_close	close;
};

/*
 * Hand @a then @b to TCP. Socket lock held, process context; may sleep in
 * sk_stream_wait_memory() (dropping the socket lock) unless MSG_DONTWAIT.
 * Returns the bytes TCP took, or an error if it took none.
 */
int kws_tx_send_kvec(struct sock *sk, const void *a, size_t alen,
		     const void *b, size_t blen, int flags)
{
	struct msghdr msg = { .msg_flags = flags };
	struct kvec vec[2];
	int nr = 0;

	if (alen) {
		vec[nr].iov_base = (void *)a;
		vec[nr++].iov_len = alen;
	}
	if (blen) {
		vec[nr].iov_base = (void *)b;
		vec[nr++].iov_len = blen;
	}
	if (!nr)
		return 0;
	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, vec, nr, alen + blen);
	return tcp_sendmsg_locked(sk, &msg, alen + blen);
}

/*
 * The first @size bytes of @from to TCP, advancing @from by what TCP took.
 * Locks and sleeping as kws_tx_send_kvec().
 */
static int kws_tx_send_iter(struct sock *sk, struct iov_iter *from,
			    size_t size, int flags)
{
	struct msghdr msg = { .msg_flags = flags };
	int ret;

	msg.msg_iter = *from;
	iov_iter_truncate(&msg.msg_iter, size);
	ret = tcp_sendmsg_locked(sk, &msg, size);
	if (ret > 0)
		iov_iter_advance(from, ret);
	return ret;
}

/*
 * Hand the first @size bytes of the pages in @from (ITER_BVEC) to TCP by
 * reference, advancing @from by what TCP took. The bytes must not change
 * until TCP is done with them (MSG_NO_SHARED_FRAGS in @flags says they never
 * will). Returns the bytes taken, or an error if none. Locks and sleeping as
 * kws_tx_send_kvec().
 */
static int kws_tx_send_pages(struct sock *sk, struct iov_iter *from,
			     size_t size, int flags)
{
#ifdef KWS_HAVE_SENDPAGE
	size_t sent = 0;
	int ret = 0;

	if (WARN_ON_ONCE(!iov_iter_is_bvec(from)))
		return -EINVAL;
	/* As tcp_sendmsg_locked() would on a device without scatter-gather. */
	if (!(sk->sk_route_caps & NETIF_F_SG))
		return kws_tx_send_iter(sk, from, size, flags);
	/* As tcp_sendpage_locked(), page by page. */
	tcp_rate_check_app_limited(sk);
	while (sent < size) {
		const struct bio_vec *bv = from->bvec;
		size_t off = bv->bv_offset + from->iov_offset;
		size_t len = min3(bv->bv_len - from->iov_offset, size - sent,
				  PAGE_SIZE - offset_in_page(off));
		int notlast = sent + len < size ? MSG_SENDPAGE_NOTLAST : 0;

		ret = do_tcp_sendpages(sk, bv->bv_page + (off >> PAGE_SHIFT),
				       offset_in_page(off), len,
				       flags | notlast);
		if (ret <= 0)
			break;
		iov_iter_advance(from, ret);
		sent += ret;
		if (ret < len)
			break;
	}
	return sent ? sent : ret;
#else
	return kws_tx_send_iter(sk, from, size, flags | MSG_SPLICE_PAGES);
#endif
}

static int kws_tx_parse_cmsg(struct msghdr *msg, struct kws_tx_cmsg *tc)
{
	struct cmsghdr *cmsg;

	if (!msg->msg_controllen)
		return 0;
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return -EINVAL;
		if (cmsg->cmsg_level != SOL_WS)
			continue;
		switch (cmsg->cmsg_type) {
		case WS_CMSG_OPCODE:
			if (cmsg->cmsg_len < CMSG_LEN(sizeof(u8)))
				return -EINVAL;
			tc->opcode = *(u8 *)CMSG_DATA(cmsg);
			switch (tc->opcode) {
			case WS_OP_TEXT:
			case WS_OP_BINARY:
			case WS_OP_CLOSE:
			case WS_OP_PING:
			case WS_OP_PONG:
				break;
			default:
				return -EINVAL;
			}
			break;
		case WS_CMSG_CLOSE:
			if (cmsg->cmsg_len < CMSG_LEN(sizeof(struct ws_close)))
				return -EINVAL;
			memcpy(&tc->close, CMSG_DATA(cmsg), sizeof(tc->close));
			if (tc->close.flags)
				return -EINVAL;
			tc->has_close = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (tc->has_close) {
		if (tc->opcode && tc->opcode != WS_OP_CLOSE)
			return -EINVAL;
		tc->opcode = WS_OP_CLOSE;
	}
	return 0;
}

/* The open frame is complete: count it. tx_lock and socket lock held. */
static void kws_tx_frame_done(struct sock *sk, struct kws_ctx *ctx)
{
	ctx->stats.tx_frames++;
	if (ctx->tx_fin) {
		ctx->stats.tx_messages++;
		kws_stats_inc(sock_net(sk), KWS_STAT_TX_MESSAGES);
	}
}

/*
 * TCP took @ret bytes of a chunk that began with @hlen header bytes: move
 * the header cursor and return how many of them were payload.
 */
static size_t kws_tx_took(struct kws_ctx *ctx, size_t hlen, size_t ret)
{
	if (ret <= hlen) {
		ctx->tx_hdr_sent += ret;
		return 0;
	}
	ctx->tx_hdr_sent = ctx->tx_hdr_len;
	return ret - hlen;
}

/*
 * Copy the rest of the header and up to @n payload bytes from @msg into
 * the socket's page frag, masking the payload in client role, and hand the
 * frag to TCP. Returns the payload bytes TCP took, or an error if it took
 * no payload; *@stalled is set when TCP took less than it was given.
 * tx_lock and socket lock held, process context.
 */
static int kws_tx_push_copy(struct sock *sk, struct kws_ctx *ctx,
			    struct msghdr *msg, size_t hlen, size_t n,
			    int flags, bool *stalled)
{
	struct page_frag *pfrag = sk_page_frag(sk);
	struct bio_vec bvec;
	struct iov_iter it;
	size_t chunk, psent;
	u8 *p;
	int ret;

	/* A small frame goes to TCP whole; a large one a frag at a time. */
	if (!skb_page_frag_refill(min_t(size_t, hlen + n, PAGE_SIZE), pfrag,
				  sk->sk_allocation) &&
	    !sk_page_frag_refill(sk, pfrag)) {
		long timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);

		/* As tcp_sendmsg_locked(): wait, then the caller retries. */
		set_bit(SOCK_NOSPACE, &sk->sk_socket->flags);
		return sk_stream_wait_memory(sk, &timeo);
	}
	chunk = min_t(size_t, n, pfrag->size - pfrag->offset - hlen);
	p = page_address(pfrag->page) + pfrag->offset;
	if (!copy_from_iter_full(p + hlen, chunk, &msg->msg_iter))
		return -EFAULT;
	memcpy(p, ctx->tx_hdr + ctx->tx_hdr_sent, hlen);
	/* RFC 6455 5.3: masked as it leaves user memory. */
	if (ctx->tx_masked)
		kws_mask_copy(p + hlen, p + hlen, chunk, ctx->tx_mask,
			      ctx->tx_phase);

	/*
	 * TCP holds references to these bytes until they are acknowledged:
	 * claim them all in the frag now, taken or not, so they are never
	 * written again (hence MSG_NO_SHARED_FRAGS).
	 */
	bvec.bv_page = pfrag->page;
	bvec.bv_offset = pfrag->offset;
	bvec.bv_len = hlen + chunk;
	pfrag->offset += hlen + chunk;
	iov_iter_bvec(&it, ITER_SOURCE, &bvec, 1, hlen + chunk);
	ret = kws_tx_send_pages(sk, &it, hlen + chunk,
				flags | MSG_NO_SHARED_FRAGS |
				(chunk < n ? MSG_MORE : 0));
	if (ret <= 0) {
		iov_iter_revert(&msg->msg_iter, chunk);
		*stalled = true;
		return ret ? ret : -EAGAIN;
	}
	psent = kws_tx_took(ctx, hlen, ret);
	if (psent < chunk) {
		iov_iter_revert(&msg->msg_iter, chunk - psent);
		*stalled = true;
	}
	return psent;
}

/*
 * Segments of a splice batch that kws_tx_push_pages() sends in one TCP call
 * behind the header: splice_to_socket() hands over at most 16 at a time.
 */
#define KWS_TX_SPLICE_SEGS	16

/*
 * Build in @bvec the header bytes @hdr (copied into the socket's page frag)
 * followed by the first @n bytes of @from's pages, for one TCP call. Returns
 * the number of bvecs, or 0 when that cannot be done (no frag page, or
 * @from is not a short ITER_BVEC): then the header goes as a kvec.
 */
static int kws_tx_hdr_bvec(struct sock *sk, struct bio_vec *bvec,
			   const u8 *hdr, size_t hlen,
			   const struct iov_iter *from, size_t n)
{
	struct page_frag *pfrag = sk_page_frag(sk);
	size_t skip = from->iov_offset;
	int nr = 1;
	int i;

	if (!iov_iter_is_bvec(from) || from->nr_segs > KWS_TX_SPLICE_SEGS ||
	    !skb_page_frag_refill(hlen, pfrag, sk->sk_allocation))
		return 0;
	memcpy(page_address(pfrag->page) + pfrag->offset, hdr, hlen);
	bvec_set_page(&bvec[0], pfrag->page, hlen, pfrag->offset);
	/* Claimed whether TCP takes it or not: never written again. */
	pfrag->offset += hlen;
	for (i = 0; n && i < from->nr_segs; i++) {
		const struct bio_vec *bv = &from->bvec[i];
		size_t len = min(bv->bv_len - skip, n);

		bvec_set_page(&bvec[nr++], bv->bv_page, len,
			      bv->bv_offset + skip);
		n -= len;
		skip = 0;
	}
	return nr;
}

/*
 * Server role splice: the rest of the header, then up to @n bytes of the
 * caller's pages, handed to TCP as they are. With MSG_SPLICE_PAGES both go
 * in one call: a header sent on its own costs a second pass through
 * tcp_sendmsg_locked() per frame (2% of a sendfile's instructions on 6.12).
 * Before 6.5 TCP takes pages one call each anyway, and the kvec measured no
 * dearer there. Returns and locks as kws_tx_push_copy().
 */
static int kws_tx_push_pages(struct sock *sk, struct kws_ctx *ctx,
			     struct msghdr *msg, size_t hlen, size_t n,
			     int flags, bool *stalled)
{
	struct bio_vec bvec[1 + KWS_TX_SPLICE_SEGS];
	struct iov_iter it;
	size_t psent;
	int nr = 0;
	int ret;

	if (KWS_MSG_SPLICE_PAGES && hlen && n)
		nr = kws_tx_hdr_bvec(sk, bvec, ctx->tx_hdr + ctx->tx_hdr_sent,
				     hlen, &msg->msg_iter, n);
	if (nr) {
		iov_iter_bvec(&it, ITER_SOURCE, bvec, nr, hlen + n);
		ret = kws_tx_send_pages(sk, &it, hlen + n, flags);
		if (ret <= 0) {
			*stalled = true;
			return ret ? ret : -EAGAIN;
		}
		psent = kws_tx_took(ctx, hlen, ret);
		iov_iter_advance(&msg->msg_iter, psent);
		if (ret < hlen + n)
			*stalled = true;
		return psent;
	}
	if (hlen) {
		ret = kws_tx_send_kvec(sk, ctx->tx_hdr + ctx->tx_hdr_sent,
				       hlen, NULL, 0,
				       flags | (n ? MSG_MORE : 0));
		if (ret <= 0) {
			*stalled = true;
			return ret ? ret : -EAGAIN;
		}
		kws_tx_took(ctx, hlen, ret);
		if (ret < hlen) {
			*stalled = true;
			return 0;
		}
	}
	if (!n)
		return 0;
	ret = kws_tx_send_pages(sk, &msg->msg_iter, n, flags);
	if (ret <= 0) {
		*stalled = true;
		return ret ? ret : -EAGAIN;
	}
	if (ret < n)
		*stalled = true;
	return ret;
}

/*
 * Push the open data frame: the rest of its header, then payload from
 * @msg up to tx_frame_left, by reference when @splice allows it. Returns
 * payload bytes sent, or an error when none were (the frame may still have
 * advanced: its header went out). tx_lock and socket lock held.
 */
static int kws_tx_push(struct sock *sk, struct kws_ctx *ctx,
		       struct msghdr *msg, int flags, bool splice)
{
	int sflags = flags & (MSG_DONTWAIT | MSG_NOSIGNAL |
			      KWS_MSG_SENDPAGE_NOTLAST);
	size_t sent = 0;
	int ret = 0;

	while (kws_tx_frame_open(ctx)) {
		size_t hlen = ctx->tx_hdr_len - ctx->tx_hdr_sent;
		size_t n = min_t(u64, ctx->tx_frame_left,
				 iov_iter_count(&msg->msg_iter));
		bool stalled = false;
		int more;

		if (!hlen && !n)
			break;	/* the caller gave fewer bytes than owed */
		more = (ctx->tx_frame_left > n || (flags & MSG_MORE)) ?
		       MSG_MORE : 0;
		if (splice && !ctx->tx_masked)
			ret = kws_tx_push_pages(sk, ctx, msg, hlen, n,
						sflags | more, &stalled);
		else
			ret = kws_tx_push_copy(sk, ctx, msg, hlen, n,
					       sflags | more, &stalled);
		if (ret < 0)
			break;
		ctx->tx_frame_left -= ret;
		ctx->tx_phase = (ctx->tx_phase + ret) & 3;
		ctx->stats.tx_bytes += ret;
		kws_stats_add(sock_net(sk), KWS_STAT_TX_BYTES, ret);
		sent += ret;
		ret = 0;
		if (!kws_tx_frame_open(ctx))
			kws_tx_frame_done(sk, ctx);
		else if (stalled)
			break;	/* short write: timeout, signal or no room */
	}
	return sent ? sent : ret;
}

/* Start a data frame of @size bytes. tx_lock and socket lock held. */
static int kws_tx_data(struct sock *sk, struct kws_ctx *ctx,
		       struct msghdr *msg, size_t size, u8 opcode, int flags,
		       bool splice)
{
	bool fin = !(flags & MSG_MORE);
	const u8 *mask = NULL;
	int ret;

	if (ctx->tx_msg_open && opcode != ctx->tx_msg_opcode)
		return -EINVAL;
	if (ctx->role == WS_ROLE_CLIENT) {
		u32 key = get_random_u32();

		/* RFC 6455 5.3: a fresh, unpredictable key per frame. */
		memcpy(ctx->tx_mask, &key, sizeof(key));
		mask = ctx->tx_mask;
	}
	ctx->tx_hdr_len = kws_frame_build(ctx->tx_hdr, ctx->tx_msg_open ?
					  WS_OP_CONT : opcode, fin, size, mask);
	ctx->tx_hdr_sent = 0;
	ctx->tx_frame_left = size;
	ctx->tx_phase = 0;
	ctx->tx_masked = !!mask;
	ctx->tx_fin = fin;

	ret = kws_tx_push(sk, ctx, msg, flags, splice);
	if (!ctx->tx_hdr_sent) {
		/* Nothing reached TCP: the frame never existed. */
		ctx->tx_hdr_len = 0;
		ctx->tx_frame_left = 0;
		return ret;
	}
	ctx->tx_msg_open = !fin;
	ctx->tx_msg_opcode = opcode;
	return ret;
}

#ifdef KWS_HAVE_SENDPAGE
/* Release the pages TCP took whole (it holds its own references). */
static void kws_tx_hold_release(struct kws_tx_hold *h)
{
	u8 done = h->sending ? h->it.bvec - h->bvec : 0;

	while (h->put < done)
		put_page(h->bvec[h->put++].bv_page);
}

/* Drop every held page (the socket closes). tx_lock or no users left. */
void kws_tx_hold_free(struct kws_ctx *ctx)
{
	struct kws_tx_hold *h = ctx->tx_hold;

	if (!h)
		return;
	while (h->put < h->nr)
		put_page(h->bvec[h->put++].bv_page);
	kfree(h);
	ctx->tx_hold = NULL;
}

/*
 * Send the held pages as one frame, or the rest of it. Returns 0 once all
 * of it is with TCP, else the error; what TCP did not take stays held with
 * its frame open, for the next send, tx_work (on write space), shutdown or
 * close. tx_lock and socket lock held; sleeps unless MSG_DONTWAIT.
 */
int kws_tx_hold_push(struct sock *sk, struct kws_ctx *ctx, int flags)
{
	struct kws_tx_hold *h = ctx->tx_hold;
	struct msghdr msg = {};
	int ret;

	if (!h || !h->nr)
		return 0;
	if (!h->sending) {
		u8 opcode = ctx->tx_msg_open ? WS_OP_CONT : h->opcode;

		ctx->tx_hdr_len = kws_frame_build(ctx->tx_hdr, opcode, h->fin,
						  h->bytes, NULL);
		ctx->tx_hdr_sent = 0;
		ctx->tx_frame_left = h->bytes;
		ctx->tx_phase = 0;
		ctx->tx_masked = 0;
		ctx->tx_fin = h->fin;
		iov_iter_bvec(&h->it, ITER_SOURCE, h->bvec, h->nr, h->bytes);
		h->sending = 1;
	}
	msg.msg_iter = h->it;
	ret = kws_tx_push(sk, ctx, &msg, (flags & (MSG_DONTWAIT |
						   MSG_NOSIGNAL)) |
			  (h->fin ? 0 : MSG_MORE), true);
	h->it = msg.msg_iter;
	if (!ctx->tx_hdr_sent) {
		/* Nothing reached TCP: build the frame again next time. */
		ctx->tx_hdr_len = 0;
		ctx->tx_frame_left = 0;
		h->sending = 0;
		return ret < 0 ? ret : -EAGAIN;
	}
	ctx->tx_msg_open = !h->fin;
	ctx->tx_msg_opcode = h->opcode;
	kws_tx_hold_release(h);
	if (kws_tx_frame_open(ctx))
		return ret < 0 ? ret : -EAGAIN;
	while (h->put < h->nr)
		put_page(h->bvec[h->put++].bv_page);
	h->nr = 0;
	h->put = 0;
	h->bytes = 0;
	h->sending = 0;
	return 0;
}

/*
 * close(2): the application was told the held bytes were sent, so TCP takes
 * them now, without waiting for room: its send buffer is stretched for the
 * call by what is held (a pipe's worth at most). tx_lock and socket lock held.
 */
void kws_tx_hold_close(struct sock *sk, struct kws_ctx *ctx)
{
	int sndbuf = READ_ONCE(sk->sk_sndbuf);

	if (!ctx->tx_hold || !ctx->tx_hold->nr)
		return;
	WRITE_ONCE(sk->sk_sndbuf, max_t(int, sndbuf, sk->sk_wmem_queued +
					2 * ctx->tx_hold->bytes +
					SOCK_MIN_SNDBUF));
	kws_tx_hold_push(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
	WRITE_ONCE(sk->sk_sndbuf, sndbuf);
}

/*
 * Take a page of a splice batch (server role, the one bvec of @msg) into the
 * hold; send the held pages as one frame when the batch ends (no
 * MSG_SENDPAGE_NOTLAST) or the hold is full. The page is the caller's to
 * count as sent once held, or once its frame's header is with TCP: what TCP
 * does not take yet goes later, as a kTLS record does. Returns @size, or an
 * error when the page was not taken (-ENOMEM: send it the ordinary way).
 * tx_lock and socket lock held, process context, no frame open.
 */
static int kws_tx_hold_add(struct sock *sk, struct kws_ctx *ctx,
			   struct msghdr *msg, size_t size, u8 opcode,
			   int flags)
{
	const struct bio_vec *bv = msg->msg_iter.bvec;
	struct kws_tx_hold *h = ctx->tx_hold;
	int ret;

	if (!h) {
		h = kzalloc(sizeof(*h), sk->sk_allocation | __GFP_NOWARN);
		if (!h)
			return -ENOMEM;
		ctx->tx_hold = h;
	}
	if (!h->nr)
		h->opcode = opcode;
	get_page(bv->bv_page);
	h->bvec[h->nr++] = *bv;
	h->bytes += size;
	if ((flags & MSG_SENDPAGE_NOTLAST) && h->nr < KWS_TX_HOLD_PAGES)
		return size;
	/* MSG_MORE: the batch ends, the message goes on (or the hold is full). */
	h->fin = !(flags & MSG_MORE);
	ret = kws_tx_hold_push(sk, ctx, flags);
	if (ret && !h->sending) {
		/* Nothing reached TCP: this page was not taken after all. */
		put_page(h->bvec[--h->nr].bv_page);
		h->bytes -= size;
		return ret;
	}
	return size;
}
#endif

/*
 * Send a ping, pong or close the application asked for. Returns @size once
 * the frame is committed (any part of it reached TCP; ctrl.c finishes the
 * rest), an error when none of it did. tx_lock and socket lock held.
 */
static int kws_tx_control(struct sock *sk, struct kws_ctx *ctx,
			  struct msghdr *msg, size_t size,
			  const struct kws_tx_cmsg *tc, int flags)
{
	u8 payload[KWS_CONTROL_MAX];
	u8 reason[KWS_CONTROL_MAX];
	u8 opcode = tc->opcode;
	u16 code = 0;
	int len = size;
	int ret;

	if (size > KWS_CONTROL_MAX || (flags & MSG_MORE))
		return -EINVAL;
	if (!copy_from_iter_full(reason, size, &msg->msg_iter))
		return -EFAULT;
	if (opcode == WS_OP_CLOSE && tc->has_close) {
		code = tc->close.code;
		if (!code && size)
			return -EINVAL;	/* a reason needs a code (5.5.1) */
		len = kws_close_build(payload, code, reason, size);
		if (len < 0)
			return -EINVAL;
	} else if (opcode == WS_OP_CLOSE) {
		/* A raw close payload must itself be valid (5.5.1). */
		if (size && kws_close_check(reason, size, &code, 1))
			return -EINVAL;
		memcpy(payload, reason, size);
	} else {
		memcpy(payload, reason, size);
	}

	kws_ctrl_build(ctx, opcode, payload, len, false);
	ret = kws_ctrl_send_pending(sk, ctx, flags & (MSG_DONTWAIT |
						      MSG_NOSIGNAL));
	if (ret < 0 && !ctx->ctl_sent) {
		ctx->ctl_len = 0;	/* nothing reached TCP */
		return ret;
	}
	if (opcode == WS_OP_CLOSE) {
		ctx->close_sent = code ? code : WS_CLOSE_NO_STATUS;
		ctx->close_built = 1;
		ctx->pong_queued = 0;
		kws_set_state(ctx);
	}
	return size;
}

/*
 * Send the kernel's own frames that wait (pong, close echo) before an app
 * frame starts. Returns 0 when none is left part-sent, so a frame header may
 * follow, else the flush error. Socket lock and tx_lock held.
 */
static int kws_tx_flush_ctrl(struct sock *sk, struct kws_ctx *ctx, int flags)
{
	int ret;

	if (!kws_ctrl_pending(ctx))
		return 0;
	ret = kws_ctrl_flush(sk, ctx, flags);
	if (ret < 0 && (ctx->ctl_len || ctx->pong_burst_len))
		return ret;
	return 0;
}

/*
 * One frame from @msg: data, or a control frame the app asked for with a
 * cmsg. @splice: the payload is pages TCP may keep references to (splice,
 * sendfile). Process context, no lock held.
 */
static int kws_tx_do_sendmsg(struct sock *sk, struct msghdr *msg,
			     size_t size, bool splice, bool hold)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);
	int flags = msg->msg_flags;
	struct kws_tx_cmsg tc = {};
	u8 opcode;
	int ret;

	ret = kws_tx_parse_cmsg(msg, &tc);
	if (ret)
		return ret;

	ret = mutex_lock_interruptible(&ctx->tx_lock);
	if (ret)
		return ret;
	lock_sock(sk);
	if (!ctx->configured) {
		ret = -ENOTCONN;
		goto out;
	}

	/* Held pages first, unless this page joins them. */
	if (kws_tx_hold_sending(ctx) || !hold) {
		ret = kws_tx_hold_push(sk, ctx, flags);
		if (ret)
			goto out;
	}
	/* A frame TCP took part of: this call owes the rest of it. */
	if (kws_tx_frame_open(ctx)) {
		ret = kws_tx_push(sk, ctx, msg, flags, splice);
		goto out_flush;
	}
	/* Kernel frames waiting go first, between the app's frames. */
	ret = kws_tx_flush_ctrl(sk, ctx,
				flags & (MSG_DONTWAIT | MSG_NOSIGNAL));
	if (ret)
		goto out;
	/* The peer's close alone does not stop us before our echo (5.5.1). */
	if (ctx->close_sent || ctx->rx_failed ||
	    ctx->rx_abnormal || ctx->shut_wr ||
	    (sk->sk_shutdown & SEND_SHUTDOWN)) {
		ret = sk_stream_error(sk, flags, -EPIPE);
		goto out;
	}

	opcode = tc.opcode;
	if (!opcode)
		opcode = ctx->tx_msg_open ? ctx->tx_msg_opcode : ctx->tx_opcode;
	if (opcode & 0x8) {
		ret = kws_tx_control(sk, ctx, msg, size, &tc, flags);
		goto out_flush;
	}
#ifdef KWS_HAVE_SENDPAGE
	if (hold && ctx->role == WS_ROLE_SERVER && size) {
		ret = kws_tx_hold_add(sk, ctx, msg, size, opcode, flags);
		if (ret != -ENOMEM)
			goto out_flush;
	}
#endif
	ret = kws_tx_data(sk, ctx, msg, size, opcode, flags, splice);

out_flush:
	if (!kws_tx_frame_open(ctx) && kws_ctrl_pending(ctx))
		kws_ctrl_flush(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
out:
	release_sock(sk);
	mutex_unlock(&ctx->tx_lock);
	return ret;
}

/*
 * proto.sendmsg. From 6.5 splice() and sendfile() arrive here too, with
 * MSG_SPLICE_PAGES and the pipe's pages in an ITER_BVEC. Process context,
 * no lock held.
 */
int kws_tx_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	int flags = msg->msg_flags;

	/* MSG_WAITALL: ignored, as TCP does (io_uring sets it to resend). */
	if (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR |
		      MSG_WAITALL | MSG_CMSG_COMPAT | KWS_MSG_SPLICE_PAGES))
		return -EOPNOTSUPP;
	if ((flags & MSG_EOR) && (flags & MSG_MORE))
		return -EINVAL;
	return kws_tx_do_sendmsg(sk, msg, size, flags & KWS_MSG_SPLICE_PAGES,
				 false);
}

/*
 * proto.splice_eof: sendfile() met the end of its file before the count it
 * was given, after a frame with FIN clear. End the message with an empty
 * final frame, as a send without MSG_MORE would have. Process context, no
 * lock held.
 */
void kws_tx_splice_eof(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct kws_ctx *ctx = kws_get_ctx(sk);
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };

	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, NULL, 0, 0);
	mutex_lock(&ctx->tx_lock);
	lock_sock(sk);
	/* Pages a failed batch left held (6.1) end the message, as a frame. */
	kws_tx_hold_push(sk, ctx, MSG_NOSIGNAL);
	if (ctx->configured && ctx->tx_msg_open && !kws_tx_frame_open(ctx) &&
	    !ctx->close_sent && !ctx->shut_wr &&
	    !(sk->sk_shutdown & SEND_SHUTDOWN) &&
	    /* A control frame TCP took part of must end before our header. */
	    !kws_tx_flush_ctrl(sk, ctx, MSG_NOSIGNAL)) {
		kws_tx_data(sk, ctx, &msg, 0, ctx->tx_msg_opcode,
			    MSG_NOSIGNAL, false);
		if (!kws_tx_frame_open(ctx))
			kws_ctrl_flush(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	release_sock(sk);
	mutex_unlock(&ctx->tx_lock);
	if (ctx->sk_proto->splice_eof)
		ctx->sk_proto->splice_eof(sock);
}

/*
 * proto_ops.shutdown. SHUT_WR on an open connection starts the closing
 * handshake: a close 1000 (RFC 6455 7.1.2), blocking as a write would; TCP's
 * send side then ends as for any close handshake (7.1.1: the server once both
 * closes passed, a client once the server's FIN came), not at once. SHUT_RDWR
 * sends the close too, then shuts TCP now. Anything else, or when no close
 * can be sent (a frame is half sent, the handshake is over), is plain TCP.
 * Process context, no lock held.
 */
int kws_tx_sock_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	struct kws_ctx *ctx = kws_get_ctx(sk);
	bool handshake = false;

	if (!ctx)
		return -ENOTCONN;
	if (how != SHUT_WR && how != SHUT_RDWR)
		return ctx->sk_ops->shutdown(sock, how);

	/*
	 * A writer holding tx_lock may sleep in sk_stream_wait_memory() for
	 * as long as the peer does not read: no close frame can go out before
	 * its frame anyway, so shut TCP down as TCP would, which wakes that
	 * writer with EPIPE, rather than wait behind it.
	 */
	if (!mutex_trylock(&ctx->tx_lock))
		return ctx->sk_ops->shutdown(sock, how);
	lock_sock(sk);
	/* Held pages (6.1) precede the close; blocking as the close does. */
	kws_tx_hold_push(sk, ctx, MSG_NOSIGNAL);
	if (ctx->configured && !kws_tx_frame_open(ctx) &&
	    (!ctx->rx_eof || ctx->close_echo_wait) &&
	    !ctx->close_sent && !ctx->shut_wr &&
	    !(sk->sk_shutdown & SEND_SHUTDOWN)) {
		/* The echo of the peer's close if it waits, else 1000. */
		kws_ctrl_echo_close(ctx);
		kws_ctrl_queue_close(ctx, WS_CLOSE_NORMAL);
		/* Interrupted or timed out: tx_work sends it later. */
		if (kws_ctrl_flush(sk, ctx, MSG_NOSIGNAL))
			kws_ctrl_kick(ctx);
		handshake = true;
	} else if (ctx->configured && ctx->close_sent && !ctx->rx_eof &&
		   !ctx->shut_wr) {
		/* Our close is out already: the handshake decides. */
		handshake = true;
	}
	release_sock(sk);
	mutex_unlock(&ctx->tx_lock);

	if (handshake && how == SHUT_WR)
		return 0;
	return ctx->sk_ops->shutdown(sock, how);
}

#ifdef KWS_HAVE_SENDPAGE
/*
 * A page in the middle of a splice batch whose first page the hold took:
 * it joins the hold under tx_lock alone, which is what guards the hold, so
 * a batch pays the socket lock and the checks of a send once, not per page.
 * Returns @size, 0 when the page must take the full path, or -EINTR.
 * Process context, no lock held.
 */
static int kws_tx_hold_append(struct kws_ctx *ctx, const struct bio_vec *bv,
			      int flags)
{
	struct kws_tx_hold *h;
	int ret = 0;

	if (!(flags & MSG_SENDPAGE_NOTLAST) || !bv->bv_len ||
	    !READ_ONCE(ctx->tx_hold))
		return 0;
	if (mutex_lock_interruptible(&ctx->tx_lock))
		return -EINTR;
	h = ctx->tx_hold;
	/* Not the page that fills the hold: that one sends the frame. */
	if (h && h->nr && !h->sending && h->nr < KWS_TX_HOLD_PAGES - 1) {
		get_page(bv->bv_page);
		h->bvec[h->nr++] = *bv;
		h->bytes += bv->bv_len;
		ret = bv->bv_len;
	}
	mutex_unlock(&ctx->tx_lock);
	return ret;
}

/*
 * proto.sendpage (before 6.5): splice() and sendfile() hand over one pipe
 * buffer (at most a page) per call, so each is a frame; MSG_MORE and
 * MSG_SENDPAGE_NOTLAST keep the message open. Process context, no lock
 * held.
 */
int kws_tx_sendpage(struct sock *sk, struct page *page, int offset,
		    size_t size, int flags)
{
	struct bio_vec bvec = {
		.bv_page = page,
		.bv_offset = offset,
		.bv_len = size,
	};
	struct msghdr msg = {};
	int ret;

	if (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL |
		      MSG_SENDPAGE_NOTLAST | MSG_SENDPAGE_NOPOLICY))
		return -EOPNOTSUPP;
	ret = kws_tx_hold_append(kws_get_ctx(sk), &bvec, flags);
	if (ret)
		return ret;
	/* NOTLAST also reaches TCP: it pushes once per batch, not per page. */
	msg.msg_flags = flags & (MSG_DONTWAIT | MSG_NOSIGNAL |
				 MSG_SENDPAGE_NOTLAST);
	if (flags & (MSG_MORE | MSG_SENDPAGE_NOTLAST))
		msg.msg_flags |= MSG_MORE;
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bvec, 1, size);
	return kws_tx_do_sendmsg(sk, &msg, size, true, true);
}

/*
 * proto_ops.sendpage_locked: its callers (sockmap, kcm, espintcp) hold the
 * socket lock, which nests inside tx_lock; none of them can reach a ws
 * socket, so it stays refused rather than take tx_lock out of order.
 */
int kws_tx_sendpage_locked(struct sock *sk, struct page *page, int offset,
			   size_t size, int flags)
{
	return -EOPNOTSUPP;
}
#endif
