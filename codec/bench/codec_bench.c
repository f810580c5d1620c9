// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Microbenchmark of the codec's two per-byte loops, kws_mask_copy() and
 * kws_utf8_feed(), as GB/s and as a ratio to memcpy() measured in the same
 * run on the same buffers. The codec is built with -mgeneral-regs-only, as
 * in the kernel (no SSE/AVX), while memcpy() is glibc's vectorized one.
 *
 * Each figure is the best of several timed rounds, to keep the noise of a
 * shared machine out of it. The goals are in the table at the bottom.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kws_codec.h"

static double now(void)
{
	struct timespec ts;

	/*
	 * CPU time of this thread, not wall time: the build machine is shared
	 * and wall time would mostly measure the other jobs.
	 */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum op {
	OP_MEMCPY, OP_MASK, OP_MASK_INPLACE, OP_UTF8, OP_UTF8_MASKED,
	OP_SCALAR_COPY, OP_REP_MOVSB,
};

void bench_scalar_copy(u8 *dst, const u8 *src, u64 len);

static volatile u32 sink;

static const u8 key[4] = { 0x37, 0xfa, 0x21, 0x3d };

static void run_once(enum op op, u8 *dst, u8 *src, size_t n)
{
	u32 st = KWS_UTF8_ACCEPT;

	switch (op) {
	case OP_MEMCPY:
		memcpy(dst, src, n);
		/* Keep the copy from being elided. */
		__asm__ volatile("" : : "r"(dst) : "memory");
		break;
	case OP_SCALAR_COPY:
		bench_scalar_copy(dst, src, n);
		break;
	case OP_REP_MOVSB:
		/* What the kernel's memcpy() is on CPUs with FSRM. */
#ifdef __x86_64__
		__asm__ volatile("rep movsb"
				 : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
#else
		memcpy(dst, src, n);
#endif
		break;
	case OP_MASK:
		sink = kws_mask_copy(dst, src, n, key, 1);
		break;
	case OP_MASK_INPLACE:
		sink = kws_mask_copy(dst, dst, n, key, 1);
		break;
	case OP_UTF8:
		if (kws_utf8_feed(&st, src, n) || st != KWS_UTF8_ACCEPT) {
			fprintf(stderr, "bench text is not valid UTF-8\n");
			exit(1);
		}
		sink = st;
		break;
	case OP_UTF8_MASKED:
		if (kws_utf8_feed_masked(&st, src, n, key, 0) ||
		    st != KWS_UTF8_ACCEPT) {
			fprintf(stderr, "bench text is not valid UTF-8\n");
			exit(1);
		}
		sink = st;
		break;
	}
}

static double round_gbs(enum op op, u8 *dst, u8 *src, size_t n, size_t reps)
{
	double t = now();
	size_t r;

	for (r = 0; r < reps; r++)
		run_once(op, dst, src, n);
	return reps * n / (now() - t) / 1e9;
}

/*
 * Best GB/s of @op and of memcpy over rounds that alternate between the
 * two, so that both see the same load from the rest of the machine.
 */
static double measure(enum op op, u8 *dst, u8 *src, size_t n, double *base)
{
	size_t reps = (n >= (1 << 20) ? (256 << 20) : (1 << 30)) / n;
	double best = 0, best_base = 0, g;
	int round;

	if (!reps)
		reps = 1;
	run_once(op, dst, src, n);	/* warm the caches and the TLB */
	for (round = 0; round < 7; round++) {
		g = round_gbs(OP_MEMCPY, dst, src, n, reps);
		if (g > best_base)
			best_base = g;
		g = round_gbs(op, dst, src, n, reps);
		if (g > best)
			best = g;
	}
	*base = best_base;
	return best;
}

/* Code points of 2, 3 and 4 bytes in a pseudo-random mix. */
static void fill_mixed(u8 *p, size_t n)
{
	static const char *const chars[] = {
		"\xc3\xa9", "\xce\xba", "\xd0\x96", "\xdf\xbf",		/* 2 */
		"\xe2\x82\xac", "\xe4\xb8\xad", "\xef\xbf\xbd",		/* 3 */
		"\xed\x9f\xbf",
		"\xf0\x9f\x98\x80", "\xf0\x90\x8d\x88", "\xf4\x8f\xbf\xbf", /* 4 */
	};
	unsigned long long x = 88172645463325252ULL;
	size_t i = 0, k;

	while (i < n) {
		const char *c;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c = chars[x % (sizeof(chars) / sizeof(chars[0]))];
		k = strlen(c);
		if (i + k > n) {
			memset(p + i, 'a', n - i);
			break;
		}
		memcpy(p + i, c, k);
		i += k;
	}
}

struct row {
	const char *name;
	enum op op;
	int text;		/* 0 random, 1 ASCII, 2 mixed, 3 masked mixed */
	double goal_ratio;	/* vs memcpy; 0: none */
	double goal_gbs;	/* absolute; 0: none */
};

int main(void)
{
	static const size_t sizes[] = { 64 << 10, 64 << 20 };
	static const struct row rows[] = {
		{ "mask_copy", OP_MASK, 0, 0.3, 0 },
		{ "mask_copy in place", OP_MASK_INPLACE, 0, 0, 0 },
		{ "ref: scalar copy", OP_SCALAR_COPY, 0, 0, 0 },
		{ "ref: rep movsb", OP_REP_MOVSB, 0, 0, 0 },
		{ "utf8 ASCII", OP_UTF8, 1, 0.3, 0 },
		{ "utf8 mixed 2/3/4-byte", OP_UTF8, 2, 0, 1.5 },
		{ "utf8 masked mixed", OP_UTF8_MASKED, 3, 0, 0 },
	};
	int fails = 0;
	size_t si, ri;

	for (si = 0; si < 2; si++) {
		size_t n = sizes[si];
		u8 *src = aligned_alloc(64, n), *dst = aligned_alloc(64, n);
		u8 *ascii = aligned_alloc(64, n), *mixed = aligned_alloc(64, n);
		u8 *masked = aligned_alloc(64, n);
		double base;
		size_t i;

		if (!src || !dst || !ascii || !mixed || !masked)
			return 2;
		for (i = 0; i < n; i++) {
			src[i] = i * 2654435761u >> 13;
			ascii[i] = 32 + i % 95;
		}
		memset(dst, 0, n);
		fill_mixed(mixed, n);
		kws_mask_copy(masked, mixed, n, key, 0);

		for (ri = 0; ri < sizeof(rows) / sizeof(rows[0]); ri++) {
			const struct row *r = &rows[ri];
			u8 *in = r->text == 1 ? ascii : r->text == 2 ? mixed :
				 r->text == 3 ? masked : src;
			double gbs = measure(r->op, dst, in, n, &base), goal;
			const char *verdict = "";

			/* Memory-bound at 64 MiB: masking must keep up. */
			if (r->op == OP_MASK)
				goal = n >= (1 << 20) ? 0.9 : 0.3;
			else
				goal = r->goal_ratio;
			if (goal)
				verdict = gbs >= goal * base ? "  ok" : "  MISSED";
			if (r->goal_gbs)
				verdict = gbs >= r->goal_gbs ? "  ok" : "  MISSED";
			if (*verdict == ' ' && verdict[2] == 'M')
				fails++;
			printf("%-22s %2zu %s: %6.2f GB/s, memcpy %6.2f: %5.2fx",
			       r->name, n >> (n >= (1 << 20) ? 20 : 10),
			       n >= (1 << 20) ? "MiB" : "KiB", gbs, base,
			       gbs / base);
			if (goal)
				printf("  (goal >= %.1fx)%s", goal, verdict);
			else if (r->goal_gbs)
				printf("  (goal >= %.1f GB/s)%s", r->goal_gbs,
				       verdict);
			printf("\n");
		}
		free(src);
		free(dst);
		free(ascii);
		free(mixed);
		free(masked);
	}
	printf("%s\n", fails ? "# some goals missed" : "# all goals met");
	return 0;
}
