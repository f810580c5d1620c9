/* SPDX-License-Identifier: MIT */
/*
 * kwscat: a WebSocket client and server on libkws, in the spirit of
 * websocat and wscat. kwscat.c parses options and opens connections,
 * session.c bridges one connection at a time to stdin/stdout, echo.c is the
 * epoll echo server, progress.c the progress line on stderr.
 */
#ifndef KWSCAT_H
#define KWSCAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kws.h>

/* Exit codes; kwscat(1) lists them. */
enum {
	KC_EXIT_OK		= 0,
	KC_EXIT_ERROR		= 1,	/* I/O error, out of memory, ... */
	KC_EXIT_USAGE		= 2,	/* bad option or URL */
	KC_EXIT_CONNECT		= 3,	/* name, connect or listen failed */
	KC_EXIT_HANDSHAKE	= 4,	/* HTTP refusal or bad handshake */
	KC_EXIT_CLOSED		= 5,	/* closed with an error or abnormally */
};

#define KC_MAX_PROTOCOLS	16
#define KC_DEFAULT_CHUNK	65536
#define KC_DEFAULT_TIMEOUT_MS	10000

struct kc_opts {
	const char *url;		/* client role when set */
	const char *listen;		/* server role when set */
	bool echo;
	bool binary;
	bool userspace;			/* KWS_ATTACH_USERSPACE */
	bool kernel;			/* KWS_ATTACH_KERNEL */
	bool once;
	bool verbose;
	bool quiet;			/* no progress line */
	size_t chunk;			/* message size from stdin (--binary) */
	uint64_t messages;		/* close after this many; 0: at EOF */
	unsigned int ping_interval_ms;	/* 0: no keepalive */
	unsigned int ping_timeout_ms;
	int timeout_ms;			/* connect + handshake */
	uint64_t max_msg;		/* 0: the default */
	unsigned int batch;		/* messages per receive call, 1 to
					 * KWS_RECV_BATCH_MAX (kws_recv_batch)
					 */
	const char *protocols[KC_MAX_PROTOCOLS + 1];	/* NULL-terminated */
};

extern const char *kc_progname;

/* kwscat.c */
void kc_attach_opts(const struct kc_opts *o, struct kws_attach_opts *ao);
void kc_keepalive(struct kws_conn *c, const struct kc_opts *o);
int kc_listen(const char *spec, bool verbose);
const char *kc_close_name(unsigned int code);

/* session.c: stdin/stdout bridge; each returns a KC_EXIT_* code */
int kc_client_session(struct kws_conn *c, const struct kc_opts *o);
int kc_server_stdio(int lfd, const struct kc_opts *o);

/* echo.c */
int kc_echo_server(int lfd, const struct kc_opts *o);

/* progress.c: a progress line on stderr when it is a terminal */
void kc_progress_init(const struct kc_opts *o, int64_t total);
void kc_progress_add(uint64_t sent, uint64_t received);
void kc_progress_done(void);

#endif /* KWSCAT_H */
