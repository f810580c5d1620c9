// SPDX-License-Identifier: MIT
/*
 * server: the benchmark servers behind one event loop, so every variant
 * shares the accept path, the buffers and the echo logic and differs only in
 * how bytes become messages (Documentation/performance.md):
 *
 *   raw-*   plain TCP: the ceiling (echo, sink, sendfile; raw-sendfile
 *           answers the HTTP handshake first, as kws-sendfile does)
 *   kws-*   the kernel ULP through the raw ABI (include/uapi/linux/kws.h):
 *           TCP_ULP "ws" + WS_CONFIG, recvmsg/recvmmsg/sendmsg, sendfile;
 *           kws-sinku receives with an io_uring multishot recvmsg;
 *           kws-batch and kws-batchu are kws-sink and kws-sinku with
 *           WS_RECV_BATCH (many messages per call, one WS_CMSG_BATCH)
 *   lib-*   libkws forced onto its userspace codec (KWS_ATTACH_USERSPACE)
 *   user-write  read(file) + frame header + write(), by hand
 *   mem     kernel memory per attached idle connection (slab deltas)
 *
 *   server -m MODE [-p port] [-b bufsize] [-f file] [-c conns] [-t secs]
 *
 * Single-threaded. Sockets stay blocking; reads use MSG_DONTWAIT (or a
 * non-blocking libkws connection), so a reply is written in one blocking
 * call: with one message in flight per connection that cannot deadlock.
 * The process exits after -t seconds whatever happens.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kws.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_libkws.h"


enum kind { RAW, KWS, LIB, USER };
enum op { ECHO, SINK, SINKM, SINKU, SINKB, SINKBU, SENDFILE, MEM };

static struct {
	int port, conns, timeout;
	size_t bufsize;
	const char *file;
	enum kind kind;
	enum op op;
} opt = { .port = 9000, .conns = 1000, .timeout = 600, .bufsize = 65536 };

static struct bench_shm *shm;
struct conn;
static struct conn *conn_accept(int lfd);
static uint8_t *sbuf;		/* shared receive buffer, opt.bufsize */

struct conn {
	int fd;
	struct kws_conn *lib;	/* LIB */
	uint8_t *msg;		/* partial message so far (echo) */
	size_t len, cap;
};

static const struct {
	const char *name;
	enum kind kind;
	enum op op;
} modes[] = {
	{ "raw-echo", RAW, ECHO }, { "raw-sink", RAW, SINK },
	{ "raw-sendfile", RAW, SENDFILE },
	{ "kws-echo", KWS, ECHO }, { "kws-sink", KWS, SINK },
	{ "kws-sinkm", KWS, SINKM }, { "kws-sinku", KWS, SINKU },
	{ "kws-batch", KWS, SINKB }, { "kws-batchu", KWS, SINKBU },
	{ "kws-sendfile", KWS, SENDFILE },
	{ "lib-echo", LIB, ECHO }, { "lib-sink", LIB, SINK },
	{ "user-write", USER, SENDFILE }, { "mem", KWS, MEM },
};

static void conn_close(struct conn *c)
{
	if (c->lib)
		bench_lib_close(c->lib);
	else
		close(c->fd);
	free(c->msg);
	free(c);
}

/* Append to the connection's partial message. */
static void conn_append(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->len + n > c->cap) {
		size_t cap = c->cap ? c->cap : 65536;

		while (cap < c->len + n)
			cap *= 2;
		c->msg = realloc(c->msg, cap);
		if (!c->msg)
			die("out of memory");
		c->cap = cap;
	}
	memcpy(c->msg + c->len, p, n);
	c->len += n;
}

static void count_msg(size_t n)
{
	shm->msgs++;
	shm->bytes += n;
}

/* ---- raw TCP ------------------------------------------------------------ */

/* Returns 0 to keep the connection, -1 to close it. */
static int raw_readable(struct conn *c)
{
	ssize_t n;

	for (;;) {
		n = recv(c->fd, sbuf, opt.bufsize, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		shm->bytes += n;
		if (opt.op == ECHO)
			return write_all(c->fd, sbuf, n);	/* one read per wakeup */
	}
}

/* ---- kws, raw ABI ------------------------------------------------------- */

union ws_cbuf {
	char buf[CMSG_SPACE(sizeof(uint8_t)) + CMSG_SPACE(sizeof(struct ws_close))];
	struct cmsghdr align;
};

/* Fold one control message into the opcode seen so far. */
static int kws_cmsg_opcode(const struct cmsghdr *cm, int op)
{
	if (cm->cmsg_level != SOL_WS)
		return op;
	if (cm->cmsg_type == WS_CMSG_OPCODE)
		op = *(const uint8_t *)CMSG_DATA(cm);
	if (cm->cmsg_type == WS_CMSG_CLOSE) {
		struct ws_close wc;

		memcpy(&wc, CMSG_DATA(cm), sizeof(wc));
		/* A close the client did not ask for is a finding. */
		if (wc.code != WS_CLOSE_ABNORMAL_CODE)
			fprintf(stderr, "server: kws close code %u flags %#x\n",
				wc.code, wc.flags);
	}
	return op;
}

static int kws_opcode(struct msghdr *m)
{
	struct cmsghdr *cm;
	int op = -1;

	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm))
		op = kws_cmsg_opcode(cm, op);
	return op;
}

/* Count the messages one WS_CMSG_BATCH describes (those that end). */
static int kws_batch_msgs(const struct cmsghdr *cm)
{
	const struct ws_msg_desc *d = (const void *)CMSG_DATA(cm);
	size_t i, nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(*d);
	int msgs = 0;

	for (i = 0; i < nr; i++)
		msgs += d[i].flags & WS_MSG_EOR;
	return msgs;
}

/* A whole reply in one sendmsg: a partial send would split the message. */
static int kws_send_msg(int fd, const uint8_t *p, size_t n)
{
	ssize_t w = send(fd, p, n, 0);

	if (w < 0)
		return -1;
	if ((size_t)w != n)
		die("kws send: %zd of %zu bytes on a blocking socket", w, n);
	return 0;
}

static int kws_readable(struct conn *c)
{
	union ws_cbuf cb;
	struct iovec iov = { sbuf, opt.bufsize };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int op;

	for (;;) {
		m.msg_control = cb.buf;
		m.msg_controllen = sizeof(cb.buf);
		n = recvmsg(c->fd, &m, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return -1;
		op = kws_opcode(&m);
		if (op == WS_OP_CLOSE || (n == 0 && op < 0))
			return -1;
		if (op != WS_OP_BINARY && op != WS_OP_TEXT)
			die("kws recvmsg: unexpected opcode %d", op);
		if (opt.op != ECHO) {
			shm->bytes += n;
			if (m.msg_flags & MSG_EOR)
				shm->msgs++;
			continue;
		}
		if (!(m.msg_flags & MSG_EOR)) {
			conn_append(c, sbuf, n);
			return 0;
		}
		if (c->len) {
			conn_append(c, sbuf, n);
			count_msg(c->len);
			n = kws_send_msg(c->fd, c->msg, c->len);
			c->len = 0;
			return n;
		}
		count_msg(n);
		return kws_send_msg(c->fd, sbuf, n);	/* one message per wakeup */
	}
}

/* Room for a full batch (64 descriptors) and for the close's cmsgs. */
union ws_bcbuf {
	char buf[CMSG_SPACE(64 * sizeof(struct ws_msg_desc)) + sizeof(union ws_cbuf)];
	struct cmsghdr align;
};

/* One-way sink with WS_RECV_BATCH: many whole messages per recvmsg. */
static int kws_readable_batch(struct conn *c)
{
	union ws_bcbuf cb;
	struct iovec iov = { sbuf, opt.bufsize };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	for (;;) {
		int op = -1, msgs = -1;

		m.msg_control = cb.buf;
		m.msg_controllen = sizeof(cb.buf);
		n = recvmsg(c->fd, &m, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return -1;
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			if (cm->cmsg_level == SOL_WS && cm->cmsg_type == WS_CMSG_BATCH)
				msgs = kws_batch_msgs(cm);
			else
				op = kws_cmsg_opcode(cm, op);
		}
		if (msgs < 0)	/* not a batch: the close, EOF */
			return -1;
		shm->bytes += n;
		shm->msgs += msgs;
	}
}

#define MMSG_BATCH 64

/* One-way sink with recvmmsg: up to MMSG_BATCH messages per system call. */
static int kws_readable_mmsg(struct conn *c)
{
	static struct mmsghdr mm[MMSG_BATCH];
	static struct iovec iov[MMSG_BATCH];
	static union ws_cbuf cb[MMSG_BATCH];
	size_t each = opt.bufsize / MMSG_BATCH;
	int i, n;

	for (;;) {
		for (i = 0; i < MMSG_BATCH; i++) {
			iov[i] = (struct iovec){ sbuf + i * each, each };
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = cb[i].buf, .msg_controllen = sizeof(cb[i].buf) };
		}
		n = recvmmsg(c->fd, mm, MMSG_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		for (i = 0; i < n; i++) {
			int op = kws_opcode(&mm[i].msg_hdr);

			if (op == WS_OP_CLOSE || (op < 0 && !mm[i].msg_len))
				return -1;
			shm->bytes += mm[i].msg_len;
			if (mm[i].msg_hdr.msg_flags & MSG_EOR)
				shm->msgs++;
		}
		if (n < MMSG_BATCH)
			return 0;
	}
}

/* ---- kws through io_uring ----------------------------------------------- */

#define URING_BUFS	256		/* provided buffers, a power of 2 */
#define URING_BGID	1

/*
 * One-way sink for one connection at a time: a multishot recvmsg with a
 * ring of provided buffers, so the kernel loops over the queued messages
 * and the process only reaps completions (one per message, each with its
 * cmsgs and MSG_EOR in struct io_uring_recvmsg_out). io_uring ends a
 * multishot on a 0-byte payload (a zero-length message) or when the
 * buffers run out (-ENOBUFS); it is armed again then.
 */
static void kws_sink_uring(int lfd)
{
	bool batch = opt.op == SINKBU;
	const size_t ctl = batch ? sizeof(union ws_bcbuf) : sizeof(union ws_cbuf);
	const size_t bsize = sizeof(struct io_uring_recvmsg_out) + ctl +
			     (batch ? 16384 : 4096);
	struct msghdr tmpl = { .msg_controllen = ctl };
	struct io_uring_buf_reg reg = { .ring_entries = URING_BUFS,
					.bgid = URING_BGID };
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER |
					      IORING_SETUP_DEFER_TASKRUN };
	struct io_uring_buf_ring *br;
	struct io_uring ring;
	uint8_t *bufs;
	int i, err, mask = io_uring_buf_ring_mask(URING_BUFS);

	err = io_uring_queue_init_params(64, &ring, &p);
	if (err == -EINVAL)	/* older than 6.1: no DEFER_TASKRUN */
		err = io_uring_queue_init(64, &ring, 0);
	if (err)
		die("io_uring_queue_init: %s", strerror(-err));
	br = mmap(NULL, URING_BUFS * sizeof(struct io_uring_buf),
		  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = malloc(URING_BUFS * bsize);
	if (br == MAP_FAILED || !bufs)
		die("io_uring buffers: %m");
	reg.ring_addr = (unsigned long)br;
	err = io_uring_register_buf_ring(&ring, &reg, 0);
	if (err)
		die("io_uring_register_buf_ring: %s", strerror(-err));
	io_uring_buf_ring_init(br);
	for (i = 0; i < URING_BUFS; i++)
		io_uring_buf_ring_add(br, bufs + i * bsize, bsize, i, mask, i);
	io_uring_buf_ring_advance(br, URING_BUFS);

	for (;;) {
		struct conn *c = conn_accept(lfd);
		bool armed = false, open = true;
		int on = 1;

		if (batch && setsockopt(c->fd, SOL_WS, WS_RECV_BATCH, &on, sizeof(on)))
			die("WS_RECV_BATCH: %m");

		/* After the close, reap until the multishot ends (EOF). */
		while (open || armed) {
			struct io_uring_cqe *cqe;
			unsigned int head, seen = 0, recycled = 0;

			if (!armed && open) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				io_uring_prep_recvmsg_multishot(sqe, c->fd, &tmpl, 0);
				sqe->flags |= IOSQE_BUFFER_SELECT;
				sqe->buf_group = URING_BGID;
				armed = true;
			}
			err = io_uring_submit_and_wait(&ring, 1);
			if (err < 0 && err != -EINTR)
				die("io_uring_submit_and_wait: %s", strerror(-err));
			io_uring_for_each_cqe(&ring, head, cqe) {
				struct io_uring_recvmsg_out *o;
				struct cmsghdr *cm;
				unsigned int bid;
				uint8_t *b;
				size_t n;
				int op = -1, msgs = -1;

				seen++;
				if (!(cqe->flags & IORING_CQE_F_MORE))
					armed = false;
				if (cqe->res == -ENOBUFS)
					continue;
				if (cqe->res < 0)
					die("multishot recvmsg: %s", strerror(-cqe->res));
				bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				b = bufs + bid * bsize;
				o = io_uring_recvmsg_validate(b, cqe->res, &tmpl);
				if (!o)
					die("multishot recvmsg: short completion");
				for (cm = io_uring_recvmsg_cmsg_firsthdr(o, &tmpl); cm;
				     cm = io_uring_recvmsg_cmsg_nexthdr(o, &tmpl, cm)) {
					if (cm->cmsg_level == SOL_WS &&
					    cm->cmsg_type == WS_CMSG_BATCH)
						msgs = kws_batch_msgs(cm);
					else
						op = kws_cmsg_opcode(cm, op);
				}
				n = io_uring_recvmsg_payload_length(o, cqe->res, &tmpl);
				if (op == WS_OP_CLOSE || (op < 0 && msgs < 0 && !n))
					open = false;
				shm->bytes += n;
				if (msgs >= 0)
					shm->msgs += msgs;
				else if (o->flags & MSG_EOR)
					shm->msgs++;
				io_uring_buf_ring_add(br, b, bsize, bid, mask, recycled++);
			}
			io_uring_buf_ring_advance(br, recycled);
			io_uring_cq_advance(&ring, seen);
		}
		conn_close(c);
	}
}

/* ---- libkws (userspace codec) ------------------------------------------- */

static int lib_readable(struct conn *c)
{
	int eom, op;
	ssize_t n;

	do {
		n = bench_lib_recv(c->lib, sbuf, opt.bufsize, &op, &eom);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0 || op == WS_OP_CLOSE || op == 0)
			return -1;
		if (opt.op != ECHO) {
			shm->bytes += n;
			shm->msgs += eom;
			continue;
		}
		if (!eom) {
			conn_append(c, sbuf, n);
			continue;
		}
		if (c->len) {
			conn_append(c, sbuf, n);
			count_msg(c->len);
			n = bench_lib_send(c->lib, c->msg, c->len);
			c->len = 0;
		} else {
			count_msg(n);
			n = bench_lib_send(c->lib, sbuf, n);
		}
		if (n < 0)
			return -1;
		/* Back to epoll unless libkws already holds more input. */
	} while (bench_lib_pending(c->lib) || opt.op != ECHO);
	return 0;
}

/* ---- server->client bulk ------------------------------------------------ */

/* Wait for the client's "go" (a byte, or a 2-byte message), then send. */
static void bulk_send(struct conn *c)
{
	int fd = c->fd, in = open(opt.file, O_RDONLY);
	uint64_t t0 = proc_runtime_ns(0), sent = 0;
	struct stat st;
	off_t off = 0;
	ssize_t n;

	if (in < 0 || fstat(in, &st))
		die("open %s: %m", opt.file);
	if (opt.kind == USER) {
		/* read + frame + write: a 64 KiB binary message per chunk */
		uint8_t *b = malloc(opt.bufsize + 16);
		size_t h;

		while ((n = read(in, b + 10, opt.bufsize)) > 0) {
			h = ws_hdr(b, 2, n, NULL);
			memmove(b + 10 - h, b, h);
			if (write_all(fd, b + 10 - h, h + n))
				die("user-write: %m");
			sent += n;
		}
		free(b);
	} else {
		while (off < st.st_size) {
			n = sendfile(fd, in, &off, st.st_size - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && sent == 0 && opt.kind == KWS) {
				fprintf(stderr, "server: sendfile on kws: %m\n");
				shm->done = 2;	/* not supported: n/a */
				break;
			}
			if (n <= 0)
				die("sendfile: %m");
			sent += n;
		}
	}
	shm->cpu_ns = proc_runtime_ns(0) - t0;
	shm->phase_bytes = sent;
	if (!shm->done)
		shm->done = 1;
	close(in);
	/*
	 * kws: SHUT_WR sends close 1000 and waits for the peer's close before
	 * TCP's FIN (RFC 6455 7.1.1); this client only reads to EOF, so end
	 * TCP now (SHUT_RDWR still sends the close first).
	 */
	shutdown(fd, opt.kind == KWS ? SHUT_RDWR : SHUT_WR);
}

static int bulk_readable(struct conn *c)
{
	uint8_t go[16];
	ssize_t n = recv(c->fd, go, sizeof(go), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0 || shm->done)
		return -1;
	bulk_send(c);
	return 0;
}

/* ---- kernel memory per attached connection ------------------------------ */

#define SLAB_CACHES	512

/* One /proc/slabinfo snapshot: active objects times object size, by cache. */
struct slab_snap {
	int n;
	char name[SLAB_CACHES][128];
	uint64_t bytes[SLAB_CACHES];
};

static uint64_t slab_snap(struct slab_snap *s)
{
	unsigned long long active, total, size;
	char line[512], name[128];
	uint64_t sum = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		die("/proc/slabinfo: %m");
	s->n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %llu %llu %llu", name, &active, &total, &size) != 4)
			continue;
		sum += active * size;
		if (s->n < SLAB_CACHES) {
			snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
			s->bytes[s->n++] = active * size;
		}
	}
	fclose(f);
	return sum;
}

/* The caches that grew most from @a to @b, as " slab=NAME:+BYTES_PER_CONN". */
static void slab_top(const struct slab_snap *a, const struct slab_snap *b,
		     char *out, size_t cap)
{
	bool used[SLAB_CACHES] = {};
	size_t len = 0;

	out[0] = 0;
	for (int k = 0; k < 6; k++) {
		int64_t best = 0;
		int bi = -1;

		for (int i = 0; i < b->n; i++) {
			int64_t d = (int64_t)b->bytes[i];

			for (int j = 0; j < a->n; j++)
				if (!strcmp(a->name[j], b->name[i]))
					d -= (int64_t)a->bytes[j];
			if (!used[i] && d > best) {
				best = d;
				bi = i;
			}
		}
		if (bi < 0 || len >= cap)
			break;
		used[bi] = true;
		len += snprintf(out + len, cap - len, " slab=%s:+%.0f", b->name[bi],
				(double)best / opt.conns);
	}
}

static uint64_t meminfo_slab(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

static void mem_measure(int lfd)
{
	int *fds = calloc(opt.conns, sizeof(int)), i;
	static struct slab_snap before, after;
	uint64_t s0, s1, s2, m1, m2;
	char top[512];

	if (!fds)
		die("out of memory");
	for (i = 0; i < opt.conns; i++) {
		fds[i] = accept(lfd, NULL, NULL);
		if (fds[i] < 0 || ws_server_handshake(fds[i]))
			die("mem: accept/handshake %d: %m", i);
	}
	usleep(200000);
	s0 = slab_snap(&before);
	usleep(200000);
	s1 = slab_snap(&before);
	m1 = meminfo_slab();
	for (i = 0; i < opt.conns; i++)
		kws_attach_server(fds[i], WS_OP_BINARY);
	usleep(200000);
	s2 = slab_snap(&after);
	m2 = meminfo_slab();
	slab_top(&before, &after, top, sizeof(top));
	printf("result mode=mem conns=%d slab_noise=%" PRId64 " slab_delta=%" PRId64
	       " per_conn=%.1f meminfo_delta=%" PRId64 " meminfo_per_conn=%.1f%s\n",
	       opt.conns, (int64_t)(s1 - s0), (int64_t)(s2 - s1),
	       (double)(int64_t)(s2 - s1) / opt.conns, (int64_t)(m2 - m1),
	       (double)(int64_t)(m2 - m1) / opt.conns, top);
	fflush(stdout);
	shm->done = 1;
	for (i = 0; i < opt.conns; i++)
		close(fds[i]);
}

/* ---- the loop ----------------------------------------------------------- */

static struct conn *conn_accept(int lfd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0 || !c)
		die("accept: %m");
	set_nodelay(fd);
	c->fd = fd;
	/* raw-sendfile too: its client is loadgen's recv, which always asks */
	if ((opt.kind != RAW || opt.op == SENDFILE) && ws_server_handshake(fd))
		die("handshake: %m");
	if (opt.kind == KWS)
		kws_attach_server(fd, WS_OP_BINARY);
	if (opt.op == SINKB) {
		int on = 1;

		if (setsockopt(fd, SOL_WS, WS_RECV_BATCH, &on, sizeof(on)))
			die("WS_RECV_BATCH: %m");
	}
	if (opt.kind == LIB) {
		set_nonblock(fd, 1);
		c->lib = bench_lib_attach(fd);
	}
	shm->conns++;
	return c;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "server: time limit reached\n";

	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static void usage(void)
{
	fputs("usage: server -m MODE [-p port] [-b bufsize] [-f file] [-c conns]"
	      " [-t secs]\nmodes:", stderr);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(stderr, " %s", modes[i].name);
	fputc('\n', stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	struct epoll_event evs[256], ev;
	const char *mode = NULL;
	int lfd, ep, c, i, n;

	while ((c = getopt(argc, argv, "m:p:b:f:c:t:")) != -1) {
		switch (c) {
		case 'm': mode = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'b': opt.bufsize = strtoull(optarg, NULL, 0); break;
		case 'f': opt.file = optarg; break;
		case 'c': opt.conns = atoi(optarg); break;
		case 't': opt.timeout = atoi(optarg); break;
		default: usage();
		}
	}
	for (i = 0; mode && i < (int)(sizeof(modes) / sizeof(modes[0])); i++)
		if (!strcmp(mode, modes[i].name))
			break;
	if (!mode || i == (int)(sizeof(modes) / sizeof(modes[0])) || optind != argc)
		usage();
	opt.kind = modes[i].kind;
	opt.op = modes[i].op;
	if (opt.op == SENDFILE && !opt.file)
		die("%s needs -f FILE", mode);
	if (opt.kind == LIB && !bench_lib_available())
		die("%s: built without lib/libkws.a", mode);
	signal(SIGALRM, on_alarm);
	alarm(opt.timeout);
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	sbuf = malloc(opt.bufsize);
	shm = bench_shm_open(opt.port, 1);
	if (!sbuf || !shm)
		die("setup: %m");
	shm->pid = getpid();
	lfd = tcp_listen(opt.port);
	if (opt.op == MEM) {
		mem_measure(lfd);
		return 0;
	}
	if (opt.op == SINKU || opt.op == SINKBU)
		kws_sink_uring(lfd);
	ep = epoll_create1(0);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("epoll: %m");
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait: %m");
		for (i = 0; i < n; i++) {
			struct conn *cn = evs[i].data.ptr;
			int r;

			if (!cn) {
				cn = conn_accept(lfd);
				ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = cn };
				if (epoll_ctl(ep, EPOLL_CTL_ADD, cn->fd, &ev))
					die("epoll_ctl: %m");
				/* libkws may already hold bytes read with the head */
				if (!cn->lib || !bench_lib_pending(cn->lib))
					continue;
			}
			if (opt.op == SENDFILE)
				r = bulk_readable(cn);
			else if (opt.kind == RAW)
				r = raw_readable(cn);
			else if (opt.kind == LIB)
				r = lib_readable(cn);
			else if (opt.op == SINKM)
				r = kws_readable_mmsg(cn);
			else if (opt.op == SINKB)
				r = kws_readable_batch(cn);
			else
				r = kws_readable(cn);
			if (r) {
				epoll_ctl(ep, EPOLL_CTL_DEL, cn->fd, NULL);
				conn_close(cn);
			}
		}
	}
}
