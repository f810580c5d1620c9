// SPDX-License-Identifier: GPL-2.0
/*
 * kws: the "kws" generic netlink family. It reports the statistics of the
 * caller's network namespace and reads and sets its defaults; kwsctl(8) is
 * its client and Documentation/netlink.md its description.
 *
 * The family is not parallel_ops: every handler runs in process context
 * under genl_mutex. Counters and defaults live in stats.c, per netns.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/net_namespace.h>

#include "kws.h"

static struct genl_family kws_nl_family;

/* ---- policies ------------------------------------------------------------ */

static const struct nla_policy kws_nl_def_policy[KWS_DEF_MAX + 1] = {
	/* 0 would mean "the default" in ws_config: not a limit of its own. */
	[KWS_DEF_MAX_MSG_SIZE]	= NLA_POLICY_MIN(NLA_U64, 1),
};

/*
 * Requests carry only KWS_A_DEFAULTS (to SET_DEFAULTS). KWS_A_STATS is
 * reply-only; strict validation rejects it and anything else unlisted.
 */
static const struct nla_policy kws_nl_policy[KWS_A_MAX + 1] = {
	[KWS_A_DEFAULTS]	= NLA_POLICY_NESTED(kws_nl_def_policy),
};

/* ---- handlers ------------------------------------------------------------ */

static size_t kws_nl_stats_size(void)
{
	return nla_total_size(0) +	/* KWS_A_STATS */
	       (KWS_STAT_MAX - KWS_STAT_PAD) * nla_total_size_64bit(sizeof(u64));
}

static size_t kws_nl_defaults_size(void)
{
	return nla_total_size(0) +	/* KWS_A_DEFAULTS */
	       nla_total_size_64bit(sizeof(u64));	/* KWS_DEF_MAX_MSG_SIZE */
}

static int kws_nl_fill_stats(struct sk_buff *msg, struct net *net)
{
	struct nlattr *nest;
	unsigned int item;

	nest = nla_nest_start(msg, KWS_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (item = KWS_STAT_PAD + 1; item <= KWS_STAT_MAX; item++) {
		if (nla_put_u64_64bit(msg, item, kws_stats_get(net, item),
				      KWS_STAT_PAD)) {
			nla_nest_cancel(msg, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(msg, nest);
	return 0;
}

static int kws_nl_fill_defaults(struct sk_buff *msg, struct net *net)
{
	struct nlattr *nest;

	nest = nla_nest_start(msg, KWS_A_DEFAULTS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(msg, KWS_DEF_MAX_MSG_SIZE,
			      kws_net_default_max_msg(net), KWS_DEF_PAD)) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

/* Build and send the reply to @info: one @cmd message filled by @fill. */
static int kws_nl_reply(struct genl_info *info, u8 cmd, size_t size,
			int (*fill)(struct sk_buff *msg, struct net *net))
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = genlmsg_new(size, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kws_nl_family, 0, cmd);
	if (!hdr) {
		err = -EMSGSIZE;
		goto err_free;
	}
	err = fill(msg, genl_info_net(info));
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

static int kws_nl_get_stats(struct sk_buff *skb, struct genl_info *info)
{
	return kws_nl_reply(info, KWS_CMD_GET_STATS, kws_nl_stats_size(),
			    kws_nl_fill_stats);
}

static int kws_nl_get_defaults(struct sk_buff *skb, struct genl_info *info)
{
	return kws_nl_reply(info, KWS_CMD_GET_DEFAULTS, kws_nl_defaults_size(),
			    kws_nl_fill_defaults);
}

static int kws_nl_set_defaults(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[KWS_DEF_MAX + 1];
	struct nlattr *nest;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, KWS_A_DEFAULTS)) {
		NL_SET_ERR_MSG_MOD(info->extack, "missing KWS_A_DEFAULTS");
		return -EINVAL;
	}
	nest = info->attrs[KWS_A_DEFAULTS];
	/* Already validated against kws_nl_def_policy; this only splits it. */
	err = nla_parse_nested(tb, KWS_DEF_MAX, nest, kws_nl_def_policy,
			       info->extack);
	if (err)
		return err;
	if (!tb[KWS_DEF_MAX_MSG_SIZE]) {
		NL_SET_ERR_MSG_MOD(info->extack, "no default to set");
		NL_SET_BAD_ATTR(info->extack, nest);
		return -EINVAL;
	}
	kws_net_set_default_max_msg(genl_info_net(info),
				    nla_get_u64(tb[KWS_DEF_MAX_MSG_SIZE]));
	return 0;
}

/* ---- family -------------------------------------------------------------- */

static const struct genl_small_ops kws_nl_ops[] = {
	{
		.cmd	= KWS_CMD_GET_STATS,
		.doit	= kws_nl_get_stats,
	},
	{
		.cmd	= KWS_CMD_GET_DEFAULTS,
		.doit	= kws_nl_get_defaults,
	},
	{
		.cmd	= KWS_CMD_SET_DEFAULTS,
		.doit	= kws_nl_set_defaults,
		.flags	= GENL_ADMIN_PERM,
	},
};

/*
 * resv_start_op is left at 0: every command gets strict attribute and
 * header validation.
 */
static struct genl_family kws_nl_family __ro_after_init = {
	.name		= KWS_GENL_NAME,
	.version	= KWS_GENL_VERSION,
	.maxattr	= KWS_A_MAX,
	.policy		= kws_nl_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= kws_nl_ops,
	.n_small_ops	= ARRAY_SIZE(kws_nl_ops),
};

int __init kws_nl_register(void)
{
	return genl_register_family(&kws_nl_family);
}

void kws_nl_unregister(void)
{
	genl_unregister_family(&kws_nl_family);
}
