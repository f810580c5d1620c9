// SPDX-License-Identifier: GPL-2.0
/* kws stress tests: shared helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "stress.h"

struct stress_opts opt;
long tw_before;

/* ---- TAP ---- */

static int *tap_counter;	/* MAP_SHARED: forked tests number on */

void tap_init(void)
{
	static int fallback;

	tap_counter = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tap_counter == MAP_FAILED)
		tap_counter = &fallback;
	*tap_counter = 0;
}

void tap(bool ok, const char *fmt, ...)
{
	va_list ap;
	int n = __atomic_add_fetch(tap_counter, 1, __ATOMIC_SEQ_CST);

	printf("%sok %d ", ok ? "" : "not ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- time and randomness ---- */

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

void rnd_seed(uint64_t seed)
{
	rnd_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- sockets ---- */

int listener_open(int backlog, struct sockaddr_storage *addr, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)addr;
	int lfd, one = 1;

	memset(addr, 0, sizeof(*addr));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*len = sizeof(*sin);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)addr, *len) || listen(lfd, backlog) ||
	    getsockname(lfd, (struct sockaddr *)addr, len)) {
		close(lfd);
		return -1;
	}
	return lfd;
}

int pair_via(int lfd, const struct sockaddr_storage *addr, socklen_t len,
	     int *cfd, int *afd)
{
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (*cfd < 0)
		return -1;
	if (connect(*cfd, (const struct sockaddr *)addr, len)) {
		close(*cfd);
		return -1;
	}
	*afd = accept(lfd, NULL, NULL);
	if (*afd < 0) {
		close(*cfd);
		return -1;
	}
	return 0;
}

int tcp_pair(int *cfd, int *afd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, ret;

	lfd = listener_open(1, &ss, &len);
	if (lfd < 0)
		return -1;
	ret = pair_via(lfd, &ss, len, cfd, afd);
	close(lfd);
	return ret;
}

void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int ws_setup(int fd, int role, uint32_t flags, uint64_t max_msg)
{
	struct ws_config cfg = {
		.role = role,
		.flags = flags,
		.max_msg_size = max_msg,
	};

	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "ws", sizeof("ws")))
		return -1;
	return setsockopt(fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg));
}

void ws_recv(int fd, void *buf, size_t len, int flags, struct ws_rmsg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t)) +
			 CMSG_SPACE(sizeof(struct ws_close))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;

	memset(m, 0, sizeof(*m));
	m->op = -1;
	m->n = recvmsg(fd, &msg, flags);
	if (m->n < 0) {
		m->err = errno;
		return;
	}
	m->eor = msg.msg_flags & MSG_EOR;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_WS)
			continue;
		if (c->cmsg_type == WS_CMSG_OPCODE)
			m->op = *(uint8_t *)CMSG_DATA(c);
		if (c->cmsg_type == WS_CMSG_CLOSE) {
			struct ws_close wc;

			memcpy(&wc, CMSG_DATA(c), sizeof(wc));
			m->has_close = true;
			m->close_code = wc.code;
			m->close_flags = wc.flags;
		}
	}
}

ssize_t ws_send(int fd, const void *buf, size_t len, int op, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (op) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_WS;
		c->cmsg_type = WS_CMSG_OPCODE;
		c->cmsg_len = CMSG_LEN(sizeof(uint8_t));
		*(uint8_t *)CMSG_DATA(c) = op;
	}
	return sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
}

/* ---- raw frames ---- */

size_t frame_hdr(uint8_t *out, bool fin, int rsv, int op, bool masked,
		 uint64_t len, const uint8_t key[4])
{
	size_t n = 2;
	int i;

	out[0] = (fin ? 0x80 : 0) | (rsv & 7) << 4 | (op & 0xf);
	out[1] = masked ? 0x80 : 0;
	if (len < 126) {
		out[1] |= len;
	} else if (len <= 0xffff) {
		out[1] |= 126;
		out[2] = len >> 8;
		out[3] = len;
		n = 4;
	} else {
		out[1] |= 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = len >> (56 - 8 * i);
		n = 10;
	}
	if (masked) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	return n;
}

size_t frame_build(uint8_t *out, bool fin, int op, bool masked,
		   const void *payload, size_t len)
{
	uint8_t key[4];
	uint32_t r = rnd();
	size_t n, i;

	memcpy(key, &r, 4);
	n = frame_hdr(out, fin, 0, op, masked, len, key);
	memcpy(out + n, payload, len);
	if (masked)
		for (i = 0; i < len; i++)
			out[n + i] ^= key[i & 3];
	return n + len;
}

int write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	int64_t end = now_ms() + timeout_ms;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		int left = end - now_ms();
		if (left <= 0) {
			errno = EAGAIN;
			return -1;
		}
		struct pollfd pfd = { fd, POLLOUT, 0 };

		poll(&pfd, 1, left);
	}
	return 0;
}

/* Read exactly len bytes by the deadline: 1, 0 at EOF, -1 (errno). */
static int read_exact(int fd, void *buf, size_t len, int64_t end)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int left = end - now_ms();
		ssize_t n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 1;
}

int peer_read_frame(int fd, struct peer_frame *f, uint8_t *payload,
		    size_t cap, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	uint8_t h[14], key[4] = { 0 }, chunk[4096];
	uint64_t done = 0;
	int ret, i;

	ret = read_exact(fd, h, 2, end);
	if (ret <= 0)
		return ret;
	f->fin = h[0] & 0x80;
	f->rsv = (h[0] >> 4) & 7;
	f->op = h[0] & 0xf;
	f->masked = h[1] & 0x80;
	f->len = h[1] & 0x7f;
	f->close_code = 0;
	if (f->len == 126) {
		if (read_exact(fd, h + 2, 2, end) <= 0)
			return -1;
		f->len = (uint64_t)h[2] << 8 | h[3];
	} else if (f->len == 127) {
		if (read_exact(fd, h + 2, 8, end) <= 0)
			return -1;
		f->len = 0;
		for (i = 0; i < 8; i++)
			f->len = f->len << 8 | h[2 + i];
	}
	if (f->masked && read_exact(fd, key, 4, end) <= 0)
		return -1;
	while (done < f->len) {
		size_t n = f->len - done < sizeof(chunk) ? f->len - done : sizeof(chunk);
		size_t j;

		if (read_exact(fd, chunk, n, end) <= 0)
			return -1;
		for (j = 0; j < n; j++) {
			uint8_t b = chunk[j] ^ key[(done + j) & 3];

			if (done + j < cap)
				payload[done + j] = b;
		}
		done += n;
	}
	if (f->op == WS_OP_CLOSE) {
		if (f->len >= 2 && cap >= 2)
			f->close_code = payload[0] << 8 | payload[1];
		else
			f->close_code = WS_CLOSE_NO_STATUS;
	}
	return 1;
}

int peer_wait_close(int fd, int timeout_ms, unsigned long *frames)
{
	int64_t end = now_ms() + timeout_ms;
	struct peer_frame f;
	uint8_t buf[256];

	for (;;) {
		int left = end - now_ms(), ret;

		if (left <= 0)
			return -1;
		ret = peer_read_frame(fd, &f, buf, sizeof(buf), left);
		if (ret <= 0)
			return ret;
		if (f.op == WS_OP_CLOSE)
			return f.close_code;
		if (frames)
			(*frames)++;
	}
}

/* ---- the kernel log ---- */

int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* What tools/vm/run fails a run on, as the kernel words it. */
static bool kmsg_is_report(const char *text)
{
	static const char *const marks[] = {
		"WARNING:", "BUG:", "Oops", "KASAN", "UBSAN",
		"general protection", "possible circular locking",
		"possible recursive locking", "inconsistent lock state",
		"suspicious RCU usage", "INFO: task", "soft lockup",
		"hard LOCKUP", "rcu_sched self-detected stall",
		"unreferenced object", "ODEBUG:", "list_add corruption",
		"list_del corruption", "Call Trace:",
	};

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(text, marks[i]))
			return true;
	return false;
}

int kmsg_reports(int fd)
{
	char rec[2048];
	int reports = 0, context = 0, lines = 0;

	if (fd < 0)
		return 0;
	/* Bounded: a flood of messages is cut at 20000 records. */
	for (int i = 0; i < 20000; i++) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *text;

		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: read on */
		if (n <= 0)
			break;
		rec[n] = 0;
		/* "prio,seq,usec,flags;text\n" then continuation lines. */
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		text[strcspn(text, "\n")] = 0;
		if (kmsg_is_report(text)) {
			reports += !context;
			context = 30;
		}
		if (context > 0 && lines < 200) {
			diag("kernel: %s", text);
			context--;
			lines++;
		}
	}
	close(fd);
	return reports;
}

/* ---- memory ---- */

long slab_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

long kws_stat(const char *name)
{
	FILE *f = fopen("/proc/net/kws_stat", "r");
	char key[64], line[128];
	long long v;
	long ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", key, &v) == 2 && !strcmp(key, name)) {
			ret = v;
			break;
		}
	fclose(f);
	return ret;
}

bool debug_kernel(void)
{
	const char *k = getenv("KWS_KERNEL");

	if (k && !strcmp(k, "debug"))
		return true;
	return access("/sys/kernel/debug/kmemleak", F_OK) == 0;
}

static long total_ram_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * KASAN keeps freed objects in its quarantine (up to 1/32 of RAM) before
 * their slab pages can go: on the debug kernel that much may linger.
 */
static long quarantine_kb(void)
{
	return debug_kernel() ? total_ram_kb() / 32 : 0;
}

long mem_bound_kb(void)
{
	const char *e = getenv("KWS_STRESS_BOUND_KB");

	if (e)
		return atol(e);
	return 16 * 1024 + quarantine_kb();
}

long time_wait_sockets(void)
{
	static const char *const files[] = { "/proc/net/sockstat", "/proc/net/sockstat6" };
	char line[256], *p;
	long total = 0, tw;

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "TCP", 3) && (p = strstr(line, " tw ")) &&
			    sscanf(p, " tw %ld", &tw) == 1)
				total += tw;
		if (f)
			fclose(f);
	}
	return total;
}

bool mem_back_to_baseline(const char *name, long before_kb, long active0,
			  long peak_kb, int conns)
{
	const char *e = getenv("KWS_STRESS_SLAB_TOL_KB");
	/*
	 * TIME_WAIT buckets (they outlive the test by 60 s: half a KiB each
	 * with their slab overhead) and per-cpu caches (1 KiB a connection
	 * the caller names).
	 */
	long tw = time_wait_sockets() - tw_before;
	long tol = e ? atol(e) : 4096 + conns + (tw > 0 ? tw / 2 : 0) +
				 quarantine_kb();
	int64_t end = now_ms() + 5000;
	long active = kws_stat("KwsConnActive"), after;

	while (active > active0 && now_ms() < end) {
		sleep_ms(50);
		active = kws_stat("KwsConnActive");
	}
	/* kfree_rcu() of the contexts and deferred skb frees. */
	sleep_ms(300);
	after = slab_kb();
	for (int i = 0; i < 10 && after - before_kb > tol; i++) {
		sleep_ms(200);
		after = slab_kb();
	}
	diag("%s: Slab before %ld kB, peak %ld kB (+%ld), after %ld kB (%+ld, tolerance %ld, TIME_WAIT %+ld); KwsConnActive %ld -> %ld",
	     name, before_kb, peak_kb, peak_kb - before_kb, after,
	     after - before_kb, tol, tw, active0, active);
	return after - before_kb <= tol && active <= active0;
}
