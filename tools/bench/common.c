// SPDX-License-Identifier: MIT
/* Helpers shared by the kws benchmark programs; see common.h. */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kws.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

struct bench_shm *bench_shm_open(int port, int create)
{
	char path[64];
	struct bench_shm *s;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/kws-bench.%d", port);
	fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0600);
	if (fd < 0)
		return NULL;
	if (create && ftruncate(fd, sizeof(*s)) < 0) {
		close(fd);
		return NULL;
	}
	/*
	 * A reader can open the file between the server's O_CREAT and its
	 * ftruncate(): a zero-length mapping would SIGBUS (seen on 2 vCPUs).
	 */
	if (!create && (fstat(fd, &st) || st.st_size < (off_t)sizeof(*s))) {
		close(fd);
		return NULL;
	}
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return s == MAP_FAILED ? NULL : s;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t schedstat_file(const char *path)
{
	unsigned long long run = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &run) != 1)
		run = 0;
	fclose(f);
	return run;
}

uint64_t proc_runtime_ns(pid_t pid)
{
	char path[320];
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	if (!pid)
		pid = getpid();
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
			 (int)pid, de->d_name);
		sum += schedstat_file(path);
	}
	closedir(d);
	return sum;
}

/*
 * Runtime of every task on the machine (threads included), for a breakdown
 * of a window's whole-guest time: kworkers, ksoftirqd and the rest next to
 * the client and the server. Returns the entries filled, at most @max.
 */
int all_tasks_runtime(struct task_runtime *out, int max)
{
	char path[320];
	struct dirent *pe, *te;
	DIR *proc = opendir("/proc"), *task;
	int n = 0;

	if (!proc)
		return 0;
	while (n < max && (pe = readdir(proc))) {
		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", atoi(pe->d_name));
		task = opendir(path);
		if (!task)
			continue;
		while (n < max && (te = readdir(task))) {
			FILE *f;

			if (te->d_name[0] == '.')
				continue;
			out[n].pid = atoi(pe->d_name);
			out[n].tid = atoi(te->d_name);
			snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat",
				 out[n].pid, out[n].tid);
			out[n].ns = schedstat_file(path);
			snprintf(path, sizeof(path), "/proc/%d/task/%d/comm",
				 out[n].pid, out[n].tid);
			out[n].comm[0] = 0;
			f = fopen(path, "r");
			if (f) {
				if (fgets(out[n].comm, sizeof(out[n].comm), f))
					out[n].comm[strcspn(out[n].comm, "\n")] = 0;
				fclose(f);
			}
			n++;
		}
		closedir(task);
	}
	closedir(proc);
	return n;
}

void machine_cpu_ns(uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = { 0 };
	uint64_t tick_ns = 1000000000ull / sysconf(_SC_CLK_TCK);
	uint64_t all = 0;
	FILE *f = fopen("/proc/stat", "r");
	int i;

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (i = 0; i < 8; i++)
			all += v[i];
		*total = all * tick_ns;
		*busy = (all - v[3] - v[4]) * tick_ns;	/* minus idle, iowait */
	}
	fclose(f);
}

/*
 * Nanoseconds every CPU spent idle (or in iowait), from the tick-nohz
 * counters in /proc/timer_list: exact, where /proc/stat's busy time is
 * sampled at ticks (4 ms at HZ=250) and, for a load as periodic as the
 * ping test, biased by where the ticks fall. Under icount the machine's
 * busy time, elapsed minus this, is instructions. 0 when not readable.
 */
uint64_t machine_idle_ns(void)
{
	unsigned long long v;
	uint64_t sum = 0;
	char line[256];
	FILE *f = fopen("/proc/timer_list", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " .idle_sleeptime : %llu nsecs", &v) == 1 ||
		    sscanf(line, " .iowait_sleeptime: %llu nsecs", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

size_t ws_hdr(uint8_t *out, int opcode, uint64_t len, const uint8_t *mask)
{
	size_t n = 2;
	int i;

	out[0] = 0x80 | opcode;
	if (len < 126) {
		out[1] = len;
	} else if (len < 65536) {
		out[1] = 126;
		out[2] = len >> 8;
		out[3] = len;
		n = 4;
	} else {
		out[1] = 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = len >> (56 - 8 * i);
		n = 10;
	}
	if (mask) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4])
{
	uint64_t m8, w;
	uint32_t m4;
	size_t i = 0;

	memcpy(&m4, mask, 4);
	m8 = (uint64_t)m4 << 32 | m4;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, src + i, 8);
		w ^= m8;
		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ mask[i & 3];
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r = poll(&p, 1, BENCH_IO_TIMEOUT_MS);

	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT))
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* SHA-1 (FIPS 180-4) of one short message, for the handshake only. */
static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	uint8_t blk[64];
	size_t total = (len + 9 + 63) / 64 * 64, off, i;

	for (off = 0; off < total; off += 64) {
		uint32_t w[80], a, b, c, d, e, f, k, t;

		for (i = 0; i < 64; i++) {
			size_t p = off + i;

			blk[i] = p < len ? msg[p] : p == len ? 0x80 : 0;
			if (p >= total - 8)
				blk[i] = (uint64_t)len * 8 >> (8 * (total - 1 - p));
		}
		for (i = 0; i < 16; i++)
			w[i] = (uint32_t)blk[4 * i] << 24 | blk[4 * i + 1] << 16 |
			       blk[4 * i + 2] << 8 | blk[4 * i + 3];
		for (i = 16; i < 80; i++) {
			t = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
			w[i] = t << 1 | t >> 31;
		}
		a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
		for (i = 0; i < 80; i++) {
			if (i < 20) {
				f = (b & c) | (~b & d);
				k = 0x5a827999;
			} else if (i < 40) {
				f = b ^ c ^ d;
				k = 0x6ed9eba1;
			} else if (i < 60) {
				f = (b & c) | (b & d) | (c & d);
				k = 0x8f1bbcdc;
			} else {
				f = b ^ c ^ d;
				k = 0xca62c1d6;
			}
			t = (a << 5 | a >> 27) + f + e + k + w[i];
			e = d;
			d = c;
			c = b << 30 | b >> 2;
			b = a;
			a = t;
		}
		h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
	}
	for (i = 0; i < 20; i++)
		out[i] = h[i / 4] >> (24 - 8 * (i % 4));
}

static void accept_key(const char *key, size_t keylen, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t in[128], md[21] = { 0 };
	int i, o = 0;

	if (keylen > sizeof(in) - sizeof(guid))
		keylen = sizeof(in) - sizeof(guid);
	memcpy(in, key, keylen);
	memcpy(in + keylen, guid, sizeof(guid) - 1);
	sha1(in, keylen + sizeof(guid) - 1, md);
	for (i = 0; i < 21; i += 3) {
		uint32_t v = md[i] << 16 | md[i + 1] << 8 | md[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < 20 ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < 20 ? b64[v & 63] : '=';
	}
	out[28] = 0;
}

int ws_client_handshake(int fd, const char *host, uint8_t *left, size_t leftcap,
			size_t *leftlen)
{
	char req[512], resp[BENCH_HS_MAX + 1];
	size_t got = 0;
	char *end;
	ssize_t n;
	int len;

	len = snprintf(req, sizeof(req),
		       "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
		       "Connection: Upgrade\r\n"
		       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		       "Sec-WebSocket-Version: 13\r\n\r\n", host);
	if (write_all(fd, req, len))
		return -1;
	for (;;) {
		if (wait_fd(fd, POLLIN))
			return -1;
		n = read(fd, resp + got, BENCH_HS_MAX - got);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			errno = n ? errno : ECONNRESET;
			return -1;
		}
		got += n;
		resp[got] = 0;
		end = strstr(resp, "\r\n\r\n");
		if (end)
			break;
		if (got == BENCH_HS_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
	}
	if (strncmp(resp, "HTTP/1.1 101", 12) ||
	    !strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
		fprintf(stderr, "bench: bad handshake response: %.80s\n", resp);
		errno = EPROTO;
		return -1;
	}
	end += 4;
	*leftlen = got - (end - resp);
	if (*leftlen > leftcap) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(left, end, *leftlen);
	return 0;
}

int ws_server_handshake(int fd)
{
	char req[BENCH_HS_MAX + 1], resp[256], acc[29];
	char *end, *key, *eol;
	size_t head;
	ssize_t n;
	int len, tries;

	for (tries = 0;; tries++) {
		if (wait_fd(fd, POLLIN))
			return -1;
		n = recv(fd, req, BENCH_HS_MAX, MSG_PEEK);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			errno = n ? errno : ECONNRESET;
			return -1;
		}
		req[n] = 0;
		end = strstr(req, "\r\n\r\n");
		if (end)
			break;
		if (n == BENCH_HS_MAX || tries == BENCH_IO_TIMEOUT_MS) {
			errno = n == BENCH_HS_MAX ? EMSGSIZE : ETIMEDOUT;
			return -1;
		}
		usleep(1000);	/* head incomplete: the rest is in flight */
	}
	head = end + 4 - req;
	if (recv(fd, req, head, 0) != (ssize_t)head)
		return -1;
	req[head] = 0;
	key = strcasestr(req, "\r\nSec-WebSocket-Key:");
	if (!key) {
		errno = EPROTO;
		return -1;
	}
	key += 20;
	while (*key == ' ')
		key++;
	eol = strstr(key, "\r\n");
	while (eol > key && eol[-1] == ' ')
		eol--;
	accept_key(key, eol - key, acc);
	len = snprintf(resp, sizeof(resp),
		       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
	return write_all(fd, resp, len);
}

int tcp_listen(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket: %m");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
		die("bind/listen port %d: %m", port);
	return fd;
}

int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, tries;

	/* The server may still be starting: retry for up to ~10 s. */
	for (tries = 0; tries < 1000; tries++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket: %m");
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			set_nodelay(fd);
			return fd;
		}
		close(fd);
		if (errno != ECONNREFUSED)
			die("connect port %d: %m", port);
		usleep(10000);
	}
	die("connect port %d: server never listened", port);
}

void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void kws_attach_server(int fd, uint8_t tx_opcode)
{
	struct ws_config cfg = { .role = WS_ROLE_SERVER, .tx_opcode = tx_opcode,
				 .max_msg_size = WS_MAX_MSG_UNLIMITED };

	if (setsockopt(fd, SOL_TCP, TCP_ULP, "ws", sizeof("ws")))
		die("TCP_ULP ws: %m (is kws.ko loaded?)");
	if (setsockopt(fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg)))
		die("WS_CONFIG: %m");
}
