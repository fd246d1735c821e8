/* SPDX-License-Identifier: MIT */
/*
 * Checks and a TAP runner shared by the C mount tests (test-ops,
 * test-posix): CHECK(cond, fmt...) and CHECK_ERR(expr, errno) count a
 * failure in the current test; run_tests() prints one TAP line per test.
 */
#ifndef ACFS_TESTS_CHECK_H
#define ACFS_TESTS_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures_in_test;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("#   %s:%d: check failed: %s: ", __FILE__,    \
			       __LINE__, #cond);                             \
			printf(__VA_ARGS__);                                 \
			printf(" (errno %s)\n", strerror(errno));            \
			failures_in_test++;                                  \
		}                                                            \
	} while (0)

#define CHECK_ERR(expr, want)                                                \
	do {                                                                 \
		errno = 0;                                                   \
		long _r = (long)(expr);                                      \
		int _e = errno;                                              \
		if (_r != -1 || _e != (want)) {                              \
			printf("#   %s:%d: %s returned %ld errno %s, wanted " \
			       "%s\n", __FILE__, __LINE__, #expr, _r,        \
			       strerror(_e), strerror(want));                \
			failures_in_test++;                                  \
		}                                                            \
	} while (0)

struct test {
	const char *name;
	void (*fn)(void);
};

/* Runs @n tests, printing TAP; returns the exit code. */
static int run_tests(const struct test *tests, size_t n)
{
	int n_ok = 0, n_fail = 0;

	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		failures_in_test = 0;
		tests[i].fn();
		printf("%s %zu - %s\n", failures_in_test ? "not ok" : "ok",
		       i + 1, tests[i].name);
		fflush(stdout);
		if (failures_in_test)
			n_fail++;
		else
			n_ok++;
	}
	printf("# %d passed, %d failed\n", n_ok, n_fail);
	return n_fail ? 1 : 0;
}

#endif
