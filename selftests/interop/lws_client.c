// SPDX-License-Identifier: MIT
/*
 * libwebsockets (Debian 12: 4.1.6) client against an echo server: prints TAP, exits 1 on
 * failure. The same checks as py_client.py: echo of text and binary at the length-encoding
 * edges (0, 125, 126, 65535, 65536) and 1 MiB, multi-byte UTF-8 text, 100 pipelined messages in
 * order, ping/pong with the same payload, and a close handshake that completes.
 *
 * usage: lws_client ws://127.0.0.1:PORT/ [TAP-NAME-PREFIX]
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIPELINED 100
#define MAX_MSG (2u << 20)

static const size_t sizes[] = { 0, 125, 126, 65535, 65536, 1u << 20 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Steps: 2 per size (text, binary), utf8, pipelined, ping, close. */
enum { STEP_UTF8 = 2 * NSIZES, STEP_PIPE, STEP_PING, STEP_CLOSE, STEP_DONE };

struct client {
	const char *prefix;
	int step;
	int tests, failures;
	int awaiting;		/* replies still expected for the current step */
	int pipe_sent, pipe_got, pipe_ok;
	int closed, close_done;
	unsigned char *out;	/* LWS_PRE + message being sent (lws masks it in place) */
	unsigned char *sent;	/* copy of the last message sent, to compare the echo */
	size_t out_len;
	size_t out_off;		/* bytes of it already written */
	int out_binary;
	unsigned char *in;	/* message being received */
	size_t in_len;
	int in_binary;
	unsigned char pong[32];
	size_t pong_len;
};

static struct client cl;

static void tap(int ok, const char *name, const char *why)
{
	cl.tests++;
	if (!ok)
		cl.failures++;
	printf("%s %d %s%s%s%s\n", ok ? "ok" : "not ok", cl.tests, cl.prefix, name,
	       !ok && why ? " # " : "", !ok && why ? why : "");
	fflush(stdout);
}

static const char *step_name(int step, char *buf, size_t len)
{
	if (step < STEP_UTF8)
		snprintf(buf, len, "%s_%zu", step % 2 ? "binary" : "text", sizes[step / 2]);
	else
		snprintf(buf, len, "%s", step == STEP_UTF8 ? "text_utf8_multibyte" :
			 step == STEP_PIPE ? "pipelined_100_in_order" :
			 step == STEP_PING ? "ping_pong" : "close");
	return buf;
}

/* Fills cl.out with the message for the current step. */
static void prepare(void)
{
	size_t i, n = 0;

	if (cl.step < STEP_UTF8) {
		n = sizes[cl.step / 2];
		cl.out_binary = cl.step % 2;
		for (i = 0; i < n; i++)
			cl.out[LWS_PRE + i] = cl.out_binary ? (unsigned char)(rand() & 0xff) : '*';
	} else if (cl.step == STEP_UTF8) {
		static const char word[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80 ";

		for (i = 0; i < 1000; i++) {
			memcpy(cl.out + LWS_PRE + n, word, sizeof(word) - 1);
			n += sizeof(word) - 1;
		}
		cl.out_binary = 0;
	} else if (cl.step == STEP_PIPE) {
		n = (size_t)sprintf((char *)cl.out + LWS_PRE, "message %d", cl.pipe_sent);
		cl.out_binary = 0;
	}
	cl.out_len = n;
}

static void next_step(struct lws *wsi)
{
	cl.step++;
	cl.awaiting = cl.step == STEP_PIPE ? PIPELINED : 1;
	if (cl.step < STEP_PING)
		prepare();
	lws_callback_on_writable(wsi);
}

static size_t first_diff(void)
{
	size_t i;

	for (i = 0; i < cl.in_len && i < cl.out_len; i++)
		if (cl.in[i] != cl.sent[i])
			break;
	return i;
}

static void on_message(struct lws *wsi)
{
	char name[64];
	int ok;

	if (cl.step == STEP_PIPE) {
		char want[32];
		int n = sprintf(want, "message %d", cl.pipe_got++);

		if (cl.in_binary || cl.in_len != (size_t)n || memcmp(cl.in, want, (size_t)n))
			cl.pipe_ok = 0;
		if (cl.pipe_got < PIPELINED)
			return;
		tap(cl.pipe_ok, "pipelined_100_in_order", NULL);
		next_step(wsi);
		return;
	}
	if (cl.step >= STEP_PIPE)
		return;
	ok = cl.in_binary == cl.out_binary && cl.in_len == cl.out_len &&
	     !memcmp(cl.in, cl.sent, cl.out_len);
	if (!ok && getenv("LWS_CLIENT_DEBUG"))
		fprintf(stderr, "step %d: got %zu bytes binary=%d, sent %zu binary=%d, first diff %zu\n", cl.step,
			cl.in_len, cl.in_binary, cl.out_len, cl.out_binary, first_diff());
	tap(ok, step_name(cl.step, name, sizeof(name)), "echo differs");
	next_step(wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		tap(0, "handshake", in ? (const char *)in : "connection error");
		cl.closed = 1;
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		tap(1, "handshake", NULL);
		cl.step = -1;
		next_step(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		size_t chunk;
		int flags;

		if (cl.step == STEP_PING) {
			memcpy(cl.out + LWS_PRE, "interop ping", 12);
			if (lws_write(wsi, cl.out + LWS_PRE, 12, LWS_WRITE_PING) < 12)
				return -1;
			break;
		}
		if (cl.step == STEP_CLOSE) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		if (cl.step >= STEP_DONE)
			break;
		/* Big messages go out as 64 KiB frames, one per WRITEABLE, as lws expects: with
		 * one 1 MiB client lws_write() (4.1.6) the echo differed from the first byte.
		 */
		chunk = cl.out_len - cl.out_off;
		if (chunk > 65536)
			chunk = 65536;
		if (!cl.out_off)
			memcpy(cl.sent, cl.out + LWS_PRE, cl.out_len);
		flags = lws_write_ws_flags(cl.out_binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
					   !cl.out_off, cl.out_off + chunk == cl.out_len);
		/* Later chunks need LWS_PRE bytes in front: those were sent already. */
		if (lws_write(wsi, cl.out + LWS_PRE + cl.out_off, chunk,
			      (enum lws_write_protocol)flags) < (int)chunk)
			return -1;
		cl.out_off += chunk;
		if (cl.out_off < cl.out_len) {
			lws_callback_on_writable(wsi);
			break;
		}
		cl.out_off = 0;
		if (cl.step == STEP_PIPE && ++cl.pipe_sent < PIPELINED) {
			prepare();
			lws_callback_on_writable(wsi);
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			cl.in_len = 0;
			cl.in_binary = lws_frame_is_binary(wsi);
		}
		if (cl.in_len + len > MAX_MSG)
			return -1;
		memcpy(cl.in + cl.in_len, in, len);
		cl.in_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
			on_message(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		if (cl.step == STEP_PING) {
			tap(len == 12 && !memcmp(in, "interop ping", 12), "ping_pong", "wrong payload");
			next_step(wsi);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		cl.closed = 1;
		if (cl.step == STEP_CLOSE) {
			cl.close_done = 1;
			tap(1, "close", NULL);
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "interop", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct lws_context *ctx;
	const char *prot, *addr, *path;
	char url[256], res[256], name[64];
	int port = 80;
	time_t deadline;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ws://HOST:PORT/ [TAP-NAME-PREFIX]\n", argv[0]);
		return 2;
	}
	cl.prefix = argc > 2 ? argv[2] : "lws_client.";
	cl.pipe_ok = 1;
	cl.out = malloc(LWS_PRE + MAX_MSG);
	cl.in = malloc(MAX_MSG);
	cl.sent = malloc(MAX_MSG);
	if (!cl.out || !cl.in || !cl.sent)
		return 1;
	snprintf(url, sizeof(url), "%s", argv[1]);
	if (lws_parse_uri(url, &prot, &addr, &port, &path) || strcmp(prot, "ws")) {
		fprintf(stderr, "lws_client: need a ws:// URL\n");
		return 2;
	}
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	ctx = lws_create_context(&info);
	if (!ctx)
		return 1;
	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = addr;
	ci.port = port;
	/* lws_parse_uri() strips the leading slash of the path. */
	snprintf(res, sizeof(res), "/%s", path);
	ci.path = res;
	ci.host = addr;
	ci.origin = addr;
	ci.protocol = NULL;
	if (!lws_client_connect_via_info(&ci)) {
		tap(0, "handshake", "connect failed");
		return 1;
	}
	/* Bounded: every step must be done within the deadline. */
	deadline = time(NULL) + (getenv("INTEROP_TIMEOUT") ? atoi(getenv("INTEROP_TIMEOUT")) : 60);
	while (!cl.closed && time(NULL) < deadline)
		if (lws_service(ctx, 100) < 0)
			break;
	if (!cl.close_done) {
		tap(0, step_name(cl.step < 0 ? 0 : cl.step, name, sizeof(name)),
		    cl.closed ? "connection closed early" : "timeout");
	}
	lws_context_destroy(ctx);
	free(cl.out);
	free(cl.in);
	free(cl.sent);
	return cl.failures || !cl.close_done ? 1 : 0;
}
