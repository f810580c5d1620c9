// SPDX-License-Identifier: MIT
/*
 * steps: where a kws message's instructions go, one path at a time, in one
 * process (run it under tools/vm/run --icount, where the guest clock counts
 * instructions). Documentation/performance.md, "Where the cost is".
 *
 *   steps [-s size,...] [-k msgs_per_round] [-r rounds]
 *
 * A loopback pair; "ws" attached in the server role on one end, the other
 * end a plain socket that plays the client (masked frames, fresh key each).
 * The same bytes go through a plain TCP pair as the baseline. Each step is
 * timed alone with CLOCK_MONOTONIC around it (the guest is otherwise idle,
 * and loopback runs the receive softirq in the sender's context, so the
 * time covers TCP, the softirq and kws's parser), summed over the rounds:
 *
 *   in        the peer writes K frames at once (TCP + softirq + kws parse)
 *   recvmsg   K recvmsg calls deliver them (raw: 64 KiB recv calls)
 *   recvmmsg  the same K through recvmmsg, 64 per call
 *   batch     the same K through recvmsg with WS_RECV_BATCH, 64 KiB and
 *             up to 64 messages per call (raw: 64 KiB recv calls)
 *   floor     (raw only) plain TCP through recvmmsg with each entry's
 *             buffer one frame long: what one message per entry costs any
 *             design before it parses anything
 *   send      the ULP sends K messages, one send() each (framing + TCP)
 *   drain     the peer reads what the ULP sent
 *
 * Prints "step=NAME size=S kws=INSNS raw=INSNS diff=INSNS" per message.
 * Buffers are sized so that no step ever blocks (one thread); a write that
 * would block is an error.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <linux/kws.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


#define BUF_BYTES	(8 << 20)	/* socket buffers: nothing blocks */
#define MMSG_BATCH	64

enum step { IN, RECVMSG, RECVMMSG, BATCH, FLOOR, SEND, DRAIN, NSTEPS };
static const char *const step_name[NSTEPS] = {
	"in", "recvmsg", "recvmmsg", "batch", "floor", "send", "drain",
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* Accepted end in *@srv, connecting end in *@cli; big buffers both ways. */
static void pair(int *srv, int *cli)
{
	int lfd = tcp_listen(0), big = BUF_BYTES;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(lfd, (struct sockaddr *)&sin, &len))
		die("getsockname: %m");
	*cli = tcp_connect(ntohs(sin.sin_port));
	*srv = accept(lfd, NULL, NULL);
	if (*cli < 0 || *srv < 0)
		die("loopback pair: %m");
	close(lfd);
	for (int i = 0; i < 2; i++) {
		int fd = i ? *cli : *srv;

		/* FORCE: past rmem_max/wmem_max (root in the VM). */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
			die("SO_*BUFFORCE: %m");
		set_nodelay(fd);
		set_nonblock(fd, 1);
	}
}

/* Non-blocking write of all of it: a short write means buffers too small. */
static void put(int fd, const void *p, size_t n)
{
	ssize_t w = write(fd, p, n);

	if (w != (ssize_t)n)
		die("write %zu bytes: %zd (%m): buffers too small for -k", n, w);
}

/* Read exactly @n bytes that are already queued. */
static void drain(int fd, uint8_t *buf, size_t cap, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, buf, n < cap ? n : cap, MSG_DONTWAIT);

		if (r <= 0)
			die("drain: %zd (%m) with %zu bytes to go", r, n);
		n -= r;
	}
}

struct run {
	uint64_t t[NSTEPS];
};

/* K frames of @size from the client: masked, a fresh key each. */
static size_t make_frames(uint8_t *out, size_t size, unsigned int k,
			  const uint8_t *payload)
{
	size_t n = 0;

	for (unsigned int i = 0; i < k; i++) {
		uint64_t r = xorshift64(&rng);
		uint8_t key[4];

		memcpy(key, &r, 4);
		n += ws_hdr(out + n, WS_OP_BINARY, size, key);
		ws_mask(out + n, payload, size, key);
		n += size;
	}
	return n;
}

/* K messages through WS_RECV_BATCH: count the descriptors that end one. */
static unsigned int recv_batch(int srv, uint8_t *buf, size_t size)
{
	union {
		char b[CMSG_SPACE(64 * sizeof(struct ws_msg_desc))];
		struct cmsghdr align;
	} cb;
	struct iovec v = { buf, 65536 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1,
			    .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	const struct ws_msg_desc *d;
	struct cmsghdr *cm;
	unsigned int i, nr;
	ssize_t n = recvmsg(srv, &m, MSG_DONTWAIT);

	cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (!cm || cm->cmsg_level != SOL_WS || cm->cmsg_type != WS_CMSG_BATCH)
		die("batch recvmsg: %zd (%m), no WS_CMSG_BATCH", n);
	d = (const void *)CMSG_DATA(cm);
	nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(*d);
	for (i = 0; i < nr; i++)
		if (d[i].len != size || !(d[i].flags & WS_MSG_EOR))
			die("batch entry %u: %u bytes, flags %#x", i, d[i].len,
			    d[i].flags);
	return nr;
}

static void set_batch(int fd, int on)
{
	if (setsockopt(fd, SOL_WS, WS_RECV_BATCH, &on, sizeof(on)))
		die("WS_RECV_BATCH: %m");
}

static void round_kws(struct run *r, int srv, int cli, size_t size,
		      unsigned int k, const uint8_t *frames, size_t flen,
		      uint8_t *buf, enum step how)
{
	bool mmsg = how == RECVMMSG;
	static struct mmsghdr mm[MMSG_BATCH];
	static struct iovec iov[MMSG_BATCH];
	static char cb[MMSG_BATCH][CMSG_SPACE(1) + CMSG_SPACE(4)];
	char c1[CMSG_SPACE(1) + CMSG_SPACE(4)];
	uint64_t t0;
	unsigned int got = 0;

	t0 = now_ns();
	put(cli, frames, flen);
	r->t[IN] += now_ns() - t0;

	t0 = now_ns();
	while (got < k) {
		if (how == BATCH) {
			got += recv_batch(srv, buf, size);
			continue;
		}
		if (!mmsg) {
			struct iovec v = { buf, 65536 };
			struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1,
					    .msg_control = c1,
					    .msg_controllen = sizeof(c1) };
			ssize_t n = recvmsg(srv, &m, MSG_DONTWAIT);

			if (n != (ssize_t)size || !(m.msg_flags & MSG_EOR))
				die("recvmsg: %zd (%m), flags %#x", n, m.msg_flags);
			got++;
			continue;
		}
		unsigned int want = k - got < MMSG_BATCH ? k - got : MMSG_BATCH;

		for (unsigned int i = 0; i < want; i++) {
			iov[i] = (struct iovec){ buf + i * 1024, 1024 };
			mm[i].msg_hdr = (struct msghdr){
				.msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = cb[i], .msg_controllen = sizeof(cb[i]) };
		}
		int n = recvmmsg(srv, mm, want, MSG_DONTWAIT, NULL);

		if (n <= 0)
			die("recvmmsg: %d (%m) after %u of %u", n, got, k);
		got += n;
	}
	r->t[how] += now_ns() - t0;
}

/* Plain TCP: the same bytes, read 64 KiB at a time or one frame per entry. */
static void round_raw(struct run *r, int srv, int cli, size_t flen,
		      const uint8_t *frames, uint8_t *buf, size_t frame,
		      bool per_entry)
{
	static struct mmsghdr mm[MMSG_BATCH];
	static struct iovec iov[MMSG_BATCH];
	uint64_t t0 = now_ns(), t1;
	size_t left = flen;

	put(cli, frames, flen);
	t1 = now_ns();
	r->t[IN] += t1 - t0;
	if (!per_entry) {
		drain(srv, buf, 65536, flen);
		t0 = now_ns();
		r->t[RECVMSG] += t0 - t1;
		r->t[RECVMMSG] += t0 - t1;
		return;
	}
	while (left) {
		unsigned int want = MMSG_BATCH;
		int n;

		if (left / frame < want)
			want = left / frame;
		for (unsigned int i = 0; i < want; i++) {
			iov[i] = (struct iovec){ buf + i * 1024, frame };
			mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i],
							 .msg_iovlen = 1 };
		}
		n = recvmmsg(srv, mm, want, MSG_DONTWAIT, NULL);
		if (n <= 0)
			die("floor recvmmsg: %d (%m), %zu bytes to go", n, left);
		for (int i = 0; i < n; i++)
			left -= mm[i].msg_len;
	}
	r->t[FLOOR] += now_ns() - t1;
}

/* Server-to-client: K messages, one send() each, then the peer reads. */
static void round_send(struct run *r, int srv, int cli, size_t size,
		       unsigned int k, const uint8_t *payload, uint8_t *buf,
		       bool ws)
{
	size_t total = 0;
	uint64_t t0 = now_ns(), t1;

	for (unsigned int i = 0; i < k; i++) {
		if (send(srv, payload, size, MSG_DONTWAIT) != (ssize_t)size)
			die("send %zu: %m", size);
		total += size + (ws ? (size < 126 ? 2 : size < 65536 ? 4 : 10) : 0);
	}
	t1 = now_ns();
	r->t[SEND] += t1 - t0;
	drain(cli, buf, 65536, total);
	r->t[DRAIN] += now_ns() - t1;
}

int main(int argc, char **argv)
{
	const char *sizes = "64,512";
	unsigned int k = 256, rounds = 20;
	int c;

	while ((c = getopt(argc, argv, "s:k:r:")) != -1) {
		switch (c) {
		case 's': sizes = optarg; break;
		case 'k': k = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fputs("usage: steps [-s size,...] [-k msgs] [-r rounds]\n", stderr);
			return 2;
		}
	}
	for (const char *s = sizes; s && *s; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL) {
		size_t size = strtoul(s, NULL, 0);
		uint8_t *payload = malloc(size + 1), *buf = malloc(MMSG_BATCH * 1024 + 65536);
		uint8_t *frames = malloc(k * (size + 14));
		struct run kws = {}, raw = {};
		int ks, kc, rs, rc;

		if (!payload || !buf || !frames || size > 1024)
			die("setup (sizes up to 1024): %m");
		memset(payload, 'x', size);
		pair(&ks, &kc);
		kws_attach_server(ks, 0);
		pair(&rs, &rc);
		/* One warm-up round each, not counted. */
		for (unsigned int i = 0; i <= rounds; i++) {
			struct run *kr = i ? &kws : &(struct run){};
			struct run *rr = i ? &raw : &(struct run){};
			size_t flen = make_frames(frames, size, k, payload);

			round_kws(kr, ks, kc, size, k, frames, flen, buf, RECVMSG);
			flen = make_frames(frames, size, k, payload);
			round_kws(kr, ks, kc, size, k, frames, flen, buf, RECVMMSG);
			flen = make_frames(frames, size, k, payload);
			set_batch(ks, 1);
			round_kws(kr, ks, kc, size, k, frames, flen, buf, BATCH);
			set_batch(ks, 0);
			/* The same bytes, frames included, as plain TCP. */
			round_raw(rr, rs, rc, flen, frames, buf, flen / k, false);
			round_raw(rr, rs, rc, flen, frames, buf, flen / k, true);
			round_send(kr, ks, kc, size, k, payload, buf, true);
			round_send(rr, rs, rc, size, k, payload, buf, false);
		}
		for (int st = 0; st < NSTEPS; st++) {
			/* "in" ran once per receive step: 3 (kws), 2 (raw) */
			double n = (double)rounds * k;
			double kn = n * (st == IN ? 3 : 1), rn = n * (st == IN ? 2 : 1);
			/* batch against plain TCP's 64 KiB recv calls */
			double base = raw.t[st == BATCH ? RECVMSG : st] / rn;

			if (st == FLOOR) {
				printf("step=%s size=%zu kws=- raw=%.0f diff=-\n",
				       step_name[st], size, base);
				continue;
			}
			printf("step=%s size=%zu kws=%.0f raw=%.0f diff=%.0f\n",
			       step_name[st], size, kws.t[st] / kn, base,
			       kws.t[st] / kn - base);
		}
		fflush(stdout);
		close(ks);
		close(kc);
		close(rs);
		close(rc);
		free(payload);
		free(buf);
		free(frames);
	}
	return 0;
}
