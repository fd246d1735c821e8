/* SPDX-License-Identifier: MIT */
/*
 * aria-cache import [--json] DIR: a plain cache directory in the
 * compiler's layout (DIR/monomorph/<xx>/<14 hex>.bc|.meta, from before
 * the mount existed) into the store. Every file is checked as a commit is
 * (bitcode to the validation level, .meta as JSON); its modification time
 * becomes its last use, so eviction keeps the order the plain directory
 * had. An entry the store has already stays. Nothing in DIR is changed.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acfs/bitcode.h"
#include "acfs/config.h"
#include "acfs/size.h"
#include "acfs/validator.h"
#include "cmd.h"

struct import {
	struct acfs_cmd_ctx *ctx;
	enum acfs_validate level;
	const char *target;
	uint64_t max_entry_size;
	bool json;
	unsigned long imported, present, refused, skipped, seen;
	unsigned long long bytes;
	bool over_budget;
	int nrefused_json;
};

static void refuse(struct import *im, const char *path, const char *why)
{
	im->refused++;
	if (im->json) {
		fprintf(im->ctx->out, "%s{\"path\": ", im->nrefused_json++ ? ", " : "");
		acfs_cmd_json_string(im->ctx->out, path);
		fprintf(im->ctx->out, ", \"reason\": ");
		acfs_cmd_json_string(im->ctx->out, why);
		fputc('}', im->ctx->out);
	} else {
		fprintf(im->ctx->out, "refused %s: %s\n", path, why);
	}
}

/*
 * The file's bytes, streamed into a file of the store's own
 * (O_TMPFILE in STORE) and mapped from there: memory holds one 1 MiB
 * buffer, never the whole file, and the mapping is of a file no client
 * can truncate under it (a mapped client file cut short would be a
 * SIGBUS in the daemon). Unmap with munmap(@st->st_size or 1).
 */
static int stream_file(const char *store_dir, int dfd, const char *name,
		       const struct stat *st, void **ret)
{
	size_t len = st->st_size ? (size_t)st->st_size : 1, got = 0;
	int in = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int out = -1, r = 0;
	char *buf = NULL;
	void *m;

	if (in < 0)
		return -errno;
	out = open(store_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0 || !(buf = malloc(1 << 20))) {
		r = out < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while (got < (size_t)st->st_size) {
		ssize_t n = read(in, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* cut short meanwhile */
			goto out;
		}
		if (got + (size_t)n > (size_t)st->st_size) {
			r = -EIO; /* grew meanwhile */
			goto out;
		}
		if (write(out, buf, (size_t)n) != n) {
			r = -errno ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	if (ftruncate(out, (off_t)len) < 0) {
		r = -errno;
		goto out;
	}
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, out, 0);
	if (m == MAP_FAILED)
		r = -errno;
	else
		*ret = m;
out:
	free(buf);
	close(in);
	if (out >= 0)
		close(out);
	return r;
}

static void import_file(struct import *im, int dfd, unsigned shard,
			const char *name, const char *path)
{
	struct acfs_cmd_ctx *ctx = im->ctx;
	char err[ACFS_ERR_MAX] = "";
	struct acfs_commit c = { 0 };
	struct acfs_key key;
	struct stat st;
	void *data = NULL, *info = NULL;
	size_t info_len = 0;
	int r;

	im->seen++;
	if (acfs_key_parse_name(shard, name, &key) < 0) {
		refuse(im, path, "not an entry name (<14 lowercase hex>.bc or .meta)");
		return;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode)) {
		refuse(im, path, "not a regular file");
		return;
	}
	/* The limits a store through the mount has. */
	if ((uint64_t)st.st_size > im->max_entry_size) {
		char a[32], b[32], why[128];
		acfs_size_format((uint64_t)st.st_size, a, sizeof(a));
		acfs_size_format(im->max_entry_size, b, sizeof(b));
		snprintf(why, sizeof(why), "%s, past --max-entry-size %s", a, b);
		refuse(im, path, why);
		return;
	}
	if ((r = stream_file(ctx->store_dir, dfd, name, &st, &data)) < 0) {
		refuse(im, path, strerror(-r));
		return;
	}
	if (im->level != ACFS_VALIDATE_NONE) {
		if (key.kind == ACFS_KIND_META)
			r = acfs_json_check(data, (size_t)st.st_size, err);
		else
			r = acfs_validator_check(ctx->validator, data,
						 (size_t)st.st_size, im->level,
						 im->target, &info, &info_len,
						 err);
		if (r < 0) {
			refuse(im, path, err[0] ? err : strerror(-r));
			munmap(data, st.st_size ? (size_t)st.st_size : 1);
			return;
		}
	}
	c.key = key;
	c.id = acfs_store_alloc_id(ctx->store);
	c.data = data;
	c.size = (size_t)st.st_size;
	/* Its last use in the plain directory. */
	c.now_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL +
		   st.st_mtim.tv_nsec;
	c.noreplace = true;
	c.in_use = ctx->in_use;
	c.userdata = ctx->userdata;
	c.info = info;
	c.info_len = info_len;
	if (!c.id) {
		r = -EIO;
		snprintf(err, sizeof(err), "no version id");
	} else {
		if (ctx->batch_lock)
			ctx->batch_lock(true, ctx->userdata);
		r = acfs_store_commit(ctx->store, &c, NULL, NULL, NULL, err);
		if (ctx->batch_lock)
			ctx->batch_lock(false, ctx->userdata);
	}
	if (r == 0) {
		im->imported++;
		im->bytes += (unsigned long long)st.st_size;
		if (ctx->on_stored)
			ctx->on_stored(&key, ctx->userdata);
	} else if (r == -EEXIST) {
		im->present++;
	} else if (r == -EAGAIN || r == -ENOSPC) {
		im->over_budget = true;
	} else {
		refuse(im, path, err[0] ? err : strerror(-r));
	}
	free(info);
	munmap(data, st.st_size ? (size_t)st.st_size : 1);
}

int acfs_cmd_import(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	struct import im = { .ctx = ctx, .level = ACFS_VALIDATE_PARSE,
			     .max_entry_size = UINT64_MAX };
	struct acfs_config cfg = { 0 };
	char err[ACFS_ERR_MAX] = "", mono[PATH_MAX + 16];
	const char *dir = NULL;
	bool have_cfg = false;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			im.json = true;
		else if (argv[i][0] == '-')
			return acfs_cmd_usage_error(ctx, "import",
						    "unknown option %s", argv[i]);
		else if (dir)
			return acfs_cmd_usage_error(ctx, "import",
						    "one directory at a time");
		else
			dir = argv[i];
	}
	if (!dir)
		return acfs_cmd_usage_error(ctx, "import", "needs a directory");
	if (dir[0] != '/') {
		fprintf(ctx->err, "aria-cache import: %s: give the directory "
			"as an absolute path\n", dir);
		return 2;
	}
	/* The checks the daemon makes at commit: its settings, or these. */
	if (ctx->config) {
		im.level = ctx->config->validate;
		im.target = ctx->config->value[ACFS_SET_TARGET];
		im.max_entry_size = ctx->config->max_entry_size;
	} else if (acfs_config_load(&cfg, err) == 0) {
		have_cfg = true;
		im.level = cfg.validate;
		im.target = cfg.value[ACFS_SET_TARGET];
		im.max_entry_size = cfg.max_entry_size;
	}
	snprintf(mono, sizeof(mono), "%s/monomorph", dir);
	int mfd = open(mono, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0) {
		fprintf(ctx->err, "aria-cache import: %s: %s (a plain cache "
			"holds monomorph/<xx>/<14 hex>.bc)\n", mono,
			strerror(errno));
		if (have_cfg)
			acfs_config_release(&cfg);
		return 1;
	}
	if (im.json)
		fprintf(ctx->out, "{\"directory\": ");
	if (im.json) {
		acfs_cmd_json_string(ctx->out, dir);
		fprintf(ctx->out, ", \"refused\": [");
	}
	for (unsigned shard = 0; shard < 256 && !im.over_budget; shard++) {
		char sname[3];
		snprintf(sname, sizeof(sname), "%02x", shard);
		int sfd = openat(mfd, sname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			continue;
		DIR *d = fdopendir(sfd);
		struct dirent *de;
		while (d && (de = readdir(d)) && !im.over_budget) {
			char path[PATH_MAX + 300];
			if (de->d_name[0] == '.' &&
			    (!de->d_name[1] || strcmp(de->d_name, "..") == 0))
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", mono, sname,
				 de->d_name);
			import_file(&im, dirfd(d), shard, de->d_name, path);
			if (ctx->progress && im.seen % 100 == 0)
				fprintf(ctx->err, "\rimport: %lu files, %lu "
					"imported", im.seen, im.imported);
		}
		if (d)
			closedir(d);
		else
			close(sfd);
	}
	close(mfd);
	if (ctx->progress && im.seen >= 100)
		fprintf(ctx->err, "\r\033[K");
	if (im.json) {
		fprintf(ctx->out, "], \"imported\": %lu, \"imported_bytes\": %llu, "
			"\"already_present\": %lu, \"over_budget\": %s}\n",
			im.imported, im.bytes, im.present,
			im.over_budget ? "true" : "false");
	} else {
		char b[32];
		acfs_size_format(im.bytes, b, sizeof(b));
		fprintf(ctx->out, "imported %lu entries (%s) from %s; %lu "
			"already in the store, %lu refused\n", im.imported, b,
			mono, im.present, im.refused);
	}
	if (im.over_budget) {
		fprintf(ctx->err, "aria-cache import: the store is at its "
			"budget; the rest was not imported (raise --max-size, "
			"or aria-cache gc, and import again: what is in "
			"already stays)\n");
		status = 1;
	}
	if (im.refused)
		status = 1;
	if (have_cfg)
		acfs_config_release(&cfg);
	return status;
}
