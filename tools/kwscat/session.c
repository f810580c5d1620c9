// SPDX-License-Identifier: MIT
/*
 * kwscat: one connection at a time bridged to stdin and stdout.
 *
 * Two threads, as libkws allows (one sender, one receiver): the stdin
 * thread turns input into messages and, at EOF, starts the close; the
 * calling thread receives and writes stdout. Sending never blocks receiving,
 * so a peer that echoes a large transfer cannot deadlock us.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kwscat.h"

#define RECV_BUF	65536

struct session {
	const struct kc_opts *o;
	/* Serializes senders (stdin thread, pings) and guards what follows. */
	pthread_mutex_t lock;
	pthread_cond_t conn_changed;
	struct kws_conn *conn;	/* NULL between connections */
	bool stdin_done;	/* EOF seen and the close sent (or no conn) */
	bool close_sent;	/* on the current connection */
	bool ended;		/* no more connections will come */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for a connection and take the lock. Returns the connection, or NULL
 * (lock dropped) when none will come.
 */
static struct kws_conn *session_lock_conn(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	while (!s->conn && !s->ended)
		pthread_cond_wait(&s->conn_changed, &s->lock);
	if (!s->conn) {
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	return s->conn;
}

/*
 * Send @len bytes as (part of) a message. A failure means the connection is
 * closing or gone: the receiver reports that, the bytes are dropped.
 * Called with s->lock held.
 */
static void send_locked(struct session *s, int opcode, const char *buf,
			size_t len, unsigned int flags)
{
	size_t done = 0;

	if (s->close_sent)
		return;
	do {
		ssize_t n = kws_send(s->conn, opcode, buf + done, len - done,
				     flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (s->o->verbose)
				fprintf(stderr, "%s: send: %s\n", kc_progname,
					strerror(errno));
			return;
		}
		done += n;
	} while (done < len);
	kc_progress_add(len, 0);
}

static bool send_msg(struct session *s, int opcode, const char *buf,
		     size_t len, unsigned int flags)
{
	if (!session_lock_conn(s))
		return false;
	send_locked(s, opcode, buf, len, flags);
	pthread_mutex_unlock(&s->lock);
	return true;
}

/* Start the closing handshake, once. Called with s->lock held. */
static void send_close_locked(struct session *s)
{
	if (!s->close_sent && kws_send_close(s->conn, WS_CLOSE_NORMAL, NULL) &&
	    errno != EPIPE)
		fprintf(stderr, "%s: close: %s\n", kc_progname, strerror(errno));
	s->close_sent = true;
}

/* EOF on stdin: finish an open message, then start the closing handshake. */
static void send_eof(struct session *s, int opcode, const char *buf,
		     size_t len, bool open_msg)
{
	if (!session_lock_conn(s))
		return;
	if (len || open_msg)
		send_locked(s, opcode, buf, len, 0);
	/* With --messages the receiver closes once they are in. */
	if (!s->o->messages)
		send_close_locked(s);
	s->stdin_done = true;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Text: each line (without its '\n') is a message; a line longer than the
 * buffer goes out as fragments. Binary: messages of exactly --chunk bytes,
 * the last one shorter.
 */
static void *stdin_thread(void *arg)
{
	struct session *s = arg;
	size_t size = s->o->chunk, have = 0;
	int opcode = s->o->binary ? WS_OP_BINARY : WS_OP_TEXT;
	bool open_msg = false;	/* fragments of a long line were sent */
	char *buf = malloc(size);

	if (!buf) {
		fprintf(stderr, "%s: %s\n", kc_progname, strerror(ENOMEM));
		send_eof(s, opcode, NULL, 0, false);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + have, size - have);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fprintf(stderr, "%s: stdin: %s\n", kc_progname,
				strerror(errno));
		if (n <= 0)
			break;
		have += n;
		if (s->o->binary) {
			if (have < size)
				continue;
			if (!send_msg(s, opcode, buf, have, 0))
				goto out;
			have = 0;
			continue;
		}
		start = buf;
		while ((nl = memchr(start, '\n', have - (start - buf)))) {
			if (!send_msg(s, opcode, start, nl - start, 0))
				goto out;
			open_msg = false;
			start = nl + 1;
		}
		have -= start - buf;
		memmove(buf, start, have);
		if (have == size) {
			if (!send_msg(s, opcode, buf, have, KWS_MORE))
				goto out;
			open_msg = true;
			have = 0;
		}
	}
	send_eof(s, opcode, buf, have, open_msg);
out:
	free(buf);
	return NULL;
}

static int write_out(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len) {
		fprintf(stderr, "%s: stdout: %s\n", kc_progname, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The exit code for how the connection closed, after printing why when it
 * is not a clean close.
 */
static int close_status(const struct kc_opts *o, const struct kws_msg_info *mi,
			const char *reason, size_t len)
{
	unsigned int code = mi->close_code;

	if (mi->close_flags & WS_CLOSE_ABNORMAL) {
		fprintf(stderr, "%s: connection lost: TCP closed without a close frame\n",
			kc_progname);
		return KC_EXIT_CLOSED;
	}
	if (mi->close_flags & WS_CLOSE_LOCAL) {
		fprintf(stderr, "%s: connection failed: sent close %u (%s)\n",
			kc_progname, code, kc_close_name(code));
		return KC_EXIT_CLOSED;
	}
	if (code == WS_CLOSE_NORMAL || code == WS_CLOSE_GOING_AWAY ||
	    code == WS_CLOSE_NO_STATUS) {
		if (o->verbose)
			fprintf(stderr, "%s: closed by peer: %u (%s)\n",
				kc_progname, code, kc_close_name(code));
		return KC_EXIT_OK;
	}
	fprintf(stderr, "%s: closed by peer: %u (%s)%s%.*s\n", kc_progname,
		code, kc_close_name(code), len ? ": " : "", (int)len, reason);
	return KC_EXIT_CLOSED;
}

/*
 * Userspace keepalive: wait for input at most until the next ping is due.
 * Returns 0 when there is input, or a KC_EXIT_* code.
 */
static int wait_input(struct session *s, struct kws_conn *c, int64_t *last_in,
		      int64_t *ping_sent)
{
	const struct kc_opts *o = s->o;
	struct pollfd pfd = { .fd = kws_fd(c), .events = POLLIN };

	if (!o->ping_interval_ms || kws_is_kernel(c))
		return 0;
	while (!kws_pending(c)) {
		int64_t now = now_ms(), due;
		int r;

		due = *ping_sent ? *ping_sent + o->ping_timeout_ms :
			*last_in + o->ping_interval_ms;
		if (now >= due && *ping_sent) {
			fprintf(stderr, "%s: no pong within %u ms\n", kc_progname,
				o->ping_timeout_ms);
			pthread_mutex_lock(&s->lock);
			kws_send_close(c, WS_CLOSE_INTERNAL, "keepalive timeout");
			s->close_sent = true;
			pthread_mutex_unlock(&s->lock);
			return KC_EXIT_CLOSED;
		}
		if (now >= due) {
			pthread_mutex_lock(&s->lock);
			kws_ping(c, "kwscat", 6);
			pthread_mutex_unlock(&s->lock);
			*ping_sent = now;
			continue;
		}
		r = poll(&pfd, 1, due - now);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "%s: poll: %s\n", kc_progname,
				strerror(errno));
			return KC_EXIT_ERROR;
		}
	}
	*last_in = now_ms();
	*ping_sent = 0;
	return 0;
}

/*
 * One received entry (a message or part of one) of @len bytes at @p.
 * Returns -1 to go on, or the KC_EXIT_* code to end with.
 */
static int receive_entry(struct session *s, const struct ws_msg_desc *d,
			 const char *p, const struct kws_msg_info *mi,
			 uint64_t *messages)
{
	const struct kc_opts *o = s->o;
	bool eom = d->flags & WS_MSG_EOR;

	switch (d->opcode) {
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		kc_progress_add(0, d->len);
		if (write_out(p, d->len) ||
		    (eom && !o->binary && write_out("\n", 1)))
			return KC_EXIT_ERROR;
		if (!eom)
			break;
		if (o->messages && ++*messages == o->messages) {
			pthread_mutex_lock(&s->lock);
			send_close_locked(s);
			pthread_mutex_unlock(&s->lock);
		}
		break;
	case WS_OP_CLOSE:	/* always alone: @mi has its code */
		return close_status(o, mi, p, d->len);
	default:		/* pings and pongs (userspace keepalive) */
		break;
	}
	return -1;
}

/*
 * Receive until EOF, writing messages to stdout, up to --batch of them per
 * call (many small messages then cost one call, not one each). Returns a
 * KC_EXIT_* code.
 */
static int receive(struct session *s, struct kws_conn *c)
{
	const struct kc_opts *o = s->o;
	struct ws_msg_desc desc[KWS_RECV_BATCH_MAX];
	struct kws_msg_info mi;
	int64_t last_in = now_ms(), ping_sent = 0;
	uint64_t messages = 0;
	int rc = KC_EXIT_OK;
	char *buf = malloc(RECV_BUF);

	if (!buf) {
		fprintf(stderr, "%s: %s\n", kc_progname, strerror(ENOMEM));
		return KC_EXIT_ERROR;
	}
	for (;;) {
		const char *p = buf;
		int nr, w = wait_input(s, c, &last_in, &ping_sent);

		if (w) {
			rc = w;
			break;
		}
		nr = kws_recv_batch(c, buf, RECV_BUF, desc, o->batch, &mi);
		if (nr < 0 && errno == EINTR)
			continue;
		if (nr < 0) {
			fprintf(stderr, "%s: receive: %s\n", kc_progname,
				strerror(errno));
			rc = KC_EXIT_ERROR;
			break;
		}
		if (nr == 0)	/* EOF, after the close */
			break;
		for (int i = 0; i < nr; p += desc[i++].len) {
			int r = receive_entry(s, &desc[i], p, &mi, &messages);

			if (r >= 0)
				rc = r;
			if (r == KC_EXIT_ERROR)
				goto out;
		}
		/* a whole batch (or the end of a message) is out: show it */
		if (mi.eom)
			fflush(stdout);
	}
out:
	if (fflush(stdout) && rc == KC_EXIT_OK) {
		fprintf(stderr, "%s: stdout: %s\n", kc_progname, strerror(errno));
		rc = KC_EXIT_ERROR;
	}
	free(buf);
	return rc;
}

static int session_init(struct session *s, const struct kc_opts *o)
{
	struct stat st;
	pthread_t tid;

	memset(s, 0, sizeof(*s));
	s->o = o;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->conn_changed, NULL);
	kc_progress_init(o, !fstat(STDIN_FILENO, &st) && S_ISREG(st.st_mode) ?
			 st.st_size : -1);
	if (pthread_create(&tid, NULL, stdin_thread, s)) {
		fprintf(stderr, "%s: thread: %s\n", kc_progname, strerror(errno));
		return -1;
	}
	/* It may sit in read(2) forever: exit() ends it. */
	pthread_detach(tid);
	return 0;
}

static void session_set_conn(struct session *s, struct kws_conn *c)
{
	pthread_mutex_lock(&s->lock);
	s->conn = c;
	s->close_sent = false;
	pthread_cond_broadcast(&s->conn_changed);
	pthread_mutex_unlock(&s->lock);
}

int kc_client_session(struct kws_conn *c, const struct kc_opts *o)
{
	static struct session s;
	int rc;

	if (session_init(&s, o))
		return KC_EXIT_ERROR;
	session_set_conn(&s, c);
	rc = receive(&s, c);
	pthread_mutex_lock(&s.lock);
	s.conn = NULL;
	s.ended = true;
	pthread_cond_broadcast(&s.conn_changed);
	pthread_mutex_unlock(&s.lock);
	kc_progress_done();
	return rc;
}

int kc_server_stdio(int lfd, const struct kc_opts *o)
{
	struct kws_server_opts sopts = {
		.protocols = o->protocols[0] ? o->protocols : NULL,
		.timeout_ms = o->timeout_ms,
	};
	static struct session s;
	int rc = KC_EXIT_OK;

	kc_attach_opts(o, &sopts.attach);
	if (session_init(&s, o))
		return KC_EXIT_ERROR;
	for (;;) {
		struct kws_conn *c;
		bool done;

		if (kws_accept(lfd, &sopts, &c)) {
			fprintf(stderr, "%s: accept: %s\n", kc_progname,
				strerror(errno));
			if (o->once)
				return KC_EXIT_HANDSHAKE;
			continue;
		}
		if (o->verbose)
			fprintf(stderr, "%s: connection (%s codec)\n", kc_progname,
				kws_is_kernel(c) ? "kernel" : "userspace");
		kc_keepalive(c, o);
		session_set_conn(&s, c);
		rc = receive(&s, c);

		pthread_mutex_lock(&s.lock);
		s.conn = NULL;
		/* Nothing more to send once stdin is done: stop. */
		done = o->once || s.stdin_done;
		s.ended = done;
		pthread_cond_broadcast(&s.conn_changed);
		pthread_mutex_unlock(&s.lock);
		kws_close(c);
		if (done)
			break;
	}
	kc_progress_done();
	return rc;
}
