// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: kws_hs_server_request() on arbitrary bytes, fed in
 * pieces whose size the first input byte chooses, then the response.
 * Invariants: the parser never takes more than it was given, a verdict is
 * final, and the status always matches the verdict.
 */
#include <stdlib.h>
#include <string.h>

#include "kws.h"

static const char *const protos[] = { "chat", "v2.x", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kws_server_opts opts = { .protocols = protos, .max_request = 2048 };
	struct kws_hs *hs;
	size_t piece, off = 1, used;
	char out[4096];
	int r = 0, status;

	if (size < 1)
		return 0;
	piece = data[0] ? data[0] : size;
	hs = kws_hs_server_new(&opts);
	if (!hs)
		return 0;
	while (off < size && r == 0) {
		size_t n = size - off < piece ? size - off : piece;

		r = kws_hs_server_request(hs, data + off, n, &used);
		if (used > n || (r == 0 && used != n))
			abort();
		off += n;
	}
	status = kws_hs_status(hs);
	if ((r == 1 && status != 101) ||
	    (r == -1 && status != 400 && status != 426 && status != 431) ||
	    (r == 0 && status != 0))
		abort();
	if (r == 1) {
		if (!kws_hs_path(hs) || !kws_hs_header(hs, "host"))
			abort();
		kws_hs_header(hs, "Sec-WebSocket-Protocol");
	}
	if (r != 0 && kws_hs_server_response(hs, 0, out, sizeof(out)) < 0)
		abort();
	kws_hs_free(hs);
	return 0;
}
