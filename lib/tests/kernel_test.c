// SPDX-License-Identifier: MIT
/*
 * libkws on the kernel path: kws_connect/kws_accept over loopback with the
 * "ws" ULP attached, on both ends and against the userspace codec on the
 * other end (kernel client + userspace server and the reverse), failure
 * closes, leftover bytes handed over with WS_LEFTOVER, and kws_recv_batch()
 * over WS_RECV_BATCH (the checks test_user runs on the userspace codec).
 *
 * Needs kws.ko: run it as `tools/vm/run -- lib/tests/kernel_test`. Where the
 * module is missing (the host), it reports one skipped test and passes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kws.h"
#include "kws_codec.h"
#include "tap.h"
#include "util.h"
#include "batch.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

static const uint8_t mask_key[4] = { 0x11, 0x22, 0x33, 0x44 };

/* A TCP loopback pair: fds[0] connected, fds[1] accepted. */
static int tcp_pair(int fds[2])
{
	uint16_t port;
	int lfd = tcp_listener(AF_INET, &port);

	if (lfd < 0)
		return -1;
	fds[0] = tcp_connect(port);
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return fds[0] < 0 || fds[1] < 0 ? -1 : 0;
}

/* 1 if setsockopt(TCP_ULP, "ws") works here, 0 if the module is missing. */
static int ulp_available(void)
{
	int fds[2], r;

	if (tcp_pair(fds))
		return 0;
	r = setsockopt(fds[0], SOL_TCP, TCP_ULP, "ws", sizeof("ws"));
	if (r)
		tap_diag("TCP_ULP \"ws\": %s", strerror(errno));
	close(fds[0]);
	close(fds[1]);
	return r == 0;
}

static const char *path_name(int kernel)
{
	return kernel ? "kernel" : "user";
}

static const size_t sizes[] = { 0, 1, 125, 126, 65535, 65536, 200000, MIB };

/* Client and server, each on the kernel or the userspace path. */
static void test_pair(int ck, int sk)
{
	char name[32];
	struct kws_server_opts sopts = {
		.attach.flags = sk ? KWS_ATTACH_KERNEL : KWS_ATTACH_USERSPACE,
	};
	struct kws_client_opts copts = {
		.attach.flags = ck ? KWS_ATTACH_KERNEL : KWS_ATTACH_USERSPACE,
		.attach.ws_flags = WS_F_DELIVER_CONTROL,
	};
	struct accept_arg a = { .opts = &sopts };
	struct echo e = { .chunk = 3001 };
	uint8_t *out = malloc(MIB), *in = malloc(MIB);
	struct kws_conn *c = NULL;
	struct kws_msg_info mi;
	pthread_t th, eth;
	char url[64], buf[64];
	uint16_t port;
	int opcode, ok;
	ssize_t n;

	snprintf(name, sizeof(name), "%s_to_%s", path_name(ck), path_name(sk));
	a.lfd = tcp_listener(AF_INET, &port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%u/k", port);
	pthread_create(&th, NULL, accept_main, &a);
	ok = kws_connect(url, &copts, &c) == 0;
	pthread_join(th, NULL);
	close(a.lfd);
	if (!tap_ok(ok && a.r == 0 && kws_is_kernel(c) == ck &&
		    kws_is_kernel(a.conn) == sk, "%s_connect_accept", name)) {
		tap_diag("connect: %s, accept: %s", ok ? "ok" : strerror(errno),
			 a.r ? strerror(a.err) : "ok");
		goto out;
	}

	e.conn = a.conn;
	pthread_create(&eth, NULL, echo_main, &e);
	for (int op = WS_OP_TEXT; op <= WS_OP_BINARY; op++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t len = sizes[i];

			fill(out, len, op, i);
			ok = kws_send(c, op, out, len, 0) == (ssize_t)len;
			n = recv_msg(c, in, MIB, 65536, &opcode);
			if (!tap_ok(ok && n == (ssize_t)len && opcode == op &&
				    !memcmp(in, out, len), "%s_echo_%s_%zu",
				    name, op == WS_OP_TEXT ? "text" : "binary",
				    len))
				tap_diag("sent %d, got %zd opcode %d (close %u flags %u), errno %s; echo: close %#x errno %d",
					 ok, n, opcode, recv_last.close_code,
					 recv_last.close_flags, strerror(errno),
					 e.close_code, e.err);
		}
	}

	fill(out, 3 * 70000, WS_OP_BINARY, 5);
	ok = 1;
	for (int i = 0; i < 3; i++)
		ok = ok && kws_send(c, WS_OP_BINARY, out + i * 70000, 70000,
				    i < 2 ? KWS_MORE : 0) == 70000;
	n = recv_msg(c, in, MIB, MIB, &opcode);
	tap_ok(ok && n == 210000 && !memcmp(in, out, n),
	       "%s_fragments_echoed_whole", name);

	/* the server answers the ping itself (kernel or codec) */
	ok = kws_ping(c, "k", 1) == 0;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	tap_ok(ok && n == 1 && mi.opcode == WS_OP_PONG && buf[0] == 'k',
	       "%s_ping_pong", name);

	ok = kws_send_close(c, WS_CLOSE_NORMAL, "bye") == 0;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	ok = ok && n == 0 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1000 &&
	     mi.close_flags == 0;
	n = kws_recv(c, buf, sizeof(buf), &mi);
	pthread_join(eth, NULL);
	tap_ok(ok && n == 0 && mi.opcode == 0 && e.messages == 17,
	       "%s_close_handshake", name);
	errno = 0;
	tap_ok(kws_send(c, WS_OP_TEXT, "x", 1, 0) == -1 && errno == EPIPE,
	       "%s_send_after_close_epipe", name);
out:
	kws_close(c);
	kws_close(a.conn);
	free(out);
	free(in);
}

/* A raw TCP peer sends @frames to a kernel connection in @role. */
static void test_fail(const char *what, int role, uint64_t max,
		      const uint8_t *frames, size_t len, uint16_t code)
{
	struct kws_attach_opts opts = {
		.flags = KWS_ATTACH_KERNEL,
		.max_msg_size = max,
	};
	struct kws_conn *conn = NULL;
	struct kws_msg_info mi;
	char buf[64];
	int fds[2], ok;
	ssize_t n;

	tcp_pair(fds);
	ok = kws_attach(fds[1], role, &opts, NULL, 0, &conn) == 0;
	if (write(fds[0], frames, len) != (ssize_t)len)
		ok = 0;
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	ok = ok && n == 0 && mi.opcode == WS_OP_CLOSE && mi.close_code == code &&
	     (mi.close_flags & WS_CLOSE_LOCAL);
	ok = ok && raw_expect_close(fds[0], code, role == WS_ROLE_CLIENT);
	tap_ok(ok, "kernel_%s_fail_%u_%s",
	       role == WS_ROLE_CLIENT ? "client" : "server", code, what);
	if (!ok)
		tap_diag("recv=%zd opcode=%u code=%u flags=%u errno=%s", n,
			 mi.opcode, mi.close_code, mi.close_flags,
			 strerror(errno));
	kws_close(conn);
	close(fds[0]);
}

static void test_failures(void)
{
	uint8_t buf[256];
	size_t n;

	n = 0;
	frame_put(buf, &n, 0x81, "hi", 2, NULL);
	test_fail("unmasked_from_client", WS_ROLE_SERVER, 0, buf, n, 1002);
	n = 0;
	frame_put(buf, &n, 0x82, "hi", 2, mask_key);
	test_fail("masked_from_server", WS_ROLE_CLIENT, 0, buf, n, 1002);
	n = 0;
	frame_put(buf, &n, 0x81, "\xc0\xaf", 2, mask_key);
	test_fail("overlong_utf8", WS_ROLE_SERVER, 0, buf, n, 1007);
	n = 0;
	frame_put(buf, &n, 0x82, "0123456789a", 11, mask_key);
	test_fail("over_max_msg_size", WS_ROLE_SERVER, 10, buf, n, 1009);
}

/* Bytes the caller already read go to the kernel with WS_LEFTOVER. */
static void test_leftover(void)
{
	struct kws_attach_opts opts = { .flags = KWS_ATTACH_KERNEL };
	struct kws_conn *conn = NULL;
	struct kws_msg_info mi;
	uint8_t lo[32], more[32];
	size_t nlo = 0, nmore = 0;
	char buf[64];
	int fds[2], ok;
	ssize_t n;

	frame_put(lo, &nlo, 0x81, "first", 5, mask_key);
	frame_put(more, &nmore, 0x81, "second", 6, mask_key);
	/* split the second frame: its header starts in the leftover */
	memcpy(lo + nlo, more, 3);
	nlo += 3;
	tcp_pair(fds);
	if (write(fds[0], more + 3, nmore - 3) != (ssize_t)(nmore - 3))
		abort();
	ok = kws_attach(fds[1], WS_ROLE_SERVER, &opts, lo, nlo, &conn) == 0;
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	ok = ok && n == 5 && !memcmp(buf, "first", 5) && mi.eom;
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	tap_ok(ok && n == 6 && !memcmp(buf, "second", 6) && mi.eom,
	       "kernel_server_leftover_then_socket");
	kws_close(conn);
	close(fds[0]);

	tcp_pair(fds);
	{
		static uint8_t big[WS_LEFTOVER_MAX + 1];

		errno = 0;
		tap_ok(kws_attach(fds[1], WS_ROLE_SERVER, &opts, big,
				  sizeof(big), &conn) == -1 && errno == EMSGSIZE,
		       "kernel_attach_refuse_leftover_over_max");
	}
	close(fds[0]);
	close(fds[1]);
}

/* The request and a first frame in one segment: the frame reaches the ULP. */
static void test_early_frame(void)
{
	struct kws_server_opts opts = { .attach.flags = KWS_ATTACH_KERNEL };
	struct accept_arg a = { .opts = &opts };
	struct kws_msg_info mi;
	char req[1024], resp[512];
	uint16_t port;
	pthread_t th;
	size_t len;
	ssize_t n;
	int fd;

	a.lfd = tcp_listener(AF_INET, &port);
	pthread_create(&th, NULL, accept_main, &a);
	fd = tcp_connect(port);
	len = snprintf(req, sizeof(req),
		       "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
		       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
	frame_put((uint8_t *)req, &len, 0x81, "early", 5, mask_key);
	if (write(fd, req, len) != (ssize_t)len)
		abort();
	pthread_join(th, NULL);
	read_head(fd, resp, sizeof(resp));
	n = a.r ? -1 : kws_recv(a.conn, resp, sizeof(resp), &mi);
	tap_ok(a.r == 0 && kws_is_kernel(a.conn) && n == 5 &&
	       !memcmp(resp, "early", 5), "kernel_server_frame_with_request");
	if (!a.r)
		kws_close(a.conn);
	close(fd);
	close(a.lfd);
}

/* TCP EOF without a close frame: 1006, abnormal, then EOF. */
static void test_abnormal(void)
{
	struct kws_attach_opts opts = { .flags = KWS_ATTACH_KERNEL };
	struct kws_conn *conn = NULL;
	struct kws_msg_info mi;
	char buf[16];
	int fds[2], ok;
	ssize_t n;

	tcp_pair(fds);
	ok = kws_attach(fds[1], WS_ROLE_SERVER, &opts, NULL, 0, &conn) == 0;
	shutdown(fds[0], SHUT_WR);
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	ok = ok && n == 0 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1006 &&
	     (mi.close_flags & WS_CLOSE_ABNORMAL);
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	tap_ok(ok && n == 0 && mi.opcode == 0, "kernel_server_tcp_eof_1006");
	kws_close(conn);
	close(fds[0]);
}

struct reader {
	struct kws_conn *conn;
	uint8_t *buf;
	ssize_t got;
	int opcode;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	usleep(100 * 1000);	/* let the sender fill the socket first */
	r->got = recv_msg(r->conn, r->buf, 4 * MIB, 65536, &r->opcode);
	return NULL;
}

/*
 * Non-blocking kernel sender: kws_send() returns what went out and the
 * retry loop with the rest completes the one message (abi.md: a frame TCP
 * took part of stays open).
 */
static void test_nonblocking_send(int reader_kernel)
{
	struct kws_attach_opts copts = { .flags = KWS_ATTACH_KERNEL };
	struct kws_attach_opts sopts = {
		.flags = reader_kernel ? KWS_ATTACH_KERNEL : KWS_ATTACH_USERSPACE,
	};
	struct kws_conn *c = NULL, *s = NULL;
	struct reader r = { .buf = malloc(4 * MIB) };
	uint8_t *out = malloc(3 * MIB);
	size_t sent = 0, len = 3 * MIB;
	int fds[2], ok, partial = 0;
	pthread_t th;

	fill(out, len, WS_OP_BINARY, 9);
	tcp_pair(fds);
	ok = kws_attach(fds[0], WS_ROLE_CLIENT, &copts, NULL, 0, &c) == 0 &&
	     kws_attach(fds[1], WS_ROLE_SERVER, &sopts, NULL, 0, &s) == 0;
	if (ok) {
		fcntl(kws_fd(c), F_SETFL, O_NONBLOCK);
		r.conn = s;
		pthread_create(&th, NULL, reader_main, &r);
		while (ok && sent < len) {
			ssize_t n = kws_send(c, WS_OP_BINARY, out + sent,
					     len - sent, 0);

			if (n < 0 && errno == EAGAIN) {
				struct pollfd p = { kws_fd(c), POLLOUT, 0 };

				poll(&p, 1, 5000);
				continue;
			}
			ok = n > 0;
			partial += n > 0 && (size_t)n < len - sent;
			sent += n > 0 ? n : 0;
		}
		pthread_join(th, NULL);
	}
	tap_ok(ok && partial && r.got == (ssize_t)len &&
	       r.opcode == WS_OP_BINARY && !memcmp(r.buf, out, len),
	       "kernel_client_nonblocking_partial_sends_one_message_to_%s",
	       path_name(reader_kernel));
	if (!ok || !partial)
		tap_diag("ok %d partial sends %d got %zd", ok, partial, r.got);
	kws_close(c);
	kws_close(s);
	free(out);
	free(r.buf);
}

/* A close reason longer than the buffer continues on the next call. */
static void test_close_reason_split(void)
{
	struct kws_attach_opts opts = { .flags = KWS_ATTACH_KERNEL };
	struct kws_conn *conn = NULL;
	struct kws_msg_info mi;
	uint8_t frame[32];
	size_t fn = 0;
	char buf[16];
	int fds[2], ok;
	ssize_t n;

	frame_put(frame, &fn, 0x88, "\x03\xe8hello", 7, mask_key);
	tcp_pair(fds);
	ok = kws_attach(fds[1], WS_ROLE_SERVER, &opts, NULL, 0, &conn) == 0;
	if (write(fds[0], frame, fn) != (ssize_t)fn)
		ok = 0;
	n = ok ? kws_recv(conn, buf, 3, &mi) : -1;
	ok = ok && n == 3 && mi.opcode == WS_OP_CLOSE && mi.close_code == 1000 &&
	     !mi.eom && !memcmp(buf, "hel", 3);
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	ok = ok && n == 2 && mi.opcode == WS_OP_CLOSE && mi.eom &&
	     !memcmp(buf, "lo", 2);
	n = ok ? kws_recv(conn, buf, sizeof(buf), &mi) : -1;
	tap_ok(ok && n == 0 && mi.opcode == 0,
	       "kernel_server_close_reason_in_two_reads");
	kws_close(conn);
	close(fds[0]);
}

/* KWS_USERSPACE=1 keeps the connection in userspace even with the module. */
static void test_env_userspace(void)
{
	struct kws_conn *conn = NULL;
	int fds[2], ok;

	tcp_pair(fds);
	setenv("KWS_USERSPACE", "1", 1);
	ok = kws_attach(fds[1], WS_ROLE_SERVER, NULL, NULL, 0, &conn) == 0 &&
	     !kws_is_kernel(conn);
	unsetenv("KWS_USERSPACE");
	kws_close(conn);
	close(fds[0]);
	tcp_pair(fds);
	ok = ok && kws_attach(fds[1], WS_ROLE_SERVER, NULL, NULL, 0, &conn) == 0 &&
	     kws_is_kernel(conn);
	tap_ok(ok, "env_kws_userspace_forces_userspace_default_is_kernel");
	kws_close(conn);
	close(fds[0]);
}

/* kws_recv_batch(): which path sends and which receives, for batch_pair() */
static int batch_tx_kernel, batch_rx_kernel;

static int batch_pair(struct kws_conn **tx, struct kws_conn **rx,
		      uint32_t rx_flags)
{
	struct kws_attach_opts topts = {
		.flags = batch_tx_kernel ? KWS_ATTACH_KERNEL :
			 KWS_ATTACH_USERSPACE,
	};
	struct kws_attach_opts ropts = {
		.flags = batch_rx_kernel ? KWS_ATTACH_KERNEL :
			 KWS_ATTACH_USERSPACE,
		.ws_flags = rx_flags,
	};
	int fds[2];

	*tx = *rx = NULL;
	if (tcp_pair(fds))
		return -1;
	if (kws_attach(fds[0], WS_ROLE_CLIENT, &topts, NULL, 0, tx) ||
	    kws_attach(fds[1], WS_ROLE_SERVER, &ropts, NULL, 0, rx) ||
	    kws_is_kernel(*rx) != batch_rx_kernel) {
		errno = errno ? errno : EPROTO;
		return -1;
	}
	return 0;
}

static void test_batch(int tx_kernel, int rx_kernel)
{
	char name[32];

	batch_tx_kernel = tx_kernel;
	batch_rx_kernel = rx_kernel;
	snprintf(name, sizeof(name), "%s_to_%s", path_name(tx_kernel),
		 path_name(rx_kernel));
	batch_tests(name, batch_pair);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!ulp_available()) {
		tap_skip("kws.ko not loaded (run in tools/vm/run)", "kernel_path");
		return tap_done();
	}
	test_pair(1, 1);
	test_pair(0, 1);
	test_pair(1, 0);
	test_failures();
	test_leftover();
	test_early_frame();
	test_abnormal();
	test_close_reason_split();
	test_nonblocking_send(1);
	test_nonblocking_send(0);
	test_env_userspace();
	test_batch(0, 1);
	test_batch(1, 1);
	test_batch(1, 0);
	return tap_done();
}
