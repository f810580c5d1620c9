// SPDX-License-Identifier: MIT
/*
 * kwsctl: read the kws statistics and read or change the defaults of the
 * current network namespace, over the "kws" generic netlink family
 * (include/uapi/linux/kws.h, Documentation/netlink.md).
 *
 *	kwsctl [--json] stats
 *	kwsctl [--json] show
 *	kwsctl set max-msg-size N|unlimited	(CAP_NET_ADMIN)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <linux/kws.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static const char *progname = "kwsctl";
static bool json;

/* One netlink request in flight: its socket, family and how it ended. */
struct nl_ctx {
	struct nl_sock *sk;
	struct nl_cb *cb;
	int family;
	int err;		/* negative errno from the kernel's ack */
	bool done;
	char ext_msg[256];	/* the kernel's extack message, if any */
	int (*parse)(struct nlattr **attrs, void *arg);
	void *arg;
};

/* Stat names in the order of enum kws_stat_attr; NULL for non-counters. */
static const char *const stat_names[] = {
	[KWS_STAT_CONN_ATTACHED]	= "conn_attached",
	[KWS_STAT_CONN_ACTIVE]		= "conn_active",
	[KWS_STAT_RX_MESSAGES]		= "rx_messages",
	[KWS_STAT_RX_BYTES]		= "rx_bytes",
	[KWS_STAT_TX_MESSAGES]		= "tx_messages",
	[KWS_STAT_TX_BYTES]		= "tx_bytes",
	[KWS_STAT_PINGS_ANSWERED]	= "pings_answered",
	[KWS_STAT_ERR_PROTOCOL]		= "err_protocol",
	[KWS_STAT_ERR_INVALID_DATA]	= "err_invalid_data",
	[KWS_STAT_ERR_TOO_BIG]		= "err_too_big",
	[KWS_STAT_ERR_KEEPALIVE]	= "err_keepalive",
};

static void print_err(const char *what, const struct nl_ctx *ctx, int err)
{
	if (ctx && ctx->ext_msg[0])
		fprintf(stderr, "%s: %s: %s (%s)\n", progname, what,
			ctx->ext_msg, strerror(-err));
	else
		fprintf(stderr, "%s: %s: %s\n", progname, what, strerror(-err));
}

/*
 * NLMSG_ERROR with a non-zero error: keep the errno and, when the kernel
 * attached one (NETLINK_EXT_ACK), its message.
 */
static int nl_cb_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)err - 1;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct nl_ctx *ctx = arg;
	struct nlattr *attrs;
	int len = nlh->nlmsg_len;
	int ack_len = sizeof(*nlh) + sizeof(*err);

	(void)nla;
	ctx->err = err->error;
	ctx->done = true;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	/* Without NLM_F_CAPPED the request's payload sits before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		ack_len += err->msg.nlmsg_len - sizeof(*nlh);
	if (len <= ack_len)
		return NL_STOP;

	attrs = (struct nlattr *)((char *)nlh + ack_len);
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, len - ack_len, NULL))
		return NL_STOP;
	if (tb[NLMSGERR_ATTR_MSG]) {
		size_t n = nla_len(tb[NLMSGERR_ATTR_MSG]);

		if (n >= sizeof(ctx->ext_msg))
			n = sizeof(ctx->ext_msg) - 1;
		memcpy(ctx->ext_msg, nla_data(tb[NLMSGERR_ATTR_MSG]), n);
		ctx->ext_msg[n] = '\0';
		/* The kernel's string is NUL-terminated; trim any newline. */
		ctx->ext_msg[strcspn(ctx->ext_msg, "\n")] = '\0';
	}
	return NL_STOP;
}

static int nl_cb_finish(struct nl_msg *msg, void *arg)
{
	struct nl_ctx *ctx = arg;

	(void)msg;
	ctx->done = true;
	return NL_STOP;
}

static int nl_cb_valid(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gnlh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *attrs[KWS_A_MAX + 1];
	struct nl_ctx *ctx = arg;

	if (nla_parse(attrs, KWS_A_MAX, genlmsg_attrdata(gnlh, 0),
		      genlmsg_attrlen(gnlh, 0), NULL))
		return NL_SKIP;
	if (ctx->parse && ctx->parse(attrs, ctx->arg))
		return NL_STOP;
	return NL_OK;
}

/*
 * Connect to the kws family. Returns 0, or a negative errno after printing
 * why (-ENOENT: the module is not loaded).
 */
static int nl_ctx_init(struct nl_ctx *ctx)
{
	int one = 1;
	int err;

	memset(ctx, 0, sizeof(*ctx));
	ctx->sk = nl_socket_alloc();
	if (!ctx->sk) {
		err = -ENOMEM;
		print_err("netlink socket", NULL, err);
		return err;
	}
	err = genl_connect(ctx->sk);
	if (err) {
		fprintf(stderr, "%s: netlink connect: %s\n", progname,
			nl_geterror(err));
		err = -ECONNREFUSED;
		goto err_free_sock;
	}
	/* Ask for the kernel's error messages and for short acks. */
	setsockopt(nl_socket_get_fd(ctx->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(ctx->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));

	ctx->family = genl_ctrl_resolve(ctx->sk, KWS_GENL_NAME);
	if (ctx->family < 0) {
		fprintf(stderr,
			"%s: generic netlink family \"%s\" not found: is kws.ko loaded?\n",
			progname, KWS_GENL_NAME);
		err = -ENOENT;
		goto err_free_sock;
	}
	ctx->cb = nl_cb_alloc(NL_CB_CUSTOM);
	if (!ctx->cb) {
		err = -ENOMEM;
		print_err("netlink callbacks", NULL, err);
		goto err_free_sock;
	}
	nl_cb_err(ctx->cb, NL_CB_CUSTOM, nl_cb_error, ctx);
	nl_cb_set(ctx->cb, NL_CB_ACK, NL_CB_CUSTOM, nl_cb_finish, ctx);
	nl_cb_set(ctx->cb, NL_CB_FINISH, NL_CB_CUSTOM, nl_cb_finish, ctx);
	nl_cb_set(ctx->cb, NL_CB_VALID, NL_CB_CUSTOM, nl_cb_valid, ctx);
	return 0;

err_free_sock:
	nl_socket_free(ctx->sk);
	ctx->sk = NULL;
	return err;
}

static void nl_ctx_done(struct nl_ctx *ctx)
{
	if (!ctx->sk)
		return;
	nl_cb_put(ctx->cb);
	nl_socket_free(ctx->sk);
}

/*
 * A request for @cmd, or NULL (printed). Connects on first use, so that
 * commands check their arguments before needing the module.
 */
static struct nl_msg *nl_msg_new(struct nl_ctx *ctx, uint8_t cmd)
{
	struct nl_msg *msg;

	if (!ctx->sk && nl_ctx_init(ctx))
		return NULL;
	msg = nlmsg_alloc();
	if (!msg) {
		print_err("netlink message", NULL, -ENOMEM);
		return NULL;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, ctx->family, 0,
			 NLM_F_ACK, cmd, KWS_GENL_VERSION)) {
		nlmsg_free(msg);
		print_err("netlink message", NULL, -ENOBUFS);
		return NULL;
	}
	return msg;
}

/*
 * Send @msg, run the callbacks until the ack, free @msg. Returns 0 or the
 * negative errno, printed with the kernel's message under the name @what.
 */
static int nl_msg_send(struct nl_ctx *ctx, struct nl_msg *msg, const char *what)
{
	int err;

	ctx->done = false;
	ctx->err = 0;
	ctx->ext_msg[0] = '\0';
	err = nl_send_auto(ctx->sk, msg);
	nlmsg_free(msg);
	if (err < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, what, nl_geterror(err));
		return -EIO;
	}
	while (!ctx->done) {
		err = nl_recvmsgs(ctx->sk, ctx->cb);
		if (err < 0 && !ctx->err) {
			fprintf(stderr, "%s: %s: %s\n", progname, what,
				nl_geterror(err));
			return -EIO;
		}
	}
	if (ctx->err)
		print_err(what, ctx, ctx->err);
	return ctx->err;
}

/* ---- commands ------------------------------------------------------------ */

static void print_u64(const char *name, uint64_t v, bool *first)
{
	if (json)
		printf("%s\"%s\":%" PRIu64, *first ? "{" : ",", name, v);
	else
		printf("%-18s %" PRIu64 "\n", name, v);
	*first = false;
}

static void print_end(bool first)
{
	if (json)
		printf("%s}\n", first ? "{" : "");
}

static int parse_stats(struct nlattr **attrs, void *arg)
{
	struct nlattr *nest = attrs[KWS_A_STATS];
	struct nlattr *a;
	bool first = true;
	int rem;

	(void)arg;
	if (!nest) {
		fprintf(stderr, "%s: stats: reply without KWS_A_STATS\n", progname);
		return -1;
	}
	nla_for_each_nested(a, nest, rem) {
		unsigned int type = nla_type(a);
		char name[24];

		if (type == KWS_STAT_PAD || nla_len(a) != sizeof(uint64_t))
			continue;
		/* Counters added by newer kernels still show, by number. */
		if (type < sizeof(stat_names) / sizeof(stat_names[0]) &&
		    stat_names[type])
			snprintf(name, sizeof(name), "%s", stat_names[type]);
		else
			snprintf(name, sizeof(name), "stat_%u", type);
		print_u64(name, nla_get_u64(a), &first);
	}
	print_end(first);
	return 0;
}

static int parse_defaults(struct nlattr **attrs, void *arg)
{
	struct nlattr *tb[KWS_DEF_MAX + 1];
	bool first = true;
	uint64_t v;

	(void)arg;
	if (!attrs[KWS_A_DEFAULTS] ||
	    nla_parse_nested(tb, KWS_DEF_MAX, attrs[KWS_A_DEFAULTS], NULL)) {
		fprintf(stderr, "%s: show: reply without KWS_A_DEFAULTS\n", progname);
		return -1;
	}
	if (tb[KWS_DEF_MAX_MSG_SIZE]) {
		v = nla_get_u64(tb[KWS_DEF_MAX_MSG_SIZE]);
		if (json)
			print_u64("max_msg_size", v, &first);
		else if (v == WS_MAX_MSG_UNLIMITED)
			printf("%-18s unlimited\n", "max-msg-size");
		else
			printf("%-18s %" PRIu64 "\n", "max-msg-size", v);
		first = false;
	}
	print_end(first);
	return 0;
}

static int cmd_get(struct nl_ctx *ctx, uint8_t cmd, const char *what,
		   int (*parse)(struct nlattr **, void *))
{
	struct nl_msg *msg = nl_msg_new(ctx, cmd);

	if (!msg)
		return -EIO;
	ctx->parse = parse;
	return nl_msg_send(ctx, msg, what);
}

static int cmd_stats(struct nl_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc)
		return -EINVAL;
	return cmd_get(ctx, KWS_CMD_GET_STATS, "stats", parse_stats);
}

static int cmd_show(struct nl_ctx *ctx, int argc, char **argv)
{
	(void)argv;
	if (argc)
		return -EINVAL;
	return cmd_get(ctx, KWS_CMD_GET_DEFAULTS, "show", parse_defaults);
}

/* "N", "NK", "NM", "NG" (powers of 1024) or "unlimited". */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!strcmp(s, "unlimited")) {
		*out = WS_MAX_MSG_UNLIMITED;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int cmd_set(struct nl_ctx *ctx, int argc, char **argv)
{
	struct nlattr *nest;
	struct nl_msg *msg;
	uint64_t size;

	if (argc != 2 || strcmp(argv[0], "max-msg-size"))
		return -EINVAL;
	if (parse_size(argv[1], &size)) {
		fprintf(stderr, "%s: set: bad size \"%s\"\n", progname, argv[1]);
		return -EINVAL;
	}
	msg = nl_msg_new(ctx, KWS_CMD_SET_DEFAULTS);
	if (!msg)
		return -EIO;
	nest = nla_nest_start(msg, KWS_A_DEFAULTS);
	if (!nest || nla_put_u64(msg, KWS_DEF_MAX_MSG_SIZE, size) < 0) {
		nlmsg_free(msg);
		print_err("set", NULL, -ENOBUFS);
		return -ENOBUFS;
	}
	nla_nest_end(msg, nest);
	ctx->parse = NULL;
	return nl_msg_send(ctx, msg, "set max-msg-size");
}

struct command {
	const char *name;
	int (*handler)(struct nl_ctx *ctx, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "stats", cmd_stats, "stats                        counters of this netns" },
	{ "show",  cmd_show,  "show                         defaults of this netns" },
	{ "set",   cmd_set,   "set max-msg-size N|unlimited default message limit\n"
			      "                                    (N may end in K, M, G; needs CAP_NET_ADMIN)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [-j|--json] COMMAND [ARGS]\n", progname);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "    %s %s\n", progname, commands[i].usage);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = NULL;
	struct nl_ctx ctx;
	size_t i;
	int c, err;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "%s: unknown command \"%s\"\n", progname, argv[optind]);
		usage(stderr);
		return 2;
	}

	memset(&ctx, 0, sizeof(ctx));
	err = cmd->handler(&ctx, argc - optind - 1, argv + optind + 1);
	nl_ctx_done(&ctx);
	if (err == -EINVAL && !ctx.err) {
		fprintf(stderr, "usage: %s %s\n", progname, cmd->usage);
		return 2;
	}
	return err ? 1 : 0;
}
