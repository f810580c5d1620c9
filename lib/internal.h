/* SPDX-License-Identifier: MIT */
/*
 * libkws internals: the connection object and the prototypes shared between
 * files, grouped by owning file.
 */
#ifndef KWS_INTERNAL_H
#define KWS_INTERNAL_H

#include <pthread.h>
#include "kws.h"
#include "kws_codec.h"

#define KWS_EXPORT __attribute__((visibility("default")))

#define KWS_HEAD_MAX_DEFAULT	8192
#define KWS_RBUF_SIZE		(64 * 1024)

/* Userspace codec state; unused on the kernel path. */
struct kws_user {
	struct kws_parser parser;
	uint32_t ws_flags;		/* WS_F_* */

	/* rx: only the receiving thread touches these */
	uint8_t *rbuf;			/* bytes read from the socket */
	size_t rsize;
	size_t rpos;			/* next byte to feed the parser */
	size_t rend;			/* end of valid bytes */
	size_t chunk_off;		/* data chunk not yet returned: rbuf + */
	size_t chunk_len;
	uint32_t chunk_phase;
	uint8_t chunk_active;
	uint8_t chunk_masked;
	uint8_t chunk_mask[4];
	uint8_t chunk_eom;		/* chunk ends its message */
	uint8_t chunk_opcode;
	uint8_t ctl_opcode;		/* control frame to deliver, or 0 */
	uint8_t ctl_len;		/* its payload, or the close reason */
	uint8_t ctl_off;
	uint8_t ctl[KWS_CONTROL_MAX];
	uint8_t close_pending;		/* close to report on the next call */
	uint8_t close_answer;		/* the peer's close, echoed when it is
					 * reported (or at kws_close())
					 */
	uint8_t close_reported;		/* then EOF */
	uint16_t close_code;
	uint16_t close_flags;

	/* close state and the socket's write side: under tx_lock */
	pthread_mutex_t tx_lock;	/* one frame on the wire at a time */
	uint8_t tx_open;		/* opcode of a fragmented message, or 0 */
	uint8_t close_sent;
	uint8_t close_rcvd;
	uint8_t failed;			/* we failed the connection */
	uint8_t tx_broken;		/* write error or TCP gone */
	uint8_t *tbuf;			/* masking buffer (client) */
};

struct kws_conn {
	int fd;
	int role;			/* WS_ROLE_* */
	int kernel;			/* the ULP runs it */
	uint8_t tx_open;		/* kernel path: message left open */
	uint8_t rx_batch;		/* kernel path: WS_RECV_BATCH is on;
					 * receiving thread only
					 */
	uint8_t rx_batch_missing;	/* the module predates WS_RECV_BATCH */
	char *protocol;			/* agreed subprotocol, or NULL */
	struct kws_user *user;		/* userspace path, else NULL */
};

/* handshake.c */
int kws_b64_encode(const uint8_t *in, size_t len, char *out, size_t size);
int kws_random(void *buf, size_t len);

/* user.c: the userspace codec behind kws_send/kws_recv */
int kws_user_attach(struct kws_conn *conn, const struct kws_attach_opts *opts,
		    const void *leftover, size_t len);
void kws_user_going_away(struct kws_conn *conn);
void kws_user_free(struct kws_user *u);
ssize_t kws_user_send(struct kws_conn *conn, int opcode, const void *buf,
		      size_t len, unsigned int flags);
int kws_user_control(struct kws_conn *conn, int opcode, uint16_t code,
		     const void *payload, size_t len);
ssize_t kws_user_recv(struct kws_conn *conn, void *buf, size_t len,
		      struct kws_msg_info *info);
unsigned int kws_user_recv_more(struct kws_conn *conn, void *buf, size_t len,
				struct ws_msg_desc *desc, unsigned int ndesc);
int kws_user_pending(const struct kws_user *u);

/* io.c */
struct iovec;
int64_t kws_now_ms(void);
int64_t kws_deadline(int timeout_ms);
int kws_wait_fd(int fd, short events, int64_t deadline);
int kws_write_all(int fd, const void *buf, size_t len, int64_t deadline);
int kws_writev_all(int fd, struct iovec *iov, int iovcnt, int64_t deadline);

#endif /* KWS_INTERNAL_H */
