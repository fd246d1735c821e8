/* SPDX-License-Identifier: MIT */
/* aria-cache clear [--yes] [--json]: aria-cache asks before it forwards
 * --yes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

struct keys {
	struct acfs_key *v;
	size_t n, cap;
};

static int collect(const struct acfs_key *key, const struct acfs_entry *e,
		   void *u)
{
	struct keys *k = u;

	(void)e;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		struct acfs_key *p = realloc(k->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		k->v = p;
		k->cap = cap;
	}
	k->v[k->n++] = *key;
	return 0;
}

int acfs_cmd_clear(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct keys keys = { 0 };
	uint64_t removed = 0, bytes = 0;
	bool yes = false, json = false;
	int r, status = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0)
			yes = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return acfs_cmd_usage_error(ctx, "clear",
						    "unknown option %s",
						    argv[i]);
	}
	if (!yes) {
		fprintf(ctx->err, "aria-cache clear: refusing to remove every "
			"entry without --yes\n");
		return 2;
	}
	r = acfs_store_foreach(ctx->store, collect, &keys);
	if (r < 0) {
		fprintf(ctx->err, "aria-cache clear: reading %s: %s\n",
			ctx->store_dir, strerror(-r));
		free(keys.v);
		return 1;
	}
	for (size_t i = 0; i < keys.n; i++) {
		struct acfs_entry old;
		bool kept = false;
		char err[ACFS_ERR_MAX] = "";

		if (ctx->batch_lock)
			ctx->batch_lock(true, ctx->userdata);
		r = acfs_store_remove(ctx->store, &keys.v[i], 0, ctx->in_use,
				      ctx->userdata, &old, &kept, err);
		if (ctx->batch_lock)
			ctx->batch_lock(false, ctx->userdata);
		if (r == -ENOENT)
			continue; /* removed meanwhile */
		if (r < 0) {
			fprintf(ctx->err, "aria-cache clear: %s\n", err);
			status = 1;
			break;
		}
		if (ctx->on_removed)
			ctx->on_removed(&keys.v[i], &old, kept,
					ctx->userdata);
		removed++;
		bytes += old.size;
		if (ctx->progress && removed % 1000 == 0) {
			fprintf(ctx->err, "\rclear: %llu of %zu entries removed",
				(unsigned long long)removed, keys.n);
			fflush(ctx->err);
		}
	}
	if (ctx->progress && removed >= 1000)
		fprintf(ctx->err, "\n");
	char h[32];
	acfs_size_format(bytes, h, sizeof(h));
	if (json) {
		fprintf(ctx->out, "{\"store\": ");
		acfs_cmd_json_string(ctx->out, ctx->store_dir);
		fprintf(ctx->out, ", \"removed\": %llu, \"removed_bytes\": "
			"%llu, \"complete\": %s}\n",
			(unsigned long long)removed,
			(unsigned long long)bytes, status ? "false" : "true");
	} else {
		fprintf(ctx->out, "removed %llu entries (%s)\n",
			(unsigned long long)removed, h);
	}
	free(keys.v);
	return status;
}
