/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kws: WebSocket (RFC 6455) as a TCP upper layer protocol. Private header:
 * the per-socket context and the cross-file prototypes, grouped by the file
 * that owns them.
 *
 * Locks, outermost first:
 *   ctx->rx_reader	flag under the socket lock, one reader at a time
 *			across sk_wait_event() (kws_rx_reader_lock())
 *   ctx->tx_lock	mutex, one writer (or the tx work) at a time across
 *			sk_stream_wait_memory(); frames are never interleaved
 *   the socket lock	lock_sock() in process context, or bh_lock_sock()
 *			in softirq when no user owns the socket
 *   sk_callback_lock	only to swap sk_prot and the sk callbacks
 *   ctx->work_lock	spinlock (BH), gates queueing work against close
 */
#ifndef KWS_KWS_H
#define KWS_KWS_H

#include <linux/bvec.h>
#include <linux/mutex.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <uapi/linux/kws.h>

#include "kws_codec.h"

/* Memory charged for each record on the receive queue besides its bytes. */
#define KWS_RX_RECORD_COST	((u32)sizeof(struct sk_buff))
/* Data chunks up to this size are copied, not cloned (rx.c). */
#define KWS_RX_COPY_MAX		128
/* Data room of a packed record: its skb is one kmalloc-2k object. */
#define KWS_RX_PACK_SIZE	SKB_WITH_OVERHEAD(2048)
/* ... or one kmalloc-512 object when one small chunk is all there is. */
#define KWS_RX_PACK_SMALL	SKB_WITH_OVERHEAD(512)
/* Most messages one WS_RECV_BATCH recvmsg() returns (its stack array). */
#define KWS_RX_BATCH_MAX	64
/* Unmasking bounce buffer for recvmsg(), on its stack. */
#define KWS_RX_BOUNCE		256
/* Largest control frame on the wire: header plus 125 bytes of payload. */
#define KWS_CTL_FRAME_MAX	(KWS_FRAME_HDR_MAX + KWS_CONTROL_MAX)
/* Pongs built ahead while pings arrive back to back (ctrl.c): a page. */
#define KWS_PONG_BURST		4096

#ifdef KWS_HAVE_SENDPAGE
/* Pages of one splice batch held for one frame: a default pipe's worth. */
#define KWS_TX_HOLD_PAGES	16

/*
 * Before 6.5 splice() and sendfile() hand over one page per call; the pages
 * of a batch (MSG_SENDPAGE_NOTLAST: more of it follows) are held here by
 * reference and go out as one frame when it ends (tx.c). tx_lock and the
 * socket lock.
 */
struct kws_tx_hold {
	struct bio_vec	bvec[KWS_TX_HOLD_PAGES];
	struct iov_iter	it;		/* the rest of the frame, once sending */
	u32		bytes;		/* held bytes */
	u8		nr;		/* pages held */
	u8		put;		/* pages TCP took whole and we released */
	u8		opcode;		/* of the message the bytes belong to */
	u8		fin;		/* their frame ends the message */
	u8		sending;	/* their frame is built: tx_hdr, cursor */
};
#endif

/*
 * ss -tie: attributes kws puts inside INET_DIAG_ULP_INFO, after core's
 * INET_ULP_INFO_NAME ("ws"). KWS_ULP_INFO_WS is far above the kernel's
 * INET_ULP_INFO_* numbers so it never collides with them.
 */
enum {
	KWS_ULP_INFO_WS = 0x57,		/* nest of KWS_INFO_* */
};

enum {
	KWS_INFO_UNSPEC,
	KWS_INFO_ROLE,			/* u8: WS_ROLE_*, 0 before WS_CONFIG */
	KWS_INFO_STATE,			/* u8: WS_STATE_* */
	KWS_INFO_CLOSE_SENT,		/* u16: close code sent, 0 if none */
	KWS_INFO_CLOSE_RCVD,		/* u16: close code received, 0 if none */
	__KWS_INFO_MAX,
};

/*
 * Per-record metadata in skb->cb of every skb on ctx->rx_queue. A large
 * data chunk is a clone of a TCP skb (never written: TCP may share its
 * data) and delivers [off, off + len) of it, unmasking on the way when
 * masked. A control record is a private linear skb holding its unmasked
 * payload, with off + len == skb->len. Small data chunks are packed: a
 * private linear skb holding the unmasked bytes of each chunk in turn, of
 * one message or several, back to back from off to its tail, and their
 * kws_rx_seg headers as an array at the end of its buffer, growing down
 * (header i at skb_end_pointer() - i - 1), so one allocation serves many
 * small messages and whole ones are copied out at once.
 */
struct kws_rx_cb {
	u32	off;		/* next byte to deliver, offset in the skb */
	u32	len;		/* bytes left to deliver */
	u32	charge;		/* bytes still charged to ctx->rx_held */
	u16	seg;		/* packed: header of the chunk at off */
	u16	nseg;		/* packed: headers */
	u8	mask[4];	/* when masked */
	u8	phase;		/* mask phase of the byte at off */
	u8	masked;
	u8	opcode;		/* WS_OP_*; packed: of the last chunk */
	u8	eom;		/* the record (its last chunk) ends a message */
	u8	priv;		/* private linear copy, unmasked */
	u8	packed;		/* kws_rx_seg headers inline, see above */
	u16	close_code;	/* WS_OP_CLOSE records */
	u16	close_flags;	/* WS_CLOSE_LOCAL, WS_CLOSE_ABNORMAL */
};

/* Header of each chunk in a packed record. */
struct kws_rx_seg {
	u16	len;		/* its bytes not yet delivered */
	u8	opcode;		/* WS_OP_TEXT or WS_OP_BINARY */
	u8	eom;		/* the chunk ends its message */
};

#define KWS_RX_CB(skb)	((struct kws_rx_cb *)((skb)->cb))

struct kws_ctx {
	/* Set at attach, constant afterwards. */
	struct sock		*sk;
	struct proto		*sk_proto;	/* base TCP proto, delegate */
	const struct proto_ops	*sk_ops;	/* base proto_ops */

	/* Set at WS_CONFIG under the socket lock and sk_callback_lock. */
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);

	/* Configuration: the socket lock; configured is read locklessly. */
	u8			configured;
	u8			role;		/* WS_ROLE_* */
	u8			tx_opcode;	/* WS_OP_TEXT or WS_OP_BINARY */
	u32			flags;		/* WS_F_* */
	u64			max_msg;	/* also in parser.max_msg */
	struct ws_keepalive	keepalive;

	/* Receive state: the socket lock (either form). */
	struct kws_parser	parser;
	struct sk_buff_head	rx_queue;	/* records, __skb_* helpers */
	struct sk_buff_head	rx_leftover;	/* WS_LEFTOVER bytes */
	u32			rx_leftover_off; /* next byte of the head */
	u32			rx_leftover_total;
	struct sk_buff		*rx_small_spare; /* next control record */
	struct sk_buff		*rx_pack_spare;	/* next packed record */
	u32			rx_held;	/* bytes charged; lockless read */
	u32			rx_ready;	/* whole records; lockless read */
	u32			rx_payload;	/* payload bytes queued */
	u8			rx_stopped;	/* close rcvd/failed/EOF: drain */
	u8			rx_pong_wait;	/* parsing waits for the pong */
	u8			rx_eof;		/* the close record is queued */
	u8			rx_done;	/* the app consumed it: EOF */
	u16			rx_failed;	/* close code we failed with */
	u8			rx_abnormal;	/* TCP ended without a close */
	u8			rx_throttled;	/* parse stopped at sk_rcvbuf */
	u8			rx_batch;	/* WS_RECV_BATCH */
	/*
	 * The close delivered last, after every queued record; the peer's
	 * reason, if any, in rx_close_reason->data (a small private skb).
	 */
	u16			rx_close_code;
	u16			rx_close_flags;	/* WS_CLOSE_LOCAL/ABNORMAL */
	u8			rx_close_len;	/* reason bytes */
	u8			rx_close_off;	/* reason bytes delivered */
	struct sk_buff		*rx_close_reason;
	unsigned long		rx_last;	/* jiffies of the last input */

	/* Close handshake and kernel frames: the socket lock. */
	u8			state;		/* WS_STATE_*; lockless read */
	u16			close_sent;	/* code sent (1005: empty) */
	u16			close_rcvd;	/* code received (1005: empty) */
	u8			close_queued;	/* close_code waits to be sent */
	u8			close_echo_wait; /* echo after the app reads */
	u8			close_built;	/* our close is in ctl_frame/sent */
	u8			close_flushed;	/* our close is all on the wire */
	u8			shut_wr;	/* TCP send side shut by us */
	u16			close_code;	/* 0 sends an empty close */
	u8			pong_queued;	/* pong_skb waits to be built */
	u8			pong_built;	/* ctl_frame: the parser's pong */
	struct sk_buff		*pong_skb;	/* the ping's payload, shared */
	u8			*pong_burst;	/* pongs built back to back */
	u16			pong_burst_len;	/* bytes built */
	u16			pong_burst_sent; /* bytes with TCP */
	u16			pong_burst_count; /* pongs in it */
	u8			ping_queued;	/* keepalive ping to send */
	u8			ping_outstanding; /* its pong not seen yet */
	unsigned long		ping_sent_at;	/* jiffies */

	/*
	 * The frame on the wire: tx_lock and the socket lock. A control frame
	 * (kernel's or the app's) lives whole in ctl_frame until sent; an app
	 * data frame is tx_hdr then tx_frame_left payload bytes still owed by
	 * the app's next sendmsg().
	 */
	struct mutex		tx_lock;
	u8			ctl_frame[KWS_CTL_FRAME_MAX];
	u8			ctl_len;	/* 0: no control frame pending */
	u8			ctl_sent;
	u8			ctl_opcode;
	u8			ctl_kernel;	/* built by the kernel itself */
	u8			tx_hdr[KWS_FRAME_HDR_MAX];
	u8			tx_hdr_len;
	u8			tx_hdr_sent;
	u8			tx_mask[4];
	u8			tx_masked;
	u8			tx_fin;
	u8			tx_msg_open;	/* a MSG_MORE message is open */
	u8			tx_msg_opcode;	/* its opcode */
	u32			tx_phase;
	u64			tx_frame_left;	/* payload bytes owed */
#ifdef KWS_HAVE_SENDPAGE
	struct kws_tx_hold	*tx_hold;	/* NULL until the first splice */
#endif

	/* Readers: rx_reader (socket lock) makes one at a time. */
	u8			rx_reader;	/* a recvmsg() is in progress */
	u8			rx_contended;	/* someone waits on rx_wq */
	wait_queue_head_t	rx_wq;

	/* Per-socket counters: the socket lock. */
	struct ws_stats		stats;

	/* Deferred work; each queued item holds a sock reference. */
	spinlock_t		work_lock;	/* BH; protects closing */
	bool			closing;	/* no more queueing */
	struct delayed_work	rx_work;	/* parse when data_ready deferred */
	struct delayed_work	tx_work;	/* flush kernel control frames */
	struct timer_list	ka_timer;	/* keepalive; see ctrl.c */

	struct rcu_head		rcu;
};

static inline struct kws_ctx *kws_get_ctx(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);

	/* Data path: the ULP cannot go away while the socket is in use. */
	return (__force struct kws_ctx *)icsk->icsk_ulp_data;
}

static inline bool kws_tx_frame_open(const struct kws_ctx *ctx)
{
	return ctx->tx_hdr_sent < ctx->tx_hdr_len || ctx->tx_frame_left;
}

/* main.c */
bool kws_queue_delayed_work(struct kws_ctx *ctx, struct delayed_work *dwork,
			    unsigned long delay);
void kws_set_state(struct kws_ctx *ctx);

/* rx.c */
void kws_rx_init(struct kws_ctx *ctx);
void kws_rx_parse(struct sock *sk, struct kws_ctx *ctx);
void kws_rx_data_ready(struct sock *sk);
void kws_rx_work(struct work_struct *work);
void kws_rx_purge(struct sock *sk, struct kws_ctx *ctx);
void kws_rx_fail(struct sock *sk, struct kws_ctx *ctx, u16 code);
bool kws_rx_readable(const struct sock *sk, const struct kws_ctx *ctx);
int kws_rx_inq(const struct kws_ctx *ctx);
int kws_rx_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
		   int flags, int *addr_len);
bool kws_rx_sock_is_readable(struct sock *sk);
__poll_t kws_rx_poll(struct file *file, struct socket *sock,
		     struct poll_table_struct *wait);
ssize_t kws_rx_splice_read(struct socket *sock, loff_t *ppos,
			   struct pipe_inode_info *pipe, size_t len,
			   unsigned int flags);
int kws_rx_read_sock(struct sock *sk, read_descriptor_t *desc,
		     sk_read_actor_t recv_actor);
int kws_rx_read_skb(struct sock *sk, skb_read_actor_t recv_actor);

/* tx.c */
int kws_tx_sendmsg(struct sock *sk, struct msghdr *msg, size_t size);
void kws_tx_splice_eof(struct socket *sock);
int kws_tx_sock_shutdown(struct socket *sock, int how);
int kws_tx_send_kvec(struct sock *sk, const void *a, size_t alen,
		     const void *b, size_t blen, int flags);
#ifdef KWS_HAVE_SENDPAGE
int kws_tx_sendpage(struct sock *sk, struct page *page, int offset,
		    size_t size, int flags);
int kws_tx_sendpage_locked(struct sock *sk, struct page *page, int offset,
			   size_t size, int flags);
int kws_tx_hold_push(struct sock *sk, struct kws_ctx *ctx, int flags);
void kws_tx_hold_free(struct kws_ctx *ctx);
void kws_tx_hold_close(struct sock *sk, struct kws_ctx *ctx);

/* The held pages' frame is open (TCP took part of it). Socket lock held. */
static inline bool kws_tx_hold_sending(const struct kws_ctx *ctx)
{
	return ctx->tx_hold && ctx->tx_hold->sending;
}
#else
static inline int kws_tx_hold_push(struct sock *sk, struct kws_ctx *ctx,
				   int flags)
{
	return 0;
}

static inline void kws_tx_hold_free(struct kws_ctx *ctx)
{
}

static inline void kws_tx_hold_close(struct sock *sk, struct kws_ctx *ctx)
{
}

static inline bool kws_tx_hold_sending(const struct kws_ctx *ctx)
{
	return false;
}
#endif

/* ctrl.c */
bool kws_ctrl_pong_direct_ok(const struct kws_ctx *ctx);
bool kws_ctrl_burst_pong(struct kws_ctx *ctx, const u8 *payload, u8 len,
			 bool now);
void kws_ctrl_queue_pong(struct kws_ctx *ctx, struct sk_buff *payload);
void kws_ctrl_purge(struct kws_ctx *ctx);
void kws_ctrl_queue_close(struct kws_ctx *ctx, u16 code);
void kws_ctrl_echo_close(struct kws_ctx *ctx);
int kws_ctrl_flush(struct sock *sk, struct kws_ctx *ctx, int flags);
void kws_ctrl_kick(struct kws_ctx *ctx);
bool kws_ctrl_pong_now(struct sock *sk, struct kws_ctx *ctx);
void kws_ctrl_exit(void);
void kws_ctrl_work(struct work_struct *work);
void kws_ctrl_write_space(struct sock *sk);
void kws_ctrl_build(struct kws_ctx *ctx, u8 opcode, const u8 *payload,
		    u8 len, bool kernel);
int kws_ctrl_send_pending(struct sock *sk, struct kws_ctx *ctx, int flags);
bool kws_ctrl_pending(const struct kws_ctx *ctx);
void kws_ka_init(struct kws_ctx *ctx);
void kws_ka_arm(struct kws_ctx *ctx);
void kws_ka_stop(struct kws_ctx *ctx);

/* stats.c */
int kws_stats_init(void);
void kws_stats_exit(void);
void kws_stats_add(struct net *net, unsigned int item, long n);
u64 kws_stats_get(struct net *net, unsigned int item);
u64 kws_net_default_max_msg(const struct net *net);
void kws_net_set_default_max_msg(struct net *net, u64 val);

static inline void kws_stats_inc(struct net *net, unsigned int item)
{
	kws_stats_add(net, item, 1);
}

static inline void kws_stats_dec(struct net *net, unsigned int item)
{
	kws_stats_add(net, item, -1);
}

/* netlink.c */
int kws_nl_register(void);
void kws_nl_unregister(void);

#endif /* KWS_KWS_H */
