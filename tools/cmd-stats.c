/* SPDX-License-Identifier: MIT */
/* aria-cache stats [--json], aria-cache zero-stats */
#include <string.h>

#include "acfs/size.h"
#include "acfs/tree.h"
#include "cmd.h"

static void human(uint64_t v, char *buf, size_t len)
{
	acfs_size_format(v, buf, len);
}

int acfs_cmd_stats(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct acfs_store_counters c;
	struct acfs_stats st;
	bool json = false;
	char a[32], b[32], since[32];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return acfs_cmd_usage_error(ctx, "stats",
						    "unknown option %s",
						    argv[i]);
	}
	if (ctx->flush_uses)
		ctx->flush_uses(ctx->userdata);
	acfs_store_get_counters(ctx->store, &c);
	acfs_store_get_stats(ctx->store, &st);
	struct acfs_tree_counters tc;
	acfs_tree_get_counters(ctx->store, &tc);
	uint64_t budget = acfs_store_budget(ctx->store);
	uint64_t hits = st.v[ACFS_STAT_HITS], misses = st.v[ACFS_STAT_MISSES];
	double ratio = hits + misses ? (double)hits / (double)(hits + misses)
				     : 0.0;
	int64_t now = acfs_cmd_now_ns();
	uint64_t queued = 0;
	if (acfs_store_upload_count(ctx->store, 0, &queued) < 0)
		queued = 0;
	double uptime = ctx->daemon_start_ns
				? (double)(now - ctx->daemon_start_ns) / 1e9
				: 0.0;

	if (json) {
		fprintf(ctx->out, "{\"store\": ");
		acfs_cmd_json_string(ctx->out, ctx->store_dir);
		fprintf(ctx->out, ", \"store_format\": %u",
			acfs_store_format(ctx->store));
		fprintf(ctx->out,
			", \"daemon_running\": %s, \"entries\": %llu, "
			"\"logical_bytes\": %llu, \"stored_bytes\": %llu, "
			"\"budget_bytes\": %llu, \"hits\": %llu, "
			"\"misses\": %llu, \"hit_ratio\": %.4f, "
			"\"stores\": %llu, \"rejected_stores\": %llu, "
			"\"evictions\": %llu, \"evicted_bytes\": %llu, "
			"\"peak_stored_bytes\": %llu, "
			"\"quarantined\": %llu, \"verified_reads\": %llu, "
			"\"general_files\": %llu, \"general_bytes\": %llu, "
			"\"uptime_seconds\": %.1f, \"since_ns\": %lld, "
			"\"upload_queue\": %llu, \"remote\": ",
			ctx->daemon_start_ns ? "true" : "false",
			(unsigned long long)c.entries,
			(unsigned long long)c.bytes,
			(unsigned long long)c.stored,
			(unsigned long long)budget, (unsigned long long)hits,
			(unsigned long long)misses, ratio,
			(unsigned long long)st.v[ACFS_STAT_STORES],
			(unsigned long long)st.v[ACFS_STAT_REJECTED],
			(unsigned long long)st.v[ACFS_STAT_EVICTIONS],
			(unsigned long long)st.v[ACFS_STAT_EVICTED_BYTES],
			(unsigned long long)st.v[ACFS_STAT_PEAK_STORED],
			(unsigned long long)st.v[ACFS_STAT_QUARANTINED],
			(unsigned long long)st.v[ACFS_STAT_VERIFIED],
			(unsigned long long)tc.files,
			(unsigned long long)tc.bytes, uptime,
			(long long)st.since_ns, (unsigned long long)queued);
		if (ctx->remote_report)
			ctx->remote_report(ctx->out, true, ctx->userdata);
		else
			fprintf(ctx->out, "null");
		fprintf(ctx->out, ", \"mounts\": ");
		if (ctx->mounts_report)
			ctx->mounts_report(ctx->out, true, ctx->userdata);
		else
			fprintf(ctx->out, "[]");
		fprintf(ctx->out, "}\n");
		return 0;
	}
	fprintf(ctx->out, "store              %s (format %u)\n", ctx->store_dir,
		acfs_store_format(ctx->store));
	fprintf(ctx->out, "entries            %llu\n",
		(unsigned long long)c.entries);
	human(c.bytes, a, sizeof(a));
	human(c.stored, b, sizeof(b));
	fprintf(ctx->out, "logical bytes      %s (%llu)\n", a,
		(unsigned long long)c.bytes);
	fprintf(ctx->out, "stored bytes       %s (%llu)\n", b,
		(unsigned long long)c.stored);
	human(budget, a, sizeof(a));
	fprintf(ctx->out, "budget             %s\n", budget ? a : "none");
	fprintf(ctx->out, "hits               %llu\n", (unsigned long long)hits);
	fprintf(ctx->out, "misses             %llu\n",
		(unsigned long long)misses);
	fprintf(ctx->out, "hit ratio          %.1f%%\n", ratio * 100);
	fprintf(ctx->out, "stores             %llu\n",
		(unsigned long long)st.v[ACFS_STAT_STORES]);
	fprintf(ctx->out, "rejected stores    %llu\n",
		(unsigned long long)st.v[ACFS_STAT_REJECTED]);
	human(st.v[ACFS_STAT_EVICTED_BYTES], a, sizeof(a));
	fprintf(ctx->out, "evictions          %llu (%s)\n",
		(unsigned long long)st.v[ACFS_STAT_EVICTIONS], a);
	human(st.v[ACFS_STAT_PEAK_STORED], a, sizeof(a));
	fprintf(ctx->out, "peak stored        %s\n", a);
	fprintf(ctx->out, "quarantined        %llu\n",
		(unsigned long long)st.v[ACFS_STAT_QUARANTINED]);
	fprintf(ctx->out, "verified reads     %llu\n",
		(unsigned long long)st.v[ACFS_STAT_VERIFIED]);
	human(tc.bytes, a, sizeof(a));
	fprintf(ctx->out, "general files      %llu (%s; not entries)\n",
		(unsigned long long)tc.files, a);
	if (ctx->remote_report)
		ctx->remote_report(ctx->out, false, ctx->userdata);
	else if (queued)
		fprintf(ctx->out, "upload queue       %llu (no daemon uploads "
			"them now)\n", (unsigned long long)queued);
	if (ctx->mounts_report)
		ctx->mounts_report(ctx->out, false, ctx->userdata);
	if (ctx->daemon_start_ns)
		fprintf(ctx->out, "uptime             %.0fs\n", uptime);
	else
		fprintf(ctx->out, "uptime             (no daemon running)\n");
	acfs_cmd_format_time(st.since_ns, since, sizeof(since));
	fprintf(ctx->out, "counters since     %s\n", since);
	return 0;
}

int acfs_cmd_zero_stats(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	int64_t now = acfs_cmd_now_ns();

	if (argc > 2 || (argc == 2 && !json))
		return acfs_cmd_usage_error(ctx, "zero-stats",
					    "takes only --json");
	acfs_store_zero_stats(ctx->store, now);
	if (acfs_store_flush_stats(ctx->store) < 0) {
		fprintf(ctx->err, "aria-cache zero-stats: could not save the "
			"counters in %s\n", ctx->store_dir);
		return 1;
	}
	if (json) {
		fprintf(ctx->out, "{\"store\": ");
		acfs_cmd_json_string(ctx->out, ctx->store_dir);
		fprintf(ctx->out, ", \"zeroed_at_ns\": %lld}\n", (long long)now);
	} else {
		fprintf(ctx->out, "statistics zeroed\n");
	}
	return 0;
}
