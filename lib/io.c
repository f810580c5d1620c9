// SPDX-License-Identifier: MIT
/* Blocking helpers over sockets that may be non-blocking. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "internal.h"

int64_t kws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kws_deadline(int timeout_ms)
{
	return timeout_ms > 0 ? kws_now_ms() + timeout_ms : 0;
}

/* Wait for @events on @fd until @deadline (kws_now_ms() scale, 0: none). */
int kws_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int timeout = -1, r;

		if (deadline) {
			int64_t left = deadline - kws_now_ms();

			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			timeout = left > 0x7fffffff ? 0x7fffffff : (int)left;
		}
		r = poll(&pfd, 1, timeout);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/*
 * Write all of @buf, waiting for POLLOUT on a non-blocking socket.
 * MSG_NOSIGNAL: a peer that went away is EPIPE, not a signal.
 */
int kws_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (kws_wait_fd(fd, POLLOUT, deadline))
				return -1;
			continue;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* The same for an iovec; @iov is modified. */
int kws_writev_all(int fd, struct iovec *iov, int iovcnt, int64_t deadline)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = iovcnt };

	while (msg.msg_iovlen) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (kws_wait_fd(fd, POLLOUT, deadline))
				return -1;
			continue;
		}
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= n;
		}
	}
	return 0;
}
