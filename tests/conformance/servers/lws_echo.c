// SPDX-License-Identifier: MIT
/*
 * Echo server on libwebsockets (Debian 12: 4.1.6), a reference peer for wsconform.py.
 *
 * Gathers each message whole (up to 64 MiB) and sends it back as one message, text as text,
 * binary as binary, with UTF-8 validation on (LWS_SERVER_OPTION_VALIDATE_UTF8) so invalid text
 * fails with 1007. While an echo is being written, reading stops (lws_rx_flow_control), so one
 * connection never holds more than one message. Prints "listening on HOST:PORT" once ready
 * (HOST: --host, 127.0.0.1 by default; ::1 for IPv6).
 *
 * Build: cc -O2 -Wall -Wextra -Werror lws_echo.c $(pkg-config --cflags --libs libwebsockets)
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (64u << 20)
#define WRITE_CHUNK (64u << 10)

struct echo_conn {
	unsigned char *buf;	/* LWS_PRE headroom, then the message */
	size_t cap;		/* payload capacity after LWS_PRE */
	size_t len;		/* message bytes gathered */
	size_t sent;		/* message bytes already written */
	int binary;
	int pending;		/* a whole message waits to be echoed */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int echo_append(struct echo_conn *c, const void *in, size_t len)
{
	if (c->len + len > MAX_MESSAGE)
		return -1;
	if (!c->buf || c->len + len > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		unsigned char *nb;

		while (cap < c->len + len)
			cap *= 2;
		nb = realloc(c->buf, LWS_PRE + cap);
		if (!nb)
			return -1;
		c->buf = nb;
		c->cap = cap;
	}
	if (len)
		memcpy(c->buf + LWS_PRE + c->len, in, len);
	c->len += len;
	return 0;
}

/* Writes one chunk of the pending echo; the next chunk waits for the next WRITEABLE. */
static int echo_write(struct lws *wsi, struct echo_conn *c)
{
	size_t n = c->len - c->sent;
	int start = c->sent == 0, end;
	int flags;

	if (n > WRITE_CHUNK)
		n = WRITE_CHUNK;
	end = c->sent + n == c->len;
	flags = lws_write_ws_flags(c->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, start, end);
	/* lws_write needs LWS_PRE writable bytes before the data: the buffer has them for the
	 * first chunk, and later chunks overwrite bytes already sent.
	 */
	if (lws_write(wsi, c->buf + LWS_PRE + c->sent, n, (enum lws_write_protocol)flags) < (int)n)
		return -1;
	c->sent += n;
	if (!end) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	c->pending = 0;
	c->len = 0;
	c->sent = 0;
	lws_rx_flow_control(wsi, 1);
	return 0;
}

static int echo_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			 void *in, size_t len)
{
	struct echo_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof(*c));
		break;
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			c->len = 0;
			c->binary = lws_frame_is_binary(wsi);
		}
		if (echo_append(c, in, len)) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
			return -1;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			c->pending = 1;
			c->sent = 0;
			lws_rx_flow_control(wsi, 0);
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->pending && echo_write(wsi, c))
			return -1;
		break;
	case LWS_CALLBACK_CLOSED:
		free(c->buf);
		c->buf = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "echo", echo_callback, sizeof(struct echo_conn), 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	const char *host = "127.0.0.1";
	int validate_utf8 = 1;
	int port = 9001;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc) {
			port = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--host") && i + 1 < argc) {
			host = argv[++i];
		} else if (!strcmp(argv[i], "--no-utf8-check")) {
			validate_utf8 = 0;	/* a deliberately broken peer, to test the tester */
		} else {
			fprintf(stderr, "usage: %s [--host ADDR] [--port PORT] [--no-utf8-check]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lws_set_log_level(getenv("LWS_ECHO_DEBUG") ? (LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO) : LLL_ERR, NULL);

	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	/* An IPv4 address binds an IPv4 socket only when lws's IPv6 support is off. */
	info.options = strchr(host, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
	if (validate_utf8)
		info.options |= LWS_SERVER_OPTION_VALIDATE_UTF8;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "lws_echo: cannot listen on %s:%d\n", host, port);
		return 1;
	}
	printf("listening on %s:%d\n", host, port);
	fflush(stdout);
	while (!stop && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}
