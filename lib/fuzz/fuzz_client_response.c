// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: kws_hs_client_response() on arbitrary bytes. "@A" in
 * the input stands for the right Sec-WebSocket-Accept value of this run's
 * random key, so the fuzzer reaches the checks after the accept one.
 * The first byte chooses the piece size.
 */
#include <stdlib.h>
#include <string.h>

#include "kws.h"

static const char *const protos[] = { "chat", "superchat", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kws_client_opts opts = { .protocols = protos, .max_response = 2048 };
	char req[1024], key[32] = "", acc[29], *resp;
	size_t piece, len = 0, off = 0, used;
	const char *k;
	struct kws_hs *hs;
	int r = 0;

	if (size < 1 || size > 8192)
		return 0;
	piece = data[0] ? data[0] : size;
	hs = kws_hs_client_new(&opts);
	if (!hs)
		return 0;
	if (kws_hs_client_request(hs, "h", "/", req, sizeof(req)) < 0)
		abort();
	k = strstr(req, "Sec-WebSocket-Key: ");
	memcpy(key, k + 19, 24);
	kws_accept_key(key, acc);
	resp = malloc(size * 14 + 1);
	for (size_t i = 1; i < size; i++) {
		if (data[i] == '@' && i + 1 < size && data[i + 1] == 'A') {
			memcpy(resp + len, acc, 28);
			len += 28;
			i++;
		} else {
			resp[len++] = data[i];
		}
	}
	while (off < len && r == 0) {
		size_t n = len - off < piece ? len - off : piece;

		r = kws_hs_client_response(hs, resp + off, n, &used);
		if (used > n || (r == 0 && used != n))
			abort();
		off += n;
	}
	if (r == 1 && kws_hs_status(hs) != 101)
		abort();
	if (r == 1 && kws_hs_protocol(hs) &&
	    strcmp(kws_hs_protocol(hs), "chat") &&
	    strcmp(kws_hs_protocol(hs), "superchat"))
		abort();
	free(resp);
	kws_hs_free(hs);
	return 0;
}
