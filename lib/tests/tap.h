/* SPDX-License-Identifier: MIT */
/*
 * Minimal TAP producer for the libkws tests: "ok N name" / "not ok N name",
 * "ok N name # SKIP why", the plan at the end. tap_done() is the exit status.
 */
#ifndef KWS_TAP_H
#define KWS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failures;

static inline __attribute__((format(printf, 2, 3)))
int tap_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d ", pass ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!pass)
		tap_failures++;
	return pass;
}

static inline __attribute__((format(printf, 2, 3)))
void tap_skip(const char *why, const char *fmt, ...)
{
	va_list ap;

	printf("ok %d ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", why);
	fflush(stdout);
}

/* A diagnostic line, shown by TAP consumers. */
#define tap_diag(...) do { printf("# "); printf(__VA_ARGS__); putchar('\n'); } while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failures)
		printf("# %d of %d failed\n", tap_failures, tap_count);
	return tap_failures ? 1 : 0;
}

#endif /* KWS_TAP_H */
