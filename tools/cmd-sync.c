/* SPDX-License-Identifier: MIT */
/* aria-cache sync [--timeout DURATION] [--json] */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "acfs/size.h"
#include "cmd.h"

int acfs_cmd_sync(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	int64_t timeout_ns = 600LL * 1000000000LL;
	bool json = false;
	uint64_t left = 0;
	const char *v;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
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
	if (!ctx->remote_sync) {
		if (acfs_store_upload_count(ctx->store, 0, &left) < 0)
			left = 0;
		fprintf(ctx->err, "aria-cache sync: no daemon serves %s; %"
			PRIu64 " uploads are queued there and go out when a "
			"daemon with --remote runs\n", ctx->store_dir, left);
		return 1;
	}
	r = ctx->remote_sync((unsigned)(timeout_ns / 1000000), ctx->progress
				     ? ctx->err : NULL, &left, ctx->userdata);
	if (json)
		fprintf(ctx->out, "{\"pending\": %" PRIu64 ", \"done\": %s}\n",
			left, r == 0 ? "true" : "false");
	else if (r == 0)
		fprintf(ctx->out, "every upload is done\n");
	else
		fprintf(ctx->out, "%" PRIu64 " uploads still pending after the "
			"timeout (see aria-cache stats for the remotes' "
			"state)\n", left);
	return r == 0 ? 0 : 1;
}
