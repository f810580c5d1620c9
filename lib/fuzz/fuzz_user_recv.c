// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the userspace receive path (lib/user.c over the codec)
 * on arbitrary peer bytes. Byte 0 picks the role and WS_F_* flags, byte 1
 * the message size limit, byte 2 the seed of the kws_recv() buffer sizes;
 * the rest is what the peer sends before closing TCP.
 * Invariants: kws_recv() never fails, bytes of a message keep one opcode,
 * control records are whole or continue, exactly one close is reported,
 * then EOF forever.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kws_attach_opts opts = { .flags = KWS_ATTACH_USERSPACE };
	struct kws_conn *conn;
	struct kws_msg_info mi;
	int fds[2], closes = 0, msg_opcode = 0, role;
	uint8_t buf[300];
	uint32_t seed;
	char sink[4096];

	if (size < 3 || size > 16384)
		return 0;
	role = data[0] & 1 ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
	opts.ws_flags = (data[0] >> 1) & WS_F_ALL;
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

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		room = seed % sizeof(buf);
		n = kws_recv(conn, buf, room, &mi);
		if (n < 0 || (size_t)n > room || calls > 100000)
			abort();
		if (mi.opcode == 0) {
			if (closes != 1 || n)
				abort();
			/* EOF stays */
			if (kws_recv(conn, buf, sizeof(buf), &mi) || mi.opcode)
				abort();
			break;
		}
		if (mi.opcode == WS_OP_CLOSE) {
			closes += mi.eom;	/* a long reason takes calls */
			continue;
		}
		if (closes)
			abort();	/* nothing after the close */
		if (mi.opcode == WS_OP_TEXT || mi.opcode == WS_OP_BINARY) {
			if (msg_opcode && msg_opcode != mi.opcode)
				abort();
			msg_opcode = mi.eom ? 0 : mi.opcode;
		} else if (!(opts.ws_flags & WS_F_DELIVER_CONTROL)) {
			abort();	/* pings and pongs only when asked */
		}
		/* drain what we answered so the socket never fills */
		while (recv(fds[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	kws_close(conn);
	close(fds[1]);
	return 0;
}
