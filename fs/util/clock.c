/* SPDX-License-Identifier: MIT */
/* The clock every part of the daemon stamps times with. */
#include <errno.h>
#include <time.h>

#include "util/util.h"

int64_t acfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Times before 1970 are negative: the nanoseconds stay in 0..1e9-1. */
struct timespec fs_timespec(int64_t ns)
{
	int64_t s = ns / 1000000000LL, n = ns % 1000000000LL;

	if (n < 0) {
		s--;
		n += 1000000000LL;
	}
	return (struct timespec){ .tv_sec = s, .tv_nsec = n };
}

/* A time the kernel passes, in nanoseconds: -EOVERFLOW when it does not
 * fit (before 1677 or after 2262), never a time wrapped around. */
int fs_timespec_ns(const struct timespec *t, int64_t *ret_ns)
{
	int64_t ns;

	if (__builtin_mul_overflow((int64_t)t->tv_sec, 1000000000LL, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)t->tv_nsec, &ns) ||
	    ns == INT64_MIN)
		return -EOVERFLOW;
	*ret_ns = ns;
	return 0;
}
