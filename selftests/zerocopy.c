// SPDX-License-Identifier: GPL-2.0
/*
 * kws selftests: sendfile(2) and splice(2) into a "ws" socket
 * (Documentation/abi.md, "sendfile and splice").
 *
 * The ULP side sends a file or a pipe's contents; the plain TCP peer parses
 * every frame it receives and checks that they make exactly one message of
 * the documented opcode, whose payload is the file's bytes, each frame
 * masked by role, and nothing else in between but control frames the kernel
 * itself sent. Helpers (pairs, frame reader and encoder) are ws_peer.h's.
 *
 * Fixture zc: variants by role (the server hands pages to TCP, the client
 * masks and copies) and address family.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"

#include "ws_peer.h"

/* Each frame of a spliced message is one pipe batch: 16 pages at most. */
#define SPLICE_FRAME_MAX	(16u * 4096)
#define BIG_FILE		(16u << 20)

static int pattern_file(size_t len, unsigned int seed, uint8_t **buf)
{
	char path[] = "/tmp/kws-zerocopy-XXXXXX";
	int fd = mkstemp(path);
	size_t off = 0;

	if (fd < 0)
		return -1;
	unlink(path);
	*buf = malloc(len + 1);
	if (!*buf)
		abort();
	fill_pattern(*buf, len, seed);
	while (off < len) {
		ssize_t n = write(fd, *buf + off, len - off);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += n;
	}
	return fd;
}

/* A small receive window on the peer makes the sender block early. */
static void peer_small_window(int peer)
{
	int sz = 64 << 10;

	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/*
 * Before 6.5 splice reaches the socket a page at a time (sendpage): the
 * server role holds a batch's pages for one frame, the client role (which
 * copies to mask) sends a frame per page.
 */
static size_t splice_frame_max(int role)
{
	struct utsname u;
	int maj = 0, min = 0;

	if (!uname(&u))
		sscanf(u.release, "%d.%d", &maj, &min);
	if (role == WS_ROLE_CLIENT && (maj < 6 || (maj == 6 && min < 5)))
		return 4096;
	return SPLICE_FRAME_MAX;
}

/* ---- zc: by role and address family -------------------------------------- */

FIXTURE(zc) {
	int fd;		/* the ws socket */
	int peer;	/* plain TCP */
};

FIXTURE_VARIANT(zc) {
	int role;
	int family;
};

FIXTURE_VARIANT_ADD(zc, server_v4) {
	.role = WS_ROLE_SERVER,
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(zc, client_v4) {
	.role = WS_ROLE_CLIENT,
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(zc, server_v6) {
	.role = WS_ROLE_SERVER,
	.family = AF_INET6,
};

FIXTURE_SETUP(zc)
{
	self->fd = self->peer = -1;
	signal(SIGPIPE, SIG_IGN);
	ws_pair(_metadata, variant->family, variant->role, 0, 0, &self->fd,
		&self->peer);
}

FIXTURE_TEARDOWN(zc)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->peer >= 0)
		close(self->peer);
}

/*
 * One sendfile() of @len bytes is one binary message: the peer gets exactly
 * the file, in frames no bigger than a pipe batch, FIN on the last.
 */
static void sendfile_one(struct __test_metadata *_metadata, int fd,
			 int peer, int role, size_t len, unsigned int seed)
{
	struct peer_job job;
	off_t off = 0;
	uint8_t *want;
	ssize_t n;
	int tfd;

	tfd = pattern_file(len, seed, &want);
	ASSERT_LE(0, tfd);
	peer_job_start(_metadata, &job, peer, role);
	n = sendfile(fd, tfd, &off, len);
	peer_job_wait(&job);
	EXPECT_EQ((ssize_t)len, n) {
		TH_LOG("sendfile(%zu): %zd (%s)", len, n, strerror(errno));
	}
	expect_peer_msg(_metadata, &job.msg, WS_OP_BINARY, want, len);
	EXPECT_GE(splice_frame_max(role), job.msg.max_frame);
	EXPECT_EQ(0, job.msg.empty);
	peer_msg_free(&job.msg);
	free(want);
	close(tfd);
}

TEST_F(zc, sendfile_1)
{
	sendfile_one(_metadata, self->fd, self->peer, variant->role, 1, 1);
}

TEST_F(zc, sendfile_page_minus_1)
{
	sendfile_one(_metadata, self->fd, self->peer, variant->role, 4095, 2);
}

TEST_F(zc, sendfile_page)
{
	sendfile_one(_metadata, self->fd, self->peer, variant->role, 4096, 3);
}

TEST_F(zc, sendfile_64k_plus_1)
{
	sendfile_one(_metadata, self->fd, self->peer, variant->role, 65537, 4);
}

TEST_F_TIMEOUT(zc, sendfile_several_mib, 120)
{
	sendfile_one(_metadata, self->fd, self->peer, variant->role,
		     (5u << 20) + 123, 5);
}

/* Frames and message counters follow what went out. */
TEST_F(zc, sendfile_stats)
{
	struct ws_stats before = get_stats(_metadata, self->fd), after;

	sendfile_one(_metadata, self->fd, self->peer, variant->role, 200000, 6);
	after = get_stats(_metadata, self->fd);
	EXPECT_EQ(1, after.tx_messages - before.tx_messages);
	EXPECT_EQ(200000, after.tx_bytes - before.tx_bytes);
	EXPECT_LE(200000 / splice_frame_max(variant->role),
		  after.tx_frames - before.tx_frames);
}

/* An empty file sends nothing: no frame, no message. */
TEST_F(zc, sendfile_empty_file)
{
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(0, 0, &want);

	ASSERT_LE(0, tfd);
	EXPECT_EQ(0, sendfile(self->fd, tfd, &off, 0));
	EXPECT_EQ(0, sendfile(self->fd, tfd, &off, 100));
	expect_quiet(_metadata, self->peer, QUIET_MS);
	free(want);
	close(tfd);
	/* The stream is intact. */
	ASSERT_EQ(2, send(self->fd, "ok", 2, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "ok", 2);
}

/* WS_TX_OPCODE chooses the opcode of spliced messages too. */
TEST_F(zc, sendfile_text_opcode)
{
	int op = WS_OP_TEXT;
	struct peer_job job;
	off_t off = 0;
	uint8_t want[3000];
	int tfd;
	uint8_t *unused;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_WS, WS_TX_OPCODE, &op,
				sizeof(op)));
	tfd = pattern_file(0, 0, &unused);
	ASSERT_LE(0, tfd);
	free(unused);
	memset(want, 'a', sizeof(want));
	ASSERT_EQ((ssize_t)sizeof(want), write(tfd, want, sizeof(want)));
	peer_job_start(_metadata, &job, self->peer, variant->role);
	EXPECT_EQ((ssize_t)sizeof(want),
		  sendfile(self->fd, tfd, &off, sizeof(want)));
	peer_job_wait(&job);
	expect_peer_msg(_metadata, &job.msg, WS_OP_TEXT, want, sizeof(want));
	peer_msg_free(&job.msg);
	close(tfd);
}

/*
 * A count past the end of the file: the message still ends, with an empty
 * final frame once sendfile() finds the end (proto.splice_eof).
 */
TEST_F(zc, sendfile_short_file_ends_message)
{
	struct peer_job job;
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(10000, 7, &want);

	ASSERT_LE(0, tfd);
	peer_job_start(_metadata, &job, self->peer, variant->role);
	EXPECT_EQ(10000, sendfile(self->fd, tfd, &off, 50000));
	peer_job_wait(&job);
	expect_peer_msg(_metadata, &job.msg, WS_OP_BINARY, want, 10000);
	peer_msg_free(&job.msg);
	free(want);
	close(tfd);
	/* Nothing more, and the next message starts afresh. */
	expect_quiet(_metadata, self->peer, QUIET_MS);
	ASSERT_EQ(1, send(self->fd, "n", 1, 0));
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "n", 1);
}

/* Two sendfile() calls are two messages. */
TEST_F(zc, sendfile_twice_two_messages)
{
	struct peer_msg m;
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(20000, 8, &want);

	ASSERT_LE(0, tfd);
	ASSERT_EQ(12000, sendfile(self->fd, tfd, &off, 12000));
	ASSERT_EQ(8000, sendfile(self->fd, tfd, &off, 8000));
	peer_read_message(self->peer, variant->role, &m, IO_TIMEOUT_MS);
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want, 12000);
	peer_msg_free(&m);
	peer_read_message(self->peer, variant->role, &m, IO_TIMEOUT_MS);
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want + 12000, 8000);
	peer_msg_free(&m);
	free(want);
	close(tfd);
}

/* splice() from a pipe: one call, one message. */
TEST_F(zc, splice_from_pipe)
{
	uint8_t want[40000];
	struct peer_msg m;
	int p[2];

	fill_pattern(want, sizeof(want), 9);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ((ssize_t)sizeof(want), write(p[1], want, sizeof(want)));
	EXPECT_EQ((ssize_t)sizeof(want),
		  splice(p[0], NULL, self->fd, NULL, sizeof(want), 0));
	peer_read_message(self->peer, variant->role, &m, IO_TIMEOUT_MS);
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want, sizeof(want));
	EXPECT_GE(splice_frame_max(variant->role), m.max_frame);
	peer_msg_free(&m);
	close(p[0]);
	close(p[1]);
}

/* A splice() asking for more than the pipe holds ends at what it had. */
TEST_F(zc, splice_more_than_pipe_holds)
{
	uint8_t want[5000];
	struct peer_msg m;
	int p[2];

	fill_pattern(want, sizeof(want), 10);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ((ssize_t)sizeof(want), write(p[1], want, sizeof(want)));
	EXPECT_EQ((ssize_t)sizeof(want),
		  splice(p[0], NULL, self->fd, NULL, 1 << 20,
			 SPLICE_F_NONBLOCK));
	peer_read_message(self->peer, variant->role, &m, IO_TIMEOUT_MS);
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want, sizeof(want));
	peer_msg_free(&m);
	close(p[0]);
	close(p[1]);
}

/* SPLICE_F_MORE keeps the message open: a send() without MSG_MORE ends it. */
TEST_F(zc, splice_more_then_send)
{
	uint8_t want[3003];
	struct peer_msg m;
	int p[2];

	fill_pattern(want, 3000, 11);
	memcpy(want + 3000, "end", 3);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(3000, write(p[1], want, 3000));
	EXPECT_EQ(3000, splice(p[0], NULL, self->fd, NULL, 3000,
			       SPLICE_F_MORE));
	/* No FIN yet: the peer sees no complete message. */
	ASSERT_EQ(3, send(self->fd, "end", 3, 0));
	peer_read_message(self->peer, variant->role, &m, IO_TIMEOUT_MS);
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want, sizeof(want));
	EXPECT_LE(2, m.frames);
	peer_msg_free(&m);
	close(p[0]);
	close(p[1]);
}

/* After our close, sendfile and splice fail with EPIPE and send nothing. */
TEST_F(zc, sendfile_after_close_epipe)
{
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(100, 12, &want);
	int p[2];

	ASSERT_LE(0, tfd);
	ASSERT_EQ(0, ws_send_close(self->fd, WS_CLOSE_NORMAL, NULL, 0, 0));
	expect_close_frame(_metadata, self->peer, variant->role,
			   WS_CLOSE_NORMAL, NULL, 0);
	EXPECT_EQ(-1, sendfile(self->fd, tfd, &off, 100));
	EXPECT_EQ(EPIPE, errno);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(4, write(p[1], "pipe", 4));
	EXPECT_EQ(-1, splice(p[0], NULL, self->fd, NULL, 4, 0));
	EXPECT_EQ(EPIPE, errno);
	expect_quiet(_metadata, self->peer, QUIET_MS);
	close(p[0]);
	close(p[1]);
	free(want);
	close(tfd);
}

/*
 * A ping that arrives while a sendfile() waits for the peer is answered
 * between two of its frames, not after the whole message, and never inside
 * a frame (the peer's parse would fail).
 */
TEST_F_TIMEOUT(zc, pong_between_sendfile_frames, 120)
{
	struct peer_msg m;
	off_t off = 0;
	uint8_t *want;
	pid_t pid;
	int tfd;

	peer_small_window(self->peer);
	tfd = pattern_file(BIG_FILE, 13, &want);
	ASSERT_LE(0, tfd);
	set_timeouts(self->fd, 60000);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(sendfile(self->fd, tfd, &off, BIG_FILE) == BIG_FILE ?
		      0 : 1);
	/* The sender is blocked on the peer's window by now. */
	usleep(300000);
	peer_send(_metadata, self->peer, variant->role, true, WS_OP_PING,
		  "mid", 3);
	peer_read_message(self->peer, variant->role, &m, 30000);
	EXPECT_EQ(0, reap(pid));
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want, BIG_FILE);
	ASSERT_EQ(1, m.pongs);
	EXPECT_EQ(3, m.pong_len);
	EXPECT_EQ(0, memcmp(m.pong, "mid", 3));
	EXPECT_LT(0, m.pong_after);
	EXPECT_GT(m.frames, m.pong_after) {
		TH_LOG("the pong waited for the end of the message");
	}
	peer_msg_free(&m);
	free(want);
	close(tfd);
}

/*
 * Non-blocking sendfile() returns what went out; calls that pick up from
 * the returned offset complete the same message.
 */
TEST_F_TIMEOUT(zc, sendfile_nonblocking_partial, 120)
{
	unsigned int calls = 0, eagain = 0;
	bool partial = false;
	struct peer_job job;
	off_t off = 0;
	uint8_t *want;
	int tfd;

	peer_small_window(self->peer);
	tfd = pattern_file(BIG_FILE, 14, &want);
	ASSERT_LE(0, tfd);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL,
			   fcntl(self->fd, F_GETFL) | O_NONBLOCK));
	peer_job_start(_metadata, &job, self->peer, variant->role);
	while (off < BIG_FILE && calls < 1000000) {
		size_t left = BIG_FILE - off;
		ssize_t n = sendfile(self->fd, tfd, &off, left);

		calls++;
		if (n < 0) {
			struct pollfd pfd = { .fd = self->fd,
					      .events = POLLOUT };

			ASSERT_EQ(EAGAIN, errno);
			eagain++;
			poll(&pfd, 1, 1000);
			continue;
		}
		ASSERT_LT(0, n);
		if ((size_t)n < left)
			partial = true;
	}
	peer_job_wait(&job);
	EXPECT_EQ(BIG_FILE, off);
	EXPECT_TRUE(partial || eagain) {
		TH_LOG("%u calls, none short: the test did not exercise it",
		       calls);
	}
	expect_peer_msg(_metadata, &job.msg, WS_OP_BINARY, want, BIG_FILE);
	peer_msg_free(&job.msg);
	free(want);
	close(tfd);
}

/* Data sent with send() after a sendfile() is its own message. */
TEST_F(zc, send_after_sendfile)
{
	struct peer_msg m;
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(9000, 15, &want);

	ASSERT_LE(0, tfd);
	ASSERT_EQ(9000, sendfile(self->fd, tfd, &off, 9000));
	ASSERT_EQ(5, send(self->fd, "after", 5, 0));
	peer_read_message(self->peer, variant->role, &m, IO_TIMEOUT_MS);
	expect_peer_msg(_metadata, &m, WS_OP_BINARY, want, 9000);
	peer_msg_free(&m);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "after", 5);
	free(want);
	close(tfd);
}

/*
 * The server role sends a pipe batch as one frame on every kernel: a file
 * of whole batches (the last page of each ends the batch and fills the
 * 16-page hold of 6.1 at once) is one frame per 64 KiB, a short file one.
 */
static void sendfile_frames(struct __test_metadata *_metadata, int fd,
			    int peer, int role, size_t len,
			    unsigned int frames)
{
	struct peer_job job;
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(len, 16, &want);

	ASSERT_LE(0, tfd);
	peer_job_start(_metadata, &job, peer, role);
	EXPECT_EQ((ssize_t)len, sendfile(fd, tfd, &off, len));
	peer_job_wait(&job);
	expect_peer_msg(_metadata, &job.msg, WS_OP_BINARY, want, len);
	if (role == WS_ROLE_SERVER)
		EXPECT_EQ(frames, job.msg.frames);
	peer_msg_free(&job.msg);
	free(want);
	close(tfd);
}

TEST_F(zc, sendfile_batch_on_hold_bound)
{
	sendfile_frames(_metadata, self->fd, self->peer, variant->role,
			SPLICE_FRAME_MAX, 1);
	sendfile_frames(_metadata, self->fd, self->peer, variant->role,
			2 * SPLICE_FRAME_MAX, 2);
}

TEST_F(zc, sendfile_short_file_one_frame)
{
	sendfile_frames(_metadata, self->fd, self->peer, variant->role,
			10000, 1);
}

/* A large sendfile() then a send(): two messages, in that order. */
TEST_F_TIMEOUT(zc, sendfile_then_send_order, 60)
{
	struct peer_job job;
	off_t off = 0;
	uint8_t *want;
	int tfd = pattern_file(300001, 17, &want);

	ASSERT_LE(0, tfd);
	peer_job_start(_metadata, &job, self->peer, variant->role);
	ASSERT_EQ(300001, sendfile(self->fd, tfd, &off, 300001));
	ASSERT_EQ(4, send(self->fd, "tail", 4, 0));
	peer_job_wait(&job);
	expect_peer_msg(_metadata, &job.msg, WS_OP_BINARY, want, 300001);
	peer_msg_free(&job.msg);
	expect_frame(_metadata, self->peer, variant->role, true, WS_OP_BINARY,
		     "tail", 4);
	free(want);
	close(tfd);
}

/* Everything the peer got until EOF, as raw bytes. */
struct raw_job {
	pthread_t thread;
	int peer;
	uint8_t *buf;
	size_t len;
};

static void *raw_job_run(void *arg)
{
	struct raw_job *j = arg;
	size_t cap = 1 << 20;

	j->buf = malloc(cap);
	for (;;) {
		struct pollfd pfd = { .fd = j->peer, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			return NULL;
		if (j->len == cap) {
			cap *= 2;
			j->buf = realloc(j->buf, cap);
		}
		n = recv(j->peer, j->buf + j->len, cap - j->len, 0);
		if (n <= 0)
			return NULL;
		j->len += n;
	}
}

/*
 * Walk the raw stream: the data payload, unmasked (a last frame cut short
 * counts with what arrived of it), and the close code (0: none).
 */
static size_t raw_payload(const uint8_t *b, size_t len, uint8_t *out,
			  int *close_code)
{
	size_t pos = 0, got = 0;

	*close_code = 0;
	while (pos + 2 <= len) {
		int op = b[pos] & 0xf;
		uint64_t plen = b[pos + 1] & 0x7f;
		bool masked = b[pos + 1] & 0x80;
		size_t h = 2, i, avail;
		uint8_t key[4] = {};

		if (plen == 126) {
			if (pos + 4 > len)
				break;
			plen = (b[pos + 2] << 8) | b[pos + 3];
			h = 4;
		} else if (plen == 127) {
			if (pos + 10 > len)
				break;
			plen = 0;
			for (i = 0; i < 8; i++)
				plen = (plen << 8) | b[pos + 2 + i];
			h = 10;
		}
		if (masked) {
			if (pos + h + 4 > len)
				break;
			memcpy(key, b + pos + h, 4);
			h += 4;
		}
		pos += h;
		avail = len - pos < plen ? len - pos : plen;
		if (op == WS_OP_CLOSE && avail >= 2)
			*close_code = ((b[pos] ^ key[0]) << 8) |
				      (b[pos + 1] ^ key[1]);
		if (!(op & 0x8))
			for (i = 0; i < avail; i++)
				out[got++] = b[pos + i] ^ key[i & 3];
		pos += avail;
	}
	return got;
}

/*
 * Non-blocking sendfile() until the peer's window is full, then shutdown()
 * or close(): every byte sendfile() reported sent reaches the peer (on 6.1
 * part of them may still be held by kws, not yet in TCP).
 */
static void sendfile_then_end(struct __test_metadata *_metadata, int fd,
			      int peer, bool use_close)
{
	struct raw_job job = { .peer = peer };
	size_t sent = 0, got;
	off_t off = 0;
	uint8_t *want, *out;
	int tfd, code;

	peer_small_window(peer);
	tfd = pattern_file(BIG_FILE, 18, &want);
	ASSERT_LE(0, tfd);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	while (sent < BIG_FILE) {
		ssize_t n = sendfile(fd, tfd, &off, BIG_FILE - sent);

		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno);
			break;
		}
		sent += n;
	}
	ASSERT_GT(BIG_FILE, sent);
	if (use_close) {
		/* Nothing reads yet: close(2) must not wait for the peer. */
		EXPECT_EQ(0, close(fd));
		ASSERT_EQ(0, pthread_create(&job.thread, NULL, raw_job_run,
					    &job));
	} else {
		ASSERT_EQ(0, fcntl(fd, F_SETFL,
				   fcntl(fd, F_GETFL) & ~O_NONBLOCK));
		ASSERT_EQ(0, pthread_create(&job.thread, NULL, raw_job_run,
					    &job));
		EXPECT_EQ(0, shutdown(fd, SHUT_WR));
	}
	pthread_join(job.thread, NULL);
	out = malloc(job.len + 1);
	got = raw_payload(job.buf, job.len, out, &code);
	EXPECT_EQ(sent, got);
	EXPECT_EQ(0, memcmp(out, want, got < sent ? got : sent));
	if (!use_close)
		EXPECT_TRUE(code == 0 || code == WS_CLOSE_NORMAL);
	free(out);
	free(job.buf);
	free(want);
	close(tfd);
}

TEST_F_TIMEOUT(zc, shutdown_after_partial_sendfile_sends_all, 120)
{
	sendfile_then_end(_metadata, self->fd, self->peer, false);
}

TEST_F_TIMEOUT(zc, close_after_partial_sendfile_sends_all, 120)
{
	sendfile_then_end(_metadata, self->fd, self->peer, true);
	self->fd = -1;
}

TEST_HARNESS_MAIN
