// SPDX-License-Identifier: MIT
/*
 * The userspace fallback: the shared codec (codec/kws_codec.h) over a read
 * buffer, with the same behaviour the kernel ULP gives through recvmsg and
 * sendmsg: one message per kws_recv() call with eom on its last byte,
 * automatic pongs and close echo, failure closes 1002/1007/1009 reported as
 * a local close, TCP EOF without a close frame reported as 1006.
 *
 * Threads: the rx fields are used only by the (single) receiving thread;
 * everything that writes to the socket, and the close state both sides
 * look at, is under tx_lock so a pong or close echo from the receiver never
 * lands inside a frame the sender is writing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define TBUF_SIZE	(64 * 1024)

int kws_user_attach(struct kws_conn *conn, const struct kws_attach_opts *opts,
		    const void *leftover, size_t len)
{
	struct kws_user *u = calloc(1, sizeof(*u));
	size_t rsize = len > KWS_RBUF_SIZE ? len : KWS_RBUF_SIZE;
	uint64_t max = opts->max_msg_size ? opts->max_msg_size :
		       WS_MAX_MSG_DEFAULT;

	if (!u)
		return -1;
	pthread_mutex_init(&u->tx_lock, NULL);
	u->rbuf = malloc(rsize);
	if (conn->role == WS_ROLE_CLIENT)
		u->tbuf = malloc(TBUF_SIZE);
	if (!u->rbuf || (conn->role == WS_ROLE_CLIENT && !u->tbuf)) {
		kws_user_free(u);
		errno = ENOMEM;
		return -1;
	}
	u->rsize = rsize;
	if (len)
		memcpy(u->rbuf, leftover, len);
	u->rend = len;
	u->ws_flags = opts->ws_flags;
	kws_parser_init(&u->parser, conn->role, max,
			opts->ws_flags & WS_F_NO_UTF8_CHECK ?
			KWS_PARSER_NO_UTF8 : 0);
	conn->user = u;
	return 0;
}

/* The code a close echo carries: the peer's, none for a close without. */
static uint16_t echo_code(const struct kws_user *u)
{
	return u->close_code == WS_CLOSE_NO_STATUS ? 0 : u->close_code;
}

/*
 * At kws_close() of an open connection: close 1001 "going away" (RFC 6455
 * 7.4.1), or the echo of a peer's close not read yet, only if it goes out
 * whole without blocking, as the ULP does at close(2). Nobody else may use
 * the connection any more.
 */
void kws_user_going_away(struct kws_conn *conn)
{
	struct kws_user *u = conn->user;
	uint16_t code = u->close_answer ? echo_code(u) : WS_CLOSE_GOING_AWAY;
	unsigned int h, len = code ? 2 : 0;
	uint8_t frame[KWS_FRAME_HDR_MAX + 2];
	uint8_t mask[4], *maskp = NULL;

	if (u->close_sent || u->failed || u->tx_broken || u->tx_open)
		return;
	if (conn->role == WS_ROLE_CLIENT) {
		if (kws_random(mask, sizeof(mask)))
			return;
		maskp = mask;
	}
	h = kws_frame_build(frame, KWS_OP_CLOSE, 1, len, maskp);
	frame[h] = code >> 8;
	frame[h + 1] = code & 0xff;
	if (maskp)
		kws_mask_copy(frame + h, frame + h, len, mask, 0);
	/* all or nothing is up to TCP; a partial frame dies with the fd */
	if (send(conn->fd, frame, h + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return;
	u->close_sent = 1;
}

void kws_user_free(struct kws_user *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->tx_lock);
	free(u->rbuf);
	free(u->tbuf);
	free(u);
}

int kws_user_pending(const struct kws_user *u)
{
	return u->chunk_active || u->ctl_opcode || u->close_pending ||
	       u->close_reported || u->rpos < u->rend;
}

/* ---- tx ----------------------------------------------------------------- */

/*
 * Write one whole frame. A client masks with a fresh random key per frame
 * (RFC 6455 5.3: "MUST pick a fresh masking key for each frame"), through
 * tbuf so the caller's buffer is never written. Called with tx_lock held.
 */
static int write_frame(struct kws_conn *conn, uint8_t opcode, int fin,
		       const uint8_t *payload, size_t len)
{
	struct kws_user *u = conn->user;
	uint8_t hdr[KWS_FRAME_HDR_MAX];
	struct iovec iov[2];
	uint8_t mask[4];
	unsigned int hlen;
	size_t off = 0;
	uint32_t phase = 0;

	if (conn->role == WS_ROLE_SERVER) {
		hlen = kws_frame_build(hdr, opcode, fin, len, NULL);
		iov[0] = (struct iovec){ hdr, hlen };
		iov[1] = (struct iovec){ (void *)payload, len };
		return kws_writev_all(conn->fd, iov, len ? 2 : 1, 0);
	}
	if (kws_random(mask, sizeof(mask)))
		return -1;
	hlen = kws_frame_build(hdr, opcode, fin, len, mask);
	iov[0] = (struct iovec){ hdr, hlen };
	do {
		size_t n = len - off < TBUF_SIZE ? len - off : TBUF_SIZE;
		int first = off == 0;

		phase = kws_mask_copy(u->tbuf, payload + off, n, mask, phase);
		iov[1] = (struct iovec){ u->tbuf, n };
		if (kws_writev_all(conn->fd, first ? iov : iov + 1,
				   first ? 2 : 1, 0))
			return -1;
		off += n;
	} while (off < len);
	return 0;
}

/* Called with tx_lock held. */
static void tx_broken(struct kws_user *u)
{
	/* part of a frame may be on the wire: nothing more can follow it */
	u->tx_broken = 1;
}

ssize_t kws_user_send(struct kws_conn *conn, int opcode, const void *buf,
		      size_t len, unsigned int flags)
{
	struct kws_user *u = conn->user;
	int fin = !(flags & KWS_MORE);
	ssize_t ret = len;

	pthread_mutex_lock(&u->tx_lock);
	if (u->close_sent || u->tx_broken) {
		errno = EPIPE;
		ret = -1;
	} else if (u->tx_open && u->tx_open != opcode) {
		errno = EINVAL;
		ret = -1;
	} else if (write_frame(conn, u->tx_open ? KWS_OP_CONT : opcode, fin,
			       buf, len)) {
		tx_broken(u);
		ret = -1;
	} else {
		u->tx_open = fin ? 0 : opcode;
	}
	pthread_mutex_unlock(&u->tx_lock);
	return ret;
}

/*
 * RFC 6455 7.1.1: "the server MUST close the underlying TCP connection
 * first". As the ULP does: a server shuts its send side once close frames
 * went both ways, a client leaves that to close(2) after the server's FIN;
 * either shuts at once after failing the connection. Called with tx_lock
 * held.
 */
static void close_tcp(struct kws_conn *conn)
{
	struct kws_user *u = conn->user;

	if (u->failed || (u->close_sent && u->close_rcvd &&
			  conn->role == WS_ROLE_SERVER))
		shutdown(conn->fd, SHUT_WR);
}

/*
 * Send a close frame with @code (0: empty payload) and @reason, then shut
 * TCP if its turn has come. Called with tx_lock held.
 */
static int do_send_close(struct kws_conn *conn, uint16_t code,
			 const void *reason, size_t rlen)
{
	struct kws_user *u = conn->user;
	uint8_t payload[KWS_CONTROL_MAX];
	int n = kws_close_build(payload, code, reason, rlen);
	int ret;

	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	ret = write_frame(conn, KWS_OP_CLOSE, 1, payload, n);
	if (ret)
		tx_broken(u);
	u->close_sent = 1;
	close_tcp(conn);
	return ret;
}

int kws_user_control(struct kws_conn *conn, int opcode, uint16_t code,
		     const void *payload, size_t len)
{
	struct kws_user *u = conn->user;
	int ret;

	pthread_mutex_lock(&u->tx_lock);
	if (u->close_sent || u->tx_broken) {
		errno = EPIPE;
		ret = -1;
	} else if (opcode == WS_OP_CLOSE) {
		ret = do_send_close(conn, code, payload, len);
	} else {
		ret = write_frame(conn, opcode, 1, payload, len);
		if (ret)
			tx_broken(u);
	}
	pthread_mutex_unlock(&u->tx_lock);
	return ret;
}

/* ---- rx ----------------------------------------------------------------- */

/*
 * Queue the close report that kws_recv() returns before EOF, with its
 * reason in ctl[] (no control record is pending when a close is parsed).
 */
static void report_close(struct kws_user *u, uint16_t code, uint16_t flags,
			 const uint8_t *reason, size_t len)
{
	u->close_pending = 1;
	u->close_code = code;
	u->close_flags = flags;
	u->ctl_len = len;
	u->ctl_off = 0;
	if (len)
		memcpy(u->ctl, reason, len);
}

/*
 * Fail the connection (RFC 6455 7.1.7) with the codec's verdict: send the
 * close frame with @code, stop reading, report it as a local close. The one
 * place a protocol error turns into a close code, as in the ULP.
 */
static void fail_connection(struct kws_conn *conn, uint16_t code)
{
	struct kws_user *u = conn->user;

	pthread_mutex_lock(&u->tx_lock);
	u->failed = 1;
	if (!u->close_sent && !u->tx_broken)
		do_send_close(conn, code, NULL, 0);
	else
		close_tcp(conn);
	pthread_mutex_unlock(&u->tx_lock);
	report_close(u, code, WS_CLOSE_LOCAL, NULL, 0);
}

/*
 * RFC 6455 5.5.1: answer the peer's close with a close echoing its code,
 * when the application reaches it, as the ULP does (abi.md "Close echo"):
 * until then it may still send, e.g. answer the messages before the close
 * that a kws_recv_batch() returned. The receiving thread.
 */
static void answer_close(struct kws_conn *conn)
{
	struct kws_user *u = conn->user;

	u->close_answer = 0;
	pthread_mutex_lock(&u->tx_lock);
	u->close_rcvd = 1;
	if (!u->close_sent && !u->tx_broken)
		do_send_close(conn, echo_code(u), NULL, 0);
	else
		close_tcp(conn);
	pthread_mutex_unlock(&u->tx_lock);
}

static void handle_control(struct kws_conn *conn, const struct kws_event *ev)
{
	struct kws_user *u = conn->user;
	const uint8_t *payload = u->parser.control;
	int deliver = u->ws_flags & WS_F_DELIVER_CONTROL;

	switch (ev->opcode) {
	case KWS_OP_PING:
		/* RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint
		 * MUST send a Pong frame in response", same payload.
		 */
		if (!(u->ws_flags & WS_F_NO_AUTO_PONG)) {
			pthread_mutex_lock(&u->tx_lock);
			if (!u->close_sent && !u->tx_broken &&
			    write_frame(conn, KWS_OP_PONG, 1, payload, ev->len))
				tx_broken(u);
			pthread_mutex_unlock(&u->tx_lock);
		}
		break;
	case KWS_OP_PONG:
		break;
	case KWS_OP_CLOSE:
		/* answered when the application reads it: answer_close() */
		report_close(u, ev->code, 0, payload + 2,
			     ev->len > 2 ? ev->len - 2 : 0);
		u->close_answer = 1;
		return;
	}
	if (deliver) {
		u->ctl_opcode = ev->opcode;
		u->ctl_len = ev->len;
		u->ctl_off = 0;
		memcpy(u->ctl, payload, ev->len);
	}
}

/* Returns 1 when an event was taken, 0 when the buffer is used up. */
static int feed(struct kws_conn *conn)
{
	struct kws_user *u = conn->user;
	struct kws_event ev;
	size_t base = u->rpos;

	if (u->rpos >= u->rend)
		return 0;
	u->rpos += kws_parser_feed(&u->parser, u->rbuf + base,
				   u->rend - base, &ev);
	switch (ev.type) {
	case KWS_EV_DATA:
		u->chunk_active = 1;
		u->chunk_off = base + ev.off;
		u->chunk_len = ev.len;
		u->chunk_masked = ev.masked;
		u->chunk_phase = ev.phase;
		memcpy(u->chunk_mask, u->parser.frame.mask, 4);
		u->chunk_eom = !!(ev.flags & KWS_EV_EOM);
		u->chunk_opcode = ev.opcode;
		return 1;
	case KWS_EV_CONTROL:
		handle_control(conn, &ev);
		return 1;
	case KWS_EV_ERROR:
		fail_connection(conn, ev.code);
		return 1;
	case KWS_EV_NONE:
		break;
	}
	return u->rpos < u->rend;
}

/* Copy (unmasking) the next @n bytes of the data chunk to @out. */
static void take_chunk(struct kws_user *u, uint8_t *out, size_t n)
{
	const uint8_t *src = u->rbuf + u->chunk_off;

	if (u->chunk_masked)
		u->chunk_phase = kws_mask_copy(out, src, n, u->chunk_mask,
					       u->chunk_phase);
	else if (n)
		memcpy(out, src, n);
	u->chunk_off += n;
	u->chunk_len -= n;
	if (!u->chunk_len)
		u->chunk_active = 0;
}

ssize_t kws_user_recv(struct kws_conn *conn, void *buf, size_t len,
		      struct kws_msg_info *info)
{
	struct kws_user *u = conn->user;
	uint8_t *out = buf;
	size_t total = 0;

	for (;;) {
		ssize_t n;

		if (u->chunk_active) {
			size_t take = u->chunk_len < len - total ?
				      u->chunk_len : len - total;

			info->opcode = u->chunk_opcode;
			take_chunk(u, out + total, take);
			total += take;
			if (!u->chunk_active && u->chunk_eom) {
				info->eom = 1;
				return total;
			}
			if (total == len)
				return total;
			continue;
		}
		/* a message in progress is returned before anything else */
		if (total && (u->ctl_opcode || u->close_pending))
			return total;
		if (u->ctl_opcode || u->close_pending) {
			size_t take = u->ctl_len - u->ctl_off;

			if (take > len)
				take = len;
			memcpy(out, u->ctl + u->ctl_off, take);
			u->ctl_off += take;
			if (u->ctl_opcode) {
				info->opcode = u->ctl_opcode;
				if (u->ctl_off == u->ctl_len) {
					u->ctl_opcode = 0;
					info->eom = 1;
				}
				return take;
			}
			if (u->close_answer)
				answer_close(conn);
			/* a reason longer than @len continues, like a message */
			info->opcode = WS_OP_CLOSE;
			info->close_code = u->close_code;
			info->close_flags = u->close_flags;
			if (u->ctl_off == u->ctl_len) {
				info->eom = 1;
				u->close_pending = 0;
				u->close_reported = 1;
			}
			return take;
		}
		if (u->close_reported)
			return total;	/* EOF: opcode 0 */
		if (feed(conn))
			continue;
		if (total)	/* do not wait with bytes in hand */
			return total;

		u->rpos = u->rend = 0;
		n = recv(conn->fd, u->rbuf, u->rsize, 0);
		if (n < 0)
			return -1;
		if (n == 0) {
			/*
			 * TCP ended without a close frame (RFC 6455 7.1.5:
			 * 1006). Nothing useful can be sent any more: finish
			 * the TCP close so the peer is not left waiting.
			 */
			pthread_mutex_lock(&u->tx_lock);
			u->tx_broken = 1;
			shutdown(conn->fd, SHUT_WR);
			pthread_mutex_unlock(&u->tx_lock);
			report_close(u, WS_CLOSE_ABNORMAL_CODE,
				     WS_CLOSE_ABNORMAL, NULL, 0);
			continue;
		}
		u->rend = n;
	}
}

/*
 * kws_recv_batch() after a first whole data message: more whole messages
 * that the last read already brought, back to back in @buf, as long as
 * each fits in what is left of @len and @ndesc. Never reads the socket, so
 * never waits. Stops, leaving it for the next call as the kernel's
 * WS_RECV_BATCH does, at a data chunk that is not a whole message (a
 * message not all read yet, or the first frame of a fragmented one) or
 * does not fit, at a delivered ping/pong and at the close. Pings met on
 * the way are answered here as in kws_user_recv(). Returns the number of
 * entries filled.
 */
unsigned int kws_user_recv_more(struct kws_conn *conn, void *buf, size_t len,
				struct ws_msg_desc *desc, unsigned int ndesc)
{
	struct kws_user *u = conn->user;
	uint8_t *out = buf;
	unsigned int nr = 0;
	size_t n;

	while (nr < ndesc) {
		while (!u->chunk_active) {
			if (u->ctl_opcode || u->close_pending ||
			    u->close_reported || !feed(conn))
				return nr;
		}
		n = u->chunk_len;
		if (!u->chunk_eom || n > len)
			return nr;
		desc[nr++] = (struct ws_msg_desc){
			.len = n,
			.opcode = u->chunk_opcode,
			.flags = WS_MSG_EOR,
		};
		take_chunk(u, out, n);
		out += n;
		len -= n;
	}
	return nr;
}
