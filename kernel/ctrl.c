// SPDX-License-Identifier: GPL-2.0
/*
 * kws control frames the kernel sends on its own: pongs, the close echo,
 * the close of a failed connection, close 1001 at close(2), keepalive pings.
 *
 * The receive path (possibly softirq) only queues them in the context; they
 * go on the wire only between frames of the application's stream, from the
 * sendmsg() exit path or from tx_work, which takes tx_lock (trylock, so a
 * writer sleeping for memory is never waited on) and then the socket lock.
 * A frame TCP took part of stays in ctl_frame with a cursor.
 */
#include <linux/jiffies.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/timer.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "kws.h"

/* Build a whole control frame at @out; returns its length. */
static unsigned int kws_ctrl_build_at(const struct kws_ctx *ctx, u8 *out,
				      u8 opcode, const u8 *payload, u8 len)
{
	unsigned int hdr;

	if (ctx->role == WS_ROLE_CLIENT) {
		u32 key = get_random_u32();
		u8 mask[4];

		memcpy(mask, &key, sizeof(mask));
		hdr = kws_frame_build(out, opcode, 1, len, mask);
		kws_mask_copy(out + hdr, payload, len, mask, 0);
	} else {
		hdr = kws_frame_build(out, opcode, 1, len, NULL);
		memcpy(out + hdr, payload, len);
	}
	return hdr + len;
}

/*
 * Append the pong for @payload to pong_burst, if there is one with room.
 * Socket lock held (either form).
 */
static bool kws_ctrl_burst_add(struct kws_ctx *ctx, const u8 *payload,
			       u8 len)
{
	u8 *out = ctx->pong_burst + ctx->pong_burst_len;

	if (!ctx->pong_burst ||
	    KWS_PONG_BURST - ctx->pong_burst_len < KWS_CTL_FRAME_MAX)
		return false;
	ctx->pong_burst_len += kws_ctrl_build_at(ctx, out, WS_OP_PONG,
						 payload, len);
	ctx->pong_burst_count++;
	return true;
}

/*
 * Can the pong of a ping parsed now go straight into ctl_frame for
 * kws_ctrl_pong_now()? Only between the application's frames with no
 * other frame of ours pending: a writer that sleeps with the socket lock
 * dropped (no room in TCP) always has its frame open or its control frame
 * in ctl_frame, so this also keeps out of its way without tx_lock. rx.c
 * then keeps no skb ready for the ping's payload. Socket lock held.
 */
bool kws_ctrl_pong_direct_ok(const struct kws_ctx *ctx)
{
	return !ctx->pong_queued && !ctx->ctl_len && !ctx->pong_burst_len &&
	       !ctx->close_built && !kws_tx_frame_open(ctx);
}

/*
 * Every ping gets its pong, in order. While flush keeps a pong_burst
 * buffer (a run of pings is being answered) the pong is built at its end
 * and parsing goes on: a ping then costs no skb. With @now (the parser
 * calls kws_ctrl_pong_now() as soon as it stops) and nothing else pending
 * the pong is built in ctl_frame and parsing stops until it is sent: an
 * idle connection's ping costs no allocation. Returns true when the pong
 * is built or none is due (our close is out); false when it needs the slot
 * (kws_ctrl_queue_pong()): no page or no room, a pong already waits there
 * (order), or the application's data frame is half sent.
 * Socket lock held (either form).
 */
bool kws_ctrl_burst_pong(struct kws_ctx *ctx, const u8 *payload, u8 len,
			 bool now)
{
	if (ctx->close_built)
		return true;
	if (kws_tx_frame_open(ctx) || ctx->pong_queued)
		return false;
	if (kws_ctrl_burst_add(ctx, payload, len))
		return true;
	if (!now || !kws_ctrl_pong_direct_ok(ctx))
		return false;
	kws_ctrl_build(ctx, WS_OP_PONG, payload, len, true);
	ctx->pong_built = 1;
	ctx->rx_pong_wait = 1;
	return true;
}

/*
 * Hold the pong for a ping whose payload is in @payload, a private skb
 * rx.c may also queue as a record (a reference is taken, nothing is ever
 * written to it), in pong_skb, the one slot: the receive path pauses
 * (rx_pong_wait) until flush takes it, so memory stays at one page and
 * one pong however fast pings come. While the application's data frame
 * is half sent (the page is empty then: no data frame starts before it is
 * with TCP) no pong can go out and parsing goes on: a newer ping replaces
 * the pong in the slot (RFC 6455 5.5.3 allows answering only the latest).
 * Socket lock held (either form).
 */
void kws_ctrl_queue_pong(struct kws_ctx *ctx, struct sk_buff *payload)
{
	consume_skb(ctx->pong_skb);
	ctx->pong_skb = skb_get(payload);
	ctx->pong_queued = 1;
	if (!kws_tx_frame_open(ctx))
		ctx->rx_pong_wait = 1;
}

/* Forget the pending pongs (our close is out, or the socket closes). */
void kws_ctrl_purge(struct kws_ctx *ctx)
{
	ctx->pong_queued = 0;
	consume_skb(ctx->pong_skb);
	ctx->pong_skb = NULL;
	kfree(ctx->pong_burst);
	ctx->pong_burst = NULL;
	ctx->pong_burst_len = 0;
	ctx->pong_burst_sent = 0;
	ctx->pong_burst_count = 0;
}

/*
 * Queue our close; @code 0 sends an empty one. The kernel's closes carry no
 * reason (an application's close is built by tx.c). Socket lock held.
 */
void kws_ctrl_queue_close(struct kws_ctx *ctx, u16 code)
{
	if (ctx->close_sent)
		return;
	ctx->close_code = code;
	ctx->close_queued = 1;
	ctx->close_sent = code ? code : WS_CLOSE_NO_STATUS;
	kws_set_state(ctx);
}

/*
 * Send the close echo that waited for the application (rx.c): when it has
 * read up to the peer's close, or gives up on reading (close(2), shutdown).
 * Our close carries the peer's code. Socket lock held (either form).
 */
void kws_ctrl_echo_close(struct kws_ctx *ctx)
{
	if (!ctx->close_echo_wait)
		return;
	ctx->close_echo_wait = 0;
	kws_ctrl_queue_close(ctx, ctx->close_rcvd == WS_CLOSE_NO_STATUS ?
			     0 : ctx->close_rcvd);
	kws_ctrl_kick(ctx);
}

/*
 * RFC 6455 7.1.1: the server closes TCP first, once both closes passed; a
 * client once the server did; anyone after failing the connection.
 */
static bool kws_ctrl_want_shut(const struct sock *sk,
			       const struct kws_ctx *ctx)
{
	if (ctx->shut_wr || !ctx->close_flushed)
		return false;
	if (ctx->rx_failed)
		return true;
	return ctx->close_rcvd && (ctx->role == WS_ROLE_SERVER ||
				   (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN));
}

/* Anything for tx_work to do? Socket lock held. */
bool kws_ctrl_pending(const struct kws_ctx *ctx)
{
	return ctx->ctl_len || ctx->pong_burst_len || ctx->pong_queued ||
	       ctx->ping_queued ||
	       ctx->close_queued || ctx->rx_pong_wait ||
	       kws_tx_hold_sending(ctx) ||
	       kws_ctrl_want_shut(ctx->sk, ctx);
}

/* Get tx_work to flush soon. Any context; socket lock held. */
void kws_ctrl_kick(struct kws_ctx *ctx)
{
	if (kws_ctrl_pending(ctx))
		kws_queue_delayed_work(ctx, &ctx->tx_work, 0);
}

/*
 * Build a whole control frame in ctl_frame. tx_lock and socket lock held,
 * or the socket lock alone for the parser's pong (kws_ctrl_burst_pong()).
 */
void kws_ctrl_build(struct kws_ctx *ctx, u8 opcode, const u8 *payload,
		    u8 len, bool kernel)
{
	ctx->ctl_len = kws_ctrl_build_at(ctx, ctx->ctl_frame, opcode, payload,
					 len);
	ctx->pong_built = 0;
	ctx->ctl_sent = 0;
	ctx->ctl_opcode = opcode;
	ctx->ctl_kernel = kernel;
}

/*
 * Send the rest of ctl_frame. Returns 0 once it is all with TCP, else the
 * error. tx_lock and socket lock held; no data frame may be open.
 */
int kws_ctrl_send_pending(struct sock *sk, struct kws_ctx *ctx, int flags)
{
	int ret;

	while (ctx->ctl_sent < ctx->ctl_len) {
		ret = kws_tx_send_kvec(sk, ctx->ctl_frame + ctx->ctl_sent,
				       ctx->ctl_len - ctx->ctl_sent, NULL, 0,
				       flags);
		if (ret <= 0)
			return ret ? ret : -EAGAIN;
		ctx->ctl_sent += ret;
	}

	ctx->stats.tx_frames++;
	if (ctx->ctl_opcode == WS_OP_PONG && ctx->ctl_kernel) {
		ctx->stats.pings_answered++;
		kws_stats_inc(sock_net(sk), KWS_STAT_PINGS_ANSWERED);
	}
	if (ctx->ctl_opcode == WS_OP_CLOSE)
		ctx->close_flushed = 1;
	ctx->ctl_len = 0;
	ctx->ctl_sent = 0;
	ctx->pong_built = 0;
	return 0;
}

/*
 * Send the rest of pong_burst; once it is all with TCP, empty it. Returns
 * 0 then, else the error. tx_lock and socket lock held; no data frame may
 * be open.
 */
static int kws_ctrl_send_burst(struct sock *sk, struct kws_ctx *ctx,
			       int flags)
{
	int ret;

	while (ctx->pong_burst_sent < ctx->pong_burst_len) {
		ret = kws_tx_send_kvec(sk, ctx->pong_burst +
				       ctx->pong_burst_sent,
				       ctx->pong_burst_len -
				       ctx->pong_burst_sent, NULL, 0, flags);
		if (ret <= 0)
			return ret ? ret : -EAGAIN;
		ctx->pong_burst_sent += ret;
	}

	ctx->stats.tx_frames += ctx->pong_burst_count;
	ctx->stats.pings_answered += ctx->pong_burst_count;
	kws_stats_add(sock_net(sk), KWS_STAT_PINGS_ANSWERED,
		      ctx->pong_burst_count);
	ctx->pong_burst_len = 0;
	ctx->pong_burst_sent = 0;
	ctx->pong_burst_count = 0;
	return 0;
}

/* The page TCP copies a pong into when kws_ctrl_pong_now() sends it. */
static DEFINE_PER_CPU(struct page_frag, kws_pong_frag);

/* Module exit: TCP keeps its own references to pages still in flight. */
void kws_ctrl_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page_frag *pfrag = per_cpu_ptr(&kws_pong_frag, cpu);

		if (pfrag->page)
			put_page(pfrag->page);
		pfrag->page = NULL;
	}
}

/*
 * Send the pong the parser just built in ctl_frame (kws_ctrl_burst_pong())
 * at once, from the context that parsed its ping, instead of waking
 * tx_work. Returns true when it is all with TCP (parsing may go on); false
 * leaves it to tx_work. Context: the socket lock in either form: softirq
 * with bh_lock_sock() and no owner, or a process that owns it; tx_lock is
 * not held.
 */
bool kws_ctrl_pong_now(struct sock *sk, struct kws_ctx *ctx)
{
	bool use_task_frag = sk->sk_use_task_frag;
	gfp_t allocation = sk->sk_allocation;
	struct page_frag *pfrag;
	int ret;

	/* Built under this same hold of the socket lock: nothing came between. */
	if (!ctx->pong_built)
		return false;
	ctx->pong_built = 0;

	/*
	 * Never sleep (MSG_DONTWAIT, GFP_ATOMIC: espintcp sends from softirq
	 * the same way), and never touch current's task frag, which softirq
	 * may have interrupted in use: TCP copies into sk_frag, lent for the
	 * call from this CPU's kws_pong_frag (BH off keeps it ours), so a
	 * socket keeps no page of its own.
	 */
	local_bh_disable();
	pfrag = this_cpu_ptr(&kws_pong_frag);
	swap(*pfrag, sk->sk_frag);
	sk->sk_allocation = GFP_ATOMIC;
	sk->sk_use_task_frag = false;
	ret = kws_ctrl_send_pending(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
	sk->sk_use_task_frag = use_task_frag;
	sk->sk_allocation = allocation;
	swap(*pfrag, sk->sk_frag);
	local_bh_enable();
	if (ret)
		return false;	/* the rest is in ctl_frame: tx_work sends it */
	ctx->rx_pong_wait = 0;
	return true;
}

/* Shut the TCP send side ourselves (not through inet_shutdown()). */
static void kws_ctrl_shut(struct sock *sk, struct kws_ctx *ctx)
{
	ctx->shut_wr = 1;
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | SEND_SHUTDOWN);
	ctx->sk_proto->shutdown(sk, SEND_SHUTDOWN);
	sk->sk_state_change(sk);
}

/*
 * Keepalive, from tx_work: ping after idle_ms without input; fail with
 * 1011 when its pong is not back within timeout_ms. Locks as flush.
 */
static void kws_ka_check(struct kws_ctx *ctx)
{
	unsigned long idle = msecs_to_jiffies(ctx->keepalive.idle_ms);
	unsigned long timeout = msecs_to_jiffies(ctx->keepalive.timeout_ms);
	unsigned long now = jiffies;

	if (!ctx->keepalive.idle_ms || ctx->state != WS_STATE_OPEN)
		return;
	if (ctx->ping_outstanding) {
		if (time_after_eq(now, ctx->ping_sent_at + timeout)) {
			kws_rx_fail(ctx->sk, ctx, WS_CLOSE_INTERNAL);
			return;
		}
	} else if (time_after_eq(now, ctx->rx_last + idle)) {
		ctx->ping_queued = 1;
	}
	kws_ka_arm(ctx);
}

/*
 * Send what is queued, in order: a started frame, the pongs, a keepalive
 * ping, our close; resume parsing when it waited for a pong, and shut TCP
 * if the handshake is over. tx_lock and socket lock held, process
 * context. Never inside the app's open frame.
 *
 * A pong taken from the slot goes into pong_burst (allocated here, freed
 * when flush finds nothing more to send), and parsing resumes at once:
 * the pongs of the pings that follow are built behind it without pausing
 * until the page is full, and go to TCP in one call. Answering a ping
 * flood one parse pass and one segment per ping cost ~3 ms a ping on the
 * KASAN kernel (Documentation/reliability.md). Without the page the pong
 * is built in ctl_frame, sent with MSG_MORE when the next one waits.
 */
int kws_ctrl_flush(struct sock *sk, struct kws_ctx *ctx, int flags)
{
	int ret;

	lockdep_assert_held(&ctx->tx_lock);
	sock_owned_by_me(sk);

	if (kws_tx_frame_open(ctx))
		return 0;
again:
	for (;;) {
		if (ctx->ctl_len) {
			int more = ctx->pong_queued ? MSG_MORE : 0;

			ret = kws_ctrl_send_pending(sk, ctx, flags | more);
			if (ret)
				return ret;
			continue;
		}
		if (ctx->pong_burst_len) {
			ret = kws_ctrl_send_burst(sk, ctx, flags);
			if (ret)
				return ret;
			continue;
		}
		if (ctx->close_built) {
			kws_ctrl_purge(ctx);
			ctx->ping_queued = 0;
			break;
		}
		if (ctx->pong_queued) {
			struct sk_buff *pong = ctx->pong_skb;

			ctx->pong_queued = 0;
			ctx->pong_skb = NULL;
			if (!ctx->pong_burst)
				ctx->pong_burst = kmalloc(KWS_PONG_BURST,
							  GFP_KERNEL |
							  __GFP_NOWARN);
			if (!kws_ctrl_burst_add(ctx, pong->data, pong->len))
				kws_ctrl_build(ctx, WS_OP_PONG, pong->data,
					       pong->len, true);
			consume_skb(pong);
			/* The slot is free: parse up to the next ping. */
			if (ctx->rx_pong_wait) {
				ctx->rx_pong_wait = 0;
				kws_rx_parse(sk, ctx);
			}
			continue;
		}
		if (ctx->ping_queued) {
			ctx->ping_queued = 0;
			ctx->ping_outstanding = 1;
			ctx->ping_sent_at = jiffies;
			kws_ctrl_build(ctx, WS_OP_PING, NULL, 0, true);
			continue;
		}
		if (ctx->close_queued) {
			u8 payload[KWS_CONTROL_MAX];
			int len;

			ctx->close_queued = 0;
			len = kws_close_build(payload, ctx->close_code,
					      NULL, 0);
			if (WARN_ON_ONCE(len < 0))
				len = 0;
			ctx->close_built = 1;
			kws_ctrl_build(ctx, WS_OP_CLOSE, payload, len, true);
			continue;
		}
		break;
	}
	/* The pong it waited for was dropped (our close): parse on. */
	if (ctx->rx_pong_wait) {
		ctx->rx_pong_wait = 0;
		kws_rx_parse(sk, ctx);
		if (ctx->pong_queued || ctx->pong_burst_len)
			goto again;
	}
	/* Nothing left to answer: the page waits for the next run of pings. */
	kfree(ctx->pong_burst);
	ctx->pong_burst = NULL;
	if (kws_ctrl_want_shut(sk, ctx))
		kws_ctrl_shut(sk, ctx);
	return 0;
}

/* tx_work: holds a sock reference taken when it was queued. */
void kws_ctrl_work(struct work_struct *work)
{
	struct kws_ctx *ctx = container_of(to_delayed_work(work),
					   struct kws_ctx, tx_work);
	struct sock *sk = ctx->sk;

	if (!mutex_trylock(&ctx->tx_lock)) {
		/*
		 * The writer flushes on its way out; retry later in case it
		 * already passed that point (10 ms, as kTLS's tx_work).
		 */
		kws_queue_delayed_work(ctx, &ctx->tx_work,
				       msecs_to_jiffies(10));
		goto out;
	}
	lock_sock(sk);
	kws_ka_check(ctx);
	/* -EAGAIN: kws_ctrl_write_space() kicks us when TCP has room. */
	if (kws_tx_hold_sending(ctx))
		kws_tx_hold_push(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
	kws_ctrl_flush(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
	release_sock(sk);
	mutex_unlock(&ctx->tx_lock);
out:
	sock_put(sk);
}

/* sk_write_space: socket lock held in either form, softirq possible. */
void kws_ctrl_write_space(struct sock *sk)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);

	kws_ctrl_kick(ctx);
	ctx->saved_write_space(sk);
}

/* ---- keepalive timer --------------------------------------------------- */

/* Softirq: only hand over to tx_work, which has the locks. */
static void kws_ka_timer(struct timer_list *t)
{
	struct kws_ctx *ctx = timer_container_of(ctx, t, ka_timer);

	kws_queue_delayed_work(ctx, &ctx->tx_work, 0);
}

void kws_ka_init(struct kws_ctx *ctx)
{
	timer_setup(&ctx->ka_timer, kws_ka_timer, 0);
}

/* (Re)arm for the next keepalive decision. Socket lock held. */
void kws_ka_arm(struct kws_ctx *ctx)
{
	unsigned long when;

	if (!ctx->keepalive.idle_ms)
		return;
	if (ctx->ping_outstanding)
		when = ctx->ping_sent_at +
		       msecs_to_jiffies(ctx->keepalive.timeout_ms);
	else
		when = ctx->rx_last + msecs_to_jiffies(ctx->keepalive.idle_ms);
	spin_lock_bh(&ctx->work_lock);
	if (!ctx->closing)
		mod_timer(&ctx->ka_timer, when);
	spin_unlock_bh(&ctx->work_lock);
}

/* After ctx->closing is set: the timer cannot re-arm. Process context. */
void kws_ka_stop(struct kws_ctx *ctx)
{
	timer_delete_sync(&ctx->ka_timer);
}
