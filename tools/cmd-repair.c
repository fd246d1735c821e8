/* SPDX-License-Identifier: MIT */
/*
 * aria-cache repair [--yes] [--json]
 * The way back from a damaged store (acfs_store_open refused it with
 * -EUCLEAN: RocksDB files without CURRENT, a MANIFEST cut short). Runs
 * only when no daemon holds the store and only when the store does not
 * open: a store that opens needs verify, not repair. Works on a copy:
 *
 *   1. copies every file of STORE/db into STORE/db.repair-TIME;
 *   2. repairs the copy (acfs_store_repair: a lost CURRENT is restored
 *      without loss; else RocksDB's repair);
 *   3. opens the copy and runs verify --repair on it, which removes
 *      entries whose bytes did not survive and sets the counters;
 *   4. only if all of that worked, renames STORE/db to
 *      STORE/db.damaged-TIME and the copy to STORE/db, and reports the
 *      entries the counters recorded, those readable now and the
 *      difference as lost. Otherwise STORE/db is as it was.
 * Asks first unless --yes (refuses without a terminal).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acfs/paths.h"
#include "acfs/size.h"
#include "cmd.h"

/* Copies regular file @name from @sdfd to @ddfd; adds to *bytes. */
static int copy_one(int sdfd, int ddfd, const char *name, uint64_t *bytes)
{
	int in = openat(sdfd, name, O_RDONLY | O_CLOEXEC);
	int out = -1, r = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = openat(ddfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		*bytes += (uint64_t)n;
	if (n < 0)
		r = -errno;
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	close(in);
	if (close(out) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Copies the files of @src into the new directory @dst. */
static int copy_dir(const char *src, const char *dst, FILE *err,
		    uint64_t *ret_files, uint64_t *ret_bytes)
{
	int sdfd = -1, ddfd = -1, r = 0;
	struct dirent *d;
	DIR *dh;

	if (mkdir(dst, 0700) < 0)
		return -errno;
	dh = opendir(src);
	ddfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!dh || ddfd < 0) {
		r = -errno;
		goto out;
	}
	sdfd = dirfd(dh);
	while (r == 0 && (d = readdir(dh))) {
		struct stat st;
		if (fstatat(sdfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		r = copy_one(sdfd, ddfd, d->d_name, ret_bytes);
		if (r < 0)
			fprintf(err, "aria-cache repair: copying %s/%s: %s\n",
				src, d->d_name, strerror(-r));
		else
			(*ret_files)++;
	}
	if (r == 0 && fsync(ddfd) < 0)
		r = -errno;
out:
	if (dh)
		closedir(dh);
	if (ddfd >= 0)
		close(ddfd);
	return r;
}

static uint64_t count_lost(const char *db)
{
	char path[4096 + 128];
	struct dirent *d;
	uint64_t n = 0;
	DIR *dh;

	snprintf(path, sizeof(path), "%s/lost", db);
	dh = opendir(path);
	if (!dh)
		return 0;
	while ((d = readdir(dh)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dh);
	return n;
}

/* Removes the copy this run made (our own files, never the store's). */
static void remove_copy(const char *dir)
{
	char path[4096 + 300];
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (strcmp(d->d_name, "lost") == 0)
			remove_copy(path);
		else
			unlink(path);
	}
	closedir(dh);
	rmdir(dir);
}

int acfs_repair_run(const char *store_dir, int argc, char **argv)
{
	char db[4096], copy[4096 + 64], damaged[4096 + 64], stamp[32];
	char err[ACFS_ERR_MAX] = "", how[ACFS_ERR_MAX] = "", sz[32];
	struct acfs_store_counters before = { 0 }, after = { 0 };
	struct acfs_cmd_ctx ctx = { 0 };
	uint64_t files = 0, bytes = 0, lost_files;
	struct acfs_store *s = NULL;
	bool yes = false, json = false;
	time_t now = time(NULL);
	struct tm tm;
	int r, code;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0)
			yes = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "aria-cache repair: unknown option "
				"%s\nusage: aria-cache repair [--yes] "
				"[--json]\n", argv[i]);
			return 2;
		}
	}
	if (acfs_store_db_path(store_dir, db, sizeof(db)) < 0) {
		fprintf(stderr, "aria-cache repair: store path too long: "
			"%s\n", store_dir);
		return 1;
	}
	r = acfs_store_open(db, NULL, &s, err);
	if (r == 0) {
		acfs_store_close(s);
		fprintf(stderr, "aria-cache repair: the store %s opens: "
			"nothing to repair (aria-cache verify checks every "
			"entry)\n", store_dir);
		return 0;
	}
	if (r != -EUCLEAN) {
		fprintf(stderr, "aria-cache repair: cannot open the store %s, "
			"and not because it is damaged: %s\n", store_dir, err);
		return 1;
	}
	fprintf(stderr, "aria-cache repair: %s\n", err);
	char q[4096 + 128];
	snprintf(q, sizeof(q), "Repair the store %s? The repair works on a "
		 "copy; the damaged files are kept beside it.", store_dir);
	if (!yes && !acfs_cmd_confirm("repair", q))
		return 2;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(copy, sizeof(copy), "%s/db.repair-%s", store_dir, stamp);
	snprintf(damaged, sizeof(damaged), "%s/db.damaged-%s", store_dir,
		 stamp);

	r = copy_dir(db, copy, stderr, &files, &bytes);
	if (r < 0) {
		fprintf(stderr, "aria-cache repair: cannot copy %s to %s: %s; "
			"nothing was changed\n", db, copy, strerror(-r));
		remove_copy(copy);
		return 1;
	}
	acfs_size_format(bytes, sz, sizeof(sz));
	fprintf(stderr, "aria-cache repair: working on a copy: %llu files "
		"(%s) in %s\n", (unsigned long long)files, sz, copy);

	r = acfs_store_repair(copy, how, sizeof(how), err);
	if (r == 0)
		r = acfs_store_open(copy, NULL, &s, err);
	if (r < 0) {
		fprintf(stderr, "aria-cache repair: the store could not be "
			"repaired: %s%s%s; %s is unchanged (keep it: a newer "
			"RocksDB's repair or ldb may recover more)\n",
			how[0] ? how : "", how[0] ? ", then " : "", err, db);
		remove_copy(copy);
		return 1;
	}
	fprintf(stderr, "aria-cache repair: %s\n", how);
	acfs_store_get_counters(s, &before);

	/* What survived: entries whose bytes read back; the rest go. */
	char *vargs[] = { "verify", "--repair", "--validate=none", NULL };
	ctx.store = s;
	ctx.store_dir = store_dir;
	ctx.out = json ? stderr : stdout;
	ctx.err = stderr;
	ctx.progress = isatty(2);
	code = acfs_cmd_run(&ctx, 3, vargs);
	acfs_store_get_counters(s, &after);
	acfs_store_close(s);
	lost_files = count_lost(copy);

	if (rename(db, damaged) < 0 || rename(copy, db) < 0) {
		fprintf(stderr, "aria-cache repair: cannot put the repaired "
			"store in place: %s (the repaired copy is %s)\n",
			strerror(errno), copy);
		return 1;
	}
	uint64_t lost = before.entries > after.entries
				? before.entries - after.entries : 0;
	if (json) {
		printf("{\"store\": ");
		acfs_cmd_json_string(stdout, store_dir);
		printf(", \"damaged_copy\": ");
		acfs_cmd_json_string(stdout, damaged);
		printf(", \"how\": ");
		acfs_cmd_json_string(stdout, how);
		printf(", \"recorded_entries\": %llu, \"entries\": %llu, "
		       "\"lost_entries\": %llu, \"unreadable_files\": %llu, "
		       "\"clean\": %s}\n",
		       (unsigned long long)before.entries,
		       (unsigned long long)after.entries,
		       (unsigned long long)lost,
		       (unsigned long long)lost_files,
		       code == 0 ? "true" : "false");
	} else {
		printf("repaired %s: %llu entries readable of %llu recorded "
		       "(%llu lost)\n", store_dir,
		       (unsigned long long)after.entries,
		       (unsigned long long)before.entries,
		       (unsigned long long)lost);
		if (lost_files)
			printf("RocksDB could not read %llu files: moved to "
			       "%s/lost\n", (unsigned long long)lost_files, db);
		printf("the damaged files are kept in %s; delete it once the "
		       "cache works\n", damaged);
	}
	return code; /* 0: clean; 1: verify left a problem it printed */
}

int acfs_cmd_repair(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* Reached only through a daemon, which opened the store fine. */
	fprintf(ctx->err, "aria-cache repair: a daemon serves %s, so the "
		"store opened: nothing to repair (aria-cache verify checks "
		"every entry)\n", ctx->store_dir ? ctx->store_dir : "the store");
	return 1;
}
