/* SPDX-License-Identifier: MIT */
/* aria-cache inspect KEY|PATH [--json] [--disassemble] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/bitcode.h"
#include "acfs/size.h"
#include "cmd.h"

/* @dis: the module as LLVM assembly (--disassemble), or NULL. */
static void print_json(struct acfs_cmd_ctx *ctx, const char *path,
		       const struct acfs_key *key, const struct acfs_entry *e,
		       const struct acfs_bitcode_info *info, const char *dis,
		       const char *content)
{
	FILE *o = ctx->out;

	fprintf(o, "{\"path\": \"%s\", \"key\": \"%016llx\", \"kind\": \"%s\", "
		"\"size\": %llu, \"stored\": %llu, \"atime_ns\": %lld, "
		"\"mtime_ns\": %lld, \"pinned\": %s", path,
		(unsigned long long)key->hash,
		key->kind == ACFS_KIND_META ? "meta" : "bc",
		(unsigned long long)e->size, (unsigned long long)e->stored,
		(long long)e->atime_ns, (long long)e->mtime_ns,
		(e->flags & ACFS_ENTRY_PINNED) ? "true" : "false");
	if (info) {
		fprintf(o, ", \"triple\": ");
		acfs_cmd_json_string(o, info->triple);
		fprintf(o, ", \"datalayout\": ");
		acfs_cmd_json_string(o, info->datalayout);
		fprintf(o, ", \"producer\": ");
		acfs_cmd_json_string(o, info->producer);
		fprintf(o, ", \"function_count\": %u, \"functions\": [",
			info->nfunctions);
		const char *f = info->functions ? info->functions : "";
		for (int first = 1; *f; first = 0) {
			size_t n = strcspn(f, "\n");
			char *name = strndup(f, n);
			fprintf(o, "%s", first ? "" : ", ");
			acfs_cmd_json_string(o, name ? name : "");
			free(name);
			f += n + (f[n] == '\n');
		}
		fprintf(o, "]");
	}
	if (dis) {
		fprintf(o, ", \"disassembly\": ");
		acfs_cmd_json_string(o, dis);
	}
	if (content) {
		fprintf(o, ", \"content\": ");
		acfs_cmd_json_string(o, content);
	}
	fprintf(o, "}\n");
}

static void print_text(struct acfs_cmd_ctx *ctx, const char *path,
		       const struct acfs_key *key, const struct acfs_entry *e,
		       const struct acfs_bitcode_info *info, const char *content)
{
	FILE *o = ctx->out;
	char a[32], b[32], at[32], mt[32];

	acfs_size_format(e->size, a, sizeof(a));
	acfs_size_format(e->stored, b, sizeof(b));
	acfs_cmd_format_time(e->atime_ns, at, sizeof(at));
	acfs_cmd_format_time(e->mtime_ns, mt, sizeof(mt));
	fprintf(o, "path        %s\nkey         %016llx\nsize        %s "
		"(%llu bytes; %s stored)\nlast use    %s\ncommitted   %s\n"
		"pinned      %s\n", path, (unsigned long long)key->hash, a,
		(unsigned long long)e->size, b, at, mt,
		(e->flags & ACFS_ENTRY_PINNED) ? "yes" : "no");
	if (content)
		fprintf(o, "content:\n%s%s", content,
			*content && content[strlen(content) - 1] != '\n'
			? "\n" : "");
	if (!info)
		return;
	fprintf(o, "triple      %s\ndatalayout  %s\nproducer    %s\n"
		"functions   %u\n", info->triple, info->datalayout,
		info->producer[0] ? info->producer : "-", info->nfunctions);
	const char *f = info->functions ? info->functions : "";
	while (*f) {
		size_t n = strcspn(f, "\n");
		fprintf(o, "  %.*s\n", (int)n, f);
		f += n + (f[n] == '\n');
	}
}

int acfs_cmd_inspect(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct acfs_bitcode_info info, *ip = NULL;
	struct acfs_entry e;
	struct acfs_key key;
	const char *what = NULL;
	bool json = false, dis = false;
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	void *raw;
	size_t len;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--disassemble") == 0)
			dis = true;
		else if (argv[i][0] != '-' && !what)
			what = argv[i];
		else
			return acfs_cmd_usage_error(ctx, "inspect",
						    "unexpected %s", argv[i]);
	}
	if (!what)
		return acfs_cmd_usage_error(ctx, "inspect",
					    "needs a key or path");
	if (acfs_key_parse_any(what, &key) < 0) {
		fprintf(ctx->err, "aria-cache inspect: %s is neither a key (16 "
			"hex digits) nor a path to an entry\n", what);
		return 2;
	}
	acfs_key_format_path(&key, path);
	if (ctx->flush_uses)
		ctx->flush_uses(ctx->userdata);
	r = acfs_store_get(ctx->store, &key, &e);
	if (r < 0) {
		fprintf(ctx->err, "aria-cache inspect: no entry %s in %s\n",
			path, ctx->store_dir);
		return 1;
	}
	if (acfs_store_get_info(ctx->store, &key, e.id, &raw, &len) == 0) {
		if (acfs_bitcode_info_decode(raw, len, &info) == 0)
			ip = &info;
		free(raw);
	}
	if (dis) {
		char *text = NULL;
		r = acfs_store_read_blob(ctx->store, e.id, &raw, &len, err);
		if (r == 0) {
			r = acfs_bitcode_disassemble(raw, len, &text, err);
			free(raw);
		}
		if (r < 0) {
			fprintf(ctx->err, "aria-cache inspect: cannot "
				"disassemble %s: %s\n", path, err);
		} else if (json) {
			print_json(ctx, path, &key, &e, ip, text, NULL);
			free(text);
		} else {
			fputs(text, ctx->out);
			free(text);
		}
	} else {
		/* A .meta sidecar is the compiler's JSON: shown (its first
		 * 64 KiB, bytes that are no text as '?'). */
		char *content = NULL;
		if (key.kind == ACFS_KIND_META &&
		    acfs_store_read_blob(ctx->store, e.id, &raw, &len, err) == 0) {
			size_t n = len < 65536 ? len : 65536;
			content = malloc(n + 1);
			for (size_t i = 0; content && i < n; i++) {
				unsigned char c = ((unsigned char *)raw)[i];
				content[i] = c == '\n' || c == '\t' ||
					     (c >= 0x20 && c != 0x7f) ? (char)c
								      : '?';
			}
			if (content)
				content[n] = '\0';
			free(raw);
		}
		if (json)
			print_json(ctx, path, &key, &e, ip, NULL, content);
		else
			print_text(ctx, path, &key, &e, ip, content);
		free(content);
	}
	if (ip)
		acfs_bitcode_info_release(ip);
	return r < 0 ? 1 : 0;
}
