// SPDX-License-Identifier: MIT
/*
 * ws:// URLs (RFC 6455 3): ws://host[:port][/path][?query], no fragment.
 * wss:// is refused: TLS under the ULP is out of scope for libkws for now.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static int fail(int err)
{
	errno = err;
	return -1;
}

/* RFC 3986 reg-name, minus percent-encoding and sub-delims: DNS names. */
static int is_host_char(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (!n) {		/* RFC 3986 3.2.3: empty port is the default */
		*port = 80;
		return 0;
	}
	if (n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (!v || v > 65535)
		return -1;
	*port = v;
	return 0;
}

KWS_EXPORT int kws_url_parse(const char *url, struct kws_url *out)
{
	const char *p, *auth, *auth_end, *host, *host_end, *port_s = NULL;
	size_t host_len, path_len;
	int v6 = 0;

	if (!url || !out)
		return fail(EINVAL);
	memset(out, 0, sizeof(*out));
	p = strstr(url, "://");
	if (!p)
		return fail(EINVAL);
	if (p - url != 2 || strncasecmp(url, "ws", 2))
		return fail(EPROTONOSUPPORT);
	auth = p + 3;
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
			return fail(EINVAL);

	auth_end = auth + strcspn(auth, "/?");
	if (memchr(auth, '@', auth_end - auth))	/* no userinfo */
		return fail(EINVAL);
	if (*auth == '[') {
		char addr[INET6_ADDRSTRLEN];
		struct in6_addr a6;

		v6 = 1;
		host = auth + 1;
		host_end = memchr(host, ']', auth_end - host);
		if (!host_end)
			return fail(EINVAL);
		host_len = host_end - host;
		if (host_len >= sizeof(addr))
			return fail(EINVAL);
		memcpy(addr, host, host_len);
		addr[host_len] = 0;
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return fail(EINVAL);
		p = host_end + 1;
		if (p < auth_end && *p != ':')
			return fail(EINVAL);
	} else {
		host = auth;
		host_end = memchr(auth, ':', auth_end - auth);
		if (!host_end)
			host_end = auth_end;
		host_len = host_end - host;
		if (!host_len)
			return fail(EINVAL);
		for (p = host; p < host_end; p++)
			if (!is_host_char((unsigned char)*p))
				return fail(EINVAL);
		p = host_end;
	}
	if (p < auth_end)
		port_s = p + 1;
	if (parse_port(port_s, port_s ? auth_end - port_s : 0, &out->port))
		return fail(EINVAL);
	if (host_len >= sizeof(out->host))
		return fail(ENAMETOOLONG);
	memcpy(out->host, host, host_len);
	out->host[host_len] = 0;
	snprintf(out->hostport, sizeof(out->hostport), v6 ? "[%s]" : "%s",
		 out->host);
	if (out->port != 80)
		snprintf(out->hostport + strlen(out->hostport),
			 sizeof(out->hostport) - strlen(out->hostport), ":%u",
			 out->port);

	/* "ws://h?q" asks for "/?q" (RFC 6455 3: resource name) */
	path_len = strlen(auth_end);
	if (path_len + 2 > sizeof(out->path))
		return fail(ENAMETOOLONG);
	snprintf(out->path, sizeof(out->path), "%s%s",
		 *auth_end == '/' ? "" : "/", auth_end);
	return 0;
}
