// SPDX-License-Identifier: GPL-2.0
/*
 * kws send path: one sendmsg() is one message, or one fragment of it with
 * MSG_MORE. A data frame's header carries the whole length of the call and
 * the payload is streamed through a page-sized bounce buffer (masked there
 * in client role), so large messages are never buffered whole. A control
 * frame is at most 139 bytes and is built whole in ctx->ctl_frame.
 *
 * A frame that TCP took only part of stays open: the next sendmsg() must
 * carry the rest of its payload, and nothing else (no kernel pong or close)
 * goes on the wire until it is complete.
 */
#include <linux/net.h>
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
 * Push the open data frame: the rest of its header, then payload from
 * @msg up to tx_frame_left. Returns payload bytes sent, or an error when
 * none were (the frame may still have advanced: its header went out).
 * tx_lock and socket lock held.
 */
static int kws_tx_push(struct sock *sk, struct kws_ctx *ctx,
		       struct msghdr *msg, int flags)
{
	int sflags = flags & (MSG_DONTWAIT | MSG_NOSIGNAL);
	size_t sent = 0;
	int ret = 0;

	while (kws_tx_frame_open(ctx)) {
		size_t hlen = ctx->tx_hdr_len - ctx->tx_hdr_sent;
		size_t n = min_t(u64, ctx->tx_frame_left, PAGE_SIZE);
		size_t psent;
		int more;

		n = min(n, iov_iter_count(&msg->msg_iter));
		if (!hlen && !n)
			break;	/* the caller gave fewer bytes than owed */
		if (n) {
			if (!copy_from_iter_full(ctx->tx_buf, n,
						 &msg->msg_iter)) {
				ret = -EFAULT;
				break;
			}
			/* RFC 6455 5.3: masked as it leaves user memory. */
			if (ctx->tx_masked)
				kws_mask_copy(ctx->tx_buf, ctx->tx_buf, n,
					      ctx->tx_mask, ctx->tx_phase);
		}
		more = (ctx->tx_frame_left > n || (flags & MSG_MORE)) ?
		       MSG_MORE : 0;
		ret = kws_tx_send_kvec(sk, ctx->tx_hdr + ctx->tx_hdr_sent,
				       hlen, ctx->tx_buf, n, sflags | more);
		if (ret <= 0) {
			iov_iter_revert(&msg->msg_iter, n);
			if (!ret)
				ret = -EAGAIN;
			break;
		}
		if ((size_t)ret <= hlen) {
			ctx->tx_hdr_sent += ret;
			psent = 0;
		} else {
			ctx->tx_hdr_sent = ctx->tx_hdr_len;
			psent = ret - hlen;
		}
		if (psent < n)
			iov_iter_revert(&msg->msg_iter, n - psent);
		ctx->tx_frame_left -= psent;
		ctx->tx_phase = (ctx->tx_phase + psent) & 3;
		ctx->stats.tx_bytes += psent;
		kws_stats_add(sock_net(sk), KWS_STAT_TX_BYTES, psent);
		sent += psent;
		ret = 0;
		if (!kws_tx_frame_open(ctx))
			kws_tx_frame_done(sk, ctx);
		else if (psent < n || (!n && ctx->tx_hdr_sent < ctx->tx_hdr_len))
			break;	/* short write: timeout, signal or no room */
	}
	return sent ? sent : ret;
}

/* Start a data frame of @size bytes. tx_lock and socket lock held. */
static int kws_tx_data(struct sock *sk, struct kws_ctx *ctx,
		       struct msghdr *msg, size_t size, u8 opcode, int flags)
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

	ret = kws_tx_push(sk, ctx, msg, flags);
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
	u8 opcode = tc->opcode;
	u8 *reason = ctx->tx_buf;
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

int kws_tx_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);
	int flags = msg->msg_flags;
	struct kws_tx_cmsg tc = {};
	u8 opcode;
	int ret;

	if (flags & ~(MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR |
		      MSG_CMSG_COMPAT))
		return -EOPNOTSUPP;
	if ((flags & MSG_EOR) && (flags & MSG_MORE))
		return -EINVAL;
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

	/* A frame TCP took part of: this call owes the rest of it. */
	if (kws_tx_frame_open(ctx)) {
		ret = kws_tx_push(sk, ctx, msg, flags);
		goto out_flush;
	}
	/* Kernel frames waiting go first, between the app's frames. */
	ret = kws_ctrl_flush(sk, ctx, flags & (MSG_DONTWAIT | MSG_NOSIGNAL));
	if (ret < 0 && ctx->ctl_len)
		goto out;
	if (ctx->close_sent || ctx->close_rcvd || ctx->rx_failed ||
	    ctx->rx_abnormal || ctx->shut_wr ||
	    (sk->sk_shutdown & SEND_SHUTDOWN)) {
		ret = sk_stream_error(sk, flags, -EPIPE);
		goto out;
	}

	opcode = tc.opcode;
	if (!opcode)
		opcode = ctx->tx_msg_open ? ctx->tx_msg_opcode : ctx->tx_opcode;
	if (opcode & 0x8)
		ret = kws_tx_control(sk, ctx, msg, size, &tc, flags);
	else
		ret = kws_tx_data(sk, ctx, msg, size, opcode, flags);

out_flush:
	if (!kws_tx_frame_open(ctx))
		kws_ctrl_flush(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
out:
	release_sock(sk);
	mutex_unlock(&ctx->tx_lock);
	return ret;
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
	if (ctx->configured && !kws_tx_frame_open(ctx) && !ctx->rx_eof &&
	    !ctx->close_sent && !ctx->shut_wr &&
	    !(sk->sk_shutdown & SEND_SHUTDOWN)) {
		kws_ctrl_queue_close(ctx, WS_CLOSE_NORMAL, NULL, 0);
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
/* sendfile()/splice() would write raw bytes between frames (before 6.5). */
int kws_tx_sendpage(struct sock *sk, struct page *page, int offset,
		    size_t size, int flags)
{
	return -EOPNOTSUPP;
}

int kws_tx_sendpage_locked(struct sock *sk, struct page *page, int offset,
			   size_t size, int flags)
{
	return -EOPNOTSUPP;
}
#endif
