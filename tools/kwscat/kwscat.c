// SPDX-License-Identifier: MIT
/*
 * kwscat: options, the client's connect and handshake, the listening
 * socket. See kwscat(1).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kwscat.h"

const char *kc_progname = "kwscat";

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [OPTIONS] ws://HOST[:PORT][/PATH]   client: stdin -> messages -> stdout\n"
"       %s [OPTIONS] --listen [ADDR:]PORT     server: one connection at a time\n"
"       %s [OPTIONS] --listen [ADDR:]PORT --echo   echo server, many connections\n"
"\n"
"  -b, --binary            stdin is a byte stream sent as binary messages of\n"
"                          --chunk bytes; messages go to stdout unseparated\n"
"  -c, --chunk N           message size for --binary (default %d)\n"
"  -l, --listen [ADDR:]PORT  server role (ADDR may be [IPv6])\n"
"  -e, --echo              with --listen: echo every message with its opcode\n"
"  -1, --once              server: exit after the first connection closes\n"
"  -n, --messages N        close after receiving N messages, not at stdin EOF\n"
"                          (a server may drop replies to messages that cross\n"
"                          our close: wait for them this way)\n"
"  -p, --protocol P        offer (client) or accept (server) subprotocol P;\n"
"                          repeat or separate with commas\n"
"  -u, --userspace         use the userspace codec, never the kernel ULP\n"
"  -k, --kernel            require the kernel ULP (fail if kws.ko is missing)\n"
"  -i, --ping-interval MS  ping after MS of silence (kernel WS_KEEPALIVE when\n"
"                          attached); --ping-timeout MS fails it (default 3x)\n"
"  -m, --max-msg N         largest message accepted (default: the kernel's)\n"
"  -B, --batch N           receive up to N whole messages per call, 1 to %d\n"
"                          (default %d; 1: one message per call)\n"
"  -t, --timeout MS        connect and handshake timeout (default %d)\n"
"  -q, --quiet             no progress line on stderr\n"
"  -v, --verbose           log connections and closes on stderr\n"
"  -h, --help\n"
"\n"
"Exit status: 0 clean close, 1 error, 2 usage, 3 cannot connect or listen,\n"
"4 handshake refused or failed, 5 closed with an error code or abnormally.\n",
		kc_progname, kc_progname, kc_progname, KC_DEFAULT_CHUNK,
		KWS_RECV_BATCH_MAX, KWS_RECV_BATCH_MAX, KC_DEFAULT_TIMEOUT_MS);
}

/* A decimal number in [min, max], optionally with a K/M/G suffix. */
static int parse_num(const char *s, unsigned long long min,
		     unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

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
	if (*end || v > (ULLONG_MAX >> shift))
		return -1;
	v <<= shift;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int add_protocols(struct kc_opts *o, char *list)
{
	static int n;
	char *save = NULL, *p;

	for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (n == KC_MAX_PROTOCOLS)
			return -1;
		o->protocols[n++] = p;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct kc_opts *o)
{
	enum { OPT_PING_TIMEOUT = 256 };
	static const struct option longopts[] = {
		{ "binary",		no_argument,		NULL, 'b' },
		{ "chunk",		required_argument,	NULL, 'c' },
		{ "listen",		required_argument,	NULL, 'l' },
		{ "echo",		no_argument,		NULL, 'e' },
		{ "once",		no_argument,		NULL, '1' },
		{ "messages",		required_argument,	NULL, 'n' },
		{ "protocol",		required_argument,	NULL, 'p' },
		{ "userspace",		no_argument,		NULL, 'u' },
		{ "kernel",		no_argument,		NULL, 'k' },
		{ "ping-interval",	required_argument,	NULL, 'i' },
		{ "ping-timeout",	required_argument,	NULL, OPT_PING_TIMEOUT },
		{ "max-msg",		required_argument,	NULL, 'm' },
		{ "batch",		required_argument,	NULL, 'B' },
		{ "timeout",		required_argument,	NULL, 't' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	while ((c = getopt_long(argc, argv, "bc:l:e1n:p:uki:m:B:t:qvh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'b':
			o->binary = true;
			break;
		case 'c':
			if (parse_num(optarg, 1, 1U << 30, &v))
				goto bad_value;
			o->chunk = v;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'e':
			o->echo = true;
			break;
		case '1':
			o->once = true;
			break;
		case 'n':
			if (parse_num(optarg, 1, ULLONG_MAX, &v))
				goto bad_value;
			o->messages = v;
			break;
		case 'p':
			if (add_protocols(o, optarg)) {
				fprintf(stderr, "%s: at most %d subprotocols\n",
					kc_progname, KC_MAX_PROTOCOLS);
				return -1;
			}
			break;
		case 'u':
			o->userspace = true;
			break;
		case 'k':
			o->kernel = true;
			break;
		case 'i':
			if (parse_num(optarg, 1, UINT_MAX / 3, &v))
				goto bad_value;
			o->ping_interval_ms = v;
			break;
		case OPT_PING_TIMEOUT:
			if (parse_num(optarg, 1, UINT_MAX, &v))
				goto bad_value;
			o->ping_timeout_ms = v;
			break;
		case 'm':
			if (parse_num(optarg, 1, ULLONG_MAX, &v))
				goto bad_value;
			o->max_msg = v;
			break;
		case 'B':
			if (parse_num(optarg, 1, KWS_RECV_BATCH_MAX, &v))
				goto bad_value;
			o->batch = v;
			break;
		case 't':
			if (parse_num(optarg, 0, INT_MAX, &v))
				goto bad_value;
			o->timeout_ms = v;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(KC_EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc)
		o->url = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", kc_progname,
			argv[optind]);
		return -1;
	}
	if (!o->url == !o->listen) {
		fprintf(stderr, "%s: give either a ws:// URL or --listen\n",
			kc_progname);
		return -1;
	}
	if (o->echo && !o->listen) {
		fprintf(stderr, "%s: --echo needs --listen\n", kc_progname);
		return -1;
	}
	if (o->userspace && o->kernel) {
		fprintf(stderr, "%s: --userspace and --kernel exclude each other\n",
			kc_progname);
		return -1;
	}
	if (o->ping_interval_ms && !o->ping_timeout_ms)
		o->ping_timeout_ms = 3 * o->ping_interval_ms;
	return 0;

bad_value:
	fprintf(stderr, "%s: bad value \"%s\" for -%c\n", kc_progname, optarg,
		c < 256 ? c : 'i');
	return -1;
}

void kc_attach_opts(const struct kc_opts *o, struct kws_attach_opts *ao)
{
	memset(ao, 0, sizeof(*ao));
	if (o->userspace)
		ao->flags |= KWS_ATTACH_USERSPACE;
	if (o->kernel)
		ao->flags |= KWS_ATTACH_KERNEL;
	ao->max_msg_size = o->max_msg;
	/*
	 * Userspace keepalive needs to see the pongs (session.c); the kernel
	 * keeps them to itself and runs the timer.
	 */
	if (o->ping_interval_ms && o->userspace)
		ao->ws_flags |= WS_F_DELIVER_CONTROL;
}

/* Kernel keepalive; on the userspace path session.c sends the pings. */
void kc_keepalive(struct kws_conn *c, const struct kc_opts *o)
{
	struct ws_keepalive ka = {
		.idle_ms = o->ping_interval_ms,
		.timeout_ms = o->ping_timeout_ms,
	};

	if (!o->ping_interval_ms || !kws_is_kernel(c))
		return;
	if (setsockopt(kws_fd(c), SOL_WS, WS_KEEPALIVE, &ka, sizeof(ka)))
		fprintf(stderr, "%s: WS_KEEPALIVE: %s (no keepalive)\n",
			kc_progname, strerror(errno));
}

const char *kc_close_name(unsigned int code)
{
	switch (code) {
	case WS_CLOSE_NORMAL:		return "normal closure";
	case WS_CLOSE_GOING_AWAY:	return "going away";
	case WS_CLOSE_PROTOCOL_ERROR:	return "protocol error";
	case WS_CLOSE_UNSUPPORTED:	return "unsupported data";
	case WS_CLOSE_NO_STATUS:	return "no status code";
	case WS_CLOSE_ABNORMAL_CODE:	return "abnormal closure";
	case WS_CLOSE_INVALID_DATA:	return "invalid payload data";
	case WS_CLOSE_POLICY:		return "policy violation";
	case WS_CLOSE_TOO_BIG:		return "message too big";
	case WS_CLOSE_EXTENSION:	return "extension required";
	case WS_CLOSE_INTERNAL:		return "internal error";
	}
	return code >= 4000 ? "application code" : "unknown code";
}

static const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "";
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* TCP connection to @u, or -1 after printing why. */
static int dial(const struct kws_url *u, const struct kc_opts *o)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_ADDRCONFIG,
	};
	struct addrinfo *res, *ai;
	char port[8];
	int fd = -1, err = 0, gai;

	snprintf(port, sizeof(port), "%u", u->port);
	gai = getaddrinfo(u->host, port, &hints, &res);
	if (gai) {
		fprintf(stderr, "%s: %s: %s\n", kc_progname, u->host,
			gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		/* connect(2) honours SO_SNDTIMEO. */
		set_timeouts(fd, o->timeout_ms);
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		err = errno == EINPROGRESS ? ETIMEDOUT : errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "%s: connect to %s: %s\n", kc_progname,
			u->hostport, strerror(err));
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * The client handshake on the connected @fd, then attach. Returns 0 with
 * *@conn set (it owns @fd), or a KC_EXIT_* code after printing why.
 */
static int client_handshake(int fd, const struct kws_url *u,
			    const struct kc_opts *o, struct kws_conn **conn)
{
	struct kws_client_opts copts = {
		.protocols = o->protocols[0] ? o->protocols : NULL,
	};
	struct kws_attach_opts ao;
	char buf[16384];
	size_t used = 0;
	ssize_t n;
	int r = 0;
	struct kws_hs *hs;

	hs = kws_hs_client_new(&copts);
	if (!hs) {
		fprintf(stderr, "%s: handshake: %s\n", kc_progname, strerror(errno));
		return KC_EXIT_ERROR;
	}
	n = kws_hs_client_request(hs, u->hostport, u->path, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "%s: handshake request: %s\n", kc_progname,
			strerror(errno));
		kws_hs_free(hs);
		return KC_EXIT_USAGE;
	}
	if (send_all(fd, buf, n)) {
		fprintf(stderr, "%s: handshake: send: %s\n", kc_progname,
			strerror(errno));
		kws_hs_free(hs);
		return KC_EXIT_HANDSHAKE;
	}
	while (r == 0) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: handshake failed: %s\n", kc_progname,
				n == 0 ? "server closed the connection" :
				errno == EAGAIN ? "timed out" : strerror(errno));
			kws_hs_free(hs);
			return KC_EXIT_HANDSHAKE;
		}
		r = kws_hs_client_response(hs, buf, n, &used);
	}
	if (r < 0) {
		int status = kws_hs_status(hs);

		if (errno == ECONNREFUSED)
			fprintf(stderr, "%s: handshake refused: HTTP %d %s\n",
				kc_progname, status, http_reason(status));
		else if (errno == EMSGSIZE)
			fprintf(stderr, "%s: handshake failed: response head too large\n",
				kc_progname);
		else
			fprintf(stderr, "%s: handshake failed: %s\n", kc_progname,
				kws_hs_error(hs) ? kws_hs_error(hs) : strerror(errno));
		kws_hs_free(hs);
		return KC_EXIT_HANDSHAKE;
	}
	if (o->verbose)
		fprintf(stderr, "%s: connected to %s%s%s\n", kc_progname,
			u->hostport, kws_hs_protocol(hs) ? ", subprotocol " : "",
			kws_hs_protocol(hs) ? kws_hs_protocol(hs) : "");
	kws_hs_free(hs);

	set_timeouts(fd, 0);
	kc_attach_opts(o, &ao);
	if (kws_attach(fd, WS_ROLE_CLIENT, &ao, buf + used, n - used, conn)) {
		if (errno == ENOPROTOOPT && o->kernel)
			fprintf(stderr, "%s: the kernel ULP is not available (is kws.ko loaded?)\n",
				kc_progname);
		else
			fprintf(stderr, "%s: attach: %s\n", kc_progname,
				strerror(errno));
		return KC_EXIT_ERROR;
	}
	return 0;
}

static int run_client(const struct kc_opts *o)
{
	struct kws_conn *c;
	struct kws_url u;
	int fd, rc;

	if (kws_url_parse(o->url, &u)) {
		if (errno == EPROTONOSUPPORT)
			fprintf(stderr, "%s: %s: only ws:// URLs are supported\n",
				kc_progname, o->url);
		else
			fprintf(stderr, "%s: bad URL \"%s\": %s\n", kc_progname,
				o->url, strerror(errno));
		return KC_EXIT_USAGE;
	}
	fd = dial(&u, o);
	if (fd < 0)
		return KC_EXIT_CONNECT;
	rc = client_handshake(fd, &u, o, &c);
	if (rc) {
		close(fd);
		return rc;
	}
	if (o->verbose)
		fprintf(stderr, "%s: %s codec\n", kc_progname,
			kws_is_kernel(c) ? "kernel" : "userspace");
	kc_keepalive(c, o);
	rc = kc_client_session(c, o);
	kws_close(c);
	return rc;
}

/*
 * Listening socket for "[ADDR:]PORT" (ADDR a name, an IPv4 address or a
 * bracketed IPv6 one; none: every address), or -1 after printing why.
 */
int kc_listen(const char *spec, bool verbose)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE,
	};
	char host[256] = "", bound[300];
	const char *port = spec, *colon = strrchr(spec, ':');
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd = -1, err = 0, gai, one = 1;

	if (colon) {
		size_t len = colon - spec;

		if (spec[0] == '[' && len >= 2 && spec[len - 1] == ']') {
			spec++;
			len -= 2;
		}
		if (len >= sizeof(host)) {
			fprintf(stderr, "%s: bad listen address \"%s\"\n",
				kc_progname, spec);
			return -1;
		}
		memcpy(host, spec, len);
		host[len] = '\0';
		port = colon + 1;
	}
	if (!*host)	/* both families where IPv6 is there */
		hints.ai_family = AF_INET6;
	gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai && !*host) {
		hints.ai_family = AF_INET;
		gai = getaddrinfo(NULL, port, &hints, &res);
	}
	if (gai) {
		fprintf(stderr, "%s: listen on %s: %s\n", kc_progname, spec,
			gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int zero = 0;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !*host)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 1024))
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fprintf(stderr, "%s: listen on %s: %s\n", kc_progname, spec,
			strerror(err));
		return -1;
	}
	/* With port 0 the caller needs to learn the port. */
	if ((verbose || !strcmp(port, "0")) &&
	    !getsockname(fd, (struct sockaddr *)&ss, &sslen) &&
	    !getnameinfo((struct sockaddr *)&ss, sslen, bound, sizeof(bound),
			 NULL, 0, NI_NUMERICHOST)) {
		unsigned int p = ss.ss_family == AF_INET6 ?
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			ntohs(((struct sockaddr_in *)&ss)->sin_port);

		fprintf(stderr, "%s: listening on %s%s%s:%u\n", kc_progname,
			ss.ss_family == AF_INET6 ? "[" : "", bound,
			ss.ss_family == AF_INET6 ? "]" : "", p);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct kc_opts o = {
		.chunk = KC_DEFAULT_CHUNK,
		.batch = KWS_RECV_BATCH_MAX,
		.timeout_ms = KC_DEFAULT_TIMEOUT_MS,
	};
	int lfd, rc;

	if (parse_args(argc, argv, &o))
		return KC_EXIT_USAGE;
	/* Write errors on stdout or a socket come back as EPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if (o.url) {
		rc = run_client(&o);
	} else {
		lfd = kc_listen(o.listen, o.verbose);
		if (lfd < 0)
			return KC_EXIT_CONNECT;
		rc = o.echo ? kc_echo_server(lfd, &o) :
			      kc_server_stdio(lfd, &o);
		close(lfd);
	}
	/*
	 * The stdin thread may still be running (blocked in read(2)): skip the
	 * exit handlers (libcrypto's cleanup) it could race with.
	 */
	fflush(stdout);
	fflush(stderr);
	_exit(rc);
}
