/* SPDX-License-Identifier: MIT */
/*
 * Shared by the kws benchmark programs (loadgen, server, lws_echo): the
 * WebSocket handshake without a library (so the raw-ABI server does not
 * depend on libkws), frame headers, masking, and the shared-memory counters
 * through which a server tells the load generator how much it has received
 * (a server's own count is the only exact one for one-way tests: bytes can
 * sit in socket buffers).
 */
#ifndef KWS_BENCH_COMMON_H
#define KWS_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_HS_MAX		4096	/* handshake head limit, both ways */
#define BENCH_IO_TIMEOUT_MS	10000	/* blocking handshake steps */

/* What a server publishes in /dev/shm/kws-bench.<port>; written only by the
 * server's single thread, read racily (torn reads are impossible for aligned
 * u64 on x86-64) by the load generator.
 */
struct bench_shm {
	uint64_t pid;		/* server process */
	uint64_t msgs;		/* data messages received complete */
	uint64_t bytes;		/* payload bytes received */
	uint64_t conns;		/* connections accepted and upgraded */
	uint64_t pongs;		/* pongs sent by the server process */
	uint64_t done;		/* server-side phase finished (sendfile) */
	uint64_t cpu_ns;	/* server schedstat runtime across that phase */
	uint64_t phase_bytes;	/* bytes sent in that phase */
};

struct bench_shm *bench_shm_open(int port, int create);

__attribute__((format(printf, 1, 2), noreturn))
void die(const char *fmt, ...);

uint64_t now_ns(void);
/* Task runtime in ns (sched_clock; instructions under icount) of @pid, or
 * of the calling process when @pid is 0 (all its threads).
 */
uint64_t proc_runtime_ns(pid_t pid);
/* Whole-machine busy and total time in ns from /proc/stat (all CPUs). */
void machine_cpu_ns(uint64_t *busy, uint64_t *total);
uint64_t machine_idle_ns(void);

struct task_runtime {
	int pid, tid;
	uint64_t ns;
	char comm[20];
};
int all_tasks_runtime(struct task_runtime *out, int max);

uint64_t xorshift64(uint64_t *state);

/* Frame header for a FIN frame of @opcode; mask NULL for unmasked. */
size_t ws_hdr(uint8_t *out, int opcode, uint64_t len, const uint8_t *mask);
/* dst = src ^ mask, mask phase 0 */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4]);

/* Blocking: send the upgrade request, read the 101 response; leftover
 * bytes past the head go into @left (up to @leftcap) and *@leftlen.
 * Returns 0, -1 on any failure (errno set, message printed).
 */
int ws_client_handshake(int fd, const char *host, uint8_t *left, size_t leftcap,
			size_t *leftlen);
/* Blocking: read the request (never past its head, so early frames stay in
 * the socket), answer 101. Returns 0 or -1.
 */
int ws_server_handshake(int fd);

int tcp_listen(int port);
int tcp_connect(int port);
/* TCP_ULP "ws", server role, no message size limit; tx_opcode 0: the default */
void kws_attach_server(int fd, uint8_t tx_opcode);
void set_nonblock(int fd, int on);
void set_nodelay(int fd);
/* write() all of it, blocking; 0 or -1 */
int write_all(int fd, const void *buf, size_t len);

#endif
