/* SPDX-License-Identifier: MIT */
/* aria-cache gc [--max-size SIZE] [--older-than DURATION] [--dry-run] */
#include <errno.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

struct gc_run {
	struct acfs_cmd_ctx *ctx;
	uint64_t n, bytes;
	bool dry;
};

static void report(const struct acfs_key *key, const struct acfs_entry *e,
		   bool kept, void *u)
{
	struct gc_run *g = u;
	char path[ACFS_KEY_PATH_MAX];

	if (!g->dry && g->ctx->on_removed)
		g->ctx->on_removed(key, e, kept, g->ctx->userdata);
	acfs_key_format_path(key, path);
	fprintf(g->ctx->out, "%s\n", path);
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
	struct acfs_evict_result res;
	struct gc_run g = { .ctx = ctx };
	const char *v;
	int64_t age;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = acfs_cmd_opt(argc, argv, &i, "--max-size", &v))) {
			if (r < 0 || acfs_size_parse(v, &o.target_stored) < 0)
				return acfs_cmd_usage_error(
					ctx, "gc", "--max-size needs a size "
					"such as 500M or 10G");
			o.use_target = true;
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--older-than",
					      &v))) {
			if (r < 0 || acfs_duration_parse(v, &age) < 0)
				return acfs_cmd_usage_error(
					ctx, "gc", "--older-than needs a "
					"duration such as 90s, 10m, 2h, 7d");
			o.older_than_ns = acfs_cmd_now_ns() - age;
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			o.dry_run = true;
		} else {
			return acfs_cmd_usage_error(ctx, "gc",
						    "unknown option %s",
						    argv[i]);
		}
	}
	if (!o.use_target && !o.older_than_ns) {
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
	r = acfs_store_evict(ctx->store, &o, report, &g, &res);
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
