/* SPDX-License-Identifier: MIT */
/*
 * aria-cache metrics: the Prometheus text exposition format (version
 * 0.0.4). Counters end in _total; sizes are bytes and times seconds; every
 * sample carries store="..." and, from a daemon, mount="...". Latency
 * histograms exist only while a daemon runs (it times the requests).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/tree.h"
#include "cmd.h"

static void family(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP aria_cache_%s %s\n# TYPE aria_cache_%s %s\n",
		name, help, name, type);
}

static void sample(FILE *out, const char *name, const char *labels,
		   uint64_t v)
{
	fprintf(out, "aria_cache_%s{%s} %llu\n", name, labels,
		(unsigned long long)v);
}

static void histogram(FILE *out, enum acfs_latency l,
		      const struct acfs_histogram *h, const char *labels)
{
	char name[64];
	uint64_t cum = 0;

	snprintf(name, sizeof(name), "%s_duration_seconds",
		 acfs_latency_name(l));
	family(out, name, "histogram", acfs_latency_help(l));
	for (int i = 0; i < ACFS_HIST_BUCKETS; i++) {
		cum += __atomic_load_n(&h->bucket[i], __ATOMIC_RELAXED);
		if (isinf(acfs_hist_bounds[i]))
			fprintf(out, "aria_cache_%s_bucket{%s,le=\"+Inf\"} %llu\n",
				name, labels, (unsigned long long)cum);
		else
			fprintf(out, "aria_cache_%s_bucket{%s,le=\"%g\"} %llu\n",
				name, labels, acfs_hist_bounds[i],
				(unsigned long long)cum);
	}
	/* The count is the +Inf bucket: read once, they agree. */
	fprintf(out, "aria_cache_%s_sum{%s} %.9f\n", name, labels,
		(double)__atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED) / 1e9);
	fprintf(out, "aria_cache_%s_count{%s} %llu\n", name, labels,
		(unsigned long long)cum);
}

int acfs_cmd_metrics(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	static const struct {
		enum acfs_stat stat;
		const char *name, *help;
	} counters[] = {
		{ ACFS_STAT_HITS, "hits_total",
		  "Opens of a committed entry." },
		{ ACFS_STAT_MISSES, "misses_total",
		  "Lookups of an absent entry." },
		{ ACFS_STAT_STORES, "stores_total", "Commits." },
		{ ACFS_STAT_REJECTED, "rejected_stores_total",
		  "Commits refused: invalid, too big, or no space." },
		{ ACFS_STAT_EVICTIONS, "evictions_total",
		  "Entries removed by eviction or gc." },
		{ ACFS_STAT_EVICTED_BYTES, "evicted_bytes_total",
		  "Logical bytes of evicted entries." },
		{ ACFS_STAT_QUARANTINED, "quarantined_total",
		  "Versions whose bytes failed their digest." },
		{ ACFS_STAT_VERIFIED, "verified_reads_total",
		  "Reads checked against the digest." },
	};
	struct acfs_store_counters c;
	struct acfs_tree_counters tc;
	struct acfs_stats st;
	uint64_t queued = 0;
	char *labels = NULL;
	size_t llen = 0;
	FILE *lf;

	if (argc > 1)
		return acfs_cmd_usage_error(ctx, "metrics",
					    "unknown option %s", argv[1]);
	if (ctx->flush_uses)
		ctx->flush_uses(ctx->userdata);
	acfs_store_get_counters(ctx->store, &c);
	acfs_store_get_stats(ctx->store, &st);
	acfs_tree_get_counters(ctx->store, &tc);
	if (acfs_store_upload_count(ctx->store, 0, &queued) < 0)
		queued = 0;

	/* The labels every sample carries. */
	lf = open_memstream(&labels, &llen);
	if (!lf)
		return 1;
	fputs("store=", lf);
	acfs_cmd_prom_string(lf, ctx->store_dir);
	if (ctx->mountpoint) {
		fputs(",mount=", lf);
		acfs_cmd_prom_string(lf, ctx->mountpoint);
	}
	fclose(lf);

	for (size_t i = 0; i < sizeof(counters) / sizeof(*counters); i++) {
		family(ctx->out, counters[i].name, "counter", counters[i].help);
		sample(ctx->out, counters[i].name, labels,
		       st.v[counters[i].stat]);
	}
	family(ctx->out, "entries", "gauge", "Committed entries.");
	sample(ctx->out, "entries", labels, c.entries);
	family(ctx->out, "logical_bytes", "gauge",
	       "Bytes of the committed entries as read.");
	sample(ctx->out, "logical_bytes", labels, c.bytes);
	family(ctx->out, "stored_bytes", "gauge",
	       "Bytes the store keeps for them (what the budget counts).");
	sample(ctx->out, "stored_bytes", labels, c.stored);
	family(ctx->out, "budget_bytes", "gauge",
	       "The budget of stored bytes (0: none).");
	sample(ctx->out, "budget_bytes", labels,
	       acfs_store_budget(ctx->store));
	family(ctx->out, "peak_stored_bytes", "gauge",
	       "The most stored bytes after a commit since the counters were "
	       "zeroed.");
	sample(ctx->out, "peak_stored_bytes", labels,
	       st.v[ACFS_STAT_PEAK_STORED]);
	family(ctx->out, "general_files", "gauge",
	       "Ordinary files beside monomorph/ and tmp/.");
	sample(ctx->out, "general_files", labels, tc.files);
	family(ctx->out, "general_bytes", "gauge", "Their bytes.");
	sample(ctx->out, "general_bytes", labels, tc.bytes);
	family(ctx->out, "upload_queue", "gauge",
	       "Uploads queued for the remote tiers, all remotes.");
	sample(ctx->out, "upload_queue", labels, queued);
	family(ctx->out, "daemon_up", "gauge",
	       "1 while a daemon serves the store.");
	sample(ctx->out, "daemon_up", labels, ctx->daemon_start_ns != 0);
	if (ctx->daemon_start_ns) {
		family(ctx->out, "daemon_start_time_seconds", "gauge",
		       "When the daemon started, in seconds since 1970.");
		fprintf(ctx->out, "aria_cache_daemon_start_time_seconds{%s} "
			"%.3f\n", labels, (double)ctx->daemon_start_ns / 1e9);
	}
	for (int l = 0; ctx->latency && l < ACFS_LAT_COUNT; l++)
		histogram(ctx->out, (enum acfs_latency)l, &ctx->latency[l],
			  labels);
	if (ctx->remote_metrics)
		ctx->remote_metrics(ctx->out, labels, ctx->userdata);
	free(labels);
	return 0;
}
