/* SPDX-License-Identifier: MIT */
/*
 * aria-cache gc [--max-size SIZE] [--older-than DURATION] [--dry-run]
 *               [--yes] [--verbose] [--json]
 * --max-size 0 means what it means everywhere else (the daemon's budget,
 * ccache's -M 0): no size limit, so nothing is removed by size. A gc
 * that would remove more than half of the entries asks first (refuses
 * without --yes when standard input is not a terminal): `aria-cache
 * clear` is the way to empty the cache.
 */
#include <errno.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

struct gc_run {
	struct acfs_cmd_ctx *ctx;
	uint64_t n, bytes;
	bool dry, json, verbose;
};

static void count_only(const struct acfs_key *key, const struct acfs_entry *e,
		       bool kept, void *u)
{
	(void)key;
	(void)e;
	(void)kept;
	(void)u;
}

static void report(const struct acfs_key *key, const struct acfs_entry *e,
		   bool kept, void *u)
{
	struct gc_run *g = u;
	char path[ACFS_KEY_PATH_MAX];

	if (!g->dry && g->ctx->on_removed)
		g->ctx->on_removed(key, e, kept, g->ctx->userdata);
	acfs_key_format_path(key, path);
	if (g->json) {
		fprintf(g->ctx->out, "%s{\"path\": \"%s\", \"size\": %llu}",
			g->n ? ", " : "", path, (unsigned long long)e->size);
	} else if (g->verbose || g->dry) {
		fprintf(g->ctx->out, "%s\n", path);
	}
	g->n++;
	g->bytes += e->size;
	if (g->ctx->progress && g->n % 1000 == 0) {
		char h[32];
		acfs_size_format(g->bytes, h, sizeof(h));
		fprintf(g->ctx->err, "\rgc: %llu entries (%s) %s",
			(unsigned long long)g->n, h,
			g->dry ? "to remove" : "removed");
		fflush(g->ctx->err);
	}
}

int acfs_cmd_gc(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct acfs_evict_opts o = { 0 };
	struct acfs_evict_result res = { 0 };
	struct gc_run g = { .ctx = ctx };
	const char *v;
	int64_t age;
	bool yes = false, zero = false, would = false;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = acfs_cmd_opt(argc, argv, &i, "--max-size", &v))) {
			if (r < 0 || acfs_size_parse(v, &o.target_stored) < 0)
				return acfs_cmd_usage_error(
					ctx, "gc", "--max-size needs a size "
					"such as 500M or 10G");
			o.use_target = o.target_stored > 0;
			zero = o.target_stored == 0;
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--older-than",
					      &v))) {
			if (r < 0 || acfs_duration_parse(v, &age) < 0)
				return acfs_cmd_usage_error(
					ctx, "gc", "--older-than needs a "
					"duration such as 90s, 10m, 2h, 7d");
			o.older_than_ns = acfs_cmd_now_ns() - age;
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			o.dry_run = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			g.json = true;
		} else if (strcmp(argv[i], "--verbose") == 0 ||
			   strcmp(argv[i], "-v") == 0) {
			g.verbose = true;
		} else if (strcmp(argv[i], "--yes") == 0 ||
			   strcmp(argv[i], "-y") == 0) {
			yes = true;
		} else if (strcmp(argv[i], "--would-remove") == 0) {
			/* Internal: aria-cache asks its terminal before it
			 * sends a gc to the daemon, whose stdin is none. */
			would = true;
		} else {
			return acfs_cmd_usage_error(ctx, "gc",
						    "unknown option %s",
						    argv[i]);
		}
	}
	if (zero && !o.older_than_ns) {
		if (would) {
			fprintf(ctx->out, "0 0 0\n");
			return 0;
		}
		if (g.json)
			fprintf(ctx->out, "{\"dry_run\": %s, \"removed\": [], "
				"\"entries\": 0, \"bytes\": 0, \"ok\": true}\n",
				o.dry_run ? "true" : "false");
		fprintf(ctx->err, "aria-cache gc: --max-size 0 means no size "
			"limit (as for the daemon): nothing to remove by size; "
			"`aria-cache clear` empties the cache\n");
		return 0;
	}
	if (!o.use_target && !o.older_than_ns && !zero) {
		o.target_stored = acfs_store_budget(ctx->store);
		o.use_target = o.target_stored > 0;
	}
	if (!o.use_target && !o.older_than_ns) {
		fprintf(ctx->err, "aria-cache gc: the store has no budget; "
			"pass --max-size or --older-than\n");
		return 2;
	}
	if (ctx->flush_uses)
		ctx->flush_uses(ctx->userdata); /* evict by the latest uses */
	g.dry = o.dry_run;
	o.batch_lock = ctx->batch_lock;
	o.in_use = ctx->in_use;
	o.userdata = ctx->userdata;
	if ((!o.dry_run && !yes) || would) {
		/* Most of the cache: ask first. */
		struct acfs_evict_opts d = o;
		struct acfs_store_counters c = { 0 };
		d.dry_run = true;
		acfs_store_get_counters(ctx->store, &c);
		r = acfs_store_evict(ctx->store, &d, count_only, NULL, &res);
		if (would) {
			fprintf(ctx->out, "%llu %llu %llu\n",
				(unsigned long long)res.entries,
				(unsigned long long)c.entries,
				(unsigned long long)res.bytes);
			return r < 0 ? 1 : 0;
		}
		if (r == 0 && res.entries > 0 && 2 * res.entries > c.entries) {
			char q[256], hb[32];
			acfs_size_format(res.bytes, hb, sizeof(hb));
			snprintf(q, sizeof(q), "gc would remove %llu of %llu "
				 "entries (%s). Go on?",
				 (unsigned long long)res.entries,
				 (unsigned long long)c.entries, hb);
			if (!acfs_cmd_confirm("gc", q))
				return 2;
		}
	}
	if (g.json)
		fprintf(ctx->out, "{\"dry_run\": %s, \"removed\": [",
			o.dry_run ? "true" : "false");
	r = acfs_store_evict(ctx->store, &o, report, &g, &res);
	if (g.json)
		fprintf(ctx->out, "], \"entries\": %llu, \"bytes\": %llu, "
			"\"ok\": %s}\n", (unsigned long long)res.entries,
			(unsigned long long)res.bytes, r == 0 ? "true" : "false");
	/* Disk space back now, not at some later compaction. */
	if (r == 0 && !o.dry_run && res.entries > 0)
		acfs_store_reclaim(ctx->store);
	if (ctx->progress && g.n >= 1000)
		fprintf(ctx->err, "\n");
	if (r < 0) {
		fprintf(ctx->err, "aria-cache gc: eviction in %s failed: %s\n",
			ctx->store_dir, strerror(-r));
		return 1;
	}
	char h[32];
	acfs_size_format(res.bytes, h, sizeof(h));
	fprintf(ctx->err, "gc: %s %llu entries (%s)\n",
		o.dry_run ? "would remove" : "removed",
		(unsigned long long)res.entries, h);
	return 0;
}
