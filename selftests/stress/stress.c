// SPDX-License-Identifier: GPL-2.0
/*
 * kws stress tests: many connections, attach/close races, blocked calls
 * closed under them, hostile peers (huge frames, endless fragments, ping
 * floods, fast writers, random bytes). Each test runs in its own process
 * with a time limit, asserts the close code or errno the ABI promises, and
 * checks that kernel memory (Slab) is back to its baseline once everything
 * is closed, and stayed bounded while the peer misbehaved.
 *
 * Loopback only. The ULP side is configured by the raw ABI (no libkws); the
 * plain peer writes its own frames (masked towards a server). Every loop is
 * bounded by a count and by time.
 *
 *	kws-stress [--full] [-t test[,test...]] [-n conns] [-i iterations]
 *		   [-T seconds] [-s seed] [-l] [-v]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "stress.h"

static int failures;
static long peak_kb;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		failures++;						\
		diag("FAIL %s:%d: %s", __func__, __LINE__, #cond);	\
		diag(__VA_ARGS__);					\
	}								\
} while (0)

static void mem_sample(void)
{
	long s = slab_kb();

	if (s > peak_kb)
		peak_kb = s;
}

static bool valid_close_code(int c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
	       (c >= 3000 && c <= 4999) || c == WS_CLOSE_NO_STATUS;
}

/* Drain and discard whatever the peer has to read, without blocking. */
static long drain(int fd)
{
	char buf[16384];
	long total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += n;
	return total;
}

/* ---- (a) N concurrent connections echoing through the kernel ---- */

enum { ECHO_THREADS = 4 };

struct echo_slice {
	int *srv;
	int from, to, round;
	int bad;
	char why[160];
};

/* Receive one text message on each connection of the slice, send it back. */
static void *echo_slice_run(void *arg)
{
	struct echo_slice *e = arg;
	uint8_t buf[256];
	char text[64];

	for (int i = e->from; i < e->to && !e->bad; i++) {
		int l = snprintf(text, sizeof(text), "conn %d round %d", i,
				 e->round);
		struct ws_rmsg m;
		ssize_t sent;

		ws_recv(e->srv[i], buf, sizeof(buf), 0, &m);
		if (m.n != l || m.op != WS_OP_TEXT || !m.eor ||
		    memcmp(buf, text, l)) {
			e->bad = 1;
			snprintf(e->why, sizeof(e->why),
				 "conn %d: recv %zd (%s) op %d eor %d", i, m.n,
				 strerror(m.err), m.op, m.eor);
			break;
		}
		sent = ws_send(e->srv[i], buf, l, WS_OP_TEXT, 0);
		if (sent != l) {
			e->bad = 1;
			snprintf(e->why, sizeof(e->why), "conn %d echo: %zd %s",
				 i, sent, strerror(errno));
		}
	}
	return NULL;
}

static int t_conn_echo(void)
{
	int n = opt.conns, rounds = 3, i, r, t, lfd;
	struct echo_slice slice[ECHO_THREADS];
	pthread_t th[ECHO_THREADS];
	struct sockaddr_storage ss;
	struct rlimit rl = { 2 * n + 64, 2 * n + 64 };
	int *srv = calloc(n, sizeof(int)), *cli = calloc(n, sizeof(int));
	uint8_t frame[256], buf[256];
	char text[64];
	socklen_t len;
	int64_t t0 = now_ms();
	long attached0 = kws_stat("KwsConnAttached");

	if (!srv || !cli)
		return 1;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)(2 * n + 64)) {
		rl.rlim_cur = rl.rlim_max = 2 * n + 64;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			diag("setrlimit(%d fds): %s", 2 * n + 64, strerror(errno));
	}
	lfd = listener_open(n < 4096 ? n : 4096, &ss, &len);
	CHECK(lfd >= 0, "listener: %s", strerror(errno));
	if (lfd < 0)
		return failures;
	for (i = 0; i < n; i++) {
		if (pair_via(lfd, &ss, len, &cli[i], &srv[i])) {
			CHECK(false, "connection %d: %s", i, strerror(errno));
			n = i;
			break;
		}
		set_timeouts(srv[i], 10000);
		if (ws_setup(srv[i], WS_ROLE_SERVER, 0, 0)) {
			CHECK(false, "attach/config %d: %s", i, strerror(errno));
			close(srv[i]);
			close(cli[i]);
			n = i;
			break;
		}
	}
	close(lfd);
	mem_sample();
	CHECK(kws_stat("KwsConnAttached") - attached0 == n,
	      "KwsConnAttached grew by %ld, expected %d",
	      kws_stat("KwsConnAttached") - attached0, n);
	diag("conn_echo: %d connections up in %lld ms", n,
	     (long long)(now_ms() - t0));

	for (r = 0; r < rounds && !failures; r++) {
		for (i = 0; i < n; i++) {
			int l = snprintf(text, sizeof(text), "conn %d round %d", i, r);
			size_t fl = frame_build(frame, true, WS_OP_TEXT, true, text, l);

			CHECK(!write_all(cli[i], frame, fl, 5000), "send %d: %s",
			      i, strerror(errno));
		}
		mem_sample();
		/* The app side echoes from several threads at once. */
		for (t = 0; t < ECHO_THREADS; t++) {
			slice[t] = (struct echo_slice){
				.srv = srv, .from = n * t / ECHO_THREADS,
				.to = n * (t + 1) / ECHO_THREADS, .round = r,
			};
			pthread_create(&th[t], NULL, echo_slice_run, &slice[t]);
		}
		for (t = 0; t < ECHO_THREADS; t++) {
			pthread_join(th[t], NULL);
			CHECK(!slice[t].bad, "%s", slice[t].why);
		}
		for (i = 0; i < n && !failures; i++) {
			struct peer_frame f;
			int l = snprintf(text, sizeof(text), "conn %d round %d", i, r);
			int ret = peer_read_frame(cli[i], &f, buf, sizeof(buf), 5000);

			CHECK(ret == 1 && f.op == WS_OP_TEXT && f.fin && !f.masked &&
			      f.len == (uint64_t)l && !memcmp(buf, text, l),
			      "conn %d: echo frame ret %d op %d len %llu masked %d",
			      i, ret, f.op, (unsigned long long)f.len, f.masked);
		}
	}
	/* Closing handshake on every connection: peer first, kernel echoes. */
	for (i = 0; i < n; i++) {
		uint8_t code[2] = { 1000 >> 8, 1000 & 0xff };
		size_t fl = frame_build(frame, true, WS_OP_CLOSE, true, code, 2);

		CHECK(!write_all(cli[i], frame, fl, 5000), "close %d: %s", i,
		      strerror(errno));
	}
	for (i = 0; i < n; i++) {
		struct ws_rmsg m;
		int code;

		ws_recv(srv[i], buf, sizeof(buf), 0, &m);
		if (!failures)
			CHECK(m.n == 0 && m.op == WS_OP_CLOSE && m.has_close &&
			      m.close_code == 1000 && !m.close_flags && m.eor,
			      "conn %d: close recv %zd (%s) op %d code %u flags %u",
			      i, m.n, strerror(m.err), m.op, m.close_code,
			      m.close_flags);
		code = peer_wait_close(cli[i], 5000, NULL);
		if (!failures)
			CHECK(code == 1000, "conn %d: close echo %d", i, code);
		ws_recv(srv[i], buf, sizeof(buf), 0, &m);
		if (!failures)
			CHECK(m.n == 0 && !m.has_close && m.op == -1,
			      "conn %d: after close %zd op %d", i, m.n, m.op);
		close(srv[i]);
	}
	for (i = 0; i < n; i++) {
		char c;
		ssize_t got = recv(cli[i], &c, 1, 0);

		if (!failures)
			CHECK(got == 0, "conn %d: EOF after close: %zd %s", i,
			      got, strerror(errno));
		close(cli[i]);
	}
	diag("conn_echo: %d connections x %d echoes + close handshake in %lld ms",
	     n, rounds, (long long)(now_ms() - t0));
	free(srv);
	free(cli);
	return failures;
}

/* ---- (b) attach/close with data in flight ---- */

/*
 * Peer: read the kernel's frames until EOF; all must be well formed.
 * 0 at EOF, 1 at a reset (TCP's answer to bytes sent after close()), -errno.
 */
static int peer_check_until_eof(int peer, bool kernel_masks, int *close_code)
{
	int64_t end = now_ms() + 5000;
	struct peer_frame f;
	uint8_t buf[256];

	*close_code = 0;
	for (;;) {
		int ret = peer_read_frame(peer, &f, buf, sizeof(buf),
					  end - now_ms());

		if (ret == 0)
			return 0;
		if (ret < 0)
			return errno == ECONNRESET ? 1 : -errno;
		if (f.rsv || f.masked != kernel_masks ||
		    (f.op > 2 && f.op < 8) || f.op > 0xa)
			return -EPROTO;
		if (f.op == WS_OP_CLOSE) {
			if (*close_code)
				return -EPROTO;	/* two closes */
			*close_code = f.close_code;
		}
	}
}

static int t_attach_close(void)
{
	int iters = opt.iterations, i, lfd, variants[6] = { 0 }, resets[6] = { 0 };
	int64_t end = now_ms() + (opt.full ? 300000 : 25000), t0 = now_ms();
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t stream[8192], buf[4096];

	lfd = listener_open(16, &ss, &len);
	CHECK(lfd >= 0, "listener: %s", strerror(errno));
	if (lfd < 0)
		return failures;
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < iters && now_ms() < end && failures < 5; i++) {
		int v = rnd() % 6, cfd, afd, fd, peer, code, ret;
		bool server = v != 2;
		size_t sl = 0;
		uint8_t cl[2] = { 1000 >> 8, 1000 & 0xff };

		if (pair_via(lfd, &ss, len, &cfd, &afd)) {
			CHECK(false, "pair %d: %s", i, strerror(errno));
			break;
		}
		fd = server ? afd : cfd;
		peer = server ? cfd : afd;
		set_timeouts(fd, 5000);
		variants[v]++;
		/* In flight: a ping (pong due), data, a close (echo due). */
		sl += frame_build(stream + sl, true, WS_OP_PING, server, "p", 1);
		sl += frame_build(stream + sl, true, WS_OP_BINARY, server, buf,
				  v == 2 ? 3000 : 100);
		if (v != 4)
			sl += frame_build(stream + sl, true, WS_OP_CLOSE, server, cl, 2);
		if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "ws", sizeof("ws"))) {
			CHECK(false, "iteration %d: attach: %s", i, strerror(errno));
			close(cfd);
			close(afd);
			break;
		}
		if (v == 5) {
			/* Attached, never configured, data queued. */
			write_all(peer, stream, sl, 1000);
		} else {
			struct ws_config cfg = {
				.role = server ? WS_ROLE_SERVER : WS_ROLE_CLIENT,
			};

			if (v & 1)
				write_all(peer, stream, sl, 1000);
			ret = setsockopt(fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg));
			CHECK(!ret, "iteration %d: config: %s", i, strerror(errno));
			if (!(v & 1))
				write_all(peer, stream, sl, 1000);
		}
		switch (v) {
		case 1: {
			struct ws_rmsg m;

			ws_recv(fd, buf, sizeof(buf), 0, &m);
			CHECK(m.n == 100 && m.op == WS_OP_BINARY,
			      "iteration %d: recv %zd %s op %d", i, m.n,
			      strerror(m.err), m.op);
			break;
		}
		case 2:
			ws_send(fd, buf, 2000, WS_OP_BINARY, MSG_DONTWAIT);
			break;
		case 4:
			shutdown(fd, SHUT_WR);
			break;
		default:
			/* Race the kernel's pong and close echo. */
			for (volatile unsigned int spin = rnd() % 20000; spin; spin--)
				;
			break;
		}
		close(fd);
		ret = peer_check_until_eof(peer, !server, &code);
		resets[v] += ret == 1;
		CHECK(ret >= 0, "iteration %d variant %d: peer: %s", i, v,
		      ret == -EPROTO ? "malformed frame" : strerror(-ret));
		CHECK(!code || code == 1000 || code == 1001,
		      "iteration %d variant %d: close code %d", i, v, code);
		close(peer);
		if (!(i % 64))
			mem_sample();
	}
	close(lfd);
	diag("attach_close: %d iterations in %lld ms; resets seen by the peer per variant %d/%d/%d/%d/%d/%d",
	     i, (long long)(now_ms() - t0), resets[0], resets[1], resets[2],
	     resets[3], resets[4], resets[5]);
	diag("attach_close: variants run %d/%d/%d/%d/%d/%d", variants[0], variants[1],
	     variants[2], variants[3], variants[4], variants[5]);
	CHECK(i >= (opt.full ? 1000 : 200), "only %d iterations in time", i);
	return failures;
}

/* ---- (c) close/shutdown from another thread while a call blocks ---- */

struct blocked {
	int fd;
	bool send;
	size_t len;
	struct ws_rmsg m;
	ssize_t sent;
	int err;
	pid_t tid;
	volatile int64_t returned;
	char *buf;
};

static void *blocked_call(void *arg)
{
	struct blocked *b = arg;

	b->tid = gettid();
	if (b->send) {
		b->sent = ws_send(b->fd, b->buf, b->len, WS_OP_BINARY, 0);
		b->err = errno;
	} else {
		ws_recv(b->fd, b->buf, b->len, 0, &b->m);
	}
	b->returned = now_ms();
	return NULL;
}

/* The second thread: shutdown() or close() while the call blocks. */
struct actor {
	int fd;
	bool do_close;
	pid_t tid;
	int ret, err;
	volatile int64_t done;
};

static void *actor_run(void *arg)
{
	struct actor *a = arg;

	a->tid = gettid();
	a->ret = a->do_close ? close(a->fd) : shutdown(a->fd, SHUT_RDWR);
	a->err = errno;
	a->done = now_ms();
	return NULL;
}

/* Where a thread sleeps in the kernel, for the report of a hang. */
static void dump_stack_of(const char *who, pid_t tid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	f = fopen(path, "r");
	if (!f) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/wchan", tid);
		f = fopen(path, "r");
	}
	diag("%s (tid %d) kernel stack:", who, tid);
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		diag("    %s", line);
	}
	if (f)
		fclose(f);
}

static int t_close_blocked(void)
{
	int rounds = opt.full ? 40 : 6, r, s;
	size_t big = 8 << 20;
	char *buf = malloc(big);
	static const char *const names[] = {
		"recv+shutdown", "recv+close,peer closes",
		"send+shutdown", "send+close,peer resets",
	};

	if (!buf)
		return 1;
	memset(buf, 'b', big);
	for (s = 0; s < 4 && failures < 3; s++) {
		long worst = 0;

		for (r = 0; r < rounds && failures < 3; r++) {
			struct blocked b = { .buf = buf };
			struct actor a = { .do_close = s == 1 || s == 3 };
			int fd, peer, delay = 20 + rnd() % 100;
			pthread_t th, ta;
			int64_t acted;
			long took;

			if (tcp_pair(&peer, &fd)) {
				CHECK(false, "pair: %s", strerror(errno));
				break;
			}
			set_timeouts(fd, 10000);
			CHECK(!ws_setup(fd, WS_ROLE_SERVER, 0, 0), "setup: %s",
			      strerror(errno));
			b.fd = a.fd = fd;
			b.send = s >= 2;
			b.len = b.send ? big : 4096;
			pthread_create(&th, NULL, blocked_call, &b);
			sleep_ms(delay);
			acted = now_ms();
			pthread_create(&ta, NULL, actor_run, &a);
			sleep_ms(50);
			if (s == 1) {
				/* The peer's close reaches the still open file. */
				uint8_t f[8], cl[2] = { 1000 >> 8, 1000 & 0xff };

				write_all(peer, f, frame_build(f, true, WS_OP_CLOSE,
							       true, cl, 2), 1000);
			} else if (s == 3) {
				struct linger lg = { 1, 0 };

				setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				close(peer);
				peer = -1;
			}
			/*
			 * Both must come back well before the 10 s timeouts,
			 * the peer still not reading: TCP's shutdown() returns
			 * at once and fails the blocked send with EPIPE.
			 */
			for (int w = 0; w < 300 && !(b.returned && a.done); w++)
				sleep_ms(10);
			took = b.returned ? b.returned - acted : -1;
			CHECK(b.returned && a.done,
			      "%s round %d: 3 s later the %s call %s and the %s %s",
			      names[s], r, b.send ? "sendmsg" : "recvmsg",
			      b.returned ? "returned" : "still blocks",
			      a.do_close ? "close()" : "shutdown()",
			      a.done ? "returned" : "still blocks");
			if (!b.returned)
				dump_stack_of(b.send ? "sendmsg" : "recvmsg", b.tid);
			if (!a.done)
				dump_stack_of(a.do_close ? "close" : "shutdown", a.tid);
			if (!b.returned || !a.done) {
				/* Unblock with a reset before giving up. */
				struct linger lg = { 1, 0 };

				if (peer >= 0) {
					setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg,
						   sizeof(lg));
					close(peer);
					peer = -1;
				}
				for (int w = 0; w < 1500 && !(b.returned && a.done); w++)
					sleep_ms(10);
				diag("after a reset from the peer: call %s, %s %s",
				     b.returned ? "returned" : "still blocks",
				     a.do_close ? "close()" : "shutdown()",
				     a.done ? "returned" : "still blocks");
				if (!b.returned || !a.done) {
					/* Stuck for good: let the time limit report it. */
					free(buf);
					return failures;
				}
			}
			pthread_join(th, NULL);
			pthread_join(ta, NULL);
			if (took > worst)
				worst = took;
			switch (s) {
			case 0:	/* EOF, an error, or the close 1000 we sent */
				CHECK(b.m.n <= 0 && b.m.err != EAGAIN &&
				      (!b.m.has_close || b.m.close_code),
				      "%s: recv %zd %s close %d/%u", names[s], b.m.n,
				      strerror(b.m.err), b.m.has_close, b.m.close_code);
				break;
			case 1:	/* the peer's close arrives through the open file */
				CHECK((b.m.n == 0 && b.m.has_close &&
				       b.m.close_code == 1000) ||
				      (b.m.n < 0 && b.m.err != EAGAIN),
				      "%s: recv %zd %s close %d/%u", names[s], b.m.n,
				      strerror(b.m.err), b.m.has_close, b.m.close_code);
				break;
			default: /* a partial count, EPIPE or ECONNRESET */
				CHECK((b.sent > 0 && (size_t)b.sent < big) ||
				      (b.sent < 0 && (b.err == EPIPE ||
						      b.err == ECONNRESET)),
				      "%s: send %zd %s", names[s], b.sent,
				      strerror(b.err));
				break;
			}
			CHECK(!a.ret || (!a.do_close && a.err == ENOTCONN),
			      "%s: %s: %s", names[s],
			      a.do_close ? "close" : "shutdown", strerror(a.err));
			if (!a.do_close)
				close(fd);
			if (peer >= 0)
				close(peer);
		}
		diag("close_blocked %s: %d rounds, slowest return %ld ms",
		     names[s], r, worst);
	}
	free(buf);
	return failures;
}

/* ---- (c2) close() while a pong or the close echo waits for room ---- */

/*
 * Everything the peer received, parsed after the fact. Frames must be well
 * formed and in order (nothing after a close); the last one may be cut.
 */
struct wire_summary {
	unsigned long data, pongs, closes;
	int close_code;
	bool cut, bad, data_after_close;
};

static void wire_parse(const uint8_t *b, size_t len, bool kernel_masks,
		       struct wire_summary *s)
{
	size_t off = 0;

	memset(s, 0, sizeof(*s));
	while (off < len) {
		size_t hl = 2, i;
		uint64_t pl;
		int op;

		if (len - off < 2)
			goto cut;
		op = b[off] & 0xf;
		pl = b[off + 1] & 0x7f;
		if ((b[off] & 0x70) || !(b[off + 1] & 0x80) != !kernel_masks ||
		    (op > 2 && op < 8) || op > 0xa) {
			s->bad = true;
			return;
		}
		if (pl == 126)
			hl += 2;
		else if (pl == 127)
			hl += 8;
		if (kernel_masks)
			hl += 4;
		if (len - off < hl)
			goto cut;
		if (pl == 126)
			pl = (uint64_t)b[off + 2] << 8 | b[off + 3];
		else if (pl == 127)
			for (pl = 0, i = 0; i < 8; i++)
				pl = pl << 8 | b[off + 2 + i];
		if (len - off - hl < pl)
			goto cut;
		if (s->closes)
			s->data_after_close = true;
		if (op == WS_OP_CLOSE) {
			static const uint8_t nokey[4];
			const uint8_t *k = kernel_masks ? b + off + hl - 4 : nokey;

			s->closes++;
			s->close_code = WS_CLOSE_NO_STATUS;
			if (pl >= 2)
				s->close_code = (b[off + hl] ^ k[0]) << 8 |
						(b[off + hl + 1] ^ k[1]);
		} else if (op == WS_OP_PONG) {
			s->pongs++;
		} else if (op != WS_OP_PING) {
			s->data++;
		}
		off += hl + pl;
	}
	return;
cut:
	s->cut = true;
}

/* Read everything until EOF or a reset (bounded): bytes read, -1 on timeout. */
static ssize_t read_to_eof(int fd, uint8_t *buf, size_t cap, int timeout_ms,
			   bool *reset)
{
	int64_t end = now_ms() + timeout_ms;
	size_t got = 0;

	*reset = false;
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = recv(fd, buf + got, got < cap ? cap - got : 1,
			 MSG_DONTWAIT | (got < cap ? 0 : MSG_TRUNC));
		if (n == 0)
			return got;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			*reset = errno == ECONNRESET;
			return *reset ? (ssize_t)got : -1;
		}
		if (got < cap)
			got += n;
	}
	errno = ETIMEDOUT;
	return -1;
}

struct drainer {
	int fd;
	uint8_t *buf;
	size_t cap;
	ssize_t got;
	bool reset;
	int err;
};

static void *drainer_run(void *arg)
{
	struct drainer *d = arg;

	d->got = read_to_eof(d->fd, d->buf, d->cap, 5000, &d->reset);
	d->err = errno;
	return NULL;
}

static int t_close_ctrl(void)
{
	enum { CAP = 1 << 20, SMALL = 200 };
	static const char *const names[] = {
		"pong pending", "pong pending, peer reading",
		"close echo pending", "ping+close, peer reading, shutdown first",
		"data frame open",
	};
	int iters = opt.full ? 2000 : 200, i, v;
	int64_t t0 = now_ms(), end = t0 + (opt.full ? 120000 : 20000);
	unsigned long runs[5] = { 0 }, pongs[5] = { 0 }, echoes[5] = { 0 };
	unsigned long resets[5] = { 0 }, cuts[5] = { 0 }, opened[5] = { 0 };
	long slowest = 0;
	uint8_t *wire = malloc(CAP), msg[65536], frame[256];
	uint8_t ping[125], cl[2] = { 1000 >> 8, 1000 & 0xff };

	if (!wire)
		return 1;
	memset(msg, 'm', sizeof(msg));
	memset(ping, 'p', sizeof(ping));
	for (i = 0; i < iters && now_ms() < end && failures < 5; i++) {
		int fd, peer, role = rnd() % 2 ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
		int small = 4096, sends;
		bool open_frame, shut;
		size_t owed, pre = 0;
		struct drainer d = { 0 };
		struct wire_summary s;
		pthread_t th;
		int64_t c0;
		long took;

		v = rnd() % 5;
		runs[v]++;
		if (tcp_pair(&peer, &fd)) {
			CHECK(false, "pair: %s", strerror(errno));
			break;
		}
		if (role == WS_ROLE_CLIENT) {
			int t = fd;	/* the ULP is the connecting side */

			fd = peer;
			peer = t;
		}
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		CHECK(!ws_setup(fd, role, 0, 0), "setup: %s", strerror(errno));
		/*
		 * Fill TCP's send side with small messages. A frame TCP took
		 * part of stays open (the next call continues it), and then
		 * no control frame can go out before close().
		 */
		for (sends = 0, owed = 0; sends < 100000; sends++) {
			size_t want = owed ? owed : SMALL;
			ssize_t n = ws_send(fd, msg, want, WS_OP_BINARY,
					    MSG_DONTWAIT);

			if (n < 0)
				break;
			owed = want - n;
		}
		CHECK(errno == EAGAIN, "fill: %s", strerror(errno));
		/*
		 * TCP usually took part of the last message: let the peer
		 * read a little (kept for the parse below) until the app has
		 * finished that frame, so the kernel's own frames can follow.
		 */
		for (int w = 0; owed && v != 4 && w < 50; w++) {
			ssize_t r = recv(peer, wire + pre, 256, MSG_DONTWAIT);
			ssize_t n;

			pre += r > 0 ? r : 0;
			n = ws_send(fd, msg, owed, WS_OP_BINARY, MSG_DONTWAIT);
			owed -= n > 0 ? (size_t)n : 0;
			if (owed)
				sleep_ms(1);
		}
		/* Known open; EAGAIN may also leave one open after its header. */
		open_frame = owed;
		opened[v] += open_frame;
		if (v == 4 && !open_frame) {
			ssize_t n = -1;

			/* Make some room: TCP takes part of a 64 KiB frame. */
			for (int w = 0; n < 0 && w < 20; w++) {
				ssize_t r = recv(peer, wire + pre, CAP - pre,
						 MSG_DONTWAIT);

				pre += r > 0 ? r : 0;
				sleep_ms(5);
				n = ws_send(fd, msg, sizeof(msg), WS_OP_BINARY,
					    MSG_DONTWAIT);
			}
			open_frame = n > 0 && (size_t)n < sizeof(msg);
		}
		/* The kernel owes a pong and/or the close echo it cannot send. */
		if (v != 2)
			write_all(peer, frame, frame_build(frame, true, WS_OP_PING,
							   role == WS_ROLE_SERVER,
							   ping, sizeof(ping)), 1000);
		if (v >= 2 && v != 4)
			write_all(peer, frame, frame_build(frame, true, WS_OP_CLOSE,
							   role == WS_ROLE_SERVER,
							   cl, 2), 1000);
		/* Let the receive path queue them and tx_work meet EAGAIN. */
		for (volatile unsigned int spin = rnd() % 200000; spin; spin--)
			;
		d.fd = peer;
		d.buf = wire + pre;
		d.cap = CAP - pre;
		if (v == 1 || v == 3)
			pthread_create(&th, NULL, drainer_run, &d);
		shut = v == 3;
		c0 = now_ms();
		if (shut)
			shutdown(fd, SHUT_RDWR);
		CHECK(!close(fd), "close: %s", strerror(errno));
		took = now_ms() - c0;
		if (took > slowest)
			slowest = took;
		CHECK(took < 1000, "%s: close() took %ld ms", names[v], took);
		if (v == 1 || v == 3)
			pthread_join(th, NULL);
		else
			drainer_run(&d);
		CHECK(d.got >= 0, "%s round %d: peer never saw EOF: %s", names[v],
		      i, strerror(d.err));
		if (d.got < 0) {
			close(peer);
			break;
		}
		resets[v] += d.reset;
		wire_parse(wire, pre + d.got, role == WS_ROLE_CLIENT, &s);
		pongs[v] += s.pongs;
		echoes[v] += s.closes;
		cuts[v] += s.cut;
		CHECK(!s.bad && !s.data_after_close && s.closes <= 1,
		      "%s round %d: malformed stream (bad %d, data after close %d, %lu closes)",
		      names[v], i, s.bad, s.data_after_close, s.closes);
		CHECK(!s.closes || s.close_code == 1000 || s.close_code == 1001,
		      "%s round %d: close code %d", names[v], i, s.close_code);
		CHECK(s.pongs <= 1, "%s round %d: %lu pongs for one ping",
		      names[v], i, s.pongs);
		/*
		 * The stream may end inside a frame: the app's open one (an
		 * EAGAIN can leave one open after its header, abi.md), or a
		 * control frame close() could not finish without blocking.
		 */
		close(peer);
		if (!(i % 16))
			mem_sample();
	}
	free(wire);
	diag("close_ctrl: %d rounds in %lld ms, slowest close() %ld ms", i,
	     (long long)(now_ms() - t0), slowest);
	for (v = 0; v < 5; v++)
		diag("close_ctrl %s: %lu rounds (%lu with a data frame known open), pong sent %lu, close sent %lu, cut %lu, reset %lu",
		     names[v], runs[v], opened[v], pongs[v], echoes[v], cuts[v],
		     resets[v]);
	CHECK(i >= (opt.full ? 200 : 50), "only %d rounds in time", i);
	return failures;
}

/* ---- (d) a 2^62-byte frame announced, then a trickle ---- */

static int big_frame_case(int role, uint64_t max, bool trickle_only)
{
	int cfd, afd, fd, peer, code, i;
	bool server = role == WS_ROLE_SERVER;
	uint8_t h[14], key[4] = { 1, 2, 3, 4 }, buf[65536];
	size_t hl = frame_hdr(h, true, 0, WS_OP_BINARY, server, 1ULL << 62, key);
	long too_big0 = kws_stat("KwsErrTooBig");
	struct ws_rmsg m;

	if (tcp_pair(&cfd, &afd))
		return 1;
	fd = server ? afd : cfd;
	peer = server ? cfd : afd;
	set_timeouts(fd, 5000);
	CHECK(!ws_setup(fd, role, 0, max), "setup: %s", strerror(errno));
	CHECK(!write_all(peer, h, hl, 1000), "header: %s", strerror(errno));
	if (trickle_only) {
		/* Default limit: 1009 at the header, before any payload. */
		code = peer_wait_close(peer, 5000, NULL);
		CHECK(code == WS_CLOSE_TOO_BIG, "role %d: close %d, want 1009",
		      role, code);
		for (i = 0; i < 50; i++) {
			if (send(peer, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				break;
			sleep_ms(10);
		}
		mem_sample();
		ws_recv(fd, buf, sizeof(buf), 0, &m);
		CHECK(m.n == 0 && m.has_close && m.close_code == WS_CLOSE_TOO_BIG &&
		      (m.close_flags & WS_CLOSE_LOCAL),
		      "role %d: app close %zd %s code %u flags %u", role, m.n,
		      strerror(m.err), m.close_code, m.close_flags);
		CHECK(kws_stat("KwsErrTooBig") > too_big0, "KwsErrTooBig did not grow");
	} else {
		/* No limit: the payload streams to the app in parts. */
		int64_t end = now_ms() + opt.seconds * 1000;
		uint64_t wrote = 0, got = 0;
		unsigned long eagain = 0, parts = 0;
		bool eor = false;

		memset(buf, 0, sizeof(buf));
		set_nonblock(peer, true);
		while (now_ms() < end) {
			ssize_t n = send(peer, buf, sizeof(buf),
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n > 0) {
				wrote += n;
			} else if (n < 0 && errno == EAGAIN) {
				eagain++;
				sleep_ms(5);
			} else {
				CHECK(false, "peer send: %s", strerror(errno));
				break;
			}
			mem_sample();
		}
		diag("big_frame unlimited: peer wrote %llu bytes, %lu EAGAIN before reading",
		     (unsigned long long)wrote, eagain);
		CHECK(eagain > 0, "peer never blocked: no backpressure");
		shutdown(peer, SHUT_WR);
		for (i = 0; i < 1000000; i++) {
			ws_recv(fd, buf, sizeof(buf), 0, &m);
			if (m.n <= 0)
				break;
			got += m.n;
			parts++;
			eor |= m.eor;
			CHECK(m.op == WS_OP_BINARY, "part op %d", m.op);
			if (failures)
				break;
		}
		CHECK(got == wrote && !eor, "app got %llu bytes of %llu (eor %d)",
		      (unsigned long long)got, (unsigned long long)wrote, eor);
		CHECK(m.n == 0 && m.has_close && m.close_code == 1006 &&
		      (m.close_flags & WS_CLOSE_ABNORMAL),
		      "end: %zd %s close %u flags %u", m.n, strerror(m.err),
		      m.close_code, m.close_flags);
		diag("big_frame unlimited: app read %llu bytes in %lu parts",
		     (unsigned long long)got, parts);
	}
	close(fd);
	close(peer);
	return failures;
}

static int t_big_frame(void)
{
	big_frame_case(WS_ROLE_SERVER, 0, true);
	big_frame_case(WS_ROLE_CLIENT, 0, true);
	big_frame_case(WS_ROLE_SERVER, WS_MAX_MSG_UNLIMITED, false);
	return failures;
}

/* ---- (e) endless 1-byte fragments ---- */

static const char frag_byte[] = "abcdefghijklmnopqrstuvwxyz";

/*
 * Fragment i of a batch carries frag_byte[i % 26], and each send() starts
 * a batch again: replay the logged fragment counts of the sends to know
 * what the message must hold.
 */
struct frag_log {
	uint32_t *sends;	/* fragments per send(), in order */
	size_t nsends, cap;
	size_t cur, in_cur;	/* replay position */
	long long bad_at;	/* first wrong message offset, or -1 */
};

static void frag_log_add(struct frag_log *log, uint32_t frags)
{
	if (log->nsends == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 4096;
		log->sends = realloc(log->sends, log->cap * sizeof(*log->sends));
		if (!log->sends)
			abort();
	}
	log->sends[log->nsends++] = frags;
}

/* Check @n bytes the application read at message offset @at. */
static void frag_log_check(struct frag_log *log, const uint8_t *buf,
			   ssize_t n, uint64_t at)
{
	ssize_t i;

	for (i = 0; i < n && log->bad_at < 0; i++) {
		while (log->cur < log->nsends &&
		       log->in_cur == log->sends[log->cur]) {
			log->cur++;
			log->in_cur = 0;
		}
		if (log->cur == log->nsends ||
		    buf[i] != frag_byte[log->in_cur % 26])
			log->bad_at = at + i;
		log->in_cur++;
	}
}

static int fragments_case(uint64_t max)
{
	int cfd, afd, i;
	enum { BATCH = 1024, FRAG = 7 };
	uint8_t *batch = malloc(BATCH * FRAG), buf[65536];
	uint64_t sent = 0, got = 0;
	unsigned long eagain = 0, parts = 0;
	int64_t t0 = now_ms(), end = t0 + opt.seconds * 1000;
	int64_t read_from = t0 + opt.seconds * 500;
	uint64_t limit = max ? max : WS_MAX_MSG_DEFAULT;
	struct ws_rmsg m = { 0 };
	bool closed = false;
	struct frag_log log = { .bad_at = -1 };
	size_t pend_off = 0, pend_len = 0;	/* rest of a cut fragment */

	if (!batch || tcp_pair(&cfd, &afd))
		return 1;
	CHECK(!ws_setup(afd, WS_ROLE_SERVER, 0, max), "setup: %s", strerror(errno));
	set_nonblock(cfd, true);
	set_nonblock(afd, true);
	/* Non-final fragments; the first one opens a text message. */
	for (i = 0; i < BATCH; i++)
		frame_build(batch + i * FRAG, false, WS_OP_CONT, true,
			    &frag_byte[i % 26], 1);
	frame_build(batch, false, WS_OP_TEXT, true, frag_byte, 1);
	for (int loops = 0; loops < 1000000 && now_ms() < end && !closed; loops++) {
		ssize_t n;

		/*
		 * A fragment send() cut short is finished first, without
		 * blocking: the app is not reading in the first half, so the
		 * window may stay closed for a while.
		 */
		if (pend_len) {
			n = send(cfd, batch + pend_off, pend_len, MSG_NOSIGNAL);
			if (n > 0) {
				pend_off += n;
				pend_len -= n;
			}
		} else {
			n = send(cfd, batch, BATCH * FRAG, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (n + FRAG - 1) / FRAG;
				frag_log_add(&log, (n + FRAG - 1) / FRAG);
				if (n % FRAG) {
					pend_off = n;
					pend_len = FRAG - n % FRAG;
				}
				if (loops == 0)
					frame_build(batch, false, WS_OP_CONT,
						    true, frag_byte, 1);
			}
		}
		if (n < 0 && errno == EAGAIN)
			eagain++;
		else if (n < 0)
			break;	/* the kernel failed the connection: below */
		mem_sample();
		/* First half: the app does not read; then it reads what is there. */
		while (now_ms() >= read_from) {
			ws_recv(afd, buf, sizeof(buf), 0, &m);
			if (m.n < 0)
				break;
			if (m.has_close || m.n == 0) {
				closed = true;
				break;
			}
			frag_log_check(&log, buf, m.n, got);
			got += m.n;
			parts++;
			CHECK(!m.eor && m.op == WS_OP_TEXT, "part eor %d op %d",
			      m.eor, m.op);
		}
		if (n < 0 && errno == EAGAIN)
			sleep_ms(2);
	}
	diag("fragments max %llu: %llu fragments sent in %lld ms, %lu EAGAIN, app got %llu bytes in %lu parts",
	     (unsigned long long)max, (unsigned long long)sent,
	     (long long)(now_ms() - t0), eagain, (unsigned long long)got, parts);
	if (sent <= limit && !closed) {
		/*
		 * Under the limit: finish the message (the rest of a cut
		 * fragment, then a final 'z'), reading while writing so
		 * neither side waits on the other; the app gets the rest.
		 */
		uint8_t tail[FRAG + 8];
		size_t tl = pend_len, toff = 0;
		int64_t stop = now_ms() + 10000;

		memcpy(tail, batch + pend_off, pend_len);
		tl += frame_build(tail + tl, true, WS_OP_CONT, true, "z", 1);
		m.eor = false;
		while (now_ms() < stop && !m.eor) {
			if (toff < tl) {
				ssize_t n = send(cfd, tail + toff, tl - toff,
						 MSG_NOSIGNAL);

				if (n > 0)
					toff += n;
				else if (errno != EAGAIN)
					break;
			}
			ws_recv(afd, buf, sizeof(buf), 0, &m);
			if (m.n < 0 && m.err == EAGAIN) {
				sleep_ms(1);
				continue;
			}
			if (m.n <= 0 || m.has_close)
				break;
			frag_log_check(&log, buf, m.n - !!m.eor, got);
			got += m.n;
			if (m.eor && buf[m.n - 1] != 'z' && log.bad_at < 0)
				log.bad_at = got - 1;
		}
		CHECK(log.bad_at < 0, "message content differs at byte %lld",
		      log.bad_at);
		CHECK(m.eor && got == sent + 1,
		      "message end: eor %d, %llu bytes of %llu (%zd %s, close %u)",
		      m.eor, (unsigned long long)got,
		      (unsigned long long)sent + 1, m.n, strerror(m.err),
		      m.close_code);
	} else if (sent <= limit) {
		CHECK(!closed, "closed under the limit: code %u flags %u",
		      m.close_code, m.close_flags);
	} else {
		/* Over the limit: 1009 to the peer and to the app. */
		int code;

		set_nonblock(cfd, false);
		code = peer_wait_close(cfd, 5000, NULL);
		CHECK(code == WS_CLOSE_TOO_BIG, "peer got close %d, want 1009", code);
		set_nonblock(afd, false);
		set_timeouts(afd, 5000);
		for (i = 0; i < 100000 && !m.has_close; i++) {
			ws_recv(afd, buf, sizeof(buf), 0, &m);
			if (m.n < 0)
				break;
			got += m.n;
		}
		CHECK(m.has_close && m.close_code == WS_CLOSE_TOO_BIG &&
		      (m.close_flags & WS_CLOSE_LOCAL) && got <= limit,
		      "app close %d code %u flags %u after %llu bytes (%s)",
		      m.has_close, m.close_code, m.close_flags,
		      (unsigned long long)got, strerror(m.err));
	}
	close(afd);
	close(cfd);
	free(log.sends);
	free(batch);
	return failures;
}

static int t_fragments(void)
{
	fragments_case(0);
	fragments_case(4096);
	return failures;
}

/* ---- (f) ping flood, the app not reading ---- */

/* The peer's side of the end: read the kernel's frames in a thread. */
struct peer_reader {
	int fd;
	size_t expect_len;	/* data frames must be this long ... */
	const uint8_t *expect;	/* ... with this content (NULL: any) */
	unsigned long data, control;
	int close_code;		/* 0: EOF without a close */
	int ret;		/* peer_read_frame()'s last, errno in err */
	int err;
	bool bad;
};

static void *peer_reader_run(void *arg)
{
	struct peer_reader *r = arg;
	uint8_t *buf = malloc(1 << 16);
	struct peer_frame f;

	for (unsigned long k = 0; buf && k < 100000000UL; k++) {
		r->ret = peer_read_frame(r->fd, &f, buf, 1 << 16, 10000);
		r->err = errno;
		if (r->ret <= 0)
			break;
		if (f.op == WS_OP_CLOSE) {
			r->close_code = f.close_code;
			break;
		}
		if (f.op >= 8) {
			r->control++;
			continue;
		}
		r->data++;
		if (r->expect && (f.len != r->expect_len ||
				  memcmp(buf, r->expect, r->expect_len)))
			r->bad = true;
	}
	free(buf);
	return NULL;
}

static int ping_flood_case(bool peer_reads)
{
	enum { BATCH = 256 };
	int cfd, afd, i;
	static uint8_t frame[BATCH * 131];
	uint8_t payload[125], buf[256], cl[2] = { 1000 >> 8, 1000 & 0xff }, f[8];
	size_t fl = 0, off = 0, cfl;
	uint64_t pings = 0;
	long pong_bytes = 0;
	unsigned long eagain = 0;
	int64_t t0 = now_ms(), end = t0 + opt.seconds * 1000;
	long answered0 = kws_stat("KwsPingsAnswered");
	struct peer_reader pr = { 0 };
	struct ws_rmsg m;
	pthread_t th;

	if (tcp_pair(&cfd, &afd))
		return 1;
	CHECK(!ws_setup(afd, WS_ROLE_SERVER, 0, 0), "setup: %s", strerror(errno));
	set_timeouts(afd, 5000);
	memset(payload, 'p', sizeof(payload));
	for (i = 0; i < BATCH; i++)
		fl += frame_build(frame + fl, true, WS_OP_PING, true, payload,
				  sizeof(payload));
	for (int loops = 0; loops < 10000000 && now_ms() < end; loops++) {
		ssize_t n = send(cfd, frame + off, fl - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += n;
			if (off == fl) {
				off = 0;
				pings += BATCH;
			}
		} else if (n < 0 && errno == EAGAIN) {
			eagain++;
			sleep_ms(1);
		} else {
			CHECK(false, "peer send: %s", strerror(errno));
			break;
		}
		if (peer_reads)
			pong_bytes += drain(cfd);
		if (!(loops & 15))
			mem_sample();
	}
	mem_sample();
	diag("ping_flood peer_reads=%d: %llu pings in %lld ms, %lu EAGAIN, %ld pong bytes read, %ld answered",
	     peer_reads, (unsigned long long)pings, (long long)(now_ms() - t0),
	     eagain, pong_bytes, kws_stat("KwsPingsAnswered") - answered0);
	if (peer_reads) {
		/* Each ping gets its pong (2 + 125 bytes on the wire), and
		 * drain() may have stopped inside one: read the rest, so the
		 * reader below starts at a frame boundary.
		 */
		size_t part = pong_bytes % (2 + sizeof(payload));

		CHECK(pong_bytes > 0, "no pong reached the peer");
		set_timeouts(cfd, 5000);
		if (part)
			CHECK(recv(cfd, buf, 2 + sizeof(payload) - part,
				   MSG_WAITALL) == (ssize_t)(2 + sizeof(payload) - part),
			      "rest of a pong: %s", strerror(errno));
	}
	/*
	 * Stop: the peer now reads (pongs), finishes its batch, closes with
	 * 1000; the app, which never read, gets exactly that close, and the
	 * peer the echo.
	 */
	pr.fd = cfd;
	pthread_create(&th, NULL, peer_reader_run, &pr);
	CHECK(!write_all(cfd, frame + off, fl - off, 5000), "finish batch: %s",
	      strerror(errno));
	cfl = frame_build(f, true, WS_OP_CLOSE, true, cl, 2);
	CHECK(!write_all(cfd, f, cfl, 5000), "close: %s", strerror(errno));
	/*
	 * The close comes after every ping before it is answered: on a slow
	 * (debug, loaded) kernel that can outlast one 5 s timeout, so wait
	 * on as long as pongs keep going out (bounded: 60 s).
	 */
	for (i = 0; i < 10;) {
		long answered = kws_stat("KwsPingsAnswered");

		ws_recv(afd, buf, sizeof(buf), 0, &m);
		if (m.n < 0 && m.err == EAGAIN && now_ms() < t0 + 60000 &&
		    kws_stat("KwsPingsAnswered") > answered)
			continue;
		if (m.n <= 0)
			break;
		i++;
	}
	CHECK(m.n == 0 && m.has_close && m.close_code == 1000 && !m.close_flags,
	      "app: %zd %s close %d code %u flags %u", m.n, strerror(m.err),
	      m.has_close, m.close_code, m.close_flags);
	pthread_join(th, NULL);
	CHECK(pr.close_code == 1000 && !pr.data,
	      "peer: close echo %d, %lu data frames (%d %s)", pr.close_code,
	      pr.data, pr.ret, strerror(pr.err));
	close(afd);
	close(cfd);
	return failures;
}

static int t_ping_flood(void)
{
	ping_flood_case(true);
	ping_flood_case(false);
	return failures;
}

/* ---- (g) slow reader, fast writer ---- */

enum { SLOW_MSG = 16384 };

static int slow_reader_kernel_writes(void)
{
	int cfd, afd, i, ret = 0;
	static uint8_t msg[SLOW_MSG], buf[SLOW_MSG];
	uint64_t msgs = 0, read_msgs = 0;
	unsigned long eagain = 0, partial = 0;
	size_t owed = 0;
	int64_t t0 = now_ms(), end = t0 + opt.seconds * 1000;
	struct peer_reader pr = { .expect = msg, .expect_len = SLOW_MSG };
	struct peer_frame f = { 0 };
	uint8_t cl[2] = { 1000 >> 8, 1000 & 0xff }, fr[8];
	struct ws_rmsg m;
	pthread_t th;

	if (tcp_pair(&cfd, &afd))
		return 1;
	CHECK(!ws_setup(afd, WS_ROLE_SERVER, 0, 0), "setup: %s", strerror(errno));
	for (i = 0; i < SLOW_MSG; i++)
		msg[i] = i * 7;
	for (int loops = 0; loops < 10000000 && now_ms() < end; loops++) {
		size_t want = owed ? owed : SLOW_MSG;
		/* A frame TCP took part of: the next call owes the rest. */
		ssize_t n = ws_send(afd, msg + SLOW_MSG - want, want,
				    WS_OP_BINARY, MSG_DONTWAIT);

		if (n < 0) {
			CHECK(errno == EAGAIN, "send: %s", strerror(errno));
			if (errno != EAGAIN)
				break;
			eagain++;
			/* The slow reader: one whole frame every few ms. */
			ret = peer_read_frame(cfd, &f, buf, sizeof(buf), 5000);
			CHECK(ret == 1 && f.op == WS_OP_BINARY && f.len == SLOW_MSG &&
			      !memcmp(buf, msg, SLOW_MSG),
			      "peer frame %d op %d len %llu", ret, f.op,
			      (unsigned long long)f.len);
			if (failures)
				break;
			read_msgs++;
			sleep_ms(2);
			continue;
		}
		if ((size_t)n < want) {
			partial++;
			owed = want - n;
		} else {
			owed = 0;
			msgs++;
		}
		if (!(loops & 31))
			mem_sample();
	}
	mem_sample();
	/* The end: the peer reads the rest in a thread. */
	pr.fd = cfd;
	pthread_create(&th, NULL, peer_reader_run, &pr);
	set_timeouts(afd, 5000);
	if (owed) {
		CHECK(ws_send(afd, msg + SLOW_MSG - owed, owed, WS_OP_BINARY, 0) ==
		      (ssize_t)owed, "finish frame: %s", strerror(errno));
		msgs++;
	}
	CHECK(!shutdown(afd, SHUT_WR), "shutdown: %s", strerror(errno));
	pthread_join(th, NULL);
	read_msgs += pr.data;
	CHECK(read_msgs == msgs && !pr.bad && pr.close_code == 1000,
	      "peer read %llu of %llu (bad %d), then close %d (%d %s)",
	      (unsigned long long)read_msgs, (unsigned long long)msgs, pr.bad,
	      pr.close_code, pr.ret, strerror(pr.err));
	write_all(cfd, fr, frame_build(fr, true, WS_OP_CLOSE, true, cl, 2), 1000);
	ws_recv(afd, buf, sizeof(buf), 0, &m);
	CHECK(m.has_close && m.close_code == 1000, "app close %zd %s %u", m.n,
	      strerror(m.err), m.close_code);
	diag("slow_reader kernel->peer: %llu messages of %d bytes in %lld ms, %lu EAGAIN, %lu partial sends",
	     (unsigned long long)msgs, SLOW_MSG, (long long)(now_ms() - t0),
	     eagain, partial);
	CHECK(eagain > 0, "the writer never blocked: no backpressure");
	close(afd);
	close(cfd);
	return failures;
}

static int slow_reader_peer_writes(void)
{
	int cfd, afd, i;
	static uint8_t frame[SLOW_MSG + 16], msg[SLOW_MSG], buf[SLOW_MSG];
	size_t fl, off = 0;
	uint64_t msgs = 0, got = 0;
	unsigned long eagain = 0;
	int64_t t0 = now_ms(), end = t0 + opt.seconds * 1000;
	struct ws_rmsg m;

	if (tcp_pair(&cfd, &afd))
		return 1;
	CHECK(!ws_setup(afd, WS_ROLE_SERVER, 0, 0), "setup: %s", strerror(errno));
	set_timeouts(afd, 5000);
	for (i = 0; i < SLOW_MSG; i++)
		msg[i] = i * 13;
	fl = frame_build(frame, true, WS_OP_BINARY, true, msg, SLOW_MSG);
	for (int loops = 0; loops < 10000000 && now_ms() < end; loops++) {
		ssize_t n = send(cfd, frame + off, fl - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += n;
			if (off == fl) {
				off = 0;
				msgs++;
			}
			continue;
		}
		CHECK(n < 0 && errno == EAGAIN, "peer send: %s", strerror(errno));
		if (failures)
			break;
		/* Backpressure: the slow app reads one message, then waits. */
		eagain++;
		ws_recv(afd, buf, sizeof(buf), 0, &m);
		CHECK(m.n == SLOW_MSG && m.eor && !memcmp(buf, msg, SLOW_MSG),
		      "app message %zd eor %d %s", m.n, m.eor, strerror(m.err));
		if (failures)
			break;
		got++;
		sleep_ms(2);
		if (!(eagain & 15))
			mem_sample();
	}
	mem_sample();
	diag("slow_reader peer->kernel: peer sent %llu messages in %lld ms, %lu stalls",
	     (unsigned long long)msgs, (long long)(now_ms() - t0), eagain);
	CHECK(eagain > 0, "the peer never blocked: no backpressure");
	/* A cut frame ends the stream: FIN mid-frame is a 1006 after the rest. */
	shutdown(cfd, SHUT_WR);
	for (i = 0; i < 1000000; i++) {
		ws_recv(afd, buf, sizeof(buf), 0, &m);
		if (m.n <= 0 || !m.eor)
			break;
		CHECK(m.n == SLOW_MSG && !memcmp(buf, msg, SLOW_MSG),
		      "app message %zd", m.n);
		got++;
	}
	/* A partial last frame may surface as a part without MSG_EOR. */
	for (i = 0; i < 1000 && m.n > 0; i++)
		ws_recv(afd, buf, sizeof(buf), 0, &m);
	CHECK(got == msgs && m.n == 0 && m.has_close &&
	      m.close_code == 1006,
	      "app read %llu of %llu messages, then %zd %s close %u",
	      (unsigned long long)got, (unsigned long long)msgs, m.n,
	      strerror(m.err), m.close_code);
	close(afd);
	close(cfd);
	return failures;
}

static int t_slow_reader(void)
{
	slow_reader_kernel_writes();
	slow_reader_peer_writes();
	return failures;
}

/* ---- (h) random malformed byte streams from a seeded generator ---- */

static size_t gen_element(uint8_t *out, bool mask)
{
	uint8_t p[300], key[4];
	uint32_t k = rnd();
	size_t n, len = rnd() % 40, i;
	int kind = rnd() % 16;

	memcpy(key, &k, 4);
	for (i = 0; i < sizeof(p); i++)
		p[i] = 'a' + rnd() % 26;
	switch (kind) {
	case 0:		/* valid text, maybe not final */
		return frame_build(out, rnd() & 1, WS_OP_TEXT, mask, p, len);
	case 1:		/* continuation */
		return frame_build(out, rnd() & 1, WS_OP_CONT, mask, p, len);
	case 2:		/* ping or pong */
		return frame_build(out, true, rnd() & 1 ? WS_OP_PING : WS_OP_PONG,
				   mask, p, len);
	case 3:		/* RSV bits */
		n = frame_hdr(out, true, 1 + rnd() % 7, WS_OP_BINARY, mask, len, key);
		break;
	case 4:		/* reserved opcode */
		n = frame_hdr(out, true, 0, (int[]){ 3, 4, 5, 6, 7, 11, 12, 13, 14, 15 }[rnd() % 10],
			      mask, len, key);
		break;
	case 5:		/* wrong masking for the role */
		return frame_build(out, true, WS_OP_BINARY, !mask, p, len);
	case 6:		/* control frame too long or fragmented */
		if (rnd() & 1)
			return frame_build(out, true, WS_OP_PING, mask, p, 126 + rnd() % 100);
		return frame_build(out, false, WS_OP_PING, mask, p, len);
	case 7:		/* invalid UTF-8 */
		p[len / 2] = (uint8_t[]){ 0xff, 0xc0, 0xed, 0xf5, 0x80 }[rnd() % 5];
		return frame_build(out, true, WS_OP_TEXT, mask, p, len + 1);
	case 8: {	/* close: bad or good code, sometimes a 1-byte payload */
		static const int codes[] = { 999, 1000, 1004, 1005, 1006, 1015,
					     1016, 2999, 3000, 4999, 5000, 1001 };
		int c = codes[rnd() % 12];

		p[0] = c >> 8;
		p[1] = c;
		if (rnd() % 4 == 0)
			p[2 + rnd() % 4] = 0xff;	/* bad reason */
		return frame_build(out, true, WS_OP_CLOSE, mask, p,
				   rnd() % 5 == 0 ? 1 : 2 + len % 10);
	}
	case 9:		/* over the 4096-byte limit */
		return frame_hdr(out, true, 0, WS_OP_BINARY, mask,
				 4097 + rnd() % 100000, key);
	case 10:	/* 64-bit length with the top bit */
		return frame_hdr(out, true, 0, WS_OP_BINARY, mask,
				 (1ULL << 63) | rnd(), key);
	case 11:	/* random bytes */
		for (i = 0; i < len; i++)
			out[i] = rnd();
		return len;
	case 12:	/* empty close */
		return frame_build(out, true, WS_OP_CLOSE, mask, p, 0);
	default:	/* valid binary */
		return frame_build(out, true, WS_OP_BINARY, mask, p, len);
	}
	/* A header with a payload of random bytes. */
	for (i = 0; i < len; i++)
		out[n + i] = rnd();
	return n + len;
}

static int malformed_role(int role, int iters, int64_t end, unsigned long *codes)
{
	bool server = role == WS_ROLE_SERVER;
	static uint8_t stream[16384], buf[8192];
	int i;

	for (i = 0; i < iters && now_ms() < end && failures < 5; i++) {
		int cfd, afd, fd, peer, k, elems = 1 + rnd() % 6, wire, r;
		size_t sl = 0;
		struct ws_rmsg m = { 0 };
		bool kernel_masks = !server;

		if (tcp_pair(&cfd, &afd)) {
			CHECK(false, "pair: %s", strerror(errno));
			break;
		}
		fd = server ? afd : cfd;
		peer = server ? cfd : afd;
		set_timeouts(fd, 5000);
		CHECK(!ws_setup(fd, role, 0, 4096), "setup: %s", strerror(errno));
		for (k = 0; k < elems; k++)
			sl += gen_element(stream + sl, server);
		if (rnd() & 1)
			sl = rnd() % (sl + 1);	/* cut anywhere */
		write_all(peer, stream, sl, 2000);
		shutdown(peer, SHUT_WR);
		for (k = 0; k < 10000; k++) {
			ws_recv(fd, buf, sizeof(buf), 0, &m);
			if (m.n < 0 || m.has_close || (m.n == 0 && m.op == -1))
				break;
		}
		CHECK(m.has_close,
		      "role %d iteration %d: no close: %zd %s op %d", role, i,
		      m.n, strerror(m.err), m.op);
		if (m.has_close) {
			if (m.close_flags & WS_CLOSE_LOCAL)
				CHECK(m.close_code == 1002 || m.close_code == 1007 ||
				      m.close_code == 1009,
				      "role %d iteration %d: local close %u", role,
				      i, m.close_code);
			else if (m.close_flags & WS_CLOSE_ABNORMAL)
				CHECK(m.close_code == 1006, "abnormal %u", m.close_code);
			else
				CHECK(valid_close_code(m.close_code),
				      "role %d iteration %d: peer close %u passed",
				      role, i, m.close_code);
			codes[m.close_code >= 1000 && m.close_code < 1099 ?
			      m.close_code - 1000 : 99]++;
		}
		/*
		 * After failing, the kernel ends TCP by itself; otherwise
		 * (the peer's FIN, the peer's close) the app's close() does.
		 */
		if (!(m.has_close && (m.close_flags & WS_CLOSE_LOCAL))) {
			close(fd);
			fd = -1;
		}
		r = peer_check_until_eof(peer, kernel_masks, &wire);
		CHECK(r >= 0, "role %d iteration %d: kernel frames: %s", role, i,
		      r == -EPROTO ? "malformed" : strerror(-r));
		if (m.has_close && (m.close_flags & WS_CLOSE_LOCAL))
			CHECK(wire == m.close_code,
			      "role %d iteration %d: app told %u, wire %d", role,
			      i, m.close_code, wire);
		if (failures && opt.verbose) {
			char hex[3 * 64 + 1] = "";

			for (k = 0; k < (int)sl && k < 64; k++)
				sprintf(hex + 3 * k, "%02x ", stream[k]);
			diag("stream: %s", hex);
		}
		if (fd >= 0)
			close(fd);
		close(peer);
		if (!(i % 32))
			mem_sample();
	}
	return i;
}

static int t_malformed(void)
{
	int iters = opt.full ? 10000 : 1000, ns, nc;
	int64_t t0 = now_ms(), end = t0 + (opt.full ? 240000 : 10000);
	unsigned long codes[100] = { 0 };

	ns = malformed_role(WS_ROLE_SERVER, iters, t0 + (end - t0) / 2, codes);
	nc = malformed_role(WS_ROLE_CLIENT, iters, end, codes);
	diag("malformed: seed %llu, %d server + %d client streams in %lld ms; app closes 1000:%lu 1002:%lu 1005:%lu 1006:%lu 1007:%lu 1009:%lu other:%lu",
	     (unsigned long long)opt.seed, ns, nc, (long long)(now_ms() - t0),
	     codes[0], codes[2], codes[5], codes[6], codes[7], codes[9],
	     codes[99] + codes[1] + codes[3] + codes[10] + codes[11]);
	CHECK(ns + nc >= 40, "only %d streams in time", ns + nc);
	return failures;
}

/* ---- driver ---- */

struct test {
	const char *name;
	int (*fn)(void);
	int limit_s;		/* default mode; x6 with --full */
};

static const struct test tests[] = {
	{ "conn_echo",		t_conn_echo,		60 },
	{ "attach_close",	t_attach_close,		50 },
	{ "close_blocked",	t_close_blocked,	40 },
	{ "close_ctrl",		t_close_ctrl,		40 },
	{ "big_frame",		t_big_frame,		40 },
	{ "fragments",		t_fragments,		40 },
	{ "ping_flood",		t_ping_flood,		40 },
	{ "slow_reader",	t_slow_reader,		40 },
	{ "malformed",		t_malformed,		40 },
};

static bool selected(const char *list, const char *name)
{
	const char *p = list;
	size_t n = strlen(name);

	if (!list)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static int run_one(const struct test *t)
{
	int status, limit = t->limit_s * (opt.full ? 6 : 1);
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		long before, active0;
		uint64_t h = 1469598103934665603ULL;
		bool mem_ok;
		int ret, kmsg = kmsg_open(), reports;

		alarm(limit);
		for (const char *c = t->name; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ULL;
		rnd_seed(opt.seed ^ h);
		active0 = kws_stat("KwsConnActive");
		tw_before = time_wait_sockets();
		before = slab_kb();
		peak_kb = before;
		ret = t->fn();
		tap(ret == 0, "stress.%s", t->name);
		mem_ok = mem_back_to_baseline(t->name, before, active0, peak_kb,
					      !strcmp(t->name, "conn_echo") ?
					      opt.conns : 0);
		/* Bounded while it ran, too: Slab never grew past the bound. */
		tap(mem_ok && peak_kb - before <= mem_bound_kb() +
		    (!strcmp(t->name, "conn_echo") ? 16L * opt.conns : 0),
		    "stress.%s.memory", t->name);
		/* No splat: the kernel logged no report while the test ran. */
		reports = kmsg_reports(kmsg);
		tap(kmsg >= 0 && !reports, "stress.%s.kernel_log%s", t->name,
		    kmsg < 0 ? " # /dev/kmsg unreadable" : "");
		fflush(stdout);
		_exit(ret || !mem_ok || reports || kmsg < 0 ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		tap(false, "stress.%s # killed by signal %d%s", t->name,
		    WTERMSIG(status),
		    WTERMSIG(status) == SIGALRM ? " (time limit: a hang)" : "");
		return 1;
	}
	return WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int c, failed = 0, ran = 0;
	bool list = false;
	bool n_set = false, i_set = false, t_set = false;
	int64_t start;

	opt.seed = 1;
	opt.seconds = 2;
	while ((c = getopt(argc, argv, "fn:i:T:s:t:lvh-:")) != -1) {
		switch (c) {
		case 'f':
			opt.full = true;
			break;
		case '-':
			if (!strcmp(optarg, "full"))
				opt.full = true;
			else
				goto usage;
			break;
		case 'n':
			opt.conns = atoi(optarg);
			n_set = true;
			break;
		case 'i':
			opt.iterations = atoi(optarg);
			i_set = true;
			break;
		case 'T':
			opt.seconds = atoi(optarg);
			t_set = true;
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			only = optarg;
			break;
		case 'l':
			list = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		default:
usage:
			fprintf(stderr, "usage: %s [--full] [-t test,...] [-n conns] [-i iterations] [-T seconds] [-s seed] [-l] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	if (!n_set)
		opt.conns = opt.full ? 1000 : 200;
	if (!i_set)
		opt.iterations = opt.full ? 10000 : 2000;
	if (!t_set)
		opt.seconds = opt.full ? 20 : 2;
	if (list) {
		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	tap_init();
	if (kws_stat("KwsConnActive") < 0) {
		int fd, peer;
		bool have = false;

		if (!tcp_pair(&fd, &peer)) {
			have = !setsockopt(fd, IPPROTO_TCP, TCP_ULP, "ws", sizeof("ws"));
			close(fd);
			close(peer);
		}
		if (!have) {
			const char *req = getenv("KWS_REQUIRE_MODULE");

			if (req && *req && strcmp(req, "0")) {
				tap(false, "stress.ulp_present");
				return 1;
			}
			printf("ok 1 stress # SKIP ws ULP not available (kws.ko not loaded)\n");
			return 0;
		}
	}
	diag("kws-stress: %s mode, %d connections, %d iterations, %d s per timed test, seed %llu, %s kernel",
	     opt.full ? "full" : "default", opt.conns, opt.iterations,
	     opt.seconds, (unsigned long long)opt.seed,
	     debug_kernel() ? "debug" : "regular");
	start = now_ms();
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int64_t t0;

		if (!selected(only, tests[i].name))
			continue;
		t0 = now_ms();
		failed += run_one(&tests[i]);
		ran++;
		diag("%s took %lld ms", tests[i].name, (long long)(now_ms() - t0));
	}
	diag("%d tests, %d failed, %lld s in all", ran, failed,
	     (long long)(now_ms() - start) / 1000);
	return failed ? 1 : 0;
}
