/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kws stress tests: shared helpers (loopback pairs, raw frame I/O for the
 * plain peer, the ULP's recvmsg, memory figures, TAP output).
 */
#ifndef KWS_STRESS_H
#define KWS_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/kws.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* What the command line chose; read-only once the tests start. */
struct stress_opts {
	bool full;		/* --full: the long mode */
	int conns;		/* (a) concurrent connections */
	int iterations;		/* (b) attach/close rounds, (h) streams per role */
	int seconds;		/* time-bounded tests: how long each runs */
	uint64_t seed;		/* (h) and the random delays */
	bool verbose;
};

extern struct stress_opts opt;

/* ---- TAP: numbers are shared between the forked test processes ---- */
void tap_init(void);
void tap(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- time and randomness ---- */
int64_t now_ms(void);
uint64_t rnd(void);		/* xorshift64*, seeded from opt.seed */
void rnd_seed(uint64_t seed);
void sleep_ms(int ms);

/* ---- sockets ---- */
int listener_open(int backlog, struct sockaddr_storage *addr, socklen_t *len);
/* A connected loopback pair through listener lfd: *cfd connects, *afd accepted. */
int pair_via(int lfd, const struct sockaddr_storage *addr, socklen_t len,
	     int *cfd, int *afd);
int tcp_pair(int *cfd, int *afd);
void set_timeouts(int fd, int ms);
void set_nonblock(int fd, bool on);
/* Attach "ws" and configure it: 0 or -1 with errno. */
int ws_setup(int fd, int role, uint32_t flags, uint64_t max_msg);

/* One recvmsg() on the ULP with the control messages decoded. */
struct ws_rmsg {
	ssize_t n;		/* return value */
	int err;		/* errno when n < 0 */
	int op;			/* WS_CMSG_OPCODE, -1 if absent */
	bool eor;
	bool has_close;
	uint16_t close_code;
	uint16_t close_flags;
};
void ws_recv(int fd, void *buf, size_t len, int flags, struct ws_rmsg *m);
/* sendmsg() one message with opcode op (0: WS_TX_OPCODE). */
ssize_t ws_send(int fd, const void *buf, size_t len, int op, int flags);

/* ---- raw frames, as the plain peer writes and reads them ---- */
/* Header for a frame; masked frames get mask key *key. Returns its length. */
size_t frame_hdr(uint8_t *out, bool fin, int rsv, int op, bool masked,
		 uint64_t len, const uint8_t key[4]);
/* Whole frame with a random key when masked. Returns its length. */
size_t frame_build(uint8_t *out, bool fin, int op, bool masked,
		   const void *payload, size_t len);
/* Write all of buf; 0 or -1 with errno (EAGAIN when the deadline passed). */
int write_all(int fd, const void *buf, size_t len, int timeout_ms);

struct peer_frame {
	bool fin;
	int rsv;
	int op;
	bool masked;
	uint64_t len;
	uint16_t close_code;	/* for close frames: 1005 when empty */
};
/*
 * Read one frame the kernel sent: 1 got one (payload, unmasked, truncated to
 * cap), 0 EOF, -1 error (errno; ETIMEDOUT when nothing came in time).
 */
int peer_read_frame(int fd, struct peer_frame *f, uint8_t *payload,
		    size_t cap, int timeout_ms);
/*
 * Read frames until a close frame or EOF: returns the close code, 0 at EOF
 * without a close, -1 on error or timeout. Counts data/pong frames seen.
 */
int peer_wait_close(int fd, int timeout_ms, unsigned long *frames);

/* ---- the kernel log ---- */
/* /dev/kmsg positioned at its end, to read what a test makes it log; -1. */
int kmsg_open(void);
/*
 * Read what was logged since kmsg_open(); print kernel reports (WARN, BUG,
 * KASAN, UBSAN, lockdep, hung task, kmemleak...) as diagnostics with a few
 * lines of context. Returns how many reports; closes fd.
 */
int kmsg_reports(int fd);

/* ---- memory ---- */
long slab_kb(void);		/* /proc/meminfo Slab */
long kws_stat(const char *name);	/* /proc/net/kws_stat counter, -1 if absent */
bool debug_kernel(void);	/* KASAN quarantine makes freed memory linger */
/*
 * After a test closed everything: wait for the kernel to release the
 * sockets (KwsConnActive back to active0, RCU and deferred frees), then
 * report whether Slab is back within the tolerance of before_kb.
 */
/* TCP sockets in TIME_WAIT (IPv4 and IPv6), and their count at a test's start. */
long time_wait_sockets(void);
extern long tw_before;
bool mem_back_to_baseline(const char *name, long before_kb, long active0,
			  long peak_kb, int conns);
/* Slab growth allowed while a bounded-memory test runs. */
long mem_bound_kb(void);

#endif
