// SPDX-License-Identifier: MIT
/*
 * kwscat: a one-line progress report on stderr for large transfers, only
 * when stderr is a terminal and -q was not given. Both session threads
 * report into it; it redraws at most every 200 ms.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "kwscat.h"

/* Small transfers finish before a progress line would help. */
#define PROGRESS_MIN_BYTES	(1 << 20)
#define PROGRESS_PERIOD_MS	200
#define BAR_WIDTH		24

static struct {
	pthread_mutex_t lock;	/* everything below */
	bool enabled;
	bool shown;		/* a line is on the screen */
	int64_t total;		/* stdin size, -1 if unknown */
	uint64_t sent, received;
	int64_t start_ms, last_ms;
} pg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void human(char *out, size_t size, double v)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* Called with pg.lock held. */
static void draw(int64_t now)
{
	char sent[16], rcvd[16], rate[16], bar[BAR_WIDTH + 3] = "";
	double secs = (now - pg.start_ms) / 1000.0;

	human(sent, sizeof(sent), pg.sent);
	human(rcvd, sizeof(rcvd), pg.received);
	human(rate, sizeof(rate),
	      secs > 0 ? (pg.sent + pg.received) / secs : 0);
	if (pg.total > 0) {
		int fill = pg.sent >= (uint64_t)pg.total ? BAR_WIDTH :
			   (int)(pg.sent * BAR_WIDTH / pg.total);
		int i;

		bar[0] = '[';
		for (i = 0; i < BAR_WIDTH; i++)
			bar[i + 1] = i < fill ? '#' : '.';
		bar[BAR_WIDTH + 1] = ']';
		bar[BAR_WIDTH + 2] = '\0';
		fprintf(stderr, "\r%s %3d%% ", bar,
			(int)(pg.sent * 100 / (uint64_t)pg.total));
	} else {
		fputc('\r', stderr);
	}
	fprintf(stderr, "sent %s  received %s  %s/s   ", sent, rcvd, rate);
	pg.shown = true;
	pg.last_ms = now;
}

void kc_progress_init(const struct kc_opts *o, int64_t total)
{
	pthread_mutex_lock(&pg.lock);
	pg.enabled = !o->quiet && isatty(STDERR_FILENO);
	pg.total = total;
	pg.start_ms = mono_ms();
	pthread_mutex_unlock(&pg.lock);
}

void kc_progress_add(uint64_t sent, uint64_t received)
{
	int64_t now;

	if (!pg.enabled)
		return;
	pthread_mutex_lock(&pg.lock);
	pg.sent += sent;
	pg.received += received;
	if (pg.sent + pg.received >= PROGRESS_MIN_BYTES) {
		now = mono_ms();
		if (now - pg.last_ms >= PROGRESS_PERIOD_MS)
			draw(now);
	}
	pthread_mutex_unlock(&pg.lock);
}

void kc_progress_done(void)
{
	pthread_mutex_lock(&pg.lock);
	if (pg.shown) {
		draw(mono_ms());
		fputc('\n', stderr);
		pg.shown = false;
	}
	pthread_mutex_unlock(&pg.lock);
}
