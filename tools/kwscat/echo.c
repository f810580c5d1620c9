// SPDX-License-Identifier: MIT
/*
 * kwscat --echo: the reference echo server. One thread, epoll, non-blocking
 * sockets: each connection does its handshake with the sans-I/O kws_hs_*
 * calls, then every message is sent back with its opcode, in pieces as it
 * arrives (a piece of a message is echoed as a fragment). While an echo
 * cannot be sent whole the connection is not read, so a peer that does not
 * read its echoes is throttled by TCP rather than buffered without bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kwscat.h"

#define ECHO_BUF	65536
#define HS_BUF		16384
/* Receive calls (up to --batch messages each) per wakeup before others
 * get a turn.
 */
#define ECHO_BUDGET	16

struct echo_conn {
	int fd;
	unsigned long id;
	struct kws_hs *hs;		/* during the handshake */
	struct kws_conn *conn;		/* after it */
	char *buf;
	size_t hs_len;			/* handshake bytes in buf */
	/*
	 * The echoes not sent yet: entries out_next to out_nr of the last
	 * receive's batch, their bytes in buf from out_off on.
	 */
	struct ws_msg_desc out_desc[KWS_RECV_BATCH_MAX];
	unsigned int out_next, out_nr;
	size_t out_off;
	bool want_out;			/* EPOLLOUT is armed */
	struct echo_conn *next, *prev;	/* all connections */
};

struct echo_server {
	const struct kc_opts *o;
	int ep;
	struct kws_server_opts sopts;
	struct echo_conn *conns;
	unsigned long next_id;
	unsigned long open;
	bool first_done;		/* --once: the first one closed */
};

static void conn_free(struct echo_server *srv, struct echo_conn *ec)
{
	if (srv->o->verbose)
		fprintf(stderr, "%s: #%lu closed\n", kc_progname, ec->id);
	epoll_ctl(srv->ep, EPOLL_CTL_DEL, ec->fd, NULL);
	if (ec->conn)
		kws_close(ec->conn);
	else
		close(ec->fd);
	kws_hs_free(ec->hs);
	free(ec->buf);
	if (ec->prev)
		ec->prev->next = ec->next;
	else
		srv->conns = ec->next;
	if (ec->next)
		ec->next->prev = ec->prev;
	if (ec->id == 1)
		srv->first_done = true;
	srv->open--;
	free(ec);
}

static void conn_want_out(struct echo_server *srv, struct echo_conn *ec,
			  bool want)
{
	struct epoll_event ev = {
		.events = want ? EPOLLOUT : EPOLLIN,
		.data.ptr = ec,
	};

	if (ec->want_out == want)
		return;
	ec->want_out = want;
	epoll_ctl(srv->ep, EPOLL_CTL_MOD, ec->fd, &ev);
}

static bool out_pending(const struct echo_conn *ec)
{
	return ec->out_next < ec->out_nr;
}

/*
 * Send the echoes, each entry with its opcode, one not ending its message
 * as a fragment. Returns 1 when all sent, 0 when the socket is full, -1 on
 * error.
 */
static int flush_echo(struct echo_conn *ec)
{
	while (out_pending(ec)) {
		struct ws_msg_desc *d = &ec->out_desc[ec->out_next];
		ssize_t n = kws_send(ec->conn, d->opcode, ec->buf + ec->out_off,
				     d->len,
				     d->flags & WS_MSG_EOR ? 0 : KWS_MORE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		/* More than was asked would be a broken send path: stop. */
		if (n < 0 || (size_t)n > d->len)
			return -1;
		if (n == 0 && d->len)
			return 0;
		/* a part sent leaves the rest for a call with the same flags */
		ec->out_off += n;
		d->len -= n;
		if (!d->len)
			ec->out_next++;
	}
	return 1;
}

/* Returns false when the connection is done (to be freed). */
static bool echo_input(struct echo_server *srv, struct echo_conn *ec)
{
	int budget = ECHO_BUDGET;
	int r;

	while (budget--) {
		struct kws_msg_info mi;
		int nr;

		r = flush_echo(ec);

		if (r < 0)
			return false;
		if (!r) {
			conn_want_out(srv, ec, true);
			return true;
		}
		conn_want_out(srv, ec, false);

		nr = kws_recv_batch(ec->conn, ec->buf, ECHO_BUF, ec->out_desc,
				    srv->o->batch, &mi);
		if (nr < 0 && errno == EINTR)
			continue;
		if (nr < 0)
			return errno == EAGAIN;
		if (nr == 0)		/* EOF */
			return false;
		/* data entries, or one ping, pong or close */
		switch (ec->out_desc[0].opcode) {
		case WS_OP_TEXT:
		case WS_OP_BINARY:
			ec->out_next = 0;
			ec->out_nr = nr;
			ec->out_off = 0;
			break;
		case WS_OP_CLOSE:	/* answered by libkws or the kernel */
			if (srv->o->verbose)
				fprintf(stderr, "%s: #%lu close %u (%s)%s\n",
					kc_progname, ec->id, mi.close_code,
					kc_close_name(mi.close_code),
					mi.close_flags & WS_CLOSE_LOCAL ?
					", sent by us" : "");
			break;
		default:
			break;
		}
	}
	/* Out of budget: the last echo must not wait for a wakeup. */
	r = flush_echo(ec);
	if (r < 0)
		return false;
	conn_want_out(srv, ec, !r);
	return true;
}

/* Returns false when the connection is done. */
static bool echo_handshake(struct echo_server *srv, struct echo_conn *ec)
{
	char resp[4096];
	size_t used = 0;
	ssize_t n, rn;
	int r;

	n = recv(ec->fd, ec->buf + ec->hs_len, HS_BUF - ec->hs_len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	r = kws_hs_server_request(ec->hs, ec->buf + ec->hs_len, n, &used);
	ec->hs_len += n;
	if (r == 0)
		return true;

	rn = kws_hs_server_response(ec->hs, 0, resp, sizeof(resp));
	/* A fresh socket takes a few hundred bytes without blocking. */
	if (rn < 0 || send(ec->fd, resp, rn, MSG_NOSIGNAL) != rn ||
	    kws_hs_status(ec->hs) != 101) {
		if (srv->o->verbose)
			fprintf(stderr, "%s: #%lu handshake refused: %d %s\n",
				kc_progname, ec->id, kws_hs_status(ec->hs),
				kws_hs_error(ec->hs) ? kws_hs_error(ec->hs) : "");
		return false;
	}
	/* Bytes after the request head are the first frames. */
	used += ec->hs_len - n;
	if (kws_attach(ec->fd, WS_ROLE_SERVER, &srv->sopts.attach,
		       ec->buf + used, ec->hs_len - used, &ec->conn)) {
		fprintf(stderr, "%s: #%lu attach: %s\n", kc_progname, ec->id,
			strerror(errno));
		return false;
	}
	if (srv->o->verbose)
		fprintf(stderr, "%s: #%lu open, %s codec%s%s\n", kc_progname,
			ec->id, kws_is_kernel(ec->conn) ? "kernel" : "userspace",
			kws_hs_protocol(ec->hs) ? ", subprotocol " : "",
			kws_hs_protocol(ec->hs) ? kws_hs_protocol(ec->hs) : "");
	kws_hs_free(ec->hs);
	ec->hs = NULL;
	kc_keepalive(ec->conn, srv->o);
	/* The leftover may hold whole messages: do not wait for EPOLLIN. */
	return echo_input(srv, ec);
}

static void echo_accept(struct echo_server *srv, int lfd)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct echo_conn *ec;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				fprintf(stderr, "%s: accept: %s\n", kc_progname,
					strerror(errno));
			return;
		}
		ec = calloc(1, sizeof(*ec));
		if (ec)
			ec->buf = malloc(ECHO_BUF > HS_BUF ? ECHO_BUF : HS_BUF);
		if (ec && ec->buf)
			ec->hs = kws_hs_server_new(&srv->sopts);
		if (!ec || !ec->hs) {
			fprintf(stderr, "%s: %s\n", kc_progname, strerror(ENOMEM));
			if (ec)
				free(ec->buf);
			free(ec);
			close(fd);
			continue;
		}
		ec->fd = fd;
		ec->id = ++srv->next_id;
		ev.data.ptr = ec;
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev)) {
			fprintf(stderr, "%s: epoll: %s\n", kc_progname,
				strerror(errno));
			kws_hs_free(ec->hs);
			free(ec->buf);
			free(ec);
			close(fd);
			continue;
		}
		ec->next = srv->conns;
		if (ec->next)
			ec->next->prev = ec;
		srv->conns = ec;
		srv->open++;
		if (srv->o->verbose)
			fprintf(stderr, "%s: #%lu accepted\n", kc_progname, ec->id);
	}
}

/*
 * The userspace codec may hold parsed input that epoll cannot see; give
 * those connections (and those that ran out of budget) another turn.
 */
static bool run_pending(struct echo_server *srv)
{
	struct echo_conn *ec, *next;
	bool more = false;

	for (ec = srv->conns; ec; ec = next) {
		next = ec->next;
		if (!ec->conn || out_pending(ec) || !kws_pending(ec->conn))
			continue;
		if (!echo_input(srv, ec))
			conn_free(srv, ec);
		else if (!out_pending(ec) && kws_pending(ec->conn))
			more = true;
	}
	return more;
}

int kc_echo_server(int lfd, const struct kc_opts *o)
{
	static struct echo_server srv;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event events[64];
	bool pending = false;

	srv.o = o;
	srv.sopts.protocols = o->protocols[0] ? o->protocols : NULL;
	kc_attach_opts(o, &srv.sopts.attach);
	srv.ep = epoll_create1(EPOLL_CLOEXEC);
	if (srv.ep < 0 || fcntl(lfd, F_SETFL, O_NONBLOCK) ||
	    epoll_ctl(srv.ep, EPOLL_CTL_ADD, lfd, &ev)) {
		fprintf(stderr, "%s: epoll: %s\n", kc_progname, strerror(errno));
		return KC_EXIT_ERROR;
	}
	while (!(o->once && srv.first_done)) {
		int i, n = epoll_wait(srv.ep, events, 64, pending ? 0 : -1);

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "%s: epoll_wait: %s\n", kc_progname,
				strerror(errno));
			return KC_EXIT_ERROR;
		}
		for (i = 0; i < n; i++) {
			struct echo_conn *ec = events[i].data.ptr;
			bool keep;

			if (!ec) {
				echo_accept(&srv, lfd);
				continue;
			}
			if (ec->hs)
				keep = echo_handshake(&srv, ec);
			else
				keep = echo_input(&srv, ec);
			if (!keep)
				conn_free(&srv, ec);
		}
		pending = run_pending(&srv);
	}
	while (srv.conns)
		conn_free(&srv, srv.conns);
	close(srv.ep);
	return KC_EXIT_OK;
}
