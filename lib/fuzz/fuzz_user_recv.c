// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the userspace receive path (lib/user.c over the codec)
 * on arbitrary peer bytes. Byte 0 picks the role and WS_F_* flags, byte 1
 * the message size limit, byte 2 the seed of the kws_recv() buffer sizes;
 * the rest is what the peer sends before closing TCP. The seed also picks,
 * call by call, kws_recv() or kws_recv_batch() with 1 to 8 entries.
 * Invariants: neither call fails, bytes of a message keep one opcode,
 * control records are whole or continue, batches keep their rules (kws.h),
 * exactly one close is reported, then EOF forever.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kws.h"

struct state {
	int closes;
	int msg_opcode;		/* of a data message in progress */
	uint32_t ws_flags;
};

/* The rules every entry, of kws_recv() or kws_recv_batch(), keeps. */
static void check_entry(struct state *st, int opcode, int eom)
{
	if (opcode == WS_OP_CLOSE) {
		st->closes += eom;	/* a long reason takes calls */
		return;
	}
	if (st->closes)
		abort();	/* nothing after the close */
	if (opcode == WS_OP_TEXT || opcode == WS_OP_BINARY) {
		if (st->msg_opcode && st->msg_opcode != opcode)
			abort();
		st->msg_opcode = eom ? 0 : opcode;
	} else if (!(st->ws_flags & WS_F_DELIVER_CONTROL)) {
		abort();	/* pings and pongs only when asked */
	}
}

/*
 * One kws_recv_batch() call, checked against its rules (kws.h). Returns
 * the number of entries, 0 at EOF.
 */
static int batch_call(struct state *st, struct kws_conn *conn, uint8_t *buf,
		      size_t room, unsigned int ndesc,
		      struct kws_msg_info *mi)
{
	struct ws_msg_desc desc[8];
	size_t total = 0;
	int nr = kws_recv_batch(conn, buf, room, desc, ndesc, mi);

	if (nr < 0 || (unsigned int)nr > ndesc)
		abort();
	for (int i = 0; i < nr; i++) {
		int eor = desc[i].flags & WS_MSG_EOR;

		total += desc[i].len;
		/* control entries and parts come alone */
		if (nr > 1 && (!eor || desc[i].opcode & 0x8))
			abort();
		/* a batch never starts a message it does not finish */
		if (i && st->msg_opcode)
			abort();
		if (desc[i].reserved || desc[i].flags & ~WS_MSG_EOR)
			abort();
		check_entry(st, desc[i].opcode, eor);
	}
	if (total > room || (nr && (mi->opcode != desc[nr - 1].opcode ||
				    mi->eom != !!(desc[nr - 1].flags &
						  WS_MSG_EOR))))
		abort();
	return nr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kws_attach_opts opts = { .flags = KWS_ATTACH_USERSPACE };
	struct state st = { 0 };
	struct kws_conn *conn;
	struct kws_msg_info mi;
	int fds[2], role;
	uint8_t buf[300];
	uint32_t seed;
	char sink[4096];

	if (size < 3 || size > 16384)
		return 0;
	role = data[0] & 1 ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
	opts.ws_flags = (data[0] >> 1) & WS_F_ALL;
	st.ws_flags = opts.ws_flags;
	opts.max_msg_size = data[1] ? data[1] * 37 : 0;
	seed = data[2] | 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
		return 0;
	if (write(fds[1], data + 3, size - 3) != (ssize_t)(size - 3))
		abort();
	shutdown(fds[1], SHUT_WR);
	if (kws_attach(fds[0], role, &opts, NULL, 0, &conn))
		abort();
	for (int calls = 0;; calls++) {
		size_t room;
		ssize_t n;
		int eof;

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		room = seed % sizeof(buf);
		if (calls > 100000)
			abort();
		/* one call in two a batch of 1 to 8 entries */
		if (seed & 0x10000) {
			n = batch_call(&st, conn, buf, room,
				       1 + (seed >> 20) % 8, &mi);
			eof = n == 0;
		} else {
			n = kws_recv(conn, buf, room, &mi);
			if (n < 0 || (size_t)n > room)
				abort();
			eof = mi.opcode == 0;
			if (!eof)
				check_entry(&st, mi.opcode, mi.eom);
		}
		if (eof) {
			if (st.closes != 1 || n || mi.opcode)
				abort();
			/* EOF stays */
			if (kws_recv(conn, buf, sizeof(buf), &mi) || mi.opcode)
				abort();
			break;
		}
		/* drain what we answered so the socket never fills */
		while (recv(fds[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	kws_close(conn);
	close(fds[1]);
	return 0;
}
