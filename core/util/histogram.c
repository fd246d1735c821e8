/* SPDX-License-Identifier: MIT */
/* Latency histograms (acfs/histogram.h). */
#include "acfs/histogram.h"

#include <math.h>

const double acfs_hist_bounds[ACFS_HIST_BUCKETS] = {
	0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 10.0, INFINITY,
};

static const char *const names[ACFS_LAT_COUNT] = {
	"hit", "store", "validate", "remote_fetch",
};

static const char *const helps[ACFS_LAT_COUNT] = {
	"Time to serve a hit: the open (or, with --hit-mode=kernel, the "
	"lookup) of a committed entry.",
	"Time of a commit, from its rename or close until the entry is in "
	"the store.",
	"Time of the bitcode or JSON check of a commit.",
	"Time of one read-through request to a remote tier.",
};

const char *acfs_latency_name(enum acfs_latency l)
{
	return names[l];
}

const char *acfs_latency_help(enum acfs_latency l)
{
	return helps[l];
}

void acfs_histogram_observe(struct acfs_histogram *h, int64_t ns)
{
	double s = ns > 0 ? (double)ns / 1e9 : 0.0;
	int i = 0;

	while (i < ACFS_HIST_BUCKETS - 1 && s > acfs_hist_bounds[i])
		i++;
	__atomic_add_fetch(&h->bucket[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->sum_ns, ns > 0 ? (uint64_t)ns : 0,
			   __ATOMIC_RELAXED);
}
