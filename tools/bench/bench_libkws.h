/* SPDX-License-Identifier: MIT */
/*
 * The server's view of libkws, so server.c builds whether or not
 * lib/libkws.a exists yet: bench_libkws.c wraps the library, and
 * bench_nolib.c stands in (bench_lib_available() returns 0) without it.
 */
#ifndef KWS_BENCH_LIBKWS_H
#define KWS_BENCH_LIBKWS_H

#include <stddef.h>
#include <sys/types.h>

struct kws_conn;

int bench_lib_available(void);
/* Attach an upgraded non-blocking socket, userspace codec, server role. */
struct kws_conn *bench_lib_attach(int fd);
/* kws_recv(); *opcode 0 at EOF. */
ssize_t bench_lib_recv(struct kws_conn *c, void *buf, size_t len, int *opcode,
		       int *eom);
/* One binary message, all of it. Returns 0 or -1. */
int bench_lib_send(struct kws_conn *c, const void *buf, size_t len);
int bench_lib_pending(struct kws_conn *c);
void bench_lib_close(struct kws_conn *c);

#endif
