/* SPDX-License-Identifier: MIT */
/* The clock every part of the daemon stamps times with. */
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
