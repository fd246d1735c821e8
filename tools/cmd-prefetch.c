/* SPDX-License-Identifier: MIT */
/*
 * aria-cache publish [--json] REF: a manifest of every key in the store,
 * onto the remotes under REF (a branch or a commit: CI runs it after
 * `aria-cache sync`).
 * aria-cache prefetch [--jobs N] [--json] REF: the manifest's entries,
 * fetched in the background of nothing else (run it after `git pull`,
 * before the build), validated and stored locally within the budget.
 * Both run in the daemon, which holds the remotes' settings.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

/* A ref names a manifest: printable, no spaces, at most 200 bytes. */
static bool ref_ok(const char *ref)
{
	size_t n = strlen(ref);

	if (n == 0 || n > 200 || ref[0] == '-')
		return false;
	for (const char *c = ref; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

static const char *no_daemon(struct acfs_cmd_ctx *ctx, const char *name)
{
	fprintf(ctx->err, "aria-cache %s: no daemon serves %s; %s runs in "
		"the daemon, which holds the remotes (mount with --remote)\n",
		name, ctx->store_dir, name);
	return NULL;
}

int acfs_cmd_publish(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	const char *ref = NULL;
	bool json = false;
	char why[2048] = "";
	uint64_t keys = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-' || ref)
			return acfs_cmd_usage_error(ctx, "publish",
						    "unexpected %s", argv[i]);
		else
			ref = argv[i];
	}
	if (!ref || !ref_ok(ref))
		return acfs_cmd_usage_error(ctx, "publish", "needs a REF (a "
					    "branch or commit: printable, no "
					    "spaces, at most 200 bytes)");
	if (!ctx->remote_publish) {
		no_daemon(ctx, "publish");
		return 1;
	}
	int r = ctx->remote_publish(ref, &keys, why, sizeof(why),
				    ctx->userdata);
	if (json) {
		fprintf(ctx->out, "{\"ref\": ");
		acfs_cmd_json_string(ctx->out, ref);
		fprintf(ctx->out, ", \"keys\": %" PRIu64 ", \"published\": %s, "
			"\"why\": ", keys, r == 0 ? "true" : "false");
		acfs_cmd_json_string(ctx->out, why);
		fprintf(ctx->out, "}\n");
	} else if (r == 0) {
		fprintf(ctx->out, "published %s: %" PRIu64 " keys\n", ref, keys);
	} else {
		fprintf(ctx->err, "aria-cache publish: %s was not published "
			"everywhere:\n%s", ref, why);
	}
	return r == 0 ? 0 : 1;
}

int acfs_cmd_prefetch(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	const char *ref = NULL, *v;
	unsigned long jobs = 8;
	unsigned long long max_keys = ACFS_PREFETCH_MAX_KEYS;
	bool json = false;
	char b[32];
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--jobs", &v))) {
			char *end;
			jobs = r > 0 ? strtoul(v, &end, 10) : 0;
			if (r < 0 || *end || jobs < 1 || jobs > 64)
				return acfs_cmd_usage_error(
					ctx, "prefetch", "--jobs needs a number "
					"from 1 to 64");
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--max-keys",
					      &v))) {
			char *end = NULL;
			max_keys = r > 0 && *v >= '1' && *v <= '9'
				   ? strtoull(v, &end, 10) : 0;
			if (r < 0 || !max_keys || !end || *end)
				return acfs_cmd_usage_error(
					ctx, "prefetch", "--max-keys needs a "
					"number of keys, 1 or more");
		} else if (argv[i][0] == '-' || ref) {
			return acfs_cmd_usage_error(ctx, "prefetch",
						    "unexpected %s", argv[i]);
		} else {
			ref = argv[i];
		}
	}
	if (!ref || !ref_ok(ref))
		return acfs_cmd_usage_error(ctx, "prefetch", "needs a REF (a "
					    "branch or commit)");
	if (!ctx->remote_prefetch) {
		no_daemon(ctx, "prefetch");
		return 1;
	}
	struct acfs_prefetch_result res = { .max_keys = max_keys };
	r = ctx->remote_prefetch(ref, (unsigned)jobs,
				 ctx->progress ? ctx->err : NULL, &res,
				 ctx->userdata);
	double rate = res.seconds > 0 ? (double)res.fetched / res.seconds : 0;
	if (json) {
		fprintf(ctx->out, "{\"ref\": ");
		acfs_cmd_json_string(ctx->out, ref);
		fprintf(ctx->out, ", \"keys\": %" PRIu64 ", \"fetched\": %" PRIu64
			", \"fetched_bytes\": %" PRIu64 ", \"present\": %" PRIu64
			", \"missing\": %" PRIu64 ", \"failed\": %" PRIu64
			", \"stopped_at_budget\": %s, \"seconds\": %.3f, "
			"\"entries_per_second\": %.1f, \"why\": ", res.total,
			res.fetched, res.bytes, res.present, res.missing,
			res.failed, res.budget_stop ? "true" : "false",
			res.seconds, rate);
		acfs_cmd_json_string(ctx->out, res.why);
		fprintf(ctx->out, "}\n");
	} else if (res.total || r == 0) {
		acfs_size_format(res.bytes, b, sizeof(b));
		fprintf(ctx->out, "prefetch %s: %" PRIu64 " keys: %" PRIu64
			" fetched (%s, %.0f entries/s), %" PRIu64 " already "
			"here, %" PRIu64 " missing on the remotes, %" PRIu64
			" failed, in %.1f s\n", ref, res.total, res.fetched, b,
			rate, res.present, res.missing, res.failed,
			res.seconds);
		if (res.budget_stop)
			fprintf(ctx->out, "stopped at 90%% of the budget: the "
				"rest would have evicted entries in use\n");
		if (res.failed)
			fprintf(ctx->err, "aria-cache prefetch: last failure: "
				"%s\n", res.why);
	}
	if (r < 0 && !res.total && !json)
		fprintf(ctx->err, "aria-cache prefetch: %s\n", res.why);
	return r == 0 ? 0 : 1;
}
