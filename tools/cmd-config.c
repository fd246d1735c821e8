/* SPDX-License-Identifier: MIT */
/* aria-cache config [--json]: the effective settings and their sources. */
#include <string.h>

#include "acfs/config.h"
#include "acfs/remote.h"
#include "cmd.h"

int acfs_cmd_config(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct acfs_config own;
	const struct acfs_config *cp = &own;
	char err[ACFS_ERR_MAX];
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return acfs_cmd_usage_error(ctx, "config",
						    "unknown option %s",
						    argv[i]);
	}
	/* Through a mount: what its daemon runs with; else what a daemon
	 * started now would. */
	if (ctx->config) {
		cp = ctx->config;
	} else if (acfs_config_load(&own, err) < 0) {
		fprintf(ctx->err, "aria-cache config: %s\n", err);
		acfs_config_release(&own);
		return 1;
	}
	const struct acfs_config *c = cp;
	if (json)
		fprintf(ctx->out, "{");
	else if (ctx->config)
		fprintf(ctx->out, "# the settings of the daemon serving %s\n",
			ctx->store_dir);
	else
		fprintf(ctx->out, "# no daemon: the settings a daemon started "
			"here would use\n");
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		const char *v = c->value[s] ? c->value[s] : "";
		const char *src = c->source[s] ? c->source[s] : "unset";
		char shown[4096];
		/* Passwords in remote URLs are never printed. */
		if (s == ACFS_SET_REMOTE) {
			acfs_remote_redact(v, shown, sizeof(shown));
			v = shown;
		}
		if (json) {
			fprintf(ctx->out, "%s\"%s\": {\"value\": ", s ? ", " : "",
				acfs_config_key((enum acfs_setting)s));
			acfs_cmd_json_string(ctx->out, v);
			fprintf(ctx->out, ", \"source\": ");
			acfs_cmd_json_string(ctx->out, src);
			fprintf(ctx->out, "}");
		} else {
			fprintf(ctx->out, "%-19s = %-30s # %s\n",
				acfs_config_key((enum acfs_setting)s), v, src);
		}
	}
	if (json)
		fprintf(ctx->out, "}\n");
	if (!ctx->config)
		acfs_config_release(&own);
	return 0;
}
