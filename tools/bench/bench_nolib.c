// SPDX-License-Identifier: MIT
/* Stand-in for bench_libkws.c while lib/libkws.a does not exist. */
#include "bench_libkws.h"

#include <errno.h>

int bench_lib_available(void)
{
	return 0;
}

struct kws_conn *bench_lib_attach(int fd)
{
	(void)fd;
	return NULL;
}

ssize_t bench_lib_recv(struct kws_conn *c, void *buf, size_t len, int *opcode,
		       int *eom)
{
	(void)c; (void)buf; (void)len; (void)opcode; (void)eom;
	errno = ENOSYS;
	return -1;
}

int bench_lib_send(struct kws_conn *c, const void *buf, size_t len)
{
	(void)c; (void)buf; (void)len;
	errno = ENOSYS;
	return -1;
}

int bench_lib_pending(struct kws_conn *c)
{
	(void)c;
	return 0;
}

void bench_lib_close(struct kws_conn *c)
{
	(void)c;
}
