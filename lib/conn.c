// SPDX-License-Identifier: MIT
/*
 * Connections: connect/accept with the handshake over a socket, attach to
 * the kernel ULP (or the userspace codec), and the kernel path of
 * kws_send/kws_recv as thin wrappers around the SOL_WS control messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* ---- handshake over a socket ------------------------------------------- */

/*
 * Read the head of the handshake from @fd into @hs without consuming a byte
 * past its blank line: peek, let the incremental parser say how many bytes
 * are head, then read exactly those. Bytes after the head (early frames)
 * stay queued in the socket for the ULP or the userspace codec.
 * Returns what the kws_hs_*_re* parser returned (1 or -1).
 */
static int read_head(int fd, struct kws_hs *hs, int server, int64_t deadline)
{
	uint8_t buf[4096];

	for (;;) {
		size_t used = 0;
		ssize_t n;
		int r;

		if (kws_wait_fd(fd, POLLIN, deadline))
			return -1;
		n = recv(fd, buf, sizeof(buf), MSG_PEEK);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (server)
			r = kws_hs_server_request(hs, buf, n, &used);
		else
			r = kws_hs_client_response(hs, buf, n, &used);
		/* the peeked bytes are still queued: this read cannot block */
		if (used && recv(fd, buf, used, MSG_WAITALL) != (ssize_t)used) {
			if (errno == 0)
				errno = EIO;
			return -1;
		}
		if (r)
			return r;
	}
}

static size_t strv_bytes(const char *const *v)
{
	size_t n = 0;

	for (; v && *v; v++)
		n += strlen(*v) + 4;
	return n;
}

static void set_nodelay(int fd)
{
	int one = 1;

	/* messages are latency-sensitive; fails harmlessly on non-TCP */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int set_protocol(struct kws_conn *conn, const char *protocol)
{
	if (!protocol)
		return 0;
	conn->protocol = strdup(protocol);
	return conn->protocol ? 0 : -1;
}

/* connect(2), with a deadline on a non-blocking socket. */
static int connect_deadline(int fd, const struct sockaddr *sa, socklen_t len,
			    int64_t deadline)
{
	int err = 0;
	socklen_t elen = sizeof(err);

	if (!deadline)
		return connect(fd, sa, len);
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	if (kws_wait_fd(fd, POLLOUT, deadline))
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int open_tcp(const struct kws_url *u, int64_t deadline)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
	};
	struct addrinfo *res, *ai;
	char port[8];
	int fd = -1, err = EHOSTUNREACH, r;

	snprintf(port, sizeof(port), "%u", u->port);
	r = getaddrinfo(u->host, port, &hints, &res);
	if (r == EAI_NONAME || r == EAI_ADDRFAMILY || r == EAI_NODATA) {
		/* AI_ADDRCONFIG hides ::1 on a host with only loopback v6 */
		hints.ai_flags = AI_NUMERICSERV;
		r = getaddrinfo(u->host, port, &hints, &res);
	}
	if (r) {
		errno = r == EAI_SYSTEM ? errno : r == EAI_MEMORY ? ENOMEM :
			r == EAI_AGAIN ? EAGAIN : EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int flags = SOCK_CLOEXEC | (deadline ? SOCK_NONBLOCK : 0);

		fd = socket(ai->ai_family, ai->ai_socktype | flags,
			    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (!connect_deadline(fd, ai->ai_addr, ai->ai_addrlen,
				      deadline)) {
			/* the connection is blocking, whatever the deadline */
			if (deadline)
				fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			break;
		}
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		errno = err;
	return fd;
}

static int client_handshake(int fd, const struct kws_url *u,
			    const struct kws_client_opts *opts,
			    int64_t deadline, struct kws_conn **conn)
{
	struct kws_hs *hs = kws_hs_client_new(opts);
	size_t size = 1024 + strlen(u->hostport) + strlen(u->path);
	char *req = NULL;
	ssize_t n;
	int err;

	if (!hs)
		return -1;
	if (opts) {
		size += opts->origin ? strlen(opts->origin) + 16 : 0;
		size += strv_bytes(opts->protocols) + strv_bytes(opts->headers);
	}
	req = malloc(size);
	if (!req)
		goto fail;
	n = kws_hs_client_request(hs, u->hostport, u->path, req, size);
	if (n < 0 || kws_write_all(fd, req, n, deadline))
		goto fail;
	if (read_head(fd, hs, 0, deadline) != 1)
		goto fail;
	if (kws_attach(fd, WS_ROLE_CLIENT, opts ? &opts->attach : NULL,
		       NULL, 0, conn))
		goto fail;
	if (set_protocol(*conn, kws_hs_protocol(hs))) {
		err = errno;
		kws_close(*conn);	/* closes fd: the caller must not */
		*conn = NULL;
		free(req);
		kws_hs_free(hs);
		errno = err;
		return -2;
	}
	free(req);
	kws_hs_free(hs);
	return 0;
fail:
	err = errno;
	free(req);
	kws_hs_free(hs);
	errno = err;
	return -1;
}

KWS_EXPORT int kws_connect(const char *url, const struct kws_client_opts *opts,
			   struct kws_conn **conn)
{
	int64_t deadline = kws_deadline(opts ? opts->timeout_ms : 0);
	struct kws_url u;
	int fd, r, err;

	*conn = NULL;
	if (kws_url_parse(url, &u))
		return -1;
	fd = open_tcp(&u, deadline);
	if (fd < 0)
		return -1;
	set_nodelay(fd);
	r = client_handshake(fd, &u, opts, deadline, conn);
	if (r == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (r < 0)
		return -1;
	return 0;
}

KWS_EXPORT int kws_server_handshake(int fd, const struct kws_server_opts *opts,
				    struct kws_conn **conn, char *path,
				    size_t pathlen)
{
	int64_t deadline = kws_deadline(opts ? opts->timeout_ms : 0);
	struct kws_hs *hs;
	size_t size = 1024;
	char *resp = NULL;
	ssize_t n;
	int r, err;

	*conn = NULL;
	if (path && pathlen)
		path[0] = 0;
	hs = kws_hs_server_new(opts);
	if (!hs)
		return -1;
	if (opts)
		size += strv_bytes(opts->protocols) + strv_bytes(opts->headers);
	resp = malloc(size);
	if (!resp)
		goto fail;
	r = read_head(fd, hs, 1, deadline);
	err = errno;
	if (r != 1 && !kws_hs_status(hs))
		goto fail;	/* I/O error or timeout: nothing to answer */
	if (path && pathlen && kws_hs_path(hs))
		snprintf(path, pathlen, "%s", kws_hs_path(hs));
	n = kws_hs_server_response(hs, 0, resp, size);
	if (n < 0 || kws_write_all(fd, resp, n, deadline))
		goto fail;
	if (r != 1) {
		errno = err;	/* the request's fault, already answered */
		goto fail;
	}
	if (kws_attach(fd, WS_ROLE_SERVER, opts ? &opts->attach : NULL,
		       NULL, 0, conn))
		goto fail;
	if (set_protocol(*conn, kws_hs_protocol(hs))) {
		err = errno;
		/* give the fd back: free the connection without closing it */
		kws_user_free((*conn)->user);
		free(*conn);
		*conn = NULL;
		errno = err;
		goto fail;
	}
	free(resp);
	kws_hs_free(hs);
	return 0;
fail:
	err = errno;
	free(resp);
	kws_hs_free(hs);
	errno = err;
	return -1;
}

/*
 * After an HTTP refusal: close(2) with unread request bytes would send a
 * reset that can destroy the response before the client reads it. Shut the
 * send side and drain for a short while (at most 100 ms, 64 KiB) instead.
 */
static void linger_close(int fd)
{
	int64_t deadline = kws_deadline(100);
	char buf[4096];
	size_t total = 0;

	shutdown(fd, SHUT_WR);
	while (total < 65536 && !kws_wait_fd(fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		if (n > 0)
			total += n;
	}
}

KWS_EXPORT int kws_accept(int listen_fd, const struct kws_server_opts *opts,
			  struct kws_conn **conn)
{
	int fd, err;

	*conn = NULL;
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	set_nodelay(fd);
	if (kws_server_handshake(fd, opts, conn, NULL, 0)) {
		err = errno;
		if (err == EPROTO || err == EMSGSIZE)
			linger_close(fd);
		close(fd);
		errno = err;
		return -1;
	}
	return 0;
}

/* ---- attach ---------------------------------------------------------------- */

static int want_userspace(int fd, const struct kws_attach_opts *opts)
{
	const char *env = getenv("KWS_USERSPACE");
	int proto = 0;
	socklen_t len = sizeof(proto);

	if (opts->flags & KWS_ATTACH_USERSPACE)
		return 1;
	if (env && env[0] && strcmp(env, "0"))
		return 1;
	/* the ULP exists only for TCP; any other stream (AF_UNIX) is ours */
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	    proto != IPPROTO_TCP)
		return 1;
	return 0;
}

/*
 * Kernel path. Returns 0 when attached, 1 when the module is missing (fall
 * back), -1 on error.
 */
static int kernel_attach(int fd, int role, const struct kws_attach_opts *opts,
			 const void *leftover, size_t len)
{
	struct ws_config cfg = {
		.role = role,
		.tx_opcode = WS_OP_BINARY,
		.flags = opts->ws_flags,
		.max_msg_size = opts->max_msg_size,
	};

	if (len > WS_LEFTOVER_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "ws", sizeof("ws"))) {
		if (errno != ENOENT)
			return -1;
		if (opts->flags & KWS_ATTACH_KERNEL) {
			errno = ENOPROTOOPT;
			return -1;
		}
		return 1;
	}
	if (len && setsockopt(fd, SOL_WS, WS_LEFTOVER, leftover, len))
		return -1;
	return setsockopt(fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg));
}

KWS_EXPORT int kws_attach(int fd, int role, const struct kws_attach_opts *opts,
			  const void *leftover, size_t len,
			  struct kws_conn **conn)
{
	struct kws_attach_opts none = { 0 };
	struct kws_conn *c;
	int r, err;

	*conn = NULL;
	if (!opts)
		opts = &none;
	if ((role != WS_ROLE_CLIENT && role != WS_ROLE_SERVER) ||
	    (opts->flags & ~(KWS_ATTACH_USERSPACE | KWS_ATTACH_KERNEL)) ||
	    (opts->flags & KWS_ATTACH_USERSPACE &&
	     opts->flags & KWS_ATTACH_KERNEL) ||
	    (opts->ws_flags & ~WS_F_ALL) || (len && !leftover)) {
		errno = EINVAL;
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->fd = fd;
	c->role = role;
	r = 1;
	if (opts->flags & KWS_ATTACH_KERNEL || !want_userspace(fd, opts))
		r = kernel_attach(fd, role, opts, leftover, len);
	if (r == 0)
		c->kernel = 1;
	else if (r == 1)
		r = kws_user_attach(c, opts, leftover, len);
	if (r) {
		err = errno;
		free(c);
		errno = err;
		return -1;
	}
	*conn = c;
	return 0;
}

/* ---- the connection ------------------------------------------------------ */

KWS_EXPORT int kws_fd(const struct kws_conn *conn)
{
	return conn->fd;
}

KWS_EXPORT int kws_is_kernel(const struct kws_conn *conn)
{
	return conn->kernel;
}

KWS_EXPORT const char *kws_protocol(const struct kws_conn *conn)
{
	return conn->protocol;
}

KWS_EXPORT int kws_pending(const struct kws_conn *conn)
{
	return conn->user ? kws_user_pending(conn->user) : 0;
}

KWS_EXPORT void kws_close(struct kws_conn *conn)
{
	if (!conn)
		return;
	if (conn->user)
		kws_user_going_away(conn);
	close(conn->fd);
	kws_user_free(conn->user);
	free(conn->protocol);
	free(conn);
}

/*
 * sendmsg() with SOL_WS control messages: WS_CMSG_OPCODE when @opcode is
 * not 0, WS_CMSG_CLOSE when @close is not NULL.
 */
static ssize_t kernel_sendmsg(struct kws_conn *conn, int opcode,
			      const struct ws_close *close, const void *buf,
			      size_t len, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint8_t)) +
			 CMSG_SPACE(sizeof(struct ws_close))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = 0,
	};
	struct cmsghdr *cmsg;

	memset(&control, 0, sizeof(control));
	cmsg = (struct cmsghdr *)control.buf;
	if (opcode) {
		cmsg->cmsg_level = SOL_WS;
		cmsg->cmsg_type = WS_CMSG_OPCODE;
		cmsg->cmsg_len = CMSG_LEN(sizeof(uint8_t));
		*CMSG_DATA(cmsg) = opcode;
		msg.msg_controllen += CMSG_SPACE(sizeof(uint8_t));
		cmsg = (struct cmsghdr *)(control.buf + msg.msg_controllen);
	}
	if (close) {
		cmsg->cmsg_level = SOL_WS;
		cmsg->cmsg_type = WS_CMSG_CLOSE;
		cmsg->cmsg_len = CMSG_LEN(sizeof(*close));
		memcpy(CMSG_DATA(cmsg), close, sizeof(*close));
		msg.msg_controllen += CMSG_SPACE(sizeof(*close));
	}
	if (!msg.msg_controllen)
		msg.msg_control = NULL;
	return sendmsg(conn->fd, &msg, flags | MSG_NOSIGNAL);
}

KWS_EXPORT ssize_t kws_send(struct kws_conn *conn, int opcode, const void *buf,
			    size_t len, unsigned int flags)
{
	ssize_t n;

	if ((opcode != WS_OP_TEXT && opcode != WS_OP_BINARY) ||
	    (flags & ~KWS_MORE) || (len && !buf)) {
		errno = EINVAL;
		return -1;
	}
	if (conn->user)
		return kws_user_send(conn, opcode, buf, len, flags);

	if (conn->tx_open && conn->tx_open != opcode) {
		errno = EINVAL;
		return -1;
	}
	n = kernel_sendmsg(conn, opcode, NULL, buf, len,
			   flags & KWS_MORE ? MSG_MORE : 0);
	if (n >= 0)
		conn->tx_open = (flags & KWS_MORE) ? opcode : 0;
	return n;
}

static int send_control(struct kws_conn *conn, int opcode, const void *payload,
			size_t len)
{
	ssize_t n;

	if (len > KWS_CONTROL_MAX || (len && !payload)) {
		errno = EINVAL;
		return -1;
	}
	if (conn->user)
		return kws_user_control(conn, opcode, 0, payload, len);
	n = kernel_sendmsg(conn, opcode, NULL, payload, len, 0);
	return n < 0 ? -1 : 0;
}

KWS_EXPORT int kws_ping(struct kws_conn *conn, const void *payload, size_t len)
{
	return send_control(conn, WS_OP_PING, payload, len);
}

KWS_EXPORT int kws_pong(struct kws_conn *conn, const void *payload, size_t len)
{
	return send_control(conn, WS_OP_PONG, payload, len);
}

KWS_EXPORT int kws_send_close(struct kws_conn *conn, uint16_t code,
			      const char *reason)
{
	size_t rlen = reason ? strlen(reason) : 0;
	struct ws_close wc = { .code = code };

	/* RFC 6455 5.5.1: code (2 bytes) + reason within 125 bytes */
	if ((code && !kws_close_code_valid(code)) || rlen > KWS_CONTROL_MAX - 2 ||
	    (!code && rlen)) {
		errno = EINVAL;
		return -1;
	}
	if (conn->user)
		return kws_user_control(conn, WS_OP_CLOSE, code, reason, rlen);
	return kernel_sendmsg(conn, WS_OP_CLOSE, &wc, reason, rlen, 0) < 0 ?
		-1 : 0;
}

/*
 * Turn WS_RECV_BATCH on or off for the kernel path's next recvmsg(), if it
 * is not so already. A module without it (ENOPROTOOPT) leaves batching off
 * for good. Returns the mode in effect, or -1.
 */
static int kernel_set_batch(struct kws_conn *conn, int on)
{
	if (on && conn->rx_batch_missing)
		on = 0;
	if (conn->rx_batch == on)
		return on;
	if (setsockopt(conn->fd, SOL_WS, WS_RECV_BATCH, &on, sizeof(on))) {
		if (!on || errno != ENOPROTOOPT)
			return -1;
		conn->rx_batch_missing = 1;
		return 0;
	}
	conn->rx_batch = on;
	return on;
}

/*
 * One recvmsg() on the kernel path into @buf, @info as kws_recv() fills it.
 * With @desc (WS_RECV_BATCH on), the control buffer has room for exactly
 * @ndesc (4 or more) entries, which is also enough for the close's two
 * control messages; a WS_CMSG_BATCH is copied into @desc and *@nbatch set to
 * its number of entries, else *@nbatch is 0 (a ping/pong, the close, EOF).
 */
static ssize_t kernel_recvmsg(struct kws_conn *conn, void *buf, size_t len,
			      struct kws_msg_info *info,
			      struct ws_msg_desc *desc, unsigned int ndesc,
			      unsigned int *nbatch)
{
	union {
		char buf[CMSG_SPACE(KWS_RECV_BATCH_MAX *
				    sizeof(struct ws_msg_desc))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = desc ?
			CMSG_LEN(ndesc * sizeof(struct ws_msg_desc)) :
			CMSG_SPACE(sizeof(uint8_t)) +
			CMSG_SPACE(sizeof(struct ws_close)) + 64,
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	*nbatch = 0;
	n = recvmsg(conn->fd, &msg, 0);
	if (n < 0)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_WS)
			continue;
		if (cmsg->cmsg_type == WS_CMSG_OPCODE &&
		    cmsg->cmsg_len >= CMSG_LEN(sizeof(uint8_t))) {
			info->opcode = *CMSG_DATA(cmsg);
		} else if (cmsg->cmsg_type == WS_CMSG_CLOSE &&
			   cmsg->cmsg_len >= CMSG_LEN(sizeof(struct ws_close))) {
			struct ws_close wc;

			memcpy(&wc, CMSG_DATA(cmsg), sizeof(wc));
			info->opcode = WS_OP_CLOSE;
			info->close_code = wc.code;
			info->close_flags = wc.flags;
		} else if (cmsg->cmsg_type == WS_CMSG_BATCH && desc) {
			size_t nr = (cmsg->cmsg_len - CMSG_LEN(0)) /
				    sizeof(*desc);

			*nbatch = nr < ndesc ? nr : ndesc;
			memcpy(desc, CMSG_DATA(cmsg), *nbatch * sizeof(*desc));
			if (*nbatch)
				info->opcode = desc[*nbatch - 1].opcode;
		}
	}
	info->eom = !!(msg.msg_flags & MSG_EOR);
	return n;
}

KWS_EXPORT ssize_t kws_recv(struct kws_conn *conn, void *buf, size_t len,
			    struct kws_msg_info *info)
{
	unsigned int nbatch;

	memset(info, 0, sizeof(*info));
	if (conn->user)
		return kws_user_recv(conn, buf, len, info);
	/* with WS_RECV_BATCH on, this control buffer would take a batch */
	if (kernel_set_batch(conn, 0) < 0)
		return -1;
	return kernel_recvmsg(conn, buf, len, info, NULL, 0, &nbatch);
}

/* Fewest entries for which the kernel path asks for a batch (see there). */
#define KERNEL_BATCH_MIN	4

KWS_EXPORT int kws_recv_batch(struct kws_conn *conn, void *buf, size_t len,
			      struct ws_msg_desc *desc, unsigned int ndesc,
			      struct kws_msg_info *info)
{
	unsigned int nr = 0;
	ssize_t n;
	int batch;

	memset(info, 0, sizeof(*info));
	if (!ndesc || !desc || (len && !buf)) {
		errno = EINVAL;
		return -1;
	}
	if (ndesc > KWS_RECV_BATCH_MAX)
		ndesc = KWS_RECV_BATCH_MAX;
	/* entry lengths are 32 bits; recvmsg() takes no more anyway */
	if (len > INT32_MAX)
		len = INT32_MAX;
	if (conn->user) {
		n = kws_user_recv(conn, buf, len, info);
	} else {
		batch = kernel_set_batch(conn, ndesc >= KERNEL_BATCH_MIN);
		if (batch < 0)
			return -1;
		n = kernel_recvmsg(conn, buf, len, info, batch ? desc : NULL,
				   ndesc, &nr);
	}
	if (n < 0)
		return -1;
	if (nr)
		return nr;
	if (!info->opcode)
		return 0;	/* EOF */
	/* one message or part, as kws_recv() returns it */
	desc[0] = (struct ws_msg_desc){
		.len = n,
		.opcode = info->opcode,
		.flags = info->eom ? WS_MSG_EOR : 0,
	};
	nr = 1;
	if (conn->user && info->eom &&
	    (info->opcode == WS_OP_TEXT || info->opcode == WS_OP_BINARY)) {
		nr += kws_user_recv_more(conn, (uint8_t *)buf + n, len - n,
					 desc + 1, ndesc - 1);
		info->opcode = desc[nr - 1].opcode;
	}
	return nr;
}
