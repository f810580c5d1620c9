// SPDX-License-Identifier: MIT
/*
 * pingsteps: where a ping's instructions go (issue #11 scenario 6), one
 * system call at a time, in one process (run it under tools/vm/run
 * --icount, where the guest clock counts instructions). Loopback runs the
 * receive softirq in the sender's context, so a write() covers TCP's send,
 * the receive on the other end and, with kws attached there, its parse and
 * the pong it sends back (Documentation/performance.md, scenario 6).
 *
 *   pingsteps [-c conns] [-r rounds]
 *
 * C loopback pairs with kws attached in the server role and C plain pairs;
 * each round pings every pair once (a masked 8-byte ping, a fresh key).
 * Per ping, in instructions:
 *
 *   kws.ping      client write(ping): ping transport, kws parse and pong,
 *                 pong transport to the client's socket
 *   kws.read      client read(pong)
 *   user.ping     client write(ping) to a plain socket: ping transport
 *   user.read     server read(ping) and its unmask (what a userspace
 *                 server does first; libkws does the same work)
 *   user.pong     server write(pong): pong transport
 *   user.cread    client read(pong)
 *   clock         one now_ns() pair, already subtracted from the above
 *
 * Pairs use default buffers and TCP_NODELAY, as the benchmark's do. A
 * round's pings go out in one sweep like loadgen's, so delayed ACKs fire
 * as they do there and are counted where they land.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kws.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>


enum step { KPING, KREAD, UPING, UREAD, UPONG, UCREAD, NSTEPS };
static const char *const step_name[NSTEPS] = {
	"kws.ping", "kws.read", "user.ping", "user.read", "user.pong",
	"user.cread",
};

static uint64_t rng = 0x9e3779b97f4a7c15ull, clock_cost;

static void pair(int lfd, int port, int *srv, int *cli)
{
	*cli = tcp_connect(port);
	*srv = accept(lfd, NULL, NULL);
	if (*cli < 0 || *srv < 0)
		die("loopback pair: %m");
	set_nodelay(*srv);
	set_nonblock(*srv, 1);
	set_nonblock(*cli, 1);
}

/* One call timed: returns instructions (ns under icount) less the clock. */
#define TIMED(acc, call) do {				\
		uint64_t t0_ = now_ns();		\
		call;					\
		(acc) += now_ns() - t0_ - clock_cost;	\
	} while (0)

static void ping_frame(uint8_t *frame, uint64_t seq)
{
	uint64_t r = xorshift64(&rng);
	uint8_t key[4];
	size_t h;

	memcpy(key, &r, 4);
	h = ws_hdr(frame, 0x9, 8, key);
	ws_mask(frame + h, (const uint8_t *)&seq, 8, key);
}

static void check_pong(const uint8_t *p, ssize_t n, uint64_t seq)
{
	if (n != 10 || p[0] != 0x8a || p[1] != 8 || memcmp(p + 2, &seq, 8))
		die("bad pong: %zd bytes %02x %02x", n, p[0], p[1]);
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	unsigned int conns = 100, rounds = 20;
	uint64_t t[NSTEPS] = { 0 }, n = 0;
	int c, lfd, port, *ks, *kc, *us, *uc;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	while ((c = getopt(argc, argv, "c:r:")) != -1) {
		switch (c) {
		case 'c': conns = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fputs("usage: pingsteps [-c conns] [-r rounds]\n", stderr);
			return 2;
		}
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	ks = calloc(conns, sizeof(int));
	kc = calloc(conns, sizeof(int));
	us = calloc(conns, sizeof(int));
	uc = calloc(conns, sizeof(int));
	lfd = tcp_listen(0);
	if (!ks || !kc || !us || !uc || lfd < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len))
		die("setup: %m");
	port = ntohs(sin.sin_port);
	for (unsigned int i = 0; i < conns; i++) {
		pair(lfd, port, &ks[i], &kc[i]);
		kws_attach_server(ks[i], 0);
		pair(lfd, port, &us[i], &uc[i]);
	}
	for (int i = 0; i < 1000; i++) {
		uint64_t t0 = now_ns();

		clock_cost += now_ns() - t0;
	}
	clock_cost /= 1000;
	/* Round 0 warms up and is not counted. */
	for (unsigned int r = 0; r <= rounds; r++) {
		uint64_t seq = r + 1, s[NSTEPS] = { 0 };
		uint8_t frame[14], buf[64];
		ssize_t got;

		for (unsigned int i = 0; i < conns; i++) {
			ping_frame(frame, seq);
			TIMED(s[KPING], got = write(kc[i], frame, 14));
			if (got != 14)
				die("kws ping write: %zd (%m)", got);
			TIMED(s[KREAD], got = read(kc[i], buf, sizeof(buf)));
			check_pong(buf, got, seq);

			ping_frame(frame, seq);
			TIMED(s[UPING], got = write(uc[i], frame, 14));
			if (got != 14)
				die("ping write: %zd (%m)", got);
			TIMED(s[UREAD], {
				got = read(us[i], buf, sizeof(buf));
				if (got == 14)
					ws_mask(buf + 6, buf + 6, 8, buf + 2);
			});
			if (got != 14 || buf[0] != 0x89)
				die("server read: %zd (%m)", got);
			buf[4] = 0x8a;
			buf[5] = 8;
			TIMED(s[UPONG], got = write(us[i], buf + 4, 10));
			if (got != 10)
				die("pong write: %zd (%m)", got);
			TIMED(s[UCREAD], got = read(uc[i], buf, sizeof(buf)));
			check_pong(buf, got, seq);
		}
		if (!r)
			continue;
		for (int st = 0; st < NSTEPS; st++)
			t[st] += s[st];
		n += conns;
	}
	for (int st = 0; st < NSTEPS; st++)
		printf("step=%s per_ping=%.0f\n", step_name[st],
		       (double)t[st] / n);
	printf("step=clock per_ping=%" PRIu64 "\n", clock_cost);
	return 0;
}
