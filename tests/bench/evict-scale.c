/* SPDX-License-Identifier: MIT */
/*
 * evict-scale DIR N [fill-only]: fills a store in DIR with N small entries used at
 * distinct times, then evicts 10% of its bytes least-recently-used first,
 * and prints how long that took and how many index rows it visited.
 * With an access-time index, the time depends on what is evicted, not on
 * how much is stored: compare N = 100k and N = 1M.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acfs/store.h"
#include "store-inject.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct acfs_store_options so = { .zstd_level = -1 };
	struct acfs_store *s;
	struct acfs_store_counters c;
	struct acfs_evict_result res;
	char err[ACFS_ERR_MAX];
	unsigned char data[64];
	long n;

	if (argc < 3) {
		fprintf(stderr, "usage: evict-scale DIR N [fill-only]\n");
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	if (acfs_store_open(argv[1], &so, &s, err) < 0) {
		fprintf(stderr, "evict-scale: %s\n", err);
		return 1;
	}
	bool tty = isatty(2);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		struct acfs_commit cm = { 0 };
		for (size_t k = 0; k < sizeof(data); k++)
			data[k] = (unsigned char)(i * 131 + k * 7);
		cm.key.hash = (uint64_t)i * 0x9E3779B97F4A7C15ULL;
		cm.key.kind = ACFS_KIND_BC;
		cm.id = acfs_store_alloc_id(s);
		cm.data = data;
		cm.size = sizeof(data);
		cm.now_ns = 1000000000LL + i; /* distinct uses, in order */
		if (acfs_store_commit(s, &cm, NULL, NULL, NULL, err) < 0) {
			fprintf(stderr, "evict-scale: commit: %s\n", err);
			return 1;
		}
		if (tty && i % 10000 == 0)
			fprintf(stderr, "\rfilling: %ld / %ld", i, n);
	}
	if (tty)
		fprintf(stderr, "\r%40s\r", "");
	double fill = now() - t0;
	/* Measure a settled store, as a long-lived cache is, not one whose
	 * fresh writes are still being compacted in the background. */
	t0 = now();
	acfs_store_compact(s);
	double compact = now() - t0;
	if (argc > 3 && strcmp(argv[3], "fill-only") == 0) {
		printf("{\"entries\": %ld, \"fill_seconds\": %.2f}\n", n, fill);
		acfs_store_close(s);
		return 0;
	}
	/* First the same 10,000 entries whatever the size, then 10%. */
	struct acfs_evict_result fixed;
	acfs_store_get_counters(s, &c);
	uint64_t per = c.stored / c.entries;
	struct acfs_evict_opts o = { .use_target = true,
				     .target_stored = c.stored - per * 10000 };
	t0 = now();
	if (acfs_store_evict(s, &o, NULL, NULL, &fixed) < 0) {
		fprintf(stderr, "evict-scale: eviction failed\n");
		return 1;
	}
	double ev10k = now() - t0;
	acfs_store_get_counters(s, &c);
	o.target_stored = c.stored - per * (uint64_t)(n / 10);
	t0 = now();
	if (acfs_store_evict(s, &o, NULL, NULL, &res) < 0) {
		fprintf(stderr, "evict-scale: eviction failed\n");
		return 1;
	}
	double ev = now() - t0;
	printf("{\"entries\": %ld, \"fill_seconds\": %.2f, "
	       "\"compact_seconds\": %.2f, \"evict_10k_seconds\": %.4f, "
	       "\"evict_10k_visited\": %llu, \"evicted\": %llu, "
	       "\"visited\": %llu, \"evict_seconds\": %.4f, "
	       "\"evict_us_per_entry\": %.2f}\n",
	       n, fill, compact, ev10k, (unsigned long long)fixed.visited,
	       (unsigned long long)res.entries,
	       (unsigned long long)res.visited, ev,
	       ev * 1e6 / (double)(res.entries ? res.entries : 1));
	acfs_store_close(s);
	return 0;
}
