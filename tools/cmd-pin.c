/* SPDX-License-Identifier: MIT */
/* aria-cache pin|unpin [--json] KEY|PATH... */
#include <errno.h>
#include <string.h>

#include "cmd.h"

static int set_pins(struct acfs_cmd_ctx *ctx, int argc, char **argv, bool pin)
{
	const char *name = pin ? "pin" : "unpin";
	int status = 0, n = 0;
	bool json = false;

	for (int i = 1; i < argc; i++)
		json |= strcmp(argv[i], "--json") == 0;
	if (argc < 2 + json)
		return acfs_cmd_usage_error(ctx, name, "needs a key or path");
	if (json)
		fprintf(ctx->out, "{\"%s\": [", pin ? "pinned" : "unpinned");
	for (int i = 1; i < argc; i++) {
		struct acfs_key key;
		char path[ACFS_KEY_PATH_MAX];

		if (strcmp(argv[i], "--json") == 0)
			continue;

		if (acfs_key_parse_any(argv[i], &key) < 0) {
			fprintf(ctx->err, "aria-cache %s: %s is neither a key "
				"(16 hex digits) nor a path to an entry\n",
				name, argv[i]);
			status = status ? status : 2;
			continue;
		}
		acfs_key_format_path(&key, path);
		int r = acfs_store_set_pinned(ctx->store, &key, 0, pin);
		if (r == -ENOENT) {
			fprintf(ctx->err, "aria-cache %s: no entry %s in %s\n",
				name, path, ctx->store_dir);
			status = 1;
		} else if (r < 0) {
			fprintf(ctx->err, "aria-cache %s: %s: %s\n", name, path,
				strerror(-r));
			status = 1;
		} else if (json) {
			fprintf(ctx->out, "%s", n++ ? ", " : "");
			acfs_cmd_json_string(ctx->out, path);
		} else {
			fprintf(ctx->out, "%s %s\n", pin ? "pinned" : "unpinned",
				path);
		}
	}
	if (json)
		fprintf(ctx->out, "]}\n");
	return status;
}

int acfs_cmd_pin(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	return set_pins(ctx, argc, argv, true);
}

int acfs_cmd_unpin(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	return set_pins(ctx, argc, argv, false);
}
