/* SPDX-License-Identifier: MIT */
/* Helpers shared by the libkws connection tests. */
#ifndef KWS_TEST_UTIL_H
#define KWS_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kws.h"
#include "kws_codec.h"

#define MIB (1024 * 1024)

static inline void fill(uint8_t *buf, size_t n, int opcode, unsigned int seed)
{
	size_t i = 0;

	if (opcode == WS_OP_BINARY) {
		for (; i < n; i++)
			buf[i] = (uint8_t)(i * 131 + seed);
		return;
	}
	/* valid UTF-8: ASCII with a whole "€" every 50 bytes where it fits */
	while (i < n) {
		if (i % 50 == 0 && n - i >= 3) {
			memcpy(buf + i, "\xe2\x82\xac", 3);
			i += 3;
		} else {
			buf[i] = 'a' + (i + seed) % 26;
			i++;
		}
	}
}

static inline int tcp_listener(int family, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (bind(fd, (void *)&ss, len) || listen(fd, 8) ||
	    getsockname(fd, (void *)&ss, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static inline int tcp_connect(uint16_t port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (connect(fd, (void *)&sin, sizeof(sin))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Receive one whole message into @buf (up to @size) in reads of at most
 * @chunk bytes. Returns its length with *@opcode, or -1; a close or EOF
 * returns -2 with *@opcode set.
 */
/* What the last kws_recv() of recv_msg() in this thread said (diagnostics). */
static __thread struct kws_msg_info recv_last;

static inline ssize_t recv_msg(struct kws_conn *c, uint8_t *buf, size_t size,
			       size_t chunk, int *opcode)
{
	struct kws_msg_info mi;
	size_t off = 0;

	*opcode = 0;
	for (;;) {
		size_t want = size - off < chunk ? size - off : chunk;
		ssize_t n = kws_recv(c, buf + off, want, &mi);

		recv_last = mi;
		if (n < 0)
			return -1;
		if (mi.opcode == 0 || mi.opcode == WS_OP_CLOSE) {
			*opcode = mi.opcode;
			return -2;
		}
		if (*opcode && *opcode != mi.opcode)
			return -1;
		*opcode = mi.opcode;
		off += n;
		if (mi.eom)
			return off;
		if (off == size)
			return -1;
	}
}

struct echo {
	struct kws_conn *conn;
	size_t chunk;		/* recv size */
	int messages;		/* echoed */
	int close_code;		/* close seen (flags << 16 | code), or -1 */
	int err;		/* errno that stopped it, or 0 */
};

/* Echo every message until a close or EOF. Runs in its own thread. */
static inline void *echo_main(void *arg)
{
	struct echo *e = arg;
	uint8_t *buf = malloc(2 * MIB);
	int opcode;

	e->close_code = -1;
	for (;;) {
		ssize_t n = recv_msg(e->conn, buf, 2 * MIB, e->chunk, &opcode);

		if (n < 0) {
			if (n == -2 && opcode == WS_OP_CLOSE)
				e->close_code = recv_last.close_code |
						recv_last.close_flags << 16;
			else
				e->err = errno;
			break;
		}
		if (kws_send(e->conn, opcode, buf, n, 0) != n) {
			e->err = errno;
			break;
		}
		e->messages++;
	}
	free(buf);
	return NULL;
}
static inline void frame_put(uint8_t *buf, size_t *n, uint8_t b0, const void *payload,
		      size_t len, const uint8_t *mask)
{
	uint8_t *o = buf + *n;
	unsigned int h = kws_frame_build(o, b0 & 0x0f, !!(b0 & 0x80), len,
					 mask);

	o[0] = b0;	/* keep RSV bits as given */
	if (mask)
		kws_mask_copy(o + h, payload, len, mask, 0);
	else
		memcpy(o + h, payload, len);
	*n += h + len;
}

/* Read what the conn sent: expect a close frame with @code, then EOF. */
static inline int raw_expect_close(int fd, uint16_t code, int masked)
{
	uint8_t buf[64];
	ssize_t n, total = 0, e;

	while ((n = read(fd, buf + total, sizeof(buf) - total)) > 0)
		total += n;
	e = masked ? 8 : 4;
	if (total != e || buf[0] != 0x88 || (buf[1] & 0x7f) != 2 ||
	    !!(buf[1] & 0x80) != masked)
		return 0;
	if (masked)
		kws_mask_copy(buf + 6, buf + 6, 2, buf + 2, 0);
	return buf[e - 2] == code >> 8 && buf[e - 1] == (code & 0xff);
}
struct accept_arg {
	int lfd;
	int r, err;
	struct kws_conn *conn;
	struct kws_server_opts *opts;
};

static inline void *accept_main(void *arg)
{
	struct accept_arg *a = arg;

	errno = 0;
	a->r = kws_accept(a->lfd, a->opts, &a->conn);
	a->err = errno;
	return NULL;
}

static inline ssize_t read_head(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, 1)) == 1) {
		buf[++len] = 0;
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	return len;
}

#endif /* KWS_TEST_UTIL_H */
