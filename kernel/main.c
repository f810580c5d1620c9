// SPDX-License-Identifier: GPL-2.0
/*
 * kws: WebSocket (RFC 6455) as a TCP upper layer protocol ("ws").
 *
 * This file: the ULP (attach, close), the proto and proto_ops tables built
 * per address family from the socket's own base tables, SOL_WS options,
 * inet_diag info and module init/exit. Receive is in rx.c, send in tx.c,
 * the frames the kernel sends itself in ctrl.c.
 */
#include <asm/ioctls.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/slab.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <net/genetlink.h>
#include <net/inet_common.h>
#include <net/netlink.h>
#include <net/tcp.h>

#include "kws.h"

enum {
	KWS_V4,
	KWS_V6,
	KWS_NUM_FAMILIES,
};

/*
 * Built lazily from the live base tables (tcp_prot, tcpv6_prot and the
 * inet{,6}_stream_ops), rebuilt if a base pointer ever changes; the saved
 * pointers are published with release semantics after the tables are written.
 */
static struct proto kws_prots[KWS_NUM_FAMILIES];
static struct proto_ops kws_proto_ops[KWS_NUM_FAMILIES];
static const struct proto *kws_saved_prot[KWS_NUM_FAMILIES];
static DEFINE_MUTEX(kws_prot_mutex);

/* Queue @dwork unless the socket is closing; queued work holds a sock ref. */
bool kws_queue_delayed_work(struct kws_ctx *ctx, struct delayed_work *dwork,
			    unsigned long delay)
{
	bool queued = false;

	spin_lock_bh(&ctx->work_lock);
	if (!ctx->closing && queue_delayed_work(system_wq, dwork, delay)) {
		sock_hold(ctx->sk);
		queued = true;
	}
	spin_unlock_bh(&ctx->work_lock);
	return queued;
}

/* Recompute ctx->state from the close handshake. Socket lock held. */
void kws_set_state(struct kws_ctx *ctx)
{
	u8 state = WS_STATE_OPEN;

	if (ctx->rx_failed || ctx->rx_abnormal ||
	    (ctx->close_sent && ctx->close_rcvd))
		state = WS_STATE_CLOSED;
	else if (ctx->close_sent || ctx->close_rcvd)
		state = WS_STATE_CLOSING;
	WRITE_ONCE(ctx->state, state);
}

/* Stop the deferred work for good. Process context, socket lock NOT held. */
static void kws_work_stop(struct kws_ctx *ctx)
{
	struct sock *sk = ctx->sk;

	spin_lock_bh(&ctx->work_lock);
	ctx->closing = true;
	spin_unlock_bh(&ctx->work_lock);

	/* The timer queues tx_work; after it, nothing can queue any more. */
	kws_ka_stop(ctx);
	if (kws_disable_delayed_work_sync(&ctx->rx_work))
		sock_put(sk);
	if (kws_disable_delayed_work_sync(&ctx->tx_work))
		sock_put(sk);
}

/* ---- SOL_WS options ---------------------------------------------------- */

/* Every SOL_WS option has one fixed size: anything else is EINVAL. */
static int kws_copy_opt(void *dst, unsigned int size, sockptr_t optval,
			unsigned int optlen)
{
	if (optlen != size)
		return -EINVAL;
	if (copy_from_sockptr(dst, optval, size))
		return -EFAULT;
	return 0;
}

static int kws_set_config(struct sock *sk, struct kws_ctx *ctx,
			  sockptr_t optval, unsigned int optlen)
{
	struct ws_config cfg;
	u8 parser_flags = 0;
	u64 max_msg;
	int err;

	err = kws_copy_opt(&cfg, sizeof(cfg), optval, optlen);
	if (err)
		return err;
	if (ctx->configured)
		return -EBUSY;
	if (cfg.role != WS_ROLE_CLIENT && cfg.role != WS_ROLE_SERVER)
		return -EINVAL;
	if (cfg.tx_opcode && cfg.tx_opcode != WS_OP_TEXT &&
	    cfg.tx_opcode != WS_OP_BINARY)
		return -EINVAL;
	if (cfg.reserved || (cfg.flags & ~WS_F_ALL))
		return -EINVAL;

	max_msg = cfg.max_msg_size ? cfg.max_msg_size : ctx->max_msg;
	if (cfg.flags & WS_F_NO_UTF8_CHECK)
		parser_flags |= KWS_PARSER_NO_UTF8;

	ctx->role = cfg.role;
	ctx->tx_opcode = cfg.tx_opcode ? cfg.tx_opcode : WS_OP_BINARY;
	ctx->flags = cfg.flags;
	ctx->max_msg = max_msg;
	kws_parser_init(&ctx->parser, cfg.role, max_msg, parser_flags);
	ctx->rx_last = jiffies;
	WRITE_ONCE(ctx->state, WS_STATE_OPEN);

	/*
	 * TCP wakes data_ready only once sk_rcvlowat bytes are queued; the
	 * parser needs every byte (SO_RCVLOWAT is refused from now on).
	 */
	WRITE_ONCE(sk->sk_rcvlowat, 1);

	write_lock_bh(&sk->sk_callback_lock);
	ctx->saved_data_ready = sk->sk_data_ready;
	ctx->saved_write_space = sk->sk_write_space;
	sk->sk_data_ready = kws_rx_data_ready;
	sk->sk_write_space = kws_ctrl_write_space;
	/* Paired with READ_ONCE() in kws_rx_poll() and the ops. */
	WRITE_ONCE(ctx->configured, 1);
	write_unlock_bh(&sk->sk_callback_lock);

	/* Leftover bytes first, then whatever TCP queued before now. */
	kws_rx_parse(sk, ctx);
	kws_ka_arm(ctx);
	return 0;
}

static int kws_set_leftover(struct kws_ctx *ctx, sockptr_t optval,
			    unsigned int optlen)
{
	struct sk_buff_head list;
	unsigned int off = 0;
	struct sk_buff *skb;

	if (ctx->configured)
		return -EBUSY;
	if (optlen > WS_LEFTOVER_MAX ||
	    ctx->rx_leftover_total + optlen > WS_LEFTOVER_MAX)
		return -EMSGSIZE;

	/* Page-sized skbs: a 64 KiB linear skb would need an order-5 page. */
	__skb_queue_head_init(&list);
	while (off < optlen) {
		unsigned int n = min_t(unsigned int, optlen - off,
				       SKB_WITH_OVERHEAD(PAGE_SIZE));

		skb = alloc_skb(n, GFP_KERNEL);
		if (!skb)
			goto err_free;
		__skb_queue_tail(&list, skb);
		if (copy_from_sockptr_offset(skb_put(skb, n), optval, off, n)) {
			__skb_queue_purge(&list);
			return -EFAULT;
		}
		off += n;
	}
	skb_queue_splice_tail(&list, &ctx->rx_leftover);
	ctx->rx_leftover_total += optlen;
	return 0;

err_free:
	__skb_queue_purge(&list);
	return -ENOMEM;
}

static int kws_set_max_msg(struct kws_ctx *ctx, sockptr_t optval,
			   unsigned int optlen)
{
	u64 val;
	int err;

	err = kws_copy_opt(&val, sizeof(val), optval, optlen);
	if (err)
		return err;
	if (!val)
		val = kws_net_default_max_msg(sock_net(ctx->sk));
	/* kws_rx_actor() hands it to the parser before each feed. */
	ctx->max_msg = val;
	return 0;
}

static int kws_set_tx_opcode(struct kws_ctx *ctx, sockptr_t optval,
			     unsigned int optlen)
{
	int val;
	int err;

	err = kws_copy_opt(&val, sizeof(val), optval, optlen);
	if (err)
		return err;
	if (val != WS_OP_TEXT && val != WS_OP_BINARY)
		return -EINVAL;
	ctx->tx_opcode = val;
	return 0;
}

static int kws_set_recv_batch(struct kws_ctx *ctx, sockptr_t optval,
			      unsigned int optlen)
{
	int val;
	int err;

	err = kws_copy_opt(&val, sizeof(val), optval, optlen);
	if (err)
		return err;
	if (val != 0 && val != 1)
		return -EINVAL;
	ctx->rx_batch = val;
	return 0;
}

static int kws_set_keepalive(struct kws_ctx *ctx, sockptr_t optval,
			     unsigned int optlen)
{
	struct ws_keepalive ka;
	int err;

	err = kws_copy_opt(&ka, sizeof(ka), optval, optlen);
	if (err)
		return err;
	if (ka.idle_ms && !ka.timeout_ms)
		return -EINVAL;
	ctx->keepalive = ka;
	if (ctx->configured)
		kws_ka_arm(ctx);
	return 0;
}

static int kws_do_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			     unsigned int optlen)
{
	struct kws_ctx *ctx;
	int err;

	/* CVE-2023-28466 in kTLS: every option handler runs under the lock. */
	lock_sock(sk);
	ctx = kws_get_ctx(sk);
	switch (optname) {
	case WS_CONFIG:
		err = kws_set_config(sk, ctx, optval, optlen);
		break;
	case WS_LEFTOVER:
		err = kws_set_leftover(ctx, optval, optlen);
		break;
	case WS_TX_OPCODE:
		err = kws_set_tx_opcode(ctx, optval, optlen);
		break;
	case WS_MAX_MSG_SIZE:
		err = kws_set_max_msg(ctx, optval, optlen);
		break;
	case WS_KEEPALIVE:
		err = kws_set_keepalive(ctx, optval, optlen);
		break;
	case WS_RECV_BATCH:
		err = kws_set_recv_batch(ctx, optval, optlen);
		break;
	default:
		err = -ENOPROTOOPT;
		break;
	}
	release_sock(sk);
	return err;
}

static int kws_setsockopt(struct sock *sk, int level, int optname,
			  sockptr_t optval, unsigned int optlen)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);

	if (level != SOL_WS)
		return ctx->sk_proto->setsockopt(sk, level, optname, optval,
						 optlen);
	return kws_do_setsockopt(sk, optname, optval, optlen);
}

/* Copy @size bytes of @val out, after checking the user's buffer length. */
static int kws_put_opt(char __user *optval, int __user *optlen,
		       const void *val, int size)
{
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < size)
		return -EINVAL;
	if (put_user(size, optlen))
		return -EFAULT;
	if (copy_to_user(optval, val, size))
		return -EFAULT;
	return 0;
}

static int kws_do_getsockopt(struct sock *sk, int optname,
			     char __user *optval, int __user *optlen)
{
	struct ws_config cfg = {};
	struct ws_state st = {};
	struct ws_stats stats;
	struct ws_keepalive ka;
	struct kws_ctx *ctx;
	u64 max_msg;
	int val, batch;

	lock_sock(sk);
	ctx = kws_get_ctx(sk);
	if (ctx->configured) {
		cfg.role = ctx->role;
		cfg.tx_opcode = ctx->tx_opcode;
		cfg.flags = ctx->flags;
		cfg.max_msg_size = ctx->max_msg;
	}
	st.state = ctx->configured ? ctx->state : WS_STATE_UNCONFIGURED;
	st.close_rcvd = ctx->close_rcvd;
	st.close_sent = ctx->close_sent;
	stats = ctx->stats;
	ka = ctx->keepalive;
	max_msg = ctx->max_msg;
	val = ctx->tx_opcode;
	batch = ctx->rx_batch;
	release_sock(sk);

	switch (optname) {
	case WS_CONFIG:
		return kws_put_opt(optval, optlen, &cfg, sizeof(cfg));
	case WS_STATE:
		return kws_put_opt(optval, optlen, &st, sizeof(st));
	case WS_STATS:
		return kws_put_opt(optval, optlen, &stats, sizeof(stats));
	case WS_TX_OPCODE:
		return kws_put_opt(optval, optlen, &val, sizeof(val));
	case WS_MAX_MSG_SIZE:
		return kws_put_opt(optval, optlen, &max_msg, sizeof(max_msg));
	case WS_KEEPALIVE:
		return kws_put_opt(optval, optlen, &ka, sizeof(ka));
	case WS_RECV_BATCH:
		return kws_put_opt(optval, optlen, &batch, sizeof(batch));
	default:
		return -ENOPROTOOPT;
	}
}

static int kws_getsockopt(struct sock *sk, int level, int optname,
			  char __user *optval, int __user *optlen)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);

	/* It maps raw TCP payload (framed, maybe masked) into user memory. */
	if (level == SOL_TCP && optname == TCP_ZEROCOPY_RECEIVE)
		return -EOPNOTSUPP;
	if (level != SOL_WS)
		return ctx->sk_proto->getsockopt(sk, level, optname, optval,
						 optlen);
	return kws_do_getsockopt(sk, optname, optval, optlen);
}

/* SO_RCVLOWAT would stop TCP from waking the parser for short frames. */
static int kws_set_rcvlowat(struct sock *sk, int val)
{
	return -EOPNOTSUPP;
}

/*
 * SIOCINQ (FIONREAD) counts message bytes (kws_rx_inq()) once WS_CONFIG
 * started parsing; everything else, and SIOCINQ before, is TCP's.
 */
static int kws_ioctl(KWS_IOCTL_ARGS)
{
	struct kws_ctx *ctx = kws_get_ctx(sk);
	int answ;

	if (cmd != SIOCINQ || !READ_ONCE(ctx->configured))
		return ctx->sk_proto->ioctl(sk, cmd, karg);
	lock_sock(sk);
	answ = kws_rx_inq(ctx);
	release_sock(sk);
	return kws_ioctl_answer(karg, answ);
}

/* connect(AF_UNSPEC) would reset TCP under a live context (as in kTLS). */
static int kws_disconnect(struct sock *sk, int flags)
{
	return -EOPNOTSUPP;
}

/* ---- close ------------------------------------------------------------- */

/*
 * The whole close, top to bottom. Process context, no lock held; no other
 * syscall can be using the socket (the file is gone).
 */
static void kws_close(struct sock *sk, long timeout)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct kws_ctx *ctx = kws_get_ctx(sk);
	struct proto *base = ctx->sk_proto;

	/* Before lock_sock: the work items take it. */
	kws_work_stop(ctx);

	mutex_lock(&ctx->tx_lock);
	lock_sock(sk);
	if (ctx->configured) {
		/* Held pages (6.1) before our close. */
		kws_tx_hold_close(sk, ctx);
		/* The peer's close, unread: the echo it waited for. */
		kws_ctrl_echo_close(ctx);
		/* RFC 6455 7.4.1: 1001 "going away", if it fits right now. */
		if (!ctx->close_sent && !ctx->rx_failed)
			kws_ctrl_queue_close(ctx, WS_CLOSE_GOING_AWAY);
		kws_ctrl_flush(sk, ctx, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	kws_rx_purge(sk, ctx);
	kws_ctrl_purge(ctx);
	kws_tx_hold_free(ctx);

	write_lock_bh(&sk->sk_callback_lock);
	if (ctx->configured) {
		sk->sk_data_ready = ctx->saved_data_ready;
		if (sk->sk_write_space == kws_ctrl_write_space)
			sk->sk_write_space = ctx->saved_write_space;
	}
	rcu_assign_pointer(icsk->icsk_ulp_data, NULL);
	WRITE_ONCE(sk->sk_prot, base);
	write_unlock_bh(&sk->sk_callback_lock);
	release_sock(sk);
	mutex_unlock(&ctx->tx_lock);

	kws_stats_dec(sock_net(sk), KWS_STAT_CONN_ACTIVE);
	base->close(sk, timeout);

	kfree_rcu(ctx, rcu);
}

/* ---- attach ------------------------------------------------------------ */

static void kws_build_protos(struct proto *prot, const struct proto *base)
{
	*prot = *base;
	prot->close = kws_close;
	prot->disconnect = kws_disconnect;
	prot->setsockopt = kws_setsockopt;
	prot->getsockopt = kws_getsockopt;
	prot->ioctl = kws_ioctl;
	prot->recvmsg = kws_rx_recvmsg;
	prot->sendmsg = kws_tx_sendmsg;
	prot->splice_eof = kws_tx_splice_eof;
	prot->sock_is_readable = kws_rx_sock_is_readable;
#ifdef KWS_HAVE_SENDPAGE
	prot->sendpage = kws_tx_sendpage;
#endif
}

/* Every base op that could read or write raw TCP bytes is replaced. */
static void kws_build_proto_ops(struct proto_ops *ops,
				const struct proto_ops *base)
{
	*ops = *base;
	ops->poll = kws_rx_poll;
	ops->shutdown = kws_tx_sock_shutdown;
	ops->splice_read = kws_rx_splice_read;
	ops->read_sock = kws_rx_read_sock;
	ops->read_skb = kws_rx_read_skb;
	ops->sendmsg_locked = NULL;
	/*
	 * TCP's mmap() serves TCP_ZEROCOPY_RECEIVE (raw, framed, maybe masked
	 * bytes): refused as by any socket that cannot be mapped (ENODEV).
	 */
	ops->mmap = sock_no_mmap;
	ops->peek_len = NULL;
	ops->set_peek_off = NULL;
	ops->set_rcvlowat = kws_set_rcvlowat;
#ifdef KWS_HAVE_SENDPAGE
	ops->sendpage_locked = kws_tx_sendpage_locked;
#endif
}

/* Process context, socket lock held (from tcp_set_ulp()). */
static void kws_build_proto(struct sock *sk)
{
	int fam = sk->sk_family == AF_INET6 ? KWS_V6 : KWS_V4;
	struct proto *prot = READ_ONCE(sk->sk_prot);

	/* Paired with smp_store_release() below: tables written before. */
	if (likely(prot == smp_load_acquire(&kws_saved_prot[fam])))
		return;
	mutex_lock(&kws_prot_mutex);
	if (prot != kws_saved_prot[fam]) {
		kws_build_protos(&kws_prots[fam], prot);
		kws_build_proto_ops(&kws_proto_ops[fam], sk->sk_socket->ops);
		/* Paired with smp_load_acquire() above. */
		smp_store_release(&kws_saved_prot[fam], prot);
	}
	mutex_unlock(&kws_prot_mutex);
}

/* tcp_ulp_ops.init. Process context, socket lock held. */
static int kws_init(struct sock *sk)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	int fam = sk->sk_family == AF_INET6 ? KWS_V6 : KWS_V4;
	struct kws_ctx *ctx;
	int err = 0;

	if (!sk->sk_socket)
		return -EINVAL;
	/*
	 * Listening sockets never get here (no clone op). CLOSE_WAIT is fine:
	 * a server may send 101, its first frames and FIN in one burst.
	 */
	if (sk->sk_state != TCP_ESTABLISHED && sk->sk_state != TCP_CLOSE_WAIT)
		return -ENOTCONN;

	kws_build_proto(sk);

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->sk = sk;
	ctx->sk_proto = READ_ONCE(sk->sk_prot);
	ctx->sk_ops = READ_ONCE(sk->sk_socket->ops);
	ctx->max_msg = kws_net_default_max_msg(sock_net(sk));
	ctx->tx_opcode = WS_OP_BINARY;
	mutex_init(&ctx->tx_lock);
	spin_lock_init(&ctx->work_lock);
	INIT_DELAYED_WORK(&ctx->tx_work, kws_ctrl_work);
	kws_rx_init(ctx);
	kws_ka_init(ctx);

	write_lock_bh(&sk->sk_callback_lock);
	/* sockmap (psock) and other owners of sk_user_data parse too. */
	if (sk->sk_user_data) {
		err = -EBUSY;
		goto err_unlock;
	}
	rcu_assign_pointer(icsk->icsk_ulp_data, ctx);
	WRITE_ONCE(sk->sk_prot, &kws_prots[fam]);
	WRITE_ONCE(sk->sk_socket->ops, &kws_proto_ops[fam]);
	write_unlock_bh(&sk->sk_callback_lock);

	kws_stats_inc(sock_net(sk), KWS_STAT_CONN_ATTACHED);
	kws_stats_inc(sock_net(sk), KWS_STAT_CONN_ACTIVE);
	return 0;

err_unlock:
	write_unlock_bh(&sk->sk_callback_lock);
	kfree(ctx);
	return err;
}

/* ---- inet_diag --------------------------------------------------------- */

/* inet_diag without the socket lock: the context is RCU-protected. */
static int kws_get_info(KWS_ULP_INFO_ARGS)
{
	struct kws_ctx *ctx;
	struct nlattr *start;
	int err = 0;

	start = nla_nest_start_noflag(skb, KWS_ULP_INFO_WS);
	if (!start)
		return -EMSGSIZE;

	rcu_read_lock();
	ctx = rcu_dereference(inet_csk(sk)->icsk_ulp_data);
	if (!ctx)
		goto out;
	if (nla_put_u8(skb, KWS_INFO_ROLE, READ_ONCE(ctx->role)) ||
	    nla_put_u8(skb, KWS_INFO_STATE, READ_ONCE(ctx->configured) ?
		       READ_ONCE(ctx->state) : WS_STATE_UNCONFIGURED) ||
	    nla_put_u16(skb, KWS_INFO_CLOSE_SENT, READ_ONCE(ctx->close_sent)) ||
	    nla_put_u16(skb, KWS_INFO_CLOSE_RCVD, READ_ONCE(ctx->close_rcvd)))
		err = -EMSGSIZE;
out:
	rcu_read_unlock();
	if (err) {
		nla_nest_cancel(skb, start);
		return err;
	}
	nla_nest_end(skb, start);
	return 0;
}

static size_t kws_get_info_size(KWS_ULP_INFO_SIZE_ARGS)
{
	return nla_total_size(0) +		/* KWS_ULP_INFO_WS */
	       2 * nla_total_size(sizeof(u8)) +	/* ROLE, STATE */
	       2 * nla_total_size(sizeof(u16));	/* CLOSE_SENT, CLOSE_RCVD */
}

/* No clone op: core then refuses listen() on an attached socket. */
static struct tcp_ulp_ops kws_ulp_ops __read_mostly = {
	.name		= "ws",
	.owner		= THIS_MODULE,
	.init		= kws_init,
	.get_info	= kws_get_info,
	.get_info_size	= kws_get_info_size,
};

static int __init kws_module_init(void)
{
	int err;

	/* Control records use the same small private skbs as short data. */
	BUILD_BUG_ON(KWS_RX_COPY_MAX < KWS_CONTROL_MAX);
	BUILD_BUG_ON(sizeof(struct kws_rx_cb) >
		     sizeof_field(struct sk_buff, cb));

	err = kws_stats_init();
	if (err)
		return err;
	err = kws_nl_register();
	if (err)
		goto err_stats;
	err = tcp_register_ulp(&kws_ulp_ops);
	if (err)
		goto err_nl;
	return 0;

err_nl:
	kws_nl_unregister();
err_stats:
	kws_stats_exit();
	return err;
}

static void __exit kws_module_exit(void)
{
	tcp_unregister_ulp(&kws_ulp_ops);
	kws_nl_unregister();
	kws_stats_exit();
	kws_ctrl_exit();
}

module_init(kws_module_init);
module_exit(kws_module_exit);

MODULE_DESCRIPTION("WebSocket (RFC 6455) TCP upper layer protocol");
MODULE_LICENSE("GPL");
MODULE_ALIAS_TCP_ULP("ws");
MODULE_ALIAS_GENL_FAMILY(KWS_GENL_NAME);
