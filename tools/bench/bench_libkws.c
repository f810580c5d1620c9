// SPDX-License-Identifier: MIT
/* bench_libkws.h over libkws, forced onto its userspace codec. */
#include "bench_libkws.h"
#include "common.h"

#include <kws.h>

int bench_lib_available(void)
{
	return 1;
}

struct kws_conn *bench_lib_attach(int fd)
{
	struct kws_attach_opts o = { .flags = KWS_ATTACH_USERSPACE,
				     .max_msg_size = WS_MAX_MSG_UNLIMITED };
	struct kws_conn *c;

	if (kws_attach(fd, WS_ROLE_SERVER, &o, NULL, 0, &c))
		die("kws_attach: %m");
	return c;
}

ssize_t bench_lib_recv(struct kws_conn *c, void *buf, size_t len, int *opcode,
		       int *eom)
{
	struct kws_msg_info mi = { 0 };
	ssize_t n = kws_recv(c, buf, len, &mi);

	*opcode = mi.opcode;
	*eom = mi.eom;
	return n;
}

int bench_lib_send(struct kws_conn *c, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		/* the userspace path waits for the socket itself */
		n = kws_send(c, WS_OP_BINARY, p, len, 0);
		if (n < 0)
			return -1;
		if ((size_t)n != len)
			die("kws_send: %zd of %zu bytes", n, len);
		len = 0;
	}
	return 0;
}

int bench_lib_pending(struct kws_conn *c)
{
	return kws_pending(c);
}

void bench_lib_close(struct kws_conn *c)
{
	kws_close(c);
}
