// SPDX-License-Identifier: GPL-2.0
/*
 * kws global counters, per network namespace: per-CPU, summed on read, shown
 * in /proc/net/kws_stat (as net/tls/tls_proc.c does for TLS) and handed to
 * the generic netlink family through kws_stats_get(). Indexed by the uapi
 * KWS_STAT_* numbers; Documentation/abi.md describes each counter.
 */
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "kws.h"

struct kws_mib {
	unsigned long	mibs[__KWS_STAT_MAX];
};

struct kws_net {
	struct kws_mib __percpu	*mib;
	u64			default_max_msg; /* READ_ONCE/WRITE_ONCE */
};

static unsigned int kws_net_id __read_mostly;

/* Any context. @n may be negative (KWS_STAT_CONN_ACTIVE is a gauge). */
void kws_stats_add(struct net *net, unsigned int item, long n)
{
	struct kws_net *kn = net_generic(net, kws_net_id);

	if (WARN_ON_ONCE(item >= __KWS_STAT_MAX))
		return;
	this_cpu_add(kn->mib->mibs[item], n);
}

u64 kws_stats_get(struct net *net, unsigned int item)
{
	struct kws_net *kn = net_generic(net, kws_net_id);
	unsigned long sum = 0;
	int cpu;

	if (item >= __KWS_STAT_MAX)
		return 0;
	for_each_possible_cpu(cpu)
		sum += READ_ONCE(per_cpu_ptr(kn->mib, cpu)->mibs[item]);
	return sum;
}

/*
 * The message limit of a connection whose WS_CONFIG asks for the default
 * (max_msg_size 0); set with KWS_CMD_SET_DEFAULTS (netlink.c). Any context.
 */
u64 kws_net_default_max_msg(const struct net *net)
{
	const struct kws_net *kn = net_generic(net, kws_net_id);

	return READ_ONCE(kn->default_max_msg);
}

void kws_net_set_default_max_msg(struct net *net, u64 val)
{
	struct kws_net *kn = net_generic(net, kws_net_id);

	WRITE_ONCE(kn->default_max_msg, val);
}

#ifdef CONFIG_PROC_FS
static const struct {
	const char	*name;
	unsigned int	item;
} kws_mib_names[] = {
	{ "KwsConnAttached",		KWS_STAT_CONN_ATTACHED },
	{ "KwsConnActive",		KWS_STAT_CONN_ACTIVE },
	{ "KwsRxMessages",		KWS_STAT_RX_MESSAGES },
	{ "KwsRxBytes",			KWS_STAT_RX_BYTES },
	{ "KwsTxMessages",		KWS_STAT_TX_MESSAGES },
	{ "KwsTxBytes",			KWS_STAT_TX_BYTES },
	{ "KwsPingsAnswered",		KWS_STAT_PINGS_ANSWERED },
	{ "KwsErrProtocol",		KWS_STAT_ERR_PROTOCOL },
	{ "KwsErrInvalidData",		KWS_STAT_ERR_INVALID_DATA },
	{ "KwsErrTooBig",		KWS_STAT_ERR_TOO_BIG },
	{ "KwsErrKeepalive",		KWS_STAT_ERR_KEEPALIVE },
};

static int kws_stat_seq_show(struct seq_file *seq, void *v)
{
	struct net *net = seq->private;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kws_mib_names); i++)
		seq_printf(seq, "%-32s\t%llu\n", kws_mib_names[i].name,
			   kws_stats_get(net, kws_mib_names[i].item));
	return 0;
}

static int kws_proc_init(struct net *net)
{
	if (!proc_create_net_single("kws_stat", 0444, net->proc_net,
				    kws_stat_seq_show, NULL))
		return -ENOMEM;
	return 0;
}

static void kws_proc_exit(struct net *net)
{
	remove_proc_entry("kws_stat", net->proc_net);
}
#else
static int kws_proc_init(struct net *net)
{
	return 0;
}

static void kws_proc_exit(struct net *net)
{
}
#endif /* CONFIG_PROC_FS */

static int __net_init kws_net_init(struct net *net)
{
	struct kws_net *kn = net_generic(net, kws_net_id);
	int err;

	kn->default_max_msg = WS_MAX_MSG_DEFAULT;
	kn->mib = alloc_percpu(struct kws_mib);
	if (!kn->mib)
		return -ENOMEM;
	err = kws_proc_init(net);
	if (err)
		goto err_free;
	return 0;

err_free:
	free_percpu(kn->mib);
	return err;
}

static void __net_exit kws_net_exit(struct net *net)
{
	struct kws_net *kn = net_generic(net, kws_net_id);

	kws_proc_exit(net);
	free_percpu(kn->mib);
}

static struct pernet_operations kws_net_ops = {
	.init	= kws_net_init,
	.exit	= kws_net_exit,
	.id	= &kws_net_id,
	.size	= sizeof(struct kws_net),
};

int kws_stats_init(void)
{
	BUILD_BUG_ON(ARRAY_SIZE(kws_mib_names) != __KWS_STAT_MAX - 2);
	return register_pernet_subsys(&kws_net_ops);
}

void kws_stats_exit(void)
{
	unregister_pernet_subsys(&kws_net_ops);
}
