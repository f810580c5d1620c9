/* SPDX-License-Identifier: MIT */
/*
 * libkws: WebSocket (RFC 6455) connections over the kws kernel offload.
 *
 * libkws does the HTTP Upgrade in userspace, then hands the socket to the
 * kernel's "ws" TCP ULP (include/linux/kws.h). When the module is missing it
 * runs the same frame codec in userspace instead, behind the same calls, so
 * an application is written once:
 *
 *	struct kws_conn *c;
 *	struct kws_msg_info mi;
 *	char buf[4096];
 *	ssize_t n;
 *
 *	if (kws_connect("ws://example.org/chat", NULL, &c))
 *		err(1, "kws_connect");
 *	kws_send(c, WS_OP_TEXT, "hello", 5, 0);
 *	while ((n = kws_recv(c, buf, sizeof(buf), &mi)) >= 0 && mi.opcode) {
 *		if (mi.opcode == WS_OP_CLOSE)
 *			continue;	// the next call reports EOF
 *		use(buf, n, mi.eom);
 *	}
 *	kws_close(c);
 *
 * Layers, each usable alone:
 *   kws_hs_*        sans-I/O handshake: build and parse the HTTP Upgrade in
 *                   caller buffers, with any I/O (an event loop, TLS, ...);
 *   kws_attach()    turn an upgraded socket into a connection;
 *   kws_connect()   URL to open connection (resolve, TCP, handshake, attach);
 *   kws_accept(), kws_server_handshake()   the same for servers;
 *   kws_send(), kws_recv() and friends     one message per call;
 *   kws_recv_batch()  many small messages per call.
 *
 * Error convention: functions returning int or ssize_t return -1 and set
 * errno on failure, like the system calls they wrap. Errno values are listed
 * per function. From kws_send/kws_recv: EINTR and EAGAIN keep the
 * connection usable (call again), EINVAL refuses a bad call and changes
 * nothing, EPIPE means no more sending (keep receiving to see the close);
 * after any other errno, kws_recv() reports a close (1006 after
 * ECONNRESET) or the caller gives up with kws_close().
 *
 * Threads: one thread may send while another receives on the same
 * connection. Two concurrent senders or two concurrent receivers need the
 * caller's own lock. The kws_hs_* objects are not shared between threads.
 */
#ifndef KWS_H
#define KWS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/kws.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KWS_VERSION_MAJOR	0
#define KWS_VERSION_MINOR	1

/* ---- options ------------------------------------------------------------ */

/* kws_attach_opts.flags */
#define KWS_ATTACH_USERSPACE	(1U << 0) /* never use the kernel ULP */
#define KWS_ATTACH_KERNEL	(1U << 1) /* fail (ENOPROTOOPT) rather than
					   * fall back to userspace
					   */

/*
 * How the connection runs once upgraded. All-zero (or a NULL pointer)
 * selects the defaults: binary tx_opcode, 16 MiB message limit, pings
 * answered automatically and not delivered, text validated.
 * The environment variable KWS_USERSPACE=1 has the effect of
 * KWS_ATTACH_USERSPACE for every connection (handy for testing).
 */
struct kws_attach_opts {
	uint32_t flags;		/* KWS_ATTACH_* */
	uint32_t ws_flags;	/* WS_F_* from linux/kws.h */
	uint64_t max_msg_size;	/* 0: WS_MAX_MSG_DEFAULT; WS_MAX_MSG_UNLIMITED */
};

/*
 * Client handshake options; NULL selects none of them.
 * Zero-initialise the structure: fields may be added at the end.
 */
struct kws_client_opts {
	const char *origin;		/* Origin header, or NULL */
	const char *const *protocols;	/* subprotocols offered, in order of
					 * preference, NULL-terminated, or NULL
					 */
	const char *const *headers;	/* extra "Name: value" lines without
					 * CRLF, NULL-terminated, or NULL; not
					 * the handshake's own (Host, Upgrade,
					 * Connection, Origin, Sec-WebSocket-*)
					 */
	int timeout_ms;			/* connect + handshake; 0: none */
	size_t max_response;		/* response head limit; 0: 8192 */
	struct kws_attach_opts attach;
};

/* Server handshake options; NULL selects none. Zero-initialise. */
struct kws_server_opts {
	const char *const *protocols;	/* subprotocols the server speaks, in
					 * order of preference, NULL-terminated;
					 * the first one the client offers wins
					 */
	const char *const *headers;	/* extra "Name: value" lines for the
					 * 101 response, NULL-terminated; not
					 * the handshake's own
					 */
	int timeout_ms;			/* handshake; 0: none */
	size_t max_request;		/* request head limit; 0: 8192 */
	struct kws_attach_opts attach;
};

/* ---- sans-I/O handshake ------------------------------------------------- */

/*
 * A handshake in progress, client or server side. It owns a copy of the
 * head being parsed (at most the max_request/max_response limit) and
 * nothing else; no I/O is done by any kws_hs_* function.
 */
struct kws_hs;

/*
 * Client side, in order:
 *   hs = kws_hs_client_new(opts);            picks a random key
 *   n = kws_hs_client_request(hs, host, path, buf, size);  send buf[0..n)
 *   loop: r = kws_hs_client_response(hs, bytes, len, &used);
 *   kws_attach(fd, WS_ROLE_CLIENT, ..., bytes + used, len - used);
 *   kws_hs_free(hs);
 *
 * Returns NULL with errno ENOMEM, or EIO if no random bytes are available.
 * @opts is copied; its strings need not outlive the call.
 */
struct kws_hs *kws_hs_client_new(const struct kws_client_opts *opts);

/*
 * Write the GET request for @host (the Host header value, with ":port" if
 * not the default) and @path (request target, "/" if NULL or empty) into
 * @out. Returns its length (no NUL is written) to send as is; -1 with
 * ENOSPC if @size is too small (1 KiB plus the options is always enough),
 * EINVAL if @host, @path or an option holds CR, LF or NUL or is malformed,
 * or an extra header is one the handshake writes itself. kws supports no
 * extension: Sec-WebSocket-Extensions is never offered.
 */
ssize_t kws_hs_client_request(struct kws_hs *hs, const char *host,
			      const char *path, char *out, size_t size);

/*
 * Feed @len bytes received from the server. Sets *@used to how many of them
 * belong to the response head; the rest (bytes after the blank line) are the
 * first WebSocket frames: pass them to kws_attach() as leftover.
 * Returns:
 *   0   all @len bytes consumed, the head is not complete: receive more and
 *       call again with only the new bytes;
 *   1   a valid 101 response: the connection is upgraded; do not call again;
 *  -1   the server refused or broke the rules, errno:
 *       ECONNREFUSED  status is not 101 (kws_hs_status() has it),
 *       EPROTO        malformed response or a failed RFC 6455 4.1 check
 *                     (kws_hs_error() says which),
 *       EMSGSIZE      head larger than max_response.
 *       Close the connection; do not call again.
 */
int kws_hs_client_response(struct kws_hs *hs, const void *bytes, size_t len,
			   size_t *used);

/*
 * Server side, in order:
 *   hs = kws_hs_server_new(opts);
 *   loop: r = kws_hs_server_request(hs, bytes, len, &used);
 *   n = kws_hs_server_response(hs, 0, buf, size);  send buf[0..n)
 *   if kws_hs_status(hs) == 101: kws_attach(fd, WS_ROLE_SERVER, ...,
 *                                           bytes + used, len - used);
 *   kws_hs_free(hs);
 * Returns NULL with errno ENOMEM, or EINVAL if a protocol is not a token or
 * an extra header is not a "Name: value" line. @opts is copied.
 */
struct kws_hs *kws_hs_server_new(const struct kws_server_opts *opts);

/*
 * Feed @len bytes received from the client; *@used as for
 * kws_hs_client_response(). Returns:
 *   0   all consumed, head incomplete: receive more, call again;
 *   1   a valid upgrade request (kws_hs_status() is 101): inspect it with
 *       kws_hs_path()/kws_hs_header() if needed, then answer with
 *       kws_hs_server_response();
 *  -1   not a valid upgrade request; errno EPROTO (status 400, or 426 for
 *       a Sec-WebSocket-Version other than 13), EMSGSIZE (status 431).
 *       Answer with kws_hs_server_response(hs, 0, ...) and close.
 * Folded header lines (obs-fold, RFC 9112 5.2) are refused with 400.
 * Repeated headers are combined into one comma-separated list.
 */
int kws_hs_server_request(struct kws_hs *hs, const void *bytes, size_t len,
			  size_t *used);

/*
 * Write the response into @out: with @status 0, the one kws_hs_status()
 * names (101 with Sec-WebSocket-Accept and the chosen subprotocol, or the
 * 400/426/431 refusal); with another @status (e.g. 403 or 404 after looking
 * at the path or Origin), a refusal with that status. Returns its length,
 * -1 with ENOSPC if @size is too small, EINVAL for @status 101 on a request
 * that was not valid or a status outside 100..599, EALREADY if the request
 * head is not complete yet.
 * After a refusal, close the connection.
 */
ssize_t kws_hs_server_response(struct kws_hs *hs, int status, char *out,
			       size_t size);

/* HTTP status: the response's (client) or the one to send (server); 0 if
 * not known yet.
 */
int kws_hs_status(const struct kws_hs *hs);

/* Subprotocol agreed on, or NULL for none. Valid until kws_hs_free(). */
const char *kws_hs_protocol(const struct kws_hs *hs);

/* Request target of a parsed request (server), or NULL. */
const char *kws_hs_path(const struct kws_hs *hs);

/*
 * Value of header @name (case-insensitive) in the parsed head, repeated
 * headers joined with ", ", or NULL if absent. Valid until kws_hs_free().
 */
const char *kws_hs_header(const struct kws_hs *hs, const char *name);

/* Why the last call failed, in words (static string), or NULL. */
const char *kws_hs_error(const struct kws_hs *hs);

void kws_hs_free(struct kws_hs *hs);

/*
 * Sec-WebSocket-Accept for @key (RFC 6455 4.2.2): base64(SHA-1(key GUID)).
 * @out gets 28 characters and a NUL. Returns 0, or -1 with EINVAL.
 */
int kws_accept_key(const char *key, char out[29]);

/* ---- URLs --------------------------------------------------------------- */

struct kws_url {
	char host[256];		/* name or address, IPv6 without brackets */
	char hostport[264];	/* Host header value: [v6]:port, port only if
				 * not 80
				 */
	char path[2048];	/* path and query, "/" at least */
	uint16_t port;		/* 80 if not given */
};

/*
 * Parse "ws://host[:port][/path][?query]" (scheme case-insensitive; host a
 * name, IPv4 or bracketed IPv6 literal such as [::1]). A fragment is not
 * allowed (RFC 6455 3). Returns 0, or -1 with EINVAL (malformed),
 * EPROTONOSUPPORT (wss:// or another scheme), ENAMETOOLONG.
 */
int kws_url_parse(const char *url, struct kws_url *out);

/* ---- connections -------------------------------------------------------- */

struct kws_conn;

/*
 * Open a WebSocket connection to @url: resolve it (getaddrinfo, every
 * address in turn), connect, do the client handshake, attach.
 * Returns 0 and sets *@conn, or -1 with errno:
 *   EINVAL, EPROTONOSUPPORT, ENAMETOOLONG  bad URL (kws_url_parse);
 *   EHOSTUNREACH  the name does not resolve;
 *   ETIMEDOUT     opts->timeout_ms passed;
 *   ECONNREFUSED  the server answered with a status other than 101;
 *   EPROTO        the server broke RFC 6455 4.1 (bad accept key, ...);
 *   anything connect(2), recv(2), send(2) or kws_attach() return.
 */
int kws_connect(const char *url, const struct kws_client_opts *opts,
		struct kws_conn **conn);

/*
 * accept(2) one connection from @listen_fd and run kws_server_handshake()
 * on it. On failure the accepted socket is closed (after sending the HTTP
 * refusal, if the request got that far) and -1 returned with the errno of
 * accept(2) or kws_server_handshake(); the listener stays usable, so a
 * server loop logs the failure and calls kws_accept() again.
 */
int kws_accept(int listen_fd, const struct kws_server_opts *opts,
	       struct kws_conn **conn);

/*
 * Read the upgrade request from the connected socket @fd, answer it and
 * attach. Never reads a byte past the request head (MSG_PEEK), so frames a
 * client sends early stay in the socket for the codec. On success the
 * connection owns @fd. On failure -1 with errno EPROTO (bad request: a
 * 400/426 response was sent), EMSGSIZE (431 sent), ECONNRESET (peer closed
 * first), ETIMEDOUT, or a socket errno; @fd stays the caller's to close.
 * @path and @pathlen, if @path is not NULL, receive the request target
 * (truncated, NUL-terminated).
 */
int kws_server_handshake(int fd, const struct kws_server_opts *opts,
			 struct kws_conn **conn, char *path, size_t pathlen);

/*
 * Make a connection of the upgraded socket @fd in @role (WS_ROLE_CLIENT or
 * WS_ROLE_SERVER). @leftover (@len bytes, may be 0) are bytes already read
 * past the handshake: they are parsed before anything read from @fd.
 * Kernel path: TCP_ULP "ws", WS_LEFTOVER, WS_CONFIG. If the module is
 * missing (TCP_ULP fails with ENOENT), KWS_USERSPACE=1 is set in the
 * environment or opts->flags has KWS_ATTACH_USERSPACE, the userspace codec
 * takes the connection instead.
 * Returns 0 and sets *@conn, which then owns @fd; or -1 with errno EINVAL
 * (bad role or options), ENOPROTOOPT (module missing and KWS_ATTACH_KERNEL),
 * EMSGSIZE (more than WS_LEFTOVER_MAX leftover bytes on the kernel path),
 * ENOMEM, or the setsockopt(2) errno; @fd is then still the caller's.
 * A failure after TCP_ULP succeeded leaves the ULP attached: close @fd.
 */
int kws_attach(int fd, int role, const struct kws_attach_opts *opts,
	       const void *leftover, size_t len, struct kws_conn **conn);

/* kws_send() flags */
#define KWS_MORE	(1U << 0) /* a fragment: more of the message follows */

/*
 * Send @len bytes (0 is fine) as a message of @opcode, WS_OP_TEXT or
 * WS_OP_BINARY. With KWS_MORE the bytes are one fragment and the message
 * stays open: call again with the same opcode for the next fragments and
 * without KWS_MORE for the last one; pings and pongs may go in between.
 * Text must be valid UTF-8 (not checked here; the peer fails the
 * connection with 1007 otherwise).
 * Returns @len, or -1 with errno:
 *   EAGAIN       non-blocking kernel socket, nothing sent: wait for POLLOUT,
 *                call again (the userspace path waits itself);
 *   EINVAL       bad opcode or flags, or an opcode change inside a message;
 *   EPIPE        a close frame was sent, or received and returned by
 *                kws_recv() (which answers it), the connection failed or
 *                TCP ended;
 *   anything sendmsg(2) returns.
 * The kernel path may return less than @len on a non-blocking socket; send
 * the rest with another call with the same opcode and flags.
 */
ssize_t kws_send(struct kws_conn *conn, int opcode, const void *buf,
		 size_t len, unsigned int flags);

/*
 * Send a ping with @len (<= 125) bytes of payload. The pong is not
 * reported unless WS_F_DELIVER_CONTROL. Returns 0, or -1 with EINVAL
 * (@len > 125), EPIPE, a sendmsg(2) errno.
 */
int kws_ping(struct kws_conn *conn, const void *payload, size_t len);

/* The same for an unsolicited pong (RFC 6455 5.5.3, a heartbeat). */
int kws_pong(struct kws_conn *conn, const void *payload, size_t len);

/*
 * Start the closing handshake with @code (0: no status code) and an
 * optional UTF-8 @reason (NULL or at most 123 bytes). Then keep calling
 * kws_recv() until it reports the peer's close (WS_OP_CLOSE), then EOF,
 * then kws_close(). Returns 0, or -1 with EINVAL (code not sendable, RFC
 * 6455 7.4, or reason too long), EPIPE (a close frame was already sent),
 * or a sendmsg(2) errno.
 */
int kws_send_close(struct kws_conn *conn, uint16_t code, const char *reason);

/* What a kws_recv() call returned. */
struct kws_msg_info {
	uint8_t opcode;		/* WS_OP_TEXT, _BINARY, _CLOSE; _PING and
				 * _PONG with WS_F_DELIVER_CONTROL; 0 at EOF
				 */
	uint8_t eom;		/* 1 on the call returning a message's last
				 * byte (MSG_EOR); always 1 for control
				 */
	uint16_t close_code;	/* WS_OP_CLOSE: peer's code, 1005 if none,
				 * 1006 if TCP ended without a close frame,
				 * or the code libkws/the kernel failed with
				 */
	uint16_t close_flags;	/* WS_OP_CLOSE: WS_CLOSE_LOCAL,
				 * WS_CLOSE_ABNORMAL
				 */
	uint16_t reserved;
};

/*
 * Receive the next bytes of at most one message into @buf. Returns the
 * number of bytes and fills @info:
 *   opcode TEXT/BINARY: that many bytes of the message; if !eom, call again
 *     for the rest (a message bigger than @len, or not all arrived yet).
 *     A zero-length message returns 0 with eom set.
 *   opcode CLOSE: the peer's close (reason bytes in @buf; a reason longer
 *     than @len continues on the next call, eom on its last byte), or the
 *     connection failed (WS_CLOSE_LOCAL: libkws or the kernel sent
 *     close_code, 1002/1007/1009, to the peer) or TCP ended without a
 *     close (WS_CLOSE_ABNORMAL, 1006). A close frame is answered
 *     automatically when this call returns it (the messages before it can
 *     still be answered). Call once more to see EOF, then kws_close().
 *   opcode 0: EOF after the close; returns 0. Call kws_close().
 * Returns -1 with errno EAGAIN (non-blocking socket and nothing buffered:
 * poll kws_fd() for POLLIN, but see kws_pending()), EINTR, or a recvmsg(2)
 * errno; ECONNRESET (TCP reset) is reported once, then the 1006 close.
 * Like recv(2) on TCP, a call may return fewer bytes than are on their way;
 * only eom marks the end of a message.
 * The userspace path answers pings and closes from inside this call and may
 * wait for the socket's send buffer to do so.
 */
ssize_t kws_recv(struct kws_conn *conn, void *buf, size_t len,
		 struct kws_msg_info *info);

/* Most entries one kws_recv_batch() call fills: the kernel's limit (abi.md). */
#define KWS_RECV_BATCH_MAX	64

/*
 * Receive many whole messages in one call (WS_RECV_BATCH on the kernel
 * path): their bytes back to back in @buf, entry i of @desc describing the
 * next desc[i].len bytes (struct ws_msg_desc from linux/kws.h: opcode,
 * flags WS_MSG_EOR when the entry ends its message). At most @ndesc entries
 * (1 to KWS_RECV_BATCH_MAX; more is treated as the maximum). Returns the
 * number of entries, 0 at EOF (after the close), or -1 with the errno of
 * kws_recv() or EINVAL (@ndesc 0).
 *   A batch ends at a message that has not all arrived or does not fit in
 *   what is left of @len: it comes in a later call. If it is the first
 *   message of the call, the call returns a part of it as kws_recv() does:
 *   one entry without WS_MSG_EOR, its end the first entry of a later call.
 *   Zero-length messages are entries with len 0.
 *   Pings and pongs (WS_F_DELIVER_CONTROL) and the close are never in a
 *   batch: they come alone, one entry with their opcode, the close's code
 *   in @info. @info always describes the last entry as kws_recv() would
 *   (opcode, eom, close_code, close_flags).
 * The two paths may cut batches at different places (the kernel takes what
 * TCP has queued, the userspace codec what its last read brought, and it
 * ends a batch before a fragmented message); the entries, in order, are the
 * same. Calls may be mixed with kws_recv(); on the kernel path switching
 * costs one setsockopt(2). With @ndesc under 4 the kernel path returns one
 * message per call (the close needs that much control buffer).
 */
int kws_recv_batch(struct kws_conn *conn, void *buf, size_t len,
		   struct ws_msg_desc *desc, unsigned int ndesc,
		   struct kws_msg_info *info);

/*
 * 1 if kws_recv() has buffered input to report without reading the socket
 * (userspace path only; the kernel path's readiness is the socket's own).
 * Event loops check it before waiting for POLLIN.
 */
int kws_pending(const struct kws_conn *conn);

/* The socket. Poll it; do not read or write it directly. */
int kws_fd(const struct kws_conn *conn);

/* 1 if the kernel ULP runs the connection, 0 for the userspace codec. */
int kws_is_kernel(const struct kws_conn *conn);

/* Subprotocol agreed during kws_connect/kws_accept, or NULL. */
const char *kws_protocol(const struct kws_conn *conn);

/*
 * Close the socket and free @conn (NULL is fine). If no close frame was
 * sent yet, a close 1001 ("going away"), or the echo of a peer's close not
 * read yet, is sent when it can go out without blocking (the ULP does the
 * same at close(2)). For a clean close call
 * kws_send_close() first and read the peer's close.
 */
void kws_close(struct kws_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* KWS_H */
