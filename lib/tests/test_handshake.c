// SPDX-License-Identifier: MIT
/*
 * The sans-I/O handshake (RFC 6455 4.1, 4.2), both sides: every rule the
 * client checks in a response and the server checks in a request, fed
 * whole, split at every byte, and one byte at a time.
 * Names: <side>_<verb>_<what>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kws.h"
#include "tap.h"

#define RFC_KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define REQ_HEAD "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
#define GOOD_REQ REQ_HEAD \
	"Upgrade: websocket\r\n" \
	"Connection: Upgrade\r\n" \
	"Sec-WebSocket-Key: " RFC_KEY "\r\n" \
	"Origin: http://example.com\r\n" \
	"Sec-WebSocket-Protocol: chat, superchat\r\n" \
	"Sec-WebSocket-Version: 13\r\n\r\n"

enum feed_mode { WHOLE, SPLIT, BYTES };

/*
 * Feed @len bytes of @in in the given way to a server (@server) or client
 * handshake. Returns the last verdict, *@used the total of bytes taken.
 */
static int feed(struct kws_hs *hs, int server, const char *in, size_t len,
		enum feed_mode mode, size_t split, size_t *used)
{
	size_t off = 0;
	int r = 0;

	*used = 0;
	while (off < len || (len == 0 && off == 0)) {
		size_t n = mode == WHOLE ? len : mode == BYTES ? 1 :
			   off < split ? split : len - off;
		size_t u = 0;

		if (n > len - off)
			n = len - off;
		if (server)
			r = kws_hs_server_request(hs, in + off, n, &u);
		else
			r = kws_hs_client_response(hs, in + off, n, &u);
		*used += u;
		if (r)
			return r;
		if (u != n)
			return -100;	/* 0 must mean "all consumed" */
		off += n;
		if (len == 0)
			break;
	}
	return r;
}

/* ---- server side -------------------------------------------------------- */

struct srv_result {
	int r, err, status;
	size_t used;
};

static struct srv_result server_run(const char *req, size_t len,
				    const struct kws_server_opts *opts,
				    enum feed_mode mode, size_t split)
{
	struct kws_hs *hs = kws_hs_server_new(opts);
	struct srv_result res;

	errno = 0;
	res.r = feed(hs, 1, req, len, mode, split, &res.used);
	res.err = errno;
	res.status = kws_hs_status(hs);
	kws_hs_free(hs);
	return res;
}

/*
 * Check a request gives (@r, @err, @status) whole, at every split point and
 * byte by byte, always taking exactly the head's bytes. One TAP line.
 */
static void server_expect(const char *name, const char *req, int r, int err,
			  int status)
{
	size_t len = strlen(req), head = len;
	const char *end = strstr(req, "\r\n\r\n");
	int good = 1;

	if (end && r == 1)
		head = end + 4 - req;
	for (int mode = WHOLE; mode <= BYTES && good; mode++) {
		for (size_t s = 0; s <= len && good; s++) {
			struct srv_result res = server_run(req, len, NULL,
							   mode, s);

			if (res.r != r || (r < 0 && res.err != err) ||
			    res.status != status || (r == 1 && res.used != head)) {
				tap_diag("%s: mode %d split %zu: r=%d errno=%d status=%d used=%zu",
					 name, mode, s, res.r, res.err,
					 res.status, res.used);
				good = 0;
			}
			if (mode != SPLIT)
				break;
		}
	}
	tap_ok(good, "server_%s", name);
}

/* Replace the first @from in GOOD_REQ by @to. */
static char *good_with(const char *from, const char *to)
{
	static char buf[16384];
	const char *p = strstr(GOOD_REQ, from);

	if (!p)
		abort();
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - GOOD_REQ), GOOD_REQ,
		 to, p + strlen(from));
	return buf;
}

static void test_server_rules(void)
{
	char big[10000];
	size_t n;

	server_expect("accept_rfc_example", GOOD_REQ, 1, 0, 101);
	server_expect("refuse_post", good_with("GET", "POST"), -1, EPROTO, 400);
	server_expect("refuse_lowercase_get", good_with("GET", "get"), -1,
		      EPROTO, 400);
	server_expect("refuse_http10", good_with("HTTP/1.1", "HTTP/1.0"), -1,
		      EPROTO, 400);
	server_expect("accept_http12", good_with("HTTP/1.1", "HTTP/1.2"), 1, 0,
		      101);
	server_expect("refuse_bad_version_token",
		      good_with("HTTP/1.1", "HTTX/1.1"), -1, EPROTO, 400);
	server_expect("refuse_no_target", good_with("/chat ", " "), -1,
		      EPROTO, 400);
	server_expect("refuse_star_target", good_with("/chat", "*"), -1,
		      EPROTO, 400);
	server_expect("accept_absolute_target",
		      good_with("/chat", "ws://server.example.com/chat"), 1, 0,
		      101);
	server_expect("refuse_extra_space_request_line",
		      good_with("GET /chat", "GET  /chat"), -1, EPROTO, 400);
	server_expect("refuse_control_char_in_target",
		      good_with("/chat", "/ch\x7f" "at"), -1, EPROTO, 400);
	server_expect("refuse_body_content_length",
		      good_with("Upgrade: ", "Content-Length: 5\r\nUpgrade: "),
		      -1, EPROTO, 400);
	server_expect("accept_content_length_0",
		      good_with("Upgrade: ", "Content-Length: 0\r\nUpgrade: "),
		      1, 0, 101);
	server_expect("refuse_body_chunked",
		      good_with("Upgrade: ", "Transfer-Encoding: chunked\r\nUpgrade: "),
		      -1, EPROTO, 400);
	server_expect("refuse_no_host",
		      good_with("Host: server.example.com\r\n", ""), -1,
		      EPROTO, 400);
	server_expect("refuse_repeated_host",
		      good_with("Host: server.example.com\r\n",
				"Host: a\r\nHost: b\r\n"), -1, EPROTO, 400);
	server_expect("refuse_no_upgrade",
		      good_with("Upgrade: websocket\r\n", ""), -1, EPROTO, 400);
	server_expect("refuse_upgrade_h2c",
		      good_with("Upgrade: websocket", "Upgrade: h2c"), -1,
		      EPROTO, 400);
	server_expect("accept_upgrade_case_and_list",
		      good_with("Upgrade: websocket", "Upgrade: foo/2, WebSocket"),
		      1, 0, 101);
	server_expect("refuse_no_connection",
		      good_with("Connection: Upgrade\r\n", ""), -1, EPROTO, 400);
	server_expect("refuse_connection_keepalive_only",
		      good_with("Connection: Upgrade", "Connection: keep-alive"),
		      -1, EPROTO, 400);
	server_expect("refuse_connection_substring",
		      good_with("Connection: Upgrade", "Connection: Upgrader"),
		      -1, EPROTO, 400);
	server_expect("accept_connection_list",
		      good_with("Connection: Upgrade",
				"Connection: keep-alive,  UPGRADE "),
		      1, 0, 101);
	server_expect("accept_connection_repeated",
		      good_with("Connection: Upgrade",
				"Connection: keep-alive\r\nConnection: upgrade"),
		      1, 0, 101);
	server_expect("refuse_no_version",
		      good_with("Sec-WebSocket-Version: 13\r\n", ""), -1,
		      EPROTO, 400);
	server_expect("refuse_version_8_with_426",
		      good_with("Version: 13", "Version: 8"), -1, EPROTO, 426);
	server_expect("refuse_version_repeated_with_426",
		      good_with("Version: 13", "Version: 13\r\nSec-WebSocket-Version: 8"),
		      -1, EPROTO, 426);
	server_expect("refuse_no_key",
		      good_with("Sec-WebSocket-Key: " RFC_KEY "\r\n", ""), -1,
		      EPROTO, 400);
	server_expect("refuse_key_15_bytes",
		      good_with(RFC_KEY, "dGhlIHNhbXBsZSBub25jZQ="), -1, EPROTO,
		      400);
	server_expect("refuse_key_17_bytes",
		      good_with(RFC_KEY, "dGhlIHNhbXBsZSBub25jZQAB"), -1,
		      EPROTO, 400);
	server_expect("refuse_key_not_base64",
		      good_with(RFC_KEY, "dGhlIHNhbXBsZSBub25jZ!=="), -1,
		      EPROTO, 400);
	server_expect("refuse_key_repeated",
		      good_with("Sec-WebSocket-Key: " RFC_KEY,
				"Sec-WebSocket-Key: " RFC_KEY
				"\r\nSec-WebSocket-Key: " RFC_KEY),
		      -1, EPROTO, 400);
	server_expect("accept_header_name_case",
		      good_with("Sec-WebSocket-Key", "sEC-wEBsOCKET-kEY"), 1, 0,
		      101);
	server_expect("accept_no_ows",
		      good_with("Upgrade: websocket", "Upgrade:websocket"), 1,
		      0, 101);
	server_expect("accept_trailing_ows",
		      good_with("Upgrade: websocket", "Upgrade: \twebsocket \t"),
		      1, 0, 101);
	server_expect("refuse_obs_fold",
		      good_with("Origin: http://example.com\r\n",
				"Origin: http://example.com\r\n  folded\r\n"),
		      -1, EPROTO, 400);
	server_expect("refuse_space_before_colon",
		      good_with("Upgrade: ", "Upgrade : "), -1, EPROTO, 400);
	server_expect("refuse_empty_header_name",
		      good_with("Upgrade: ", ": x\r\nUpgrade: "), -1, EPROTO,
		      400);
	server_expect("refuse_line_without_colon",
		      good_with("Upgrade: ", "Junk\r\nUpgrade: "), -1, EPROTO,
		      400);
	server_expect("refuse_bare_lf",
		      good_with("Upgrade: websocket\r\n", "Upgrade: websocket\n"),
		      -1, EPROTO, 400);
	server_expect("refuse_bare_cr",
		      good_with("Upgrade: websocket\r\n", "Upgrade: web\rsocket\r\n"),
		      -1, EPROTO, 400);
	server_expect("refuse_control_char_value",
		      good_with("http://example.com", "http://exa\x01mple.com"),
		      -1, EPROTO, 400);
	server_expect("refuse_empty_start_line", "\r\n" GOOD_REQ, -1, EPROTO,
		      400);
	server_expect("refuse_lf_only", "GET / HTTP/1.1\nHost: x\n\n", -1,
		      EPROTO, 400);

	/* size limit: 8 KiB by default, refused with 431 */
	n = snprintf(big, sizeof(big), REQ_HEAD "X-Big: ");
	memset(big + n, 'x', 8192);
	strcpy(big + n + 8192, "\r\n\r\n");
	server_expect("refuse_head_over_8k_with_431", big, -1, EMSGSIZE, 431);
	{
		/* many small header lines: bounded too */
		size_t off = snprintf(big, sizeof(big), "%s", REQ_HEAD);

		for (int i = 0; i < 200 && off < 7000; i++)
			off += snprintf(big + off, sizeof(big) - off,
					"X-%d: y\r\n", i);
		snprintf(big + off, sizeof(big) - off, "%s",
			 GOOD_REQ + strlen(REQ_HEAD));
		server_expect("refuse_too_many_headers_with_431", big, -1,
			      EMSGSIZE, 431);
		off = snprintf(big, sizeof(big), "%s", REQ_HEAD);
		for (int i = 0; i < 200 && off < 7000; i++)
			off += snprintf(big + off, sizeof(big) - off,
					"Cookie: a=%d\r\n", i);
		snprintf(big + off, sizeof(big) - off, "%s",
			 GOOD_REQ + strlen(REQ_HEAD));
		server_expect("refuse_too_many_repeated_lines_with_431", big,
			      -1, EMSGSIZE, 431);
	}
	/* a head still incomplete at EOF: needs more, took every byte */
	{
		struct srv_result res = server_run(REQ_HEAD, strlen(REQ_HEAD),
						   NULL, WHOLE, 0);

		tap_ok(res.r == 0 && res.used == strlen(REQ_HEAD),
		       "server_wait_incomplete_head");
		res = server_run("", 0, NULL, WHOLE, 0);
		tap_ok(res.r == 0 && res.used == 0, "server_wait_empty_input");
	}
}

/* The request head is consumed exactly; frame bytes after it are left. */
static void test_server_leftover(void)
{
	const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
	char req[1024];
	size_t head = strlen(GOOD_REQ), len, used;
	int good = 1;

	memcpy(req, GOOD_REQ, head);
	memcpy(req + head, frame, sizeof(frame) - 1);
	len = head + sizeof(frame) - 1;
	for (size_t s = 0; s <= len; s++) {
		struct kws_hs *hs = kws_hs_server_new(NULL);
		int r = feed(hs, 1, req, len, SPLIT, s, &used);

		if (r != 1 || used != head)
			good = 0;
		kws_hs_free(hs);
	}
	tap_ok(good, "server_leave_frame_bytes_after_head");
}

static void test_server_details(void)
{
	const char *prefs[] = { "superchat", "chat", NULL };
	const char *prefs_none[] = { "mqtt", NULL };
	const char *extra[] = { "Set-Cookie: a=b", NULL };
	const char *bad_extra[] = { "No colon here", NULL };
	struct kws_server_opts opts = { .protocols = prefs, .headers = extra };
	char out[2048];
	struct kws_hs *hs;
	size_t used;
	ssize_t n;

	tap_ok(kws_hs_server_new(&(struct kws_server_opts){
		.headers = bad_extra }) == NULL && errno == EINVAL,
	       "server_refuse_bad_extra_header_option");
	tap_ok(kws_hs_server_new(&(struct kws_server_opts){
		.headers = (const char *[]){ "Sec-WebSocket-Accept: x", NULL } })
	       == NULL && errno == EINVAL,
	       "server_refuse_extra_header_managed_by_handshake");

	hs = kws_hs_server_new(&opts);
	errno = 0;
	tap_ok(kws_hs_server_response(hs, 0, out, sizeof(out)) == -1 &&
	       errno == EALREADY, "server_response_before_request_ealready");
	tap_ok(kws_hs_server_request(hs, GOOD_REQ, strlen(GOOD_REQ), &used) == 1,
	       "server_parse_rfc_example");
	tap_ok(!strcmp(kws_hs_path(hs), "/chat"), "server_report_path");
	tap_ok(kws_hs_header(hs, "origin") &&
	       !strcmp(kws_hs_header(hs, "origin"), "http://example.com"),
	       "server_report_header_case_insensitive");
	tap_ok(kws_hs_header(hs, "X-None") == NULL,
	       "server_report_absent_header_null");
	/* the server's preference order wins over the client's */
	tap_ok(kws_hs_protocol(hs) && !strcmp(kws_hs_protocol(hs), "superchat"),
	       "server_choose_first_preferred_protocol");
	n = kws_hs_server_response(hs, 0, out, sizeof(out));
	tap_ok(n > 0 && (size_t)n == strlen(out), "server_build_101");
	tap_ok(n > 0 && !strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) &&
	       strstr(out, "\r\nUpgrade: websocket\r\n") &&
	       strstr(out, "\r\nConnection: Upgrade\r\n") &&
	       strstr(out, "\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n") &&
	       strstr(out, "\r\nSec-WebSocket-Protocol: superchat\r\n") &&
	       strstr(out, "\r\nSet-Cookie: a=b\r\n") &&
	       !strcmp(out + n - 4, "\r\n\r\n"),
	       "server_101_has_accept_protocol_extra_headers");
	tap_ok(kws_hs_server_response(hs, 0, out, 40) == -1 && errno == ENOSPC,
	       "server_response_enospc");
	n = kws_hs_server_response(hs, 403, out, sizeof(out));
	tap_ok(n > 0 && !strncmp(out, "HTTP/1.1 403 Forbidden\r\n", 24) &&
	       !strstr(out, "Sec-WebSocket") && kws_hs_status(hs) == 403 &&
	       !kws_hs_protocol(hs), "server_refuse_by_choice_403");
	tap_ok(kws_hs_server_response(hs, 600, out, sizeof(out)) == -1 &&
	       errno == EINVAL, "server_refuse_status_600");
	kws_hs_free(hs);

	hs = kws_hs_server_new(&(struct kws_server_opts){ .protocols = prefs_none });
	kws_hs_server_request(hs, GOOD_REQ, strlen(GOOD_REQ), &used);
	n = kws_hs_server_response(hs, 0, out, sizeof(out));
	tap_ok(n > 0 && !kws_hs_protocol(hs) &&
	       !strstr(out, "Sec-WebSocket-Protocol"),
	       "server_no_common_protocol_none_selected");
	kws_hs_free(hs);

	/* repeated Sec-WebSocket-Protocol lines are one list */
	hs = kws_hs_server_new(&(struct kws_server_opts){ .protocols = prefs });
	kws_hs_server_request(hs, good_with("chat, superchat",
					    "chat\r\nSec-WebSocket-Protocol: superchat"),
			      strlen(GOOD_REQ) + 24, &used);
	tap_ok(kws_hs_protocol(hs) && !strcmp(kws_hs_protocol(hs), "superchat") &&
	       !strcmp(kws_hs_header(hs, "Sec-WebSocket-Protocol"),
		       "chat, superchat"),
	       "server_combine_repeated_headers");
	kws_hs_free(hs);

	hs = kws_hs_server_new(NULL);
	kws_hs_server_request(hs, good_with("Version: 13", "Version: 8"),
			      strlen(GOOD_REQ) - 1, &used);
	n = kws_hs_server_response(hs, 0, out, sizeof(out));
	tap_ok(n > 0 && !strncmp(out, "HTTP/1.1 426 Upgrade Required\r\n", 31) &&
	       strstr(out, "\r\nSec-WebSocket-Version: 13\r\n") &&
	       !strstr(out, "Accept"), "server_426_names_version_13");
	errno = 0;
	tap_ok(kws_hs_server_response(hs, 101, out, sizeof(out)) == -1 &&
	       errno == EINVAL, "server_refuse_101_for_bad_request");
	tap_ok(kws_hs_error(hs) && strstr(kws_hs_error(hs), "Version"),
	       "server_explain_error");
	kws_hs_free(hs);

	hs = kws_hs_server_new(NULL);
	kws_hs_server_request(hs, GOOD_REQ, strlen(GOOD_REQ), &used);
	errno = 0;
	tap_ok(kws_hs_server_request(hs, "x", 1, &used) == -1 &&
	       errno == EALREADY, "server_refuse_feed_after_done");
	kws_hs_free(hs);

	hs = kws_hs_server_new(NULL);
	errno = 0;
	tap_ok(kws_hs_server_request(hs, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
				     25, &used) == -1 && errno == EPROTO &&
	       kws_hs_status(hs) == 400 && used == 20,
	       "server_refuse_nul_byte");
	kws_hs_free(hs);

	hs = kws_hs_server_new(NULL);
	tap_ok(kws_hs_client_response(hs, "x", 1, &used) == -1 &&
	       errno == EINVAL, "server_refuse_client_call");
	kws_hs_free(hs);
}

/* ---- client side ---------------------------------------------------------- */

static void test_accept_key(void)
{
	char out[29];

	tap_ok(kws_accept_key(RFC_KEY, out) == 0 && !strcmp(out, RFC_ACCEPT),
	       "accept_key_rfc6455_vector");
	tap_ok(kws_accept_key("", out) == -1 && errno == EINVAL,
	       "accept_key_refuse_empty");
}

/* The key the client put in its request, or "" */
static void request_key(const char *req, char key[64])
{
	const char *p = strstr(req, "Sec-WebSocket-Key: ");

	key[0] = 0;
	if (p)
		sscanf(p + 19, "%63[^\r]", key);
}

static void test_client_request(void)
{
	const char *protos[] = { "chat", "superchat", NULL };
	const char *extra[] = { "Cookie: a=b", "Authorization: Bearer x", NULL };
	struct kws_client_opts opts = {
		.origin = "http://example.com",
		.protocols = protos,
		.headers = extra,
	};
	struct kws_hs *hs = kws_hs_client_new(&opts), *hs2;
	char out[2048], out2[2048], key[64], key2[64];
	unsigned char raw[64];
	ssize_t n;

	n = kws_hs_client_request(hs, "server.example.com:8080", "/chat?x=1",
				  out, sizeof(out));
	tap_ok(n > 0 && (size_t)n == strlen(out) &&
	       !strncmp(out, "GET /chat?x=1 HTTP/1.1\r\n", 24) &&
	       strstr(out, "\r\nHost: server.example.com:8080\r\n") &&
	       strstr(out, "\r\nUpgrade: websocket\r\n") &&
	       strstr(out, "\r\nConnection: Upgrade\r\n") &&
	       strstr(out, "\r\nSec-WebSocket-Version: 13\r\n") &&
	       strstr(out, "\r\nOrigin: http://example.com\r\n") &&
	       strstr(out, "\r\nSec-WebSocket-Protocol: chat, superchat\r\n") &&
	       strstr(out, "\r\nCookie: a=b\r\n") &&
	       strstr(out, "\r\nAuthorization: Bearer x\r\n") &&
	       !strcmp(out + n - 4, "\r\n\r\n") &&
	       !strstr(out, "Extensions"),
	       "client_build_request_all_headers");
	request_key(out, key);
	tap_ok(strlen(key) == 24 &&
	       EVP_DecodeBlock(raw, (unsigned char *)key, 24) == 18 &&
	       !strcmp(key + 22, "=="), "client_key_is_16_bytes_base64");

	hs2 = kws_hs_client_new(NULL);
	n = kws_hs_client_request(hs2, "h", NULL, out2, sizeof(out2));
	request_key(out2, key2);
	tap_ok(n > 0 && strcmp(key, key2) && !strncmp(out2, "GET / HTTP/1.1\r\n", 16) &&
	       !strstr(out2, "Origin") && !strstr(out2, "Protocol"),
	       "client_fresh_key_default_path_no_options");
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "h", "/", out2, 50) == -1 &&
	       errno == ENOSPC, "client_request_enospc");
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "h\r\nX: y", "/", out2,
				     sizeof(out2)) == -1 && errno == EINVAL,
	       "client_refuse_crlf_in_host");
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "h", "/a b", out2, sizeof(out2)) == -1 &&
	       errno == EINVAL, "client_refuse_space_in_path");
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "", "/", out2, sizeof(out2)) == -1 &&
	       errno == EINVAL, "client_refuse_empty_host");
	kws_hs_free(hs2);

	hs2 = kws_hs_client_new(&(struct kws_client_opts){
		.protocols = (const char *[]){ "bad proto", NULL } });
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "h", "/", out2, sizeof(out2)) == -1 &&
	       errno == EINVAL, "client_refuse_protocol_not_token");
	kws_hs_free(hs2);
	hs2 = kws_hs_client_new(&(struct kws_client_opts){
		.headers = (const char *[]){ "sec-websocket-extensions: x", NULL } });
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "h", "/", out2, sizeof(out2)) == -1 &&
	       errno == EINVAL, "client_refuse_extra_header_managed_by_handshake");
	kws_hs_free(hs2);
	hs2 = kws_hs_client_new(&(struct kws_client_opts){
		.headers = (const char *[]){ "X: a\r\nY: b", NULL } });
	errno = 0;
	tap_ok(kws_hs_client_request(hs2, "h", "/", out2, sizeof(out2)) == -1 &&
	       errno == EINVAL, "client_refuse_crlf_in_extra_header");
	kws_hs_free(hs2);
	kws_hs_free(hs);
}

/*
 * Run a client against a response built from @tmpl, where "@A" stands for
 * the right accept value. @protos: the client's offer. Checks the verdict
 * at every split point and byte by byte; one TAP line.
 */
static void client_expect(const char *name, const char *tmpl,
			  const char *const *protos, int r, int err,
			  int status, const char *protocol)
{
	struct kws_client_opts opts = { .protocols = protos };
	int good = 1;

	for (int mode = WHOLE; mode <= BYTES && good; mode++) {
		for (size_t s = 0; good; s++) {
			struct kws_hs *hs = kws_hs_client_new(&opts);
			char req[2048], key[64], acc[29], resp[16384];
			const char *at = strstr(tmpl, "@A");
			size_t len, used, head;
			int got, e;

			kws_hs_client_request(hs, "h", "/", req, sizeof(req));
			request_key(req, key);
			kws_accept_key(key, acc);
			if (at)
				snprintf(resp, sizeof(resp), "%.*s%s%s",
					 (int)(at - tmpl), tmpl, acc, at + 2);
			else
				snprintf(resp, sizeof(resp), "%s", tmpl);
			len = strlen(resp);
			head = strstr(resp, "\r\n\r\n") ?
			       (size_t)(strstr(resp, "\r\n\r\n") + 4 - resp) : len;
			errno = 0;
			got = feed(hs, 0, resp, len, mode, s, &used);
			e = errno;
			if (got != r || (r < 0 && e != err) ||
			    kws_hs_status(hs) != status ||
			    (r == 1 && used != head) ||
			    (r == 1 && (protocol ? !kws_hs_protocol(hs) ||
					strcmp(kws_hs_protocol(hs), protocol) :
					!!kws_hs_protocol(hs)))) {
				tap_diag("%s: mode %d split %zu: r=%d errno=%d status=%d error=%s",
					 name, mode, s, got, e,
					 kws_hs_status(hs),
					 kws_hs_error(hs) ? kws_hs_error(hs) : "-");
				good = 0;
			}
			kws_hs_free(hs);
			if (mode != SPLIT || s >= len)
				break;
		}
	}
	tap_ok(good, "client_%s", name);
}

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define GOOD_RESP R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Accept: @A\r\n\r\n"

static void test_client_rules(void)
{
	const char *protos[] = { "chat", "superchat", NULL };
	char big[10000];
	size_t n;

	client_expect("accept_101", GOOD_RESP, NULL, 1, 0, 101, NULL);
	client_expect("accept_frame_bytes_after_head",
		      GOOD_RESP "\x81\x05hello", NULL, 1, 0, 101, NULL);
	client_expect("accept_token_case",
		      R101 "upgrade: WebSocket\r\nconnection: UPGRADE\r\n"
		      "sec-websocket-accept: @A\r\n\r\n", NULL, 1, 0, 101, NULL);
	client_expect("accept_connection_list",
		      R101 "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\n\r\n", NULL, 1, 0, 101, NULL);
	client_expect("accept_no_reason_phrase",
		      "HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\n\r\n", NULL, 1, 0, 101, NULL);
	client_expect("refuse_status_200",
		      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL, -1,
		      ECONNREFUSED, 200, NULL);
	client_expect("refuse_status_426",
		      "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
		      NULL, -1, ECONNREFUSED, 426, NULL);
	client_expect("refuse_http10",
		      "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		      "Connection: Upgrade\r\nSec-WebSocket-Accept: @A\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("refuse_http10_reports_status",
		      "HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
		      NULL, -1, ECONNREFUSED, 403, NULL);
	client_expect("refuse_bad_status_line", "HTTP/1.1 1O1 x\r\n\r\n", NULL,
		      -1, EPROTO, 0, NULL);
	client_expect("refuse_garbage", "SSH-2.0-OpenSSH\r\n\r\n", NULL, -1,
		      EPROTO, 0, NULL);
	client_expect("refuse_no_upgrade",
		      R101 "Connection: Upgrade\r\nSec-WebSocket-Accept: @A\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("refuse_upgrade_other",
		      R101 "Upgrade: h2c\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\n\r\n", NULL, -1, EPROTO, 101,
		      NULL);
	client_expect("refuse_no_connection",
		      R101 "Upgrade: websocket\r\nSec-WebSocket-Accept: @A\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("refuse_connection_close",
		      R101 "Upgrade: websocket\r\nConnection: close\r\n"
		      "Sec-WebSocket-Accept: @A\r\n\r\n", NULL, -1, EPROTO, 101,
		      NULL);
	client_expect("refuse_no_accept",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("refuse_wrong_accept",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, -1,
		      EPROTO, 101, NULL);
	client_expect("refuse_accept_repeated",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\nSec-WebSocket-Accept: @A\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("refuse_extension_not_offered",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\n"
		      "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("accept_offered_protocol",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\nSec-WebSocket-Protocol: superchat\r\n\r\n",
		      protos, 1, 0, 101, "superchat");
	client_expect("accept_no_protocol_selected",
		      GOOD_RESP, protos, 1, 0, 101, NULL);
	client_expect("refuse_protocol_not_offered",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
		      protos, -1, EPROTO, 101, NULL);
	client_expect("refuse_protocol_when_none_offered",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
		      NULL, -1, EPROTO, 101, NULL);
	client_expect("refuse_two_protocols",
		      R101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\nSec-WebSocket-Protocol: chat\r\n"
		      "Sec-WebSocket-Protocol: superchat\r\n\r\n",
		      protos, -1, EPROTO, 101, NULL);
	client_expect("refuse_obs_fold",
		      R101 "Upgrade: websocket\r\n continued\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: @A\r\n\r\n", NULL, -1, EPROTO, 0,
		      NULL);
	client_expect("refuse_bare_lf", "HTTP/1.1 101 OK\nUpgrade: websocket\n\n",
		      NULL, -1, EPROTO, 0, NULL);
	client_expect("wait_incomplete_head", "HTTP/1.1 101 OK\r\nX: a", NULL, 0, 0, 0,
		      NULL);

	n = snprintf(big, sizeof(big), R101 "X-Big: ");
	memset(big + n, 'x', 8192);
	strcpy(big + n + 8192, "\r\n\r\n");
	client_expect("refuse_head_over_8k", big, NULL, -1, EMSGSIZE, 0, NULL);
}

/* Both sides of this library against each other, every protocol combination. */
static void test_round_trip(void)
{
	const char *cp[] = { "a", "b", NULL }, *sp[] = { "b", "a", NULL };
	struct kws_hs *c = kws_hs_client_new(&(struct kws_client_opts){
		.protocols = cp, .origin = "null" });
	struct kws_hs *s = kws_hs_server_new(&(struct kws_server_opts){
		.protocols = sp });
	char req[2048], resp[2048];
	ssize_t rn, sn;
	size_t used;

	rn = kws_hs_client_request(c, "[::1]:9000", "/x", req, sizeof(req));
	tap_ok(rn > 0 && kws_hs_server_request(s, req, rn, &used) == 1 &&
	       used == (size_t)rn && !strcmp(kws_hs_header(s, "Host"), "[::1]:9000"),
	       "round_trip_server_accepts_client_request");
	sn = kws_hs_server_response(s, 0, resp, sizeof(resp));
	tap_ok(sn > 0 && kws_hs_client_response(c, resp, sn, &used) == 1 &&
	       used == (size_t)sn && !strcmp(kws_hs_protocol(c), "b") &&
	       !strcmp(kws_hs_protocol(s), "b"),
	       "round_trip_client_accepts_server_response");
	kws_hs_free(c);
	kws_hs_free(s);
}

int main(void)
{
	test_accept_key();
	test_server_rules();
	test_server_leftover();
	test_server_details();
	test_client_request();
	test_client_rules();
	test_round_trip();
	return tap_done();
}
