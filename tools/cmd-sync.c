/* SPDX-License-Identifier: MIT */
/* aria-cache sync [--timeout DURATION] [--forget-dropped] [--json] */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

int acfs_cmd_sync(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	int64_t timeout_ns = 600LL * 1000000000LL;
	bool json = false, forget = false;
	uint64_t left = 0;
	const char *v;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--forget-dropped") == 0) {
			forget = true;
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--timeout", &v))) {
			if (r < 0 || acfs_duration_parse(v, &timeout_ns) < 0 ||
			    timeout_ns > 86400LL * 1000000000LL)
				return acfs_cmd_usage_error(
					ctx, "sync", "--timeout needs a "
					"duration (90s, 10m, 2h)");
		} else {
			return acfs_cmd_usage_error(ctx, "sync",
						    "unknown option %s",
						    argv[i]);
		}
	}
	if (forget) {
		/* The user's word that what no remote has is fine as it is:
		 * the record goes, and publish may name those keys again. */
		uint64_t n = 0;
		if (acfs_store_dropped_forget(ctx->store, &n) < 0) {
			fprintf(ctx->err, "aria-cache sync: cannot forget the "
				"dropped uploads of %s\n", ctx->store_dir);
			return 1;
		}
		if (json)
			fprintf(ctx->out, "{\"forgotten\": %" PRIu64 "}\n", n);
		else
			fprintf(ctx->out, "forgot %" PRIu64 " dropped uploads: "
				"no remote has them, and sync no longer "
				"reports them\n", n);
		return 0;
	}
	if (!ctx->remote_sync) {
		if (acfs_store_upload_count(ctx->store, 0, &left) < 0)
			left = 0;
		fprintf(ctx->err, "aria-cache sync: no daemon serves %s; %"
			PRIu64 " uploads are queued there and go out when a "
			"daemon with --remote runs\n", ctx->store_dir, left);
		return 1;
	}
	struct acfs_sync_result res;
	r = ctx->remote_sync((unsigned)(timeout_ns / 1000000), ctx->progress
				     ? ctx->err : NULL, &res, ctx->userdata);
	if (json) {
		fprintf(ctx->out, "{\"pending\": %" PRIu64 ", \"dropped\": %"
			PRIu64 ", \"done\": %s, \"why\": ", res.left,
			res.dropped, r == 0 ? "true" : "false");
		acfs_cmd_json_string(ctx->out, res.why);
		fprintf(ctx->out, "}\n");
	} else if (r == 0) {
		fprintf(ctx->out, "every upload is done\n");
	} else {
		if (res.left)
			fprintf(ctx->out, "%" PRIu64 " uploads still pending "
				"after the timeout\n", res.left);
		if (res.dropped)
			fprintf(ctx->out, "%" PRIu64 " versions are not on a "
				"remote (refused, or its queue was full), retried "
				"at each sync\n", res.dropped);
		fputs(res.why, ctx->out);
	}
	/* Not done is a failure: pending (1) or dropped (1), never 0. */
	return r == 0 ? 0 : 1;
}
