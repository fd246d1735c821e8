/* SPDX-License-Identifier: MIT */
/*
 * aria-cache verify [--repair] [--validate LEVEL] [--target TRIPLE] [--json]
 * Reads every entry back, checks its digest and its bitcode or JSON, the
 * quarantine, the indexes and the counters (acfs_store_verify).
 */
#include <errno.h>
#include <string.h>

#include "acfs/size.h"
#include "acfs/verify.h"
#include "cmd.h"

struct verify_run {
	struct acfs_cmd_ctx *ctx;
	bool json;
	unsigned shown;
	int64_t last_progress_ns;
};

static const char *const kind_names[] = {
	[ACFS_PROBLEM_ENTRY] = "entry",
	[ACFS_PROBLEM_QUARANTINED] = "quarantined",
	[ACFS_PROBLEM_INDEX] = "index",
	[ACFS_PROBLEM_COUNTERS] = "counters",
};

static void on_problem(const struct acfs_problem *p, void *u)
{
	struct verify_run *v = u;
	char path[ACFS_KEY_PATH_MAX] = "";
	FILE *f = v->ctx->out;

	if (p->has_key)
		acfs_key_format_path(&p->key, path);
	if (v->ctx->progress)
		fprintf(v->ctx->err, "\r\033[K");
	if (v->json) {
		fprintf(f, "%s{\"kind\": \"%s\", \"path\": ",
			v->shown ? ",\n  " : "\n  ", kind_names[p->kind]);
		if (p->has_key)
			acfs_cmd_json_string(f, path);
		else
			fprintf(f, "null");
		fprintf(f, ", \"version\": %llu, \"reason\": ",
			(unsigned long long)p->id);
		acfs_cmd_json_string(f, p->reason);
		fprintf(f, ", \"repaired\": %s}", p->repaired ? "true"
							      : "false");
	} else {
		fprintf(f, "%-11s %s%s%s%s\n", kind_names[p->kind], path,
			p->has_key ? ": " : "", p->reason,
			p->repaired ? " [repaired]" : "");
	}
	fflush(f);
	v->shown++;
}

static void on_progress(uint64_t done, uint64_t total, uint64_t bytes,
			void *u)
{
	struct verify_run *v = u;
	int64_t now;
	char h[32];

	if (!v->ctx->progress)
		return;
	now = acfs_cmd_now_ns();
	if (done != total && now - v->last_progress_ns < 100000000)
		return;
	v->last_progress_ns = now;
	acfs_size_format(bytes, h, sizeof(h));
	fprintf(v->ctx->err, "\rverify: %llu/%llu entries (%s) read back",
		(unsigned long long)done, (unsigned long long)total, h);
	fflush(v->ctx->err);
}

int acfs_cmd_verify(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct verify_run v = { .ctx = ctx };
	struct acfs_verify_opts o = { .validate = ACFS_VALIDATE_PARSE };
	struct acfs_verify_result res;
	char err[ACFS_ERR_MAX] = "";
	const char *val;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--repair") == 0) {
			o.repair = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			v.json = true;
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--validate",
					      &val))) {
			if (r < 0 || acfs_validate_parse(val, &o.validate) < 0)
				return acfs_cmd_usage_error(
					ctx, "verify", "--validate needs none, "
					"magic, parse or verify");
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--target",
					      &val))) {
			if (r < 0)
				return acfs_cmd_usage_error(
					ctx, "verify", "--target needs a triple");
			o.target = val;
		} else {
			return acfs_cmd_usage_error(ctx, "verify",
						    "unknown option %s",
						    argv[i]);
		}
	}
	if (ctx->flush_uses)
		ctx->flush_uses(ctx->userdata); /* lru rows are current */
	o.validator = ctx->validator;
	o.batch_lock = ctx->batch_lock;
	o.in_use = ctx->in_use;
	o.removed = ctx->on_removed;
	o.userdata = ctx->userdata;
	o.problem = on_problem;
	o.progress = on_progress;
	o.report_data = &v;
	if (v.json)
		fprintf(ctx->out, "{\"problems\": [");
	r = acfs_store_verify(ctx->store, &o, &res, err);
	if (ctx->progress)
		fprintf(ctx->err, "\r\033[K");
	if (r < 0) {
		if (v.json)
			fprintf(ctx->out, "]}\n");
		fprintf(ctx->err, "aria-cache verify: %s: %s\n", ctx->store_dir,
			err);
		return 1;
	}
	char h[32];
	acfs_size_format(res.bytes, h, sizeof(h));
	uint64_t left = res.problems - res.repaired;
	if (v.json) {
		fprintf(ctx->out, "%s], \"entries\": %llu, \"bytes\": %llu, "
			"\"without_digest\": %llu, \"problem_count\": %llu, "
			"\"repaired\": %llu, \"validate\": \"%s\"}\n",
			v.shown ? "\n" : "", (unsigned long long)res.entries,
			(unsigned long long)res.bytes,
			(unsigned long long)res.no_digest,
			(unsigned long long)res.problems,
			(unsigned long long)res.repaired,
			acfs_validate_name(o.validate));
	} else {
		fprintf(ctx->err, "verify: %llu entries (%s) read back, "
			"%llu problems, %llu repaired%s\n",
			(unsigned long long)res.entries, h,
			(unsigned long long)res.problems,
			(unsigned long long)res.repaired,
			left && !o.repair ? "; run with --repair to remove "
					    "or fix them" : "");
	}
	return left ? 1 : 0;
}
