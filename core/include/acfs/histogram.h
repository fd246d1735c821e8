/* SPDX-License-Identifier: MIT */
/*
 * Latency histograms for metrics (aria-cache metrics, Prometheus text
 * format): fixed bucket bounds from 25 us to 10 s, counted with atomics,
 * so that observing costs a few relaxed additions on any thread.
 */
#ifndef ACFS_HISTOGRAM_H
#define ACFS_HISTOGRAM_H

#include <stdint.h>

#define ACFS_HIST_BUCKETS 16

/* What the daemon times. */
enum acfs_latency {
	ACFS_LAT_HIT,          /* serving a hit: open (or lookup in kernel
				  hit mode) of a committed entry */
	ACFS_LAT_STORE,        /* a commit, from its rename or close to
				  the entry in the store */
	ACFS_LAT_VALIDATE,     /* the bitcode / JSON check within it */
	ACFS_LAT_REMOTE_FETCH, /* one read-through request to a remote */
	ACFS_LAT_COUNT
};

struct acfs_histogram {
	uint64_t bucket[ACFS_HIST_BUCKETS]; /* atomic; not cumulative */
	uint64_t count;                     /* atomic */
	uint64_t sum_ns;                    /* atomic */
};

/* Upper bounds of the buckets in seconds; the last is +Inf. */
extern const double acfs_hist_bounds[ACFS_HIST_BUCKETS];
/* "hit", "store", "validate", "remote_fetch". */
const char *acfs_latency_name(enum acfs_latency l);
/* What each one times, for # HELP lines. */
const char *acfs_latency_help(enum acfs_latency l);

void acfs_histogram_observe(struct acfs_histogram *h, int64_t ns);

#endif
