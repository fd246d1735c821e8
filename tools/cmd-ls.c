/* SPDX-License-Identifier: MIT */
/* aria-cache ls [--sort=atime|size|mtime] [--reverse] [--limit N] [--json] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

struct row {
	struct acfs_key key;
	struct acfs_entry e;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static int collect(const struct acfs_key *key, const struct acfs_entry *e,
		   void *u)
{
	struct rows *r = u;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct row *p = realloc(r->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->v = p;
		r->cap = cap;
	}
	r->v[r->n].key = *key;
	r->v[r->n].e = *e;
	r->n++;
	return 0;
}

static int by_atime(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->e.atime_ns != y->e.atime_ns)
		return x->e.atime_ns < y->e.atime_ns ? -1 : 1;
	return x->key.hash < y->key.hash ? -1 : x->key.hash > y->key.hash;
}

static int by_mtime(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->e.mtime_ns != y->e.mtime_ns)
		return x->e.mtime_ns < y->e.mtime_ns ? -1 : 1;
	return by_atime(a, b);
}

static int by_size(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->e.size != y->e.size)
		return x->e.size > y->e.size ? -1 : 1;
	return by_atime(a, b);
}

int acfs_cmd_ls(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	int (*cmp)(const void *, const void *) = by_atime;
	struct rows rows = { 0 };
	bool json = false, reverse = false;
	unsigned long long limit = 0;
	const char *v;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = acfs_cmd_opt(argc, argv, &i, "--sort", &v))) {
			if (r > 0 && strcmp(v, "atime") == 0)
				cmp = by_atime;
			else if (r > 0 && strcmp(v, "size") == 0)
				cmp = by_size;
			else if (r > 0 && strcmp(v, "mtime") == 0)
				cmp = by_mtime;
			else
				return acfs_cmd_usage_error(
					ctx, "ls", "--sort takes atime, size "
					"or mtime");
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--limit", &v))) {
			char *end;
			if (r > 0 && *v >= '0' && *v <= '9')
				limit = strtoull(v, &end, 10);
			else
				end = (char *)"x"; /* "-3", "", "+3": refused */
			if (r < 0 || !*v || *end)
				return acfs_cmd_usage_error(
					ctx, "ls", "--limit needs a number of "
					"entries (0 or more)");
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--reverse") == 0) {
			reverse = true;
		} else {
			return acfs_cmd_usage_error(ctx, "ls",
						    "unknown option %s",
						    argv[i]);
		}
	}
	if (ctx->flush_uses)
		ctx->flush_uses(ctx->userdata);
	r = acfs_store_foreach(ctx->store, collect, &rows);
	if (r < 0) {
		fprintf(ctx->err, "aria-cache ls: reading %s failed: %s\n",
			ctx->store_dir, strerror(-r));
		free(rows.v);
		return 1;
	}
	if (rows.n)
		qsort(rows.v, rows.n, sizeof(*rows.v), cmp);
	size_t n = limit && limit < rows.n ? (size_t)limit : rows.n;
	if (json)
		fprintf(ctx->out, "[");
	else
		fprintf(ctx->out, "%8s %8s  %-19s  %-19s  %-3s  %s\n", "SIZE",
			"STORED", "ATIME", "MTIME", "PIN", "PATH");
	for (size_t k = 0; k < n; k++) {
		const struct row *w = &rows.v[reverse ? rows.n - 1 - k : k];
		char path[ACFS_KEY_PATH_MAX], at[32], mt[32], sz[32], st[32];

		acfs_key_format_path(&w->key, path);
		bool pin = (w->e.flags & ACFS_ENTRY_PINNED) != 0;
		if (json) {
			fprintf(ctx->out, "%s{\"path\": \"%s\", \"key\": "
				"\"%016llx\", \"size\": %llu, \"stored\": "
				"%llu, \"atime_ns\": %lld, \"mtime_ns\": %lld, "
				"\"pinned\": %s}", k ? ",\n " : "", path,
				(unsigned long long)w->key.hash,
				(unsigned long long)w->e.size,
				(unsigned long long)w->e.stored,
				(long long)w->e.atime_ns,
				(long long)w->e.mtime_ns,
				pin ? "true" : "false");
			continue;
		}
		acfs_cmd_format_time(w->e.atime_ns, at, sizeof(at));
		acfs_cmd_format_time(w->e.mtime_ns, mt, sizeof(mt));
		acfs_size_format(w->e.size, sz, sizeof(sz));
		acfs_size_format(w->e.stored, st, sizeof(st));
		fprintf(ctx->out, "%8s %8s  %-19s  %-19s  %-3s  %s\n", sz, st,
			at, mt, pin ? "yes" : "", path);
	}
	if (json)
		fprintf(ctx->out, "]\n");
	free(rows.v);
	return 0;
}
