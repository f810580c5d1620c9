// SPDX-License-Identifier: MIT
/* kws_url_parse(): the ws:// URL forms of RFC 6455 3, good and bad. */
#include <errno.h>
#include <string.h>

#include "kws.h"
#include "tap.h"

struct good {
	const char *url, *host, *hostport, *path;
	unsigned int port;
};

static const struct good goods[] = {
	{ "ws://example.org", "example.org", "example.org", "/", 80 },
	{ "ws://example.org/", "example.org", "example.org", "/", 80 },
	{ "WS://Example.org/chat", "Example.org", "Example.org", "/chat", 80 },
	{ "ws://example.org:8080/a/b?x=1&y=2", "example.org",
	  "example.org:8080", "/a/b?x=1&y=2", 8080 },
	{ "ws://example.org?q", "example.org", "example.org", "/?q", 80 },
	{ "ws://example.org:80/x", "example.org", "example.org", "/x", 80 },
	{ "ws://example.org:/x", "example.org", "example.org", "/x", 80 },
	{ "ws://127.0.0.1:9001", "127.0.0.1", "127.0.0.1:9001", "/", 9001 },
	{ "ws://[::1]:8080/p", "::1", "[::1]:8080", "/p", 8080 },
	{ "ws://[::1]", "::1", "[::1]", "/", 80 },
	{ "ws://[2001:db8::7]/", "2001:db8::7", "[2001:db8::7]", "/", 80 },
	{ "ws://[::ffff:192.0.2.1]:1/", "::ffff:192.0.2.1",
	  "[::ffff:192.0.2.1]:1", "/", 1 },
	{ "ws://localhost:65535/", "localhost", "localhost:65535", "/", 65535 },
	{ "ws://my_host-1.local/", "my_host-1.local", "my_host-1.local", "/",
	  80 },
};

struct bad {
	const char *url;
	int err;
};

static const struct bad bads[] = {
	{ "", EINVAL },
	{ "example.org", EINVAL },
	{ "wss://example.org/", EPROTONOSUPPORT },
	{ "http://example.org/", EPROTONOSUPPORT },
	{ "w://example.org/", EPROTONOSUPPORT },
	{ "ws:/example.org/", EINVAL },
	{ "ws://", EINVAL },
	{ "ws:///path", EINVAL },
	{ "ws://:80/", EINVAL },
	{ "ws://example.org/#frag", EINVAL },
	{ "ws://example.org#frag", EINVAL },
	{ "ws://user@example.org/", EINVAL },
	{ "ws://example.org:0/", EINVAL },
	{ "ws://example.org:65536/", EINVAL },
	{ "ws://example.org:123456/", EINVAL },
	{ "ws://example.org:8a/", EINVAL },
	{ "ws://example.org:-1/", EINVAL },
	{ "ws://exa mple.org/", EINVAL },
	{ "ws://example.org/a b", EINVAL },
	{ "ws://example.org/\tX", EINVAL },
	{ "ws://example.org/\x7f", EINVAL },
	{ "ws://[::1/", EINVAL },
	{ "ws://[::1]x/", EINVAL },
	{ "ws://[::g]/", EINVAL },
	{ "ws://[127.0.0.1]/", EINVAL },
	{ "ws://[]/", EINVAL },
	{ "ws://::1/", EINVAL },
	{ "ws://exa%6dple.org/", EINVAL },
};

int main(void)
{
	struct kws_url u;
	char longhost[400], longpath[3000];

	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		int r = kws_url_parse(g->url, &u);

		tap_ok(r == 0 && !strcmp(u.host, g->host) &&
		       !strcmp(u.hostport, g->hostport) &&
		       !strcmp(u.path, g->path) && u.port == g->port,
		       "url_parse_good %s", g->url);
		if (r == 0 && (strcmp(u.host, g->host) ||
			       strcmp(u.hostport, g->hostport) ||
			       strcmp(u.path, g->path) || u.port != g->port))
			tap_diag("got host=%s hostport=%s path=%s port=%u",
				 u.host, u.hostport, u.path, u.port);
	}
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		int r;

		errno = 0;
		r = kws_url_parse(b->url, &u);
		tap_ok(r == -1 && errno == b->err, "url_parse_bad \"%s\" (%s)",
		       b->url, strerror(b->err));
	}

	memset(longhost, 'a', sizeof(longhost));
	memcpy(longhost, "ws://", 5);
	longhost[sizeof(longhost) - 1] = 0;
	errno = 0;
	tap_ok(kws_url_parse(longhost, &u) == -1 && errno == ENAMETOOLONG,
	       "url_parse_bad host too long");
	strcpy(longpath, "ws://h/");
	memset(longpath + 7, 'p', sizeof(longpath) - 8);
	longpath[sizeof(longpath) - 1] = 0;
	errno = 0;
	tap_ok(kws_url_parse(longpath, &u) == -1 && errno == ENAMETOOLONG,
	       "url_parse_bad path too long");
	errno = 0;
	tap_ok(kws_url_parse(NULL, &u) == -1 && errno == EINVAL,
	       "url_parse_bad NULL");
	return tap_done();
}
