// SPDX-License-Identifier: MIT
/*
 * The HTTP Upgrade of RFC 6455 section 4, sans I/O: requests and responses
 * are built into caller buffers and parsed from whatever byte spans the
 * caller received, split anywhere.
 *
 * Parsing is two-stage. kws_hs_feed() only gathers the head up to the blank
 * line (bounded by the size limit, rejecting bare LF and NUL at once so a
 * broken peer does not make us wait for the limit); the complete head is then
 * parsed in place by parse_head() and checked by the client or server rules.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "internal.h"

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_B64_LEN	24	/* base64 of 16 bytes */
#define ACCEPT_B64_LEN	28	/* base64 of a 20-byte SHA-1 */
#define HDR_COUNT_MAX	128	/* header lines; more is a 431 */

struct hs_header {
	char *name;		/* points into hs->head */
	char *value;		/* into hs->head, or malloc'd when combined */
	int owned;
	int count;		/* lines that carried it */
};

struct kws_hs {
	int server;
	int state;		/* HS_* */
	int status;
	const char *error;

	/* the head as received, NUL-terminated once complete */
	char *head;
	size_t head_len;
	size_t head_max;

	struct hs_header *hdrs;
	size_t nhdrs;
	char *path;		/* request target, into head */

	/* options, copied */
	char **protocols;	/* NULL-terminated */
	char **headers;
	char *origin;
	char *protocol;		/* agreed: points into protocols[] */

	char key[KEY_B64_LEN + 1];		/* client: key sent */
	char accept[ACCEPT_B64_LEN + 1];	/* expected / to send */
};

enum { HS_HEAD, HS_DONE, HS_FAILED };

/* ---- helpers ------------------------------------------------------------ */

int kws_random(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int kws_b64_encode(const uint8_t *in, size_t len, char *out, size_t size)
{
	if (size < 4 * ((len + 2) / 3) + 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* RFC 9110 5.6.2 tchar */
static int is_tchar(int c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* Printable ASCII, SP, HTAB and obs-text: what a field value may hold. */
static int is_field_text(const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char **dup_strv(const char *const *v, int *err)
{
	size_t n = 0;
	char **out;

	*err = 0;
	if (!v)
		return NULL;
	while (v[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	if (!out)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i])
			goto nomem;
	}
	return out;
nomem:
	free_strv(out);
	*err = ENOMEM;
	return NULL;
}

/*
 * Does the comma-separated list @list hold @token (case-insensitive)?
 * Empty elements and OWS around elements are skipped (RFC 9110 5.6.1).
 */
static int list_has_token(const char *list, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = list;

	while (p && *p) {
		const char *end;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		n = end - p;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tlen && !strncasecmp(p, token, n))
			return 1;
		p = end;
	}
	return 0;
}

static int fail(struct kws_hs *hs, int status, int err, const char *why)
{
	hs->state = HS_FAILED;
	if (status && hs->server)	/* the client's status is the server's */
		hs->status = status;
	hs->error = why;
	errno = err;
	return -1;
}

/* ---- head gathering and parsing ----------------------------------------- */

static struct kws_hs *hs_alloc(int server, size_t max)
{
	struct kws_hs *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return NULL;
	hs->server = server;
	hs->head_max = max ? max : KWS_HEAD_MAX_DEFAULT;
	hs->head = malloc(hs->head_max + 1);
	if (!hs->head) {
		free(hs);
		errno = ENOMEM;
		return NULL;
	}
	return hs;
}

/*
 * Append bytes up to and including the blank line that ends the head.
 * Returns 1 when the head is complete, 0 when more is needed, -1 on error.
 * *@used is the number of input bytes that belong to the head.
 */
static int hs_gather(struct kws_hs *hs, const uint8_t *in, size_t len,
		     size_t *used)
{
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = in[i];
		char prev = hs->head_len ? hs->head[hs->head_len - 1] : 0;

		if (hs->head_len >= hs->head_max) {
			*used = i;
			return fail(hs, 431, EMSGSIZE, "head too large");
		}
		if (c == 0) {
			*used = i;
			return fail(hs, 400, EPROTO, "NUL byte in head");
		}
		/* RFC 9112 2.2 lets us refuse a bare LF as line end */
		if (c == '\n' && prev != '\r') {
			*used = i;
			return fail(hs, 400, EPROTO, "bare LF in head");
		}
		if (prev == '\r' && c != '\n') {
			*used = i;
			return fail(hs, 400, EPROTO, "bare CR in head");
		}
		hs->head[hs->head_len++] = c;
		if (c == '\n' && hs->head_len >= 4 &&
		    !memcmp(hs->head + hs->head_len - 4, "\r\n\r\n", 4)) {
			*used = i + 1;
			hs->head[hs->head_len] = 0;
			return 1;
		}
		/* a head starting with an empty line: refuse, do not skip */
		if (hs->head_len == 2 && !memcmp(hs->head, "\r\n", 2)) {
			*used = i + 1;
			return fail(hs, 400, EPROTO, "empty start line");
		}
	}
	*used = len;
	return 0;
}

static struct hs_header *find_header(const struct kws_hs *hs, const char *name)
{
	for (size_t i = 0; i < hs->nhdrs; i++)
		if (!strcasecmp(hs->hdrs[i].name, name))
			return &hs->hdrs[i];
	return NULL;
}

static int add_header(struct kws_hs *hs, char *name, char *value)
{
	struct hs_header *h = find_header(hs, name);

	if (h) {
		/* RFC 9110 5.3: repeated fields combine into a list */
		size_t a = strlen(h->value), b = strlen(value);
		char *v = malloc(a + 2 + b + 1);

		if (!v)
			return -1;
		memcpy(v, h->value, a);
		memcpy(v + a, ", ", 2);
		memcpy(v + a + 2, value, b + 1);
		if (h->owned)
			free(h->value);
		h->value = v;
		h->owned = 1;
		h->count++;
		return 0;
	}
	if (hs->nhdrs == HDR_COUNT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!hs->hdrs) {
		hs->hdrs = calloc(HDR_COUNT_MAX, sizeof(*hs->hdrs));
		if (!hs->hdrs)
			return -1;
	}
	hs->hdrs[hs->nhdrs++] = (struct hs_header){ name, value, 0, 1 };
	return 0;
}

/* "HTTP/x.y" with x.y >= 1.1 */
/* "HTTP/d.d": well formed, whatever the version. */
static int http_version_syntax_ok(const char *s, size_t n)
{
	return n == 8 && !strncmp(s, "HTTP/", 5) &&
	       isdigit((unsigned char)s[5]) && s[6] == '.' &&
	       isdigit((unsigned char)s[7]);
}

/* RFC 6455 4.1 and 4.2.1: the Upgrade needs HTTP/1.1 or later. */
static int http_version_ok(const char *s, size_t n)
{
	if (!http_version_syntax_ok(s, n))
		return 0;
	return s[5] > '1' || (s[5] == '1' && s[7] >= '1');
}

/*
 * Split the complete head in place: the start line is returned, header lines
 * go to hs->hdrs. Returns NULL (with hs failed) on a malformed line.
 */
static char *parse_head(struct kws_hs *hs)
{
	char *start = hs->head;
	char *line, *next;
	int lines = 0;

	next = strstr(start, "\r\n");
	*next = 0;
	for (line = next + 2; *line != '\r'; line = next + 2) {
		char *colon, *value, *end;

		/* bounds the work of combining repeated lines, too */
		if (++lines > HDR_COUNT_MAX) {
			fail(hs, 431, EMSGSIZE, "too many header lines");
			return NULL;
		}
		next = strstr(line, "\r\n");
		*next = 0;
		if (*line == ' ' || *line == '\t') {
			/* RFC 9112 5.2: a server may reject obs-fold with 400 */
			fail(hs, 400, EPROTO, "folded header line");
			return NULL;
		}
		colon = strchr(line, ':');
		if (!colon || colon == line) {
			fail(hs, 400, EPROTO, "header line without name");
			return NULL;
		}
		*colon = 0;
		/* RFC 9112 5.1: no whitespace between name and colon */
		if (!is_token(line)) {
			fail(hs, 400, EPROTO, "bad header name");
			return NULL;
		}
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		end = value + strlen(value);
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = 0;
		if (!is_field_text(value)) {
			fail(hs, 400, EPROTO, "control character in header value");
			return NULL;
		}
		if (add_header(hs, line, value)) {
			if (errno == EMSGSIZE)
				fail(hs, 431, EMSGSIZE, "too many header lines");
			else
				fail(hs, 500, ENOMEM, "out of memory");
			return NULL;
		}
	}
	return start;
}

/* ---- common API ----------------------------------------------------------- */

KWS_EXPORT int kws_accept_key(const char *key, char out[29])
{
	char buf[KEY_B64_LEN + sizeof(WS_GUID)];
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	size_t klen = key ? strlen(key) : 0;

	if (!klen || klen > KEY_B64_LEN) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buf, key, klen);
	memcpy(buf + klen, WS_GUID, sizeof(WS_GUID) - 1);
	if (!EVP_Digest(buf, klen + sizeof(WS_GUID) - 1, digest, &dlen,
			EVP_sha1(), NULL) || dlen != 20) {
		errno = EIO;
		return -1;
	}
	kws_b64_encode(digest, 20, out, ACCEPT_B64_LEN + 1);
	return 0;
}

KWS_EXPORT int kws_hs_status(const struct kws_hs *hs)
{
	return hs->status;
}

KWS_EXPORT const char *kws_hs_protocol(const struct kws_hs *hs)
{
	return hs->protocol;
}

KWS_EXPORT const char *kws_hs_path(const struct kws_hs *hs)
{
	return hs->path;
}

KWS_EXPORT const char *kws_hs_header(const struct kws_hs *hs, const char *name)
{
	struct hs_header *h = find_header(hs, name);

	return h ? h->value : NULL;
}

KWS_EXPORT const char *kws_hs_error(const struct kws_hs *hs)
{
	return hs->error;
}

KWS_EXPORT void kws_hs_free(struct kws_hs *hs)
{
	if (!hs)
		return;
	for (size_t i = 0; i < hs->nhdrs; i++)
		if (hs->hdrs[i].owned)
			free(hs->hdrs[i].value);
	free(hs->hdrs);
	free(hs->head);
	free_strv(hs->protocols);
	free_strv(hs->headers);
	free(hs->origin);
	free(hs);
}

/* Headers the handshake writes itself: an extra line may not repeat them. */
static const char *const managed_headers[] = {
	"Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
	"Sec-WebSocket-Version", "Sec-WebSocket-Accept",
	"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Origin",
	"Content-Length", "Transfer-Encoding", NULL
};

/*
 * An extra header line must be "Name: value" with no CR/LF, and not one of
 * the headers the handshake manages (a second Sec-WebSocket-Key or an
 * extension offer kws cannot honour would break the handshake).
 */
static int extra_header_ok(const char *line)
{
	const char *colon = strchr(line, ':');

	if (!colon || colon == line || !is_field_text(line))
		return 0;
	for (const char *p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return 0;
	for (const char *const *m = managed_headers; *m; m++)
		if (strlen(*m) == (size_t)(colon - line) &&
		    !strncasecmp(*m, line, colon - line))
			return 0;
	return 1;
}

/* Append printf output to out[*pos..size); sets *pos past size on overflow. */
static void emit(char *out, size_t size, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void emit(char *out, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos > size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *pos)
		*pos = size + 1;
	else
		*pos += n;
}

/* ---- client --------------------------------------------------------------- */

KWS_EXPORT struct kws_hs *kws_hs_client_new(const struct kws_client_opts *opts)
{
	struct kws_client_opts none = { 0 };
	uint8_t nonce[16];
	struct kws_hs *hs;
	int err = 0;

	if (!opts)
		opts = &none;
	hs = hs_alloc(0, opts->max_response);
	if (!hs)
		return NULL;
	hs->protocols = dup_strv(opts->protocols, &err);
	if (!err)
		hs->headers = dup_strv(opts->headers, &err);
	if (!err && opts->origin && !(hs->origin = strdup(opts->origin)))
		err = ENOMEM;
	/* RFC 6455 4.1: a nonce of 16 random bytes, fresh per connection */
	if (!err && kws_random(nonce, sizeof(nonce)))
		err = EIO;
	if (err) {
		kws_hs_free(hs);
		errno = err;
		return NULL;
	}
	kws_b64_encode(nonce, sizeof(nonce), hs->key, sizeof(hs->key));
	kws_accept_key(hs->key, hs->accept);
	return hs;
}

KWS_EXPORT ssize_t kws_hs_client_request(struct kws_hs *hs, const char *host,
					 const char *path, char *out,
					 size_t size)
{
	size_t pos = 0;

	if (hs->server || !host || !*host || !is_field_text(host) ||
	    strpbrk(host, " \t") || (path && !is_field_text(path)) ||
	    (path && strpbrk(path, " \t")) ||
	    (hs->origin && !is_field_text(hs->origin))) {
		errno = EINVAL;
		return -1;
	}
	for (char **p = hs->protocols; p && *p; p++)
		if (!is_token(*p)) {
			errno = EINVAL;
			return -1;
		}
	for (char **p = hs->headers; p && *p; p++)
		if (!extra_header_ok(*p)) {
			errno = EINVAL;
			return -1;
		}
	if (!path || !*path)
		path = "/";

	emit(out, size, &pos,
	     "GET %s HTTP/1.1\r\n"
	     "Host: %s\r\n"
	     "Upgrade: websocket\r\n"
	     "Connection: Upgrade\r\n"
	     "Sec-WebSocket-Key: %s\r\n"
	     "Sec-WebSocket-Version: 13\r\n", path, host, hs->key);
	if (hs->origin)
		emit(out, size, &pos, "Origin: %s\r\n", hs->origin);
	if (hs->protocols && hs->protocols[0]) {
		emit(out, size, &pos, "Sec-WebSocket-Protocol: %s",
		     hs->protocols[0]);
		for (char **p = hs->protocols + 1; *p; p++)
			emit(out, size, &pos, ", %s", *p);
		emit(out, size, &pos, "\r\n");
	}
	for (char **p = hs->headers; p && *p; p++)
		emit(out, size, &pos, "%s\r\n", *p);
	emit(out, size, &pos, "\r\n");
	if (pos > size || pos == size) {
		errno = ENOSPC;
		return -1;
	}
	return pos;
}

/* RFC 6455 4.1, the client's checks of the server's response */
static int client_check(struct kws_hs *hs)
{
	char *line = parse_head(hs);
	const char *v;
	char *sp;

	if (!line)
		return -1;
	/* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
	sp = strchr(line, ' ');
	if (!sp || !http_version_syntax_ok(line, sp - line))
		return fail(hs, 0, EPROTO, "bad status line");
	if (!isdigit((unsigned char)sp[1]) || !isdigit((unsigned char)sp[2]) ||
	    !isdigit((unsigned char)sp[3]) || (sp[4] != ' ' && sp[4]))
		return fail(hs, 0, EPROTO, "bad status code");
	hs->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	/* An HTTP/1.0 server refusing us still says why: report its status. */
	if (hs->status != 101)
		return fail(hs, 0, ECONNREFUSED, "status is not 101");
	if (!http_version_ok(line, sp - line))
		return fail(hs, 0, EPROTO, "101 before HTTP/1.1");

	v = kws_hs_header(hs, "Upgrade");
	if (!v || !list_has_token(v, "websocket"))
		return fail(hs, 0, EPROTO, "no Upgrade: websocket");
	v = kws_hs_header(hs, "Connection");
	if (!v || !list_has_token(v, "upgrade"))
		return fail(hs, 0, EPROTO, "no Connection: upgrade");
	v = kws_hs_header(hs, "Sec-WebSocket-Accept");
	if (!v || strcmp(v, hs->accept))
		return fail(hs, 0, EPROTO, "wrong Sec-WebSocket-Accept");
	/* we offer no extension, so the server may not pick one */
	v = kws_hs_header(hs, "Sec-WebSocket-Extensions");
	if (v)
		return fail(hs, 0, EPROTO, "extension not offered");
	v = kws_hs_header(hs, "Sec-WebSocket-Protocol");
	if (v) {
		for (char **p = hs->protocols; p && *p; p++)
			if (!strcmp(*p, v))
				hs->protocol = *p;
		if (!hs->protocol)
			return fail(hs, 0, EPROTO, "subprotocol not offered");
	}
	hs->state = HS_DONE;
	return 1;
}

KWS_EXPORT int kws_hs_client_response(struct kws_hs *hs, const void *bytes,
				      size_t len, size_t *used)
{
	int r;

	*used = 0;
	if (hs->server || hs->state != HS_HEAD) {
		errno = hs->server ? EINVAL : EALREADY;
		return -1;
	}
	r = hs_gather(hs, bytes, len, used);
	if (r <= 0)
		return r;
	return client_check(hs);
}

/* ---- server --------------------------------------------------------------- */

KWS_EXPORT struct kws_hs *kws_hs_server_new(const struct kws_server_opts *opts)
{
	struct kws_server_opts none = { 0 };
	struct kws_hs *hs;
	int err = 0;

	if (!opts)
		opts = &none;
	hs = hs_alloc(1, opts->max_request);
	if (!hs)
		return NULL;
	hs->protocols = dup_strv(opts->protocols, &err);
	if (!err)
		hs->headers = dup_strv(opts->headers, &err);
	for (char **p = hs->headers; !err && p && *p; p++)
		if (!extra_header_ok(*p))
			err = EINVAL;
	for (char **p = hs->protocols; !err && p && *p; p++)
		if (!is_token(*p))
			err = EINVAL;
	if (err) {
		kws_hs_free(hs);
		errno = err;
		return NULL;
	}
	return hs;
}

/* Sec-WebSocket-Key must be base64 of exactly 16 bytes (RFC 6455 4.2.1). */
static int key_ok(const char *key)
{
	uint8_t out[KEY_B64_LEN];

	if (strlen(key) != KEY_B64_LEN || strcmp(key + 22, "==") ||
	    strchr(key, '=') != key + 22)
		return 0;
	/* EVP_DecodeBlock counts the padding as data bytes: 18 here */
	return EVP_DecodeBlock(out, (const unsigned char *)key,
			       KEY_B64_LEN) == 18;
}

/* RFC 6455 4.2.1, the server's checks of the client's request */
static int server_check(struct kws_hs *hs)
{
	char *line = parse_head(hs);
	struct hs_header *host;
	char *sp1, *sp2;
	const char *v;

	if (!line)
		return -1;
	/* request-line = method SP request-target SP HTTP-version */
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
		return fail(hs, 400, EPROTO, "bad request line");
	*sp1 = 0;
	*sp2 = 0;
	if (strcmp(line, "GET"))
		return fail(hs, 400, EPROTO, "method is not GET");
	if (!http_version_ok(sp2 + 1, strlen(sp2 + 1)))
		return fail(hs, 400, EPROTO, "HTTP version below 1.1");
	hs->path = sp1 + 1;
	if (hs->path[0] != '/' && !strstr(hs->path, "://"))
		return fail(hs, 400, EPROTO, "bad request target");
	for (const char *p = hs->path; *p; p++)	/* RFC 3986: visible ASCII */
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return fail(hs, 400, EPROTO, "bad request target");

	/* a body would be taken for frames: an upgrade GET has none */
	if (kws_hs_header(hs, "Transfer-Encoding") ||
	    ((v = kws_hs_header(hs, "Content-Length")) && strcmp(v, "0")))
		return fail(hs, 400, EPROTO, "request with a body");

	host = find_header(hs, "Host");
	if (!host)
		return fail(hs, 400, EPROTO, "no Host");
	if (host->count > 1)	/* RFC 9112 3.2 */
		return fail(hs, 400, EPROTO, "repeated Host");
	v = kws_hs_header(hs, "Upgrade");
	if (!v || !list_has_token(v, "websocket"))
		return fail(hs, 400, EPROTO, "no Upgrade: websocket");
	v = kws_hs_header(hs, "Connection");
	if (!v || !list_has_token(v, "upgrade"))
		return fail(hs, 400, EPROTO, "no Connection: upgrade");
	/* RFC 6455 4.4: an unknown version gets 426 and the ones we speak */
	v = kws_hs_header(hs, "Sec-WebSocket-Version");
	if (!v)
		return fail(hs, 400, EPROTO, "no Sec-WebSocket-Version");
	if (strcmp(v, "13"))
		return fail(hs, 426, EPROTO, "Sec-WebSocket-Version is not 13");
	v = kws_hs_header(hs, "Sec-WebSocket-Key");
	if (!v || !key_ok(v))
		return fail(hs, 400, EPROTO, "bad Sec-WebSocket-Key");
	kws_accept_key(v, hs->accept);

	/* the first of our protocols that the client offers */
	v = kws_hs_header(hs, "Sec-WebSocket-Protocol");
	for (char **p = hs->protocols; v && p && *p && !hs->protocol; p++)
		if (list_has_token(v, *p))
			hs->protocol = *p;
	hs->status = 101;
	hs->state = HS_DONE;
	return 1;
}

KWS_EXPORT int kws_hs_server_request(struct kws_hs *hs, const void *bytes,
				     size_t len, size_t *used)
{
	int r;

	*used = 0;
	if (!hs->server || hs->state != HS_HEAD) {
		errno = !hs->server ? EINVAL : EALREADY;
		return -1;
	}
	r = hs_gather(hs, bytes, len, used);
	if (r <= 0)
		return r;
	return server_check(hs);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

KWS_EXPORT ssize_t kws_hs_server_response(struct kws_hs *hs, int status,
					  char *out, size_t size)
{
	size_t pos = 0;

	if (!hs->server || (status && (status < 100 || status > 599))) {
		errno = EINVAL;
		return -1;
	}
	if (hs->state == HS_HEAD) {
		errno = EALREADY;
		return -1;
	}
	if (!status)
		status = hs->status;
	if (status == 101 && hs->state != HS_DONE) {
		errno = EINVAL;
		return -1;
	}
	if (status != 101)
		hs->protocol = NULL;
	hs->status = status;

	emit(out, size, &pos, "HTTP/1.1 %d %s\r\n", status,
	     reason_phrase(status));
	if (status == 101) {
		emit(out, size, &pos,
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n", hs->accept);
		if (hs->protocol)
			emit(out, size, &pos, "Sec-WebSocket-Protocol: %s\r\n",
			     hs->protocol);
		for (char **p = hs->headers; p && *p; p++)
			emit(out, size, &pos, "%s\r\n", *p);
	} else {
		if (status == 426)
			emit(out, size, &pos,
			     "Upgrade: websocket\r\n"
			     "Sec-WebSocket-Version: 13\r\n");
		emit(out, size, &pos,
		     "Content-Length: 0\r\n"
		     "Connection: close\r\n");
	}
	emit(out, size, &pos, "\r\n");
	if (pos >= size) {
		errno = ENOSPC;
		return -1;
	}
	return pos;
}
