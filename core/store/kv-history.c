/* SPDX-License-Identifier: MIT */
/*
 * A copy of RocksDB's history kept beside it, and the check made with it
 * before any open. Part of kv.c's boundary (no RocksDB call here).
 *
 * RocksDB's MANIFEST is the list of the database's data files. Cut short
 * (a torn copy, a bad sector, a tool), it often still parses: RocksDB then
 * opens the shorter history and, at that open, deletes every .sst and
 * .blob file it no longer names: the store's entries. So the store keeps
 * its own copy of the MANIFEST's bytes, DIR/acfs-manifest-copy-NNNNNN, as
 * far as it has read them: taken after every open for writing, at each
 * periodic sync and at close, appended to (a MANIFEST only grows) or made
 * anew when RocksDB starts a new MANIFEST. Before any open:
 *
 *   - CURRENT names an older MANIFEST than the copy's: the history went
 *     back;
 *   - it names the copy's MANIFEST, but that file is shorter than the copy
 *     or its bytes differ from the copy's: cut short or damaged;
 *   - it names a MANIFEST that is not there, or is not a MANIFEST name;
 *
 * and the store is refused, nothing opened or deleted. Repair writes the
 * copy back (kv_history_restore). A newer MANIFEST than the copy's is
 * fine: RocksDB started it after the copy was last taken.
 *
 * And whatever the check cannot see (bytes of the MANIFEST lost after the
 * copy was last taken), no open deletes data: before RocksDB opens for
 * writing, every .sst and .blob file gets a second name in DIR/open-guard/
 * (a hard link: no byte copied); after, the links of files still there
 * go, and those of files RocksDB deleted (the ones its history no longer
 * names) move to DIR/unreferenced/, whole. Normally there are none; the
 * inputs of a compaction a kill -9 interrupted land there too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv.h"

#define COPY_PREFIX "acfs-manifest-copy-"

static pthread_mutex_t keep_lock = PTHREAD_MUTEX_INITIALIZER;

/* The number CURRENT names (MANIFEST-NNNNNN): 0, -ENOENT (no CURRENT) or
 * -EBADMSG (not a MANIFEST name). */
static int read_current(const char *dir, unsigned long long *ret)
{
	char path[4096], buf[128], *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EBADMSG;
	buf[n] = '\0';
	if (strncmp(buf, "MANIFEST-", 9) != 0 || buf[9] < '0' || buf[9] > '9')
		return -EBADMSG;
	*ret = strtoull(buf + 9, &end, 10);
	if (*end != '\n' || end[1] != '\0')
		return -EBADMSG;
	return 0;
}

/* The newest copy in @dir: its number, or 0 when there is none. */
static unsigned long long newest_copy(const char *dir)
{
	unsigned long long best = 0;
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		char *end;
		if (strncmp(d->d_name, COPY_PREFIX, strlen(COPY_PREFIX)) != 0)
			continue;
		unsigned long long n = strtoull(d->d_name + strlen(COPY_PREFIX),
						&end, 10);
		if (*end == '\0' && n > best)
			best = n;
	}
	closedir(dh);
	return best;
}

static void manifest_path(const char *dir, unsigned long long n, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%s/MANIFEST-%06llu", dir, n);
}

static void copy_path(const char *dir, unsigned long long n, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s/" COPY_PREFIX "%06llu", dir, n);
}

/* Offset of the first byte where @a and @b differ within @len, or -1 if
 * they agree; -errno on a read error. */
static long long first_difference(int a, int b, off_t len)
{
	char x[65536], y[65536];

	for (off_t off = 0; off < len;) {
		size_t want = (size_t)(len - off) < sizeof(x) ? (size_t)(len - off)
							      : sizeof(x);
		ssize_t n = pread(a, x, want, off), m = pread(b, y, want, off);
		if (n < 0 || m < 0)
			return -errno;
		if (n != (ssize_t)want || m != (ssize_t)want)
			return off;
		for (size_t i = 0; i < want; i++)
			if (x[i] != y[i])
				return off + (off_t)i;
		off += (off_t)want;
	}
	return -1;
}

int kv_history_check(const char *dir, char *what, size_t len)
{
	char mpath[4096 + 64], cpath[4096 + 64];
	unsigned long long cur, copy = newest_copy(dir);
	struct stat ms, cs;
	int r = read_current(dir, &cur);

	if (r == -ENOENT)
		return 0; /* no database, or no CURRENT: db_state says */
	if (r == -EBADMSG) {
		snprintf(what, len, "its CURRENT file does not name a MANIFEST");
		return 1;
	}
	if (r < 0)
		return r;
	manifest_path(dir, cur, mpath, sizeof(mpath));
	if (stat(mpath, &ms) < 0) {
		snprintf(what, len, "CURRENT names MANIFEST-%06llu, which is "
			 "missing", cur);
		return 1;
	}
	if (copy == 0 || cur > copy)
		return 0;
	if (cur < copy) {
		snprintf(what, len, "CURRENT names MANIFEST-%06llu, older than "
			 "MANIFEST-%06llu that the store last used (its history "
			 "went back)", cur, copy);
		return 1;
	}
	copy_path(dir, copy, cpath, sizeof(cpath));
	if (stat(cpath, &cs) < 0)
		return -errno;
	if (ms.st_size < cs.st_size) {
		snprintf(what, len, "MANIFEST-%06llu is cut short: %lld bytes "
			 "where the copy kept beside it has %lld",
			 cur, (long long)ms.st_size, (long long)cs.st_size);
		return 1;
	}
	int a = open(mpath, O_RDONLY | O_CLOEXEC);
	int b = open(cpath, O_RDONLY | O_CLOEXEC);
	long long at = a < 0 || b < 0 ? -errno : first_difference(a, b, cs.st_size);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (at < -1)
		return (int)at;
	if (at >= 0) {
		snprintf(what, len, "MANIFEST-%06llu differs from the copy kept "
			 "beside it at byte %lld", cur, at);
		return 1;
	}
	return 0;
}

/* Copies bytes [@from, @to) of @src into @dst at the same offsets. */
static int copy_range(int src, int dst, off_t from, off_t to)
{
	char buf[65536];

	while (from < to) {
		size_t want = (size_t)(to - from) < sizeof(buf) ? (size_t)(to - from)
							       : sizeof(buf);
		ssize_t n = pread(src, buf, want, from);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (pwrite(dst, buf, (size_t)n, from) != n)
			return -errno;
		from += n;
	}
	return fdatasync(dst) < 0 ? -errno : 0;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Drops every copy of @dir but number @keep. */
static void drop_other_copies(const char *dir, unsigned long long keep)
{
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((d = readdir(dh))) {
		char *end;
		if (strncmp(d->d_name, COPY_PREFIX, strlen(COPY_PREFIX)) != 0)
			continue;
		unsigned long long n = strtoull(d->d_name + strlen(COPY_PREFIX),
						&end, 10);
		if ((*end == '\0' && n != keep) || strstr(d->d_name, ".tmp"))
			unlinkat(dirfd(dh), d->d_name, 0);
	}
	closedir(dh);
}

int kv_history_keep(const char *dir)
{
	char mpath[4096 + 64], cpath[4096 + 64], tmp[4096 + 80];
	unsigned long long cur;
	struct stat ms, cs;
	int src = -1, dst = -1, r;

	pthread_mutex_lock(&keep_lock);
	if ((r = read_current(dir, &cur)) < 0)
		goto out;
	manifest_path(dir, cur, mpath, sizeof(mpath));
	copy_path(dir, cur, cpath, sizeof(cpath));
	if ((src = open(mpath, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(src, &ms) < 0) {
		r = -errno;
		goto out;
	}
	if (stat(cpath, &cs) == 0) {
		/* The same MANIFEST: append what it gained. A copy longer
		 * than the file is left alone (check refuses the store). */
		if (cs.st_size >= ms.st_size)
			goto out;
		if ((dst = open(cpath, O_WRONLY | O_CLOEXEC)) < 0) {
			r = -errno;
			goto out;
		}
		r = copy_range(src, dst, cs.st_size, ms.st_size);
		goto out;
	}
	/* A new MANIFEST: a whole copy, in place at once, then the old
	 * copies go. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", cpath);
	if ((dst = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644)) < 0) {
		r = -errno;
		goto out;
	}
	r = copy_range(src, dst, 0, ms.st_size);
	if (r == 0 && rename(tmp, cpath) < 0)
		r = -errno;
	if (r == 0 && (r = sync_dir(dir)) == 0)
		drop_other_copies(dir, cur);
	if (r < 0)
		unlink(tmp);
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	pthread_mutex_unlock(&keep_lock);
	return r;
}

int kv_history_restore(const char *dir, char *how, size_t how_len)
{
	char mpath[4096 + 64], cpath[4096 + 64], tmp[4096 + 80], cur[4096 + 16];
	char what[512] = "";
	unsigned long long copy = newest_copy(dir);
	struct stat cs;
	int src = -1, dst = -1, r;

	if (copy == 0 || kv_history_check(dir, what, sizeof(what)) != 1)
		return 0; /* nothing the copy can mend */
	copy_path(dir, copy, cpath, sizeof(cpath));
	manifest_path(dir, copy, mpath, sizeof(mpath));
	snprintf(tmp, sizeof(tmp), "%s.acfs-restore", mpath);
	if ((src = open(cpath, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(src, &cs) < 0 ||
	    (dst = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644)) < 0) {
		r = -errno;
		goto out;
	}
	r = copy_range(src, dst, 0, cs.st_size);
	if (r == 0 && rename(tmp, mpath) < 0)
		r = -errno;
	if (r == 0) {
		/* CURRENT names it (tmp + rename, as RocksDB writes it). */
		snprintf(tmp, sizeof(tmp), "%s/CURRENT.acfs-restore", dir);
		snprintf(cur, sizeof(cur), "%s/CURRENT", dir);
		FILE *f = fopen(tmp, "we");
		if (!f || fprintf(f, "MANIFEST-%06llu\n", copy) < 0 ||
		    fflush(f) != 0 || fsync(fileno(f)) < 0)
			r = -errno;
		if (f && fclose(f) != 0 && r == 0)
			r = -errno;
		if (r == 0 && rename(tmp, cur) < 0)
			r = -errno;
	}
	if (r == 0) {
		snprintf(how, how_len, "%s; MANIFEST-%06llu written back from "
			 "the copy kept beside it (%lld bytes)", what, copy,
			 (long long)cs.st_size);
		r = 1;
	}
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return r;
}

/* ---- the guard on an open ------------------------------------------------ */

static bool is_data_file(const char *n)
{
	size_t l = strlen(n);

	return (l > 4 && strcmp(n + l - 4, ".sst") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".blob") == 0);
}

unsigned kv_guard_lower(const char *dir)
{
	char guard[4096 + 32], aside[4096 + 32], a[4096 + 300], b[4096 + 332];
	unsigned kept = 0;
	struct dirent *d;
	struct stat st;
	DIR *dh;

	snprintf(guard, sizeof(guard), "%s/open-guard", dir);
	snprintf(aside, sizeof(aside), "%s/unreferenced", dir);
	if (!(dh = opendir(guard)))
		return 0;
	while ((d = readdir(dh))) {
		if (!is_data_file(d->d_name))
			continue;
		snprintf(a, sizeof(a), "%s/%s", dir, d->d_name);
		snprintf(b, sizeof(b), "%s/%s", guard, d->d_name);
		if (stat(a, &st) == 0) {
			unlink(b);
			continue;
		}
		/* RocksDB deleted it: kept whole, under its own name. */
		mkdir(aside, 0755);
		snprintf(a, sizeof(a), "%s/%s", aside, d->d_name);
		if (rename(b, a) == 0)
			kept++;
	}
	closedir(dh);
	rmdir(guard);
	return kept;
}

int kv_guard_raise(const char *dir)
{
	char guard[4096 + 32], a[4096 + 300], b[4096 + 332];
	struct dirent *d;
	DIR *dh;
	int r = 0;

	kv_guard_lower(dir); /* one a crash left */
	snprintf(guard, sizeof(guard), "%s/open-guard", dir);
	if (mkdir(guard, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!(dh = opendir(dir)))
		return -errno;
	while (r == 0 && (d = readdir(dh))) {
		if (!is_data_file(d->d_name))
			continue;
		snprintf(a, sizeof(a), "%s/%s", dir, d->d_name);
		snprintf(b, sizeof(b), "%s/%s", guard, d->d_name);
		if (link(a, b) < 0 && errno != EEXIST && errno != ENOENT)
			r = -errno;
	}
	closedir(dh);
	if (r < 0)
		kv_guard_lower(dir);
	return r;
}
