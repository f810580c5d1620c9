// SPDX-License-Identifier: MIT
/*
 * loadgen: the kws benchmark client (Documentation/performance.md).
 *
 *   loadgen [options] MODE
 *
 * MODE:
 *   echo   closed loop: N connections, one message in flight on each (the
 *          shape of uWebSockets' load_test); every echo is checked byte by
 *          byte against what was sent
 *   send   one-way: pipelined messages client->server as fast as the socket
 *          takes them; the server counts what it received (shared memory)
 *   recv   one-way server->client: HTTP handshake, send "go" (a masked
 *          2-byte message), read to EOF, count bytes; the same with -r,
 *          whose server (raw-sendfile) answers the handshake without the
 *          ULP, so that both connections start with the same TCP state
 *   ping   N idle connections, each pinged every -i ms; pongs are checked
 *   hold   N idle connections held until the server says it is done
 *
 * Client frames are masked with a fresh key per frame (RFC 6455 5.3); with
 * -r (raw) the same payloads go over plain TCP without framing or handshake
 * (recv keeps the handshake: see run_recv()).
 * Every loop is bounded by the -w/-d times or by BENCH_IO_TIMEOUT_MS.
 *
 * Output: one line "result key=value ..." on stdout. Times are CLOCK_MONOTONIC
 * ns, so under QEMU -icount shift=0 they are guest instructions.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

static struct {
	int port, conns, raw, interval_ms, stall_ms;
	size_t size;
	double warmup, duration;
	pid_t server;
	struct bench_shm *shm;
} opt = { .port = 9000, .conns = 1, .size = 512, .interval_ms = 100,
	  .stall_ms = BENCH_IO_TIMEOUT_MS,
	  .warmup = 0.2, .duration = 1.0 };

static uint64_t rng = 0x9e3779b97f4a7c15ull;

struct conn {
	int fd;
	uint8_t *payload;	/* plain payload of the message in flight */
	uint8_t *tx;		/* bytes on the wire (masked frame, or payload) */
	size_t tx_len, tx_off;
	uint8_t *rx;		/* expected reply: header + payload */
	size_t rx_len, rx_got;
	uint8_t hdr[16];	/* expected reply header */
	size_t hdr_len;
	uint64_t seq;
	int want_out;
};

/* A window of measurement: counters and CPU at its start. */
struct window {
	uint64_t t, server_ns, self_ns, busy_ns, total_ns, idle_ns, count, bytes;
};

static void window_mark(struct window *w, uint64_t count, uint64_t bytes)
{
	w->t = now_ns();
	w->server_ns = opt.server ? proc_runtime_ns(opt.server) : 0;
	w->self_ns = proc_runtime_ns(0);
	machine_cpu_ns(&w->busy_ns, &w->total_ns);
	w->idle_ns = machine_idle_ns();
	w->count = count;
	w->bytes = bytes;
}

/* Print the result line for the window [a, b]. */
static void report(const char *mode, const struct window *a,
		   const struct window *b, const char *extra)
{
	double secs = (b->t - a->t) / 1e9;
	uint64_t n = b->count - a->count, bytes = b->bytes - a->bytes;
	double per = n ? 1.0 / n : 0;
	char guest[64] = "";

	/* Exact busy time (1 CPU: instructions under icount), when known. */
	if (a->idle_ns && b->idle_ns && sysconf(_SC_NPROCESSORS_ONLN) == 1)
		snprintf(guest, sizeof(guest), " guest_per=%.1f",
			 ((b->t - a->t) - (double)(b->idle_ns - a->idle_ns)) *
			 per);

	printf("result mode=%s ws=%d conns=%d size=%zu count=%" PRIu64
	       " bytes=%" PRIu64 " secs=%.6f rate=%.1f server_ns=%" PRIu64
	       " client_ns=%" PRIu64 " busy_ns=%" PRIu64 " server_per=%.1f"
	       " client_per=%.1f busy_per=%.1f%s%s%s\n",
	       mode, !opt.raw, opt.conns, opt.size, n, bytes, secs, n / secs,
	       b->server_ns - a->server_ns, b->self_ns - a->self_ns,
	       b->busy_ns - a->busy_ns, (b->server_ns - a->server_ns) * per,
	       (b->self_ns - a->self_ns) * per, (b->busy_ns - a->busy_ns) * per,
	       guest, extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

/*
 * BENCH_TASKS=1: where a window's whole-guest time went besides the client
 * and the server: every other task's runtime (kworkers, ksoftirqd, ...),
 * and what no task accounts for (interrupts and softirqs that hit the idle
 * task). Snapshots are taken outside the window marks, so their own cost
 * is in neither.
 */
#define TASKS_MAX 4096
static struct task_runtime *tasks_a, *tasks_b;
static int ntasks_a, ntasks_b;

static void tasks_snap(int first)
{
	struct task_runtime **t = first ? &tasks_a : &tasks_b;

	if (!getenv("BENCH_TASKS"))
		return;
	if (!*t && !(*t = calloc(TASKS_MAX, sizeof(**t))))
		die("out of memory");
	*(first ? &ntasks_a : &ntasks_b) = all_tasks_runtime(*t, TASKS_MAX);
}

/* " others_per=... unattr_per=... top=comm:per,..." for @n events. */
static void tasks_extra(char *buf, size_t cap, const struct window *a,
			const struct window *b, uint64_t n)
{
	struct { char comm[20]; uint64_t ns; } top[64];
	int ntop = 0, i, j, len;
	uint64_t others = 0, busy;

	buf[0] = 0;
	if (!tasks_a || !tasks_b || !n)
		return;
	for (i = 0; i < ntasks_b; i++) {
		struct task_runtime *tb = &tasks_b[i];
		uint64_t before = 0, d;

		if (tb->pid == getpid() || tb->pid == opt.server)
			continue;
		for (j = 0; j < ntasks_a; j++)
			if (tasks_a[j].tid == tb->tid)
				before = tasks_a[j].ns;
		d = tb->ns - before;
		if (!d)
			continue;
		others += d;
		for (j = 0; j < ntop; j++)
			if (!strcmp(top[j].comm, tb->comm))
				break;
		if (j == ntop && ntop < 64) {
			snprintf(top[j].comm, sizeof(top[j].comm), "%s", tb->comm);
			top[j].ns = 0;
			ntop++;
		}
		if (j < ntop)
			top[j].ns += d;
	}
	busy = (b->t - a->t) - (b->idle_ns - a->idle_ns);
	len = snprintf(buf, cap, "others_per=%.1f unattr_per=%.1f top=",
		       (double)others / n,
		       ((double)busy - (b->server_ns - a->server_ns) -
			(b->self_ns - a->self_ns) - others) / n);
	for (i = 0; i < 4 && i < ntop; i++) {
		int best = i;

		for (j = i + 1; j < ntop; j++)
			if (top[j].ns > top[best].ns)
				best = j;
		if (best != i) {
			__typeof__(top[0]) tmp = top[i];

			top[i] = top[best];
			top[best] = tmp;
		}
		if (len < (int)cap)
			len += snprintf(buf + len, cap - len, "%s%s:%.1f",
					i ? "," : "", top[i].comm,
					(double)top[i].ns / n);
	}
}

static void new_key(uint8_t key[4])
{
	uint32_t k = xorshift64(&rng);

	memcpy(key, &k, 4);
}

static int open_conn(void)
{
	uint8_t left[64];
	size_t leftlen = 0;
	int fd = tcp_connect(opt.port);

	if (!opt.raw) {
		if (ws_client_handshake(fd, "127.0.0.1", left, sizeof(left), &leftlen))
			die("handshake: %m");
		if (leftlen)
			die("server sent %zu bytes before any request", leftlen);
	}
	return fd;
}

static int epoll_add(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void epoll_mod(int ep, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev))
		die("epoll_ctl: %m");
}

/* ---- echo ---------------------------------------------------------------- */

static void echo_prepare(struct conn *c)
{
	uint8_t key[4];
	size_t h;

	c->seq++;
	memcpy(c->payload, &c->seq, opt.size < 8 ? opt.size : 8);
	if (opt.raw) {
		c->tx = c->payload;
		c->tx_len = opt.size;
	} else {
		new_key(key);
		h = ws_hdr(c->tx, 0x2, opt.size, key);
		ws_mask(c->tx + h, c->payload, opt.size, key);
		c->tx_len = h + opt.size;
	}
	c->tx_off = 0;
	c->rx_got = 0;
}

/* Write what the socket takes; returns 1 if bytes remain (want EPOLLOUT). */
static int flush_tx(struct conn *c)
{
	ssize_t n;

	while (c->tx_off < c->tx_len) {
		n = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %m");
		c->tx_off += n;
	}
	return 0;
}

static void echo_send(int ep, struct conn *c)
{
	int want = flush_tx(c);

	if (want != c->want_out) {
		epoll_mod(ep, c->fd, EPOLLIN | (want ? EPOLLOUT : 0), c);
		c->want_out = want;
	}
}

static void echo_verify(struct conn *c)
{
	if (memcmp(c->rx, c->hdr, c->hdr_len))
		die("conn fd %d seq %" PRIu64 ": reply header %02x %02x differs"
		    " (expected %02x %02x)", c->fd, c->seq, c->rx[0], c->rx[1],
		    c->hdr[0], c->hdr[1]);
	if (memcmp(c->rx + c->hdr_len, c->payload, opt.size))
		die("conn fd %d seq %" PRIu64 ": echoed payload differs",
		    c->fd, c->seq);
}

static int run_echo(void)
{
	struct epoll_event evs[256];
	struct conn *conns = calloc(opt.conns, sizeof(*conns));
	struct window a = { 0 }, b;
	uint64_t done = 0, start, t_measure, t_end, t;
	int ep = epoll_create1(0), i, n, phase = 0;

	if (!conns || ep < 0)
		die("setup: %m");
	for (i = 0; i < opt.conns; i++) {
		struct conn *c = &conns[i];

		c->fd = open_conn();
		set_nonblock(c->fd, 1);
		c->payload = malloc(opt.size + 8);
		c->tx = malloc(opt.size + 16);
		c->hdr_len = opt.raw ? 0 : ws_hdr(c->hdr, 0x2, opt.size, NULL);
		c->rx_len = c->hdr_len + opt.size;
		c->rx = malloc(c->rx_len + 1);
		if (!c->payload || !c->tx || !c->rx)
			die("out of memory");
		for (size_t j = 0; j < opt.size; j++)
			c->payload[j] = xorshift64(&rng);
		if (epoll_add(ep, c->fd, EPOLLIN, c))
			die("epoll_ctl: %m");
	}
	start = now_ns();
	t_measure = start + opt.warmup * 1e9;
	t_end = t_measure + opt.duration * 1e9;
	for (i = 0; i < opt.conns; i++) {
		echo_prepare(&conns[i]);
		echo_send(ep, &conns[i]);
	}
	for (;;) {
		n = epoll_wait(ep, evs, 256, BENCH_IO_TIMEOUT_MS);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("echo: no progress for %d ms (epoll_wait %d: %m)",
			    BENCH_IO_TIMEOUT_MS, n);
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r;

			if (evs[i].events & EPOLLOUT)
				echo_send(ep, c);
			if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			r = read(c->fd, c->rx + c->rx_got, c->rx_len + 1 - c->rx_got);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				die("echo read: %s", r ? strerror(errno) : "EOF");
			c->rx_got += r;
			if (c->rx_got > c->rx_len)
				die("server sent more than the echo");
			if (c->rx_got < c->rx_len)
				continue;
			echo_verify(c);
			done++;
			echo_prepare(c);
			echo_send(ep, c);
		}
		t = now_ns();
		if (phase == 0 && t >= t_measure) {
			window_mark(&a, done, done * opt.size);
			phase = 1;
		} else if (phase == 1 && t >= t_end) {
			window_mark(&b, done, done * opt.size);
			break;
		}
	}
	report("echo", &a, &b, NULL);
	return 0;
}

/* ---- send (one-way, pipelined) ------------------------------------------- */

static int run_send(void)
{
	size_t frame = (opt.raw ? 0 : ws_hdr((uint8_t[16]){ 0 }, 2, opt.size, (uint8_t *)"abcd")) + opt.size;
	size_t nframes = (256 * 1024 + frame - 1) / frame, total, off;
	struct epoll_event evs[64];
	struct conn *conns = calloc(opt.conns, sizeof(*conns));
	struct window a = { 0 }, b;
	uint64_t start, t_measure, t_end, t, sent = 0, srv_msgs;
	uint8_t *buf, *plain, key[4];
	int ep = epoll_create1(0), i, n, phase = 0;
	char extra[128];

	if (nframes < 4)
		nframes = 4;
	total = nframes * frame;
	buf = malloc(total);
	plain = malloc(opt.size + 1);
	if (!conns || !buf || !plain || ep < 0)
		die("setup: %m");
	for (size_t j = 0; j < opt.size; j++)
		plain[j] = xorshift64(&rng);
	/* The stream repeats every nframes frames; each has its own key. */
	for (off = 0; off < total; off += frame) {
		if (opt.raw) {
			memcpy(buf + off, plain, opt.size);
			continue;
		}
		new_key(key);
		ws_mask(buf + off + ws_hdr(buf + off, 2, opt.size, key), plain,
			opt.size, key);
	}
	for (i = 0; i < opt.conns; i++) {
		conns[i].fd = open_conn();
		set_nonblock(conns[i].fd, 1);
		conns[i].tx = buf;
		conns[i].tx_len = total;
		if (epoll_add(ep, conns[i].fd, EPOLLOUT, &conns[i]))
			die("epoll_ctl: %m");
	}
	start = now_ns();
	t_measure = start + opt.warmup * 1e9;
	t_end = t_measure + opt.duration * 1e9;
	for (;;) {
		n = epoll_wait(ep, evs, 64, opt.stall_ms);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			die("send: the socket took nothing for %d ms", opt.stall_ms);
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			ssize_t r = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				die("send write: %m");
			sent += r;
			c->tx_off += r;
			if (c->tx_off == c->tx_len)
				c->tx_off = 0;
		}
		t = now_ns();
		srv_msgs = opt.raw ? opt.shm->bytes / frame : opt.shm->msgs;
		if (phase == 0 && t >= t_measure) {
			window_mark(&a, srv_msgs, opt.shm->bytes);
			phase = 1;
		} else if (phase == 1 && t >= t_end) {
			window_mark(&b, srv_msgs, opt.shm->bytes);
			break;
		}
	}
	snprintf(extra, sizeof(extra), "client_bytes=%" PRIu64 " frame=%zu",
		 sent, frame);
	report("send", &a, &b, extra);
	return 0;
}

/* ---- recv (server->client bulk) ----------------------------------------- */

static int run_recv(void)
{
	size_t cap = 1 << 20, leftlen = 0, h;
	uint8_t *buf = malloc(cap), go[16], key[4] = { 1, 2, 3, 4 };
	struct window a, b;
	uint64_t got = 0, deadline;
	char extra[160];
	int fd;
	ssize_t r;

	if (!buf)
		die("out of memory");
	/*
	 * The handshake even for raw TCP: on 6.12 a connection that has had
	 * a request and a reply before the transfer grows this reader's receive
	 * buffer to 6 MiB (128 KiB without) and is ACKed ~6x less often
	 * by this reader (~60 ACKs for 32 MiB against ~360 without), which
	 * moves ~0.8 M instructions onto the sender (performance.md,
	 * scenario 5); kws cannot skip it, so neither does its baseline.
	 */
	fd = tcp_connect(opt.port);
	if (ws_client_handshake(fd, "127.0.0.1", buf, cap, &leftlen))
		die("handshake: %m");
	got = leftlen;
	window_mark(&a, 0, 0);
	h = ws_hdr(go, 2, 2, key);
	ws_mask(go + h, (const uint8_t *)"go", 2, key);
	if (write_all(fd, go, h + 2))
		die("write: %m");
	deadline = now_ns() + (opt.warmup + opt.duration) * 1e9;
	while ((r = read(fd, buf, cap)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv read: %m");
		got += r;
		if (now_ns() > deadline)
			die("recv: not finished within %.0f s", opt.warmup + opt.duration);
	}
	window_mark(&b, 1, got);
	snprintf(extra, sizeof(extra), "srv_done=%" PRIu64 " srv_sent=%" PRIu64
		 " srv_phase_ns=%" PRIu64, opt.shm->done, opt.shm->phase_bytes,
		 opt.shm->cpu_ns);
	report("recv", &a, &b, extra);
	return 0;
}

/* ---- ping --------------------------------------------------------------- */

static int run_ping(void)
{
	uint64_t interval = (uint64_t)opt.interval_ms * 1000000ull;
	uint64_t start, t, t_measure, t_end, sent = 0, pongs = 0, next;
	struct epoll_event evs[256];
	struct conn *conns = calloc(opt.conns, sizeof(*conns));
	struct window a = { 0 }, b;
	int ep = epoll_create1(0), i, n, phase = 0, due = 0;
	char extra[512], tasks[400];

	if (opt.raw)
		die("ping needs WebSocket (no -r)");
	if (!conns || ep < 0)
		die("setup: %m");
	for (i = 0; i < opt.conns; i++) {
		conns[i].fd = open_conn();
		set_nonblock(conns[i].fd, 1);
		conns[i].rx = malloc(16);
		if (!conns[i].rx || epoll_add(ep, conns[i].fd, EPOLLIN, &conns[i]))
			die("setup: %m");
	}
	start = now_ns();
	t_measure = start + opt.warmup * 1e9;
	t_end = t_measure + opt.duration * 1e9;
	next = start;
	for (;;) {
		int wait_ms;

		t = now_ns();
		/* Pings go out evenly spread: conn i at start + k*interval + i*interval/N. */
		while (next <= t) {
			struct conn *c = &conns[due];
			uint8_t frame[16], key[4], pl[8];
			size_t h;

			c->seq++;
			memcpy(pl, &c->seq, 8);
			new_key(key);
			h = ws_hdr(frame, 0x9, 8, key);
			ws_mask(frame + h, pl, 8, key);
			if (write(c->fd, frame, h + 8) != (ssize_t)(h + 8))
				die("ping write: %m");
			sent++;
			if (++due == opt.conns) {
				due = 0;
				start += interval;
			}
			next = start + interval * due / opt.conns;
		}
		/* Sleep at least 1 ms (pings then go out in small batches):
		 * a 0 ms timeout would spin and bill the client's polling to
		 * the whole-guest cost per ping.
		 */
		wait_ms = next > t ? (next - t + 999999) / 1000000 : 1;
		n = epoll_wait(ep, evs, 256, wait_ms);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %m");
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			uint64_t seq;
			ssize_t r = read(c->fd, c->rx + c->rx_got, 10 - c->rx_got);

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				die("pong read: %s", r ? strerror(errno) : "EOF");
			c->rx_got += r;
			if (c->rx_got < 10)
				continue;
			c->rx_got = 0;
			memcpy(&seq, c->rx + 2, 8);
			if (c->rx[0] != 0x8a || c->rx[1] != 8 || seq > c->seq || !seq)
				die("bad pong %02x %02x seq %" PRIu64 "/%" PRIu64,
				    c->rx[0], c->rx[1], seq, c->seq);
			pongs++;
		}
		t = now_ns();
		if (phase == 0 && t >= t_measure) {
			tasks_snap(1);
			window_mark(&a, sent, pongs);
			phase = 1;
		} else if (phase == 1 && t >= t_end) {
			window_mark(&b, sent, pongs);
			tasks_snap(0);
			break;
		}
	}
	tasks_extra(tasks, sizeof(tasks), &a, &b, b.count - a.count);
	snprintf(extra, sizeof(extra), "pongs=%" PRIu64 " interval_ms=%d%s%s",
		 b.bytes - a.bytes, opt.interval_ms, tasks[0] ? " " : "", tasks);
	b.bytes = a.bytes;
	report("ping", &a, &b, extra);
	return 0;
}

/* ---- hold --------------------------------------------------------------- */

static int run_hold(void)
{
	uint64_t deadline;
	int i;

	for (i = 0; i < opt.conns; i++)
		open_conn();
	deadline = now_ns() + (opt.warmup + opt.duration) * 1e9;
	while (!opt.shm->done) {
		if (now_ns() > deadline)
			die("hold: the server did not finish within %.0f s",
			    opt.warmup + opt.duration);
		usleep(10000);
	}
	printf("result mode=hold ws=%d conns=%d\n", !opt.raw, opt.conns);
	return 0;
}

/*
 * The server's counters, once a live server published them: servers create
 * them before they listen, and a file left by a dead server is ignored.
 */
static struct bench_shm *wait_server(void)
{
	struct bench_shm *s = NULL;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		if (!s)
			s = bench_shm_open(opt.port, 0);
		if (s && s->pid && !kill((pid_t)s->pid, 0))
			return s;
		usleep(10000);
	}
	return s && s->pid ? s : NULL;
}

static void usage(void)
{
	fputs("usage: loadgen [-p port] [-c conns] [-s size] [-w warmup_s] [-d secs]\n"
	      "               [-i interval_ms] [-r] [-T stall_ms] echo|send|recv|ping|hold\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	const char *mode;
	int c;

	while ((c = getopt(argc, argv, "p:c:s:w:d:i:rT:")) != -1) {
		switch (c) {
		case 'p': opt.port = atoi(optarg); break;
		case 'c': opt.conns = atoi(optarg); break;
		case 's': opt.size = strtoull(optarg, NULL, 0); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'i': opt.interval_ms = atoi(optarg); break;
		case 'r': opt.raw = 1; break;
		case 'T': opt.stall_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || opt.conns < 1 || opt.interval_ms < 1)
		usage();
	mode = argv[optind];
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);	/* a closed connection is an error line */
	rng ^= (uint64_t)getpid() << 17 ^ now_ns();
	opt.shm = wait_server();
	if (opt.shm)
		opt.server = opt.shm->pid;
	if (!strcmp(mode, "echo"))
		return run_echo();
	if (!opt.shm)
		die("no server counters for port %d (/dev/shm/kws-bench.%d)",
		    opt.port, opt.port);
	if (!strcmp(mode, "send"))
		return run_send();
	if (!strcmp(mode, "recv"))
		return run_recv();
	if (!strcmp(mode, "ping"))
		return run_ping();
	if (!strcmp(mode, "hold"))
		return run_hold();
	usage();
}
