/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kws compat: the only place that tests LINUX_VERSION_CODE. Written against
 * 6.12 and mapped back to 6.1; force-included into every kws.ko object by
 * Kbuild (-include). Blocks run newest first.
 *
 * Debian backports make some pure version tests wrong (MSG_SPLICE_PAGES is
 * defined but not implemented by 6.1.192's TCP, for instance); kws does not
 * depend on any of those, so version tests suffice for what is here.
 * (proto.splice_eof, 6.5 upstream, is in 6.1.192 too: kws sets it always.)
 */
#ifndef KWS_COMPAT_H
#define KWS_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "kws supports Linux 6.1 and later"
#endif

/*
 * 6.16, "treewide, timers: Rename from_timer() to timer_container_of()":
 * kws uses the new name.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0)
#define timer_container_of(var, callback_timer, timer_fieldname) \
	from_timer(var, callback_timer, timer_fieldname)
#endif /* LINUX_VERSION_CODE < KERNEL_VERSION(6, 16, 0) */

/*
 * 6.15, "tcp: ulp: diag: more info without CAP_NET_ADMIN": get_info and
 * get_info_size gained a net_admin argument. KWS_ULP_INFO_ARGS and
 * KWS_ULP_INFO_SIZE_ARGS spell the parameter lists; kws reports nothing
 * secret, so it ignores net_admin.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
#define KWS_ULP_INFO_ARGS	struct sock *sk, struct sk_buff *skb, bool net_admin
#define KWS_ULP_INFO_SIZE_ARGS	const struct sock *sk, bool net_admin
#else
#define KWS_ULP_INFO_ARGS	struct sock *sk, struct sk_buff *skb
#define KWS_ULP_INFO_SIZE_ARGS	const struct sock *sk
#endif /* LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0) */

/*
 * 6.10, "workqueue: Implement disable/enable for (delayed) work items": a
 * disabled work item cannot be queued again, which closes the race between
 * close and a softirq re-arming the work (CVE-2026-23240 in kTLS). Before
 * 6.10 kws also gates every queueing on ctx->closing under ctx->work_lock
 * (kernel/main.c), so cancelling is enough there.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define kws_disable_work_sync(w)		disable_work_sync(w)
#define kws_disable_delayed_work_sync(w)	disable_delayed_work_sync(w)
#else
#define kws_disable_work_sync(w)		cancel_work_sync(w)
#define kws_disable_delayed_work_sync(w)	cancel_delayed_work_sync(w)
#endif /* LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0) */

/*
 * 6.5, "net: ioctl: Use kernel memory on protocol ioctl callbacks":
 * proto.ioctl fills a kernel int that the core copies out, instead of
 * writing to the user's pointer itself. KWS_IOCTL_ARGS spells the
 * parameter list (the argument is named karg); kws_ioctl_answer() hands
 * back an int answer.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define KWS_IOCTL_ARGS		struct sock *sk, int cmd, int *karg
#define kws_ioctl_answer(karg, val)	({ *(karg) = (val); 0; })
#else
#define KWS_IOCTL_ARGS		struct sock *sk, int cmd, unsigned long karg
#define kws_ioctl_answer(karg, val)	put_user(val, (int __user *)(karg))
#endif /* LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0) */

/*
 * 6.5, "sock: Remove ->sendpage*() in favour of sendmsg(MSG_SPLICE_PAGES)":
 * from it, splice() and sendfile() into the socket reach proto.sendmsg with
 * MSG_SPLICE_PAGES and pages in an ITER_BVEC, and TCP takes pages the same
 * way. Before it they reach proto.sendpage (KWS_HAVE_SENDPAGE), and pages
 * go to TCP through do_tcp_sendpages(), which pushes after each page unless
 * told MSG_SENDPAGE_NOTLAST (KWS_MSG_SENDPAGE_NOTLAST, 0 from 6.5). Debian's 6.1.192 defines
 * MSG_SPLICE_PAGES but its TCP copies such data, so the version decides.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define KWS_HAVE_SENDPAGE	1
#define KWS_MSG_SPLICE_PAGES	0
#define KWS_MSG_SENDPAGE_NOTLAST	MSG_SENDPAGE_NOTLAST
#else
#define KWS_MSG_SPLICE_PAGES	MSG_SPLICE_PAGES
#define KWS_MSG_SENDPAGE_NOTLAST	0
#endif /* LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0) */

/*
 * 6.4, "iov_iter: add iter_iov() helper" and "iov_iter: rename iov to
 * __iov": the current iovec of an ITER_IOVEC is iter_iov(); before, the iov
 * field. (kws does not use 6.4's iter_iov_addr()/iter_iov_len(): an
 * ITER_UBUF has its length in count, its offset in iov_offset.)
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
#define iter_iov(iter)		((iter)->iov)
#endif /* LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0) */

/*
 * timer_delete_sync() (6.2, "timers: Rename del_timer_sync()") is in
 * Debian's 6.1.192 as a stable backport, so kws uses it unconditionally.
 */

#endif /* KWS_COMPAT_H */
