// SPDX-License-Identifier: MIT
/* libFuzzer target: kws_url_parse() on arbitrary strings. */
#include <stdlib.h>
#include <string.h>

#include "kws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct kws_url u;

	memcpy(s, data, size);
	s[size] = 0;
	if (kws_url_parse(s, &u) == 0) {
		if (!u.port || u.path[0] != '/' || !u.host[0] ||
		    strchr(u.path, '#') || strchr(u.hostport, ' '))
			abort();
	}
	free(s);
	return 0;
}
