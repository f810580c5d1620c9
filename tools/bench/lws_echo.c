// SPDX-License-Identifier: MIT
/*
 * lws_echo: a WebSocket echo server on libwebsockets (Debian's 4.1.6), the
 * userspace library baseline of Documentation/performance.md. It is the
 * library's intended shape (lws minimal-ws-server-echo): gather a message
 * in the RECEIVE callbacks, ask for WRITEABLE, write it back in one
 * lws_write(). Default service loop (poll), no extensions, no TLS.
 *
 *   lws_echo [-p port] [-r rx_buffer_size] [-t secs]
 */
#define _GNU_SOURCE
#include "common.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct bench_shm *shm;

struct session {
	unsigned char *buf;	/* LWS_PRE bytes of headroom, then the message */
	size_t len, cap;
	int ready;		/* a whole message waits for WRITEABLE */
};

static int echo_cb(struct lws *wsi, enum lws_callback_reasons reason,
		   void *user, void *in, size_t len)
{
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		shm->conns++;
		break;
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_first_fragment(wsi))
			s->len = 0;
		if (LWS_PRE + s->len + len > s->cap) {
			size_t cap = s->cap ? s->cap : 4096;

			while (cap < LWS_PRE + s->len + len)
				cap *= 2;
			s->buf = realloc(s->buf, cap);
			if (!s->buf)
				die("out of memory");
			s->cap = cap;
		}
		memcpy(s->buf + LWS_PRE + s->len, in, len);
		s->len += len;
		if (lws_is_final_fragment(wsi)) {
			shm->msgs++;
			shm->bytes += s->len;
			s->ready = 1;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!s->ready)
			break;
		if (lws_write(wsi, s->buf + LWS_PRE, s->len, LWS_WRITE_BINARY) <
		    (int)s->len)
			return -1;
		s->ready = 0;
		break;
	case LWS_CALLBACK_CLOSED:
		free(s->buf);
		s->buf = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static struct lws_protocols protocols[] = {
	{ "echo", echo_cb, sizeof(struct session), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void on_alarm(int sig)
{
	(void)sig;
	_exit(3);
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	int port = 9000, timeout = 600, c;

	while ((c = getopt(argc, argv, "p:r:t:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'r': protocols[0].rx_buffer_size = strtoul(optarg, NULL, 0); break;
		case 't': timeout = atoi(optarg); break;
		default:
			fputs("usage: lws_echo [-p port] [-r rx_buffer_size] [-t secs]\n", stderr);
			return 2;
		}
	}
	signal(SIGALRM, on_alarm);
	alarm(timeout);
	shm = bench_shm_open(port, 1);
	if (!shm)
		die("shm: %m");
	shm->pid = getpid();
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	ctx = lws_create_context(&info);
	if (!ctx)
		die("lws_create_context failed");
	while (lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}
