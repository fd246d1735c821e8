/* SPDX-License-Identifier: MIT */
/*
 * test-ops: every operation of the foundation issue, through a mounted
 * aria-cachefs, with plain POSIX calls. Prints TAP.
 *
 *   test-ops MOUNTPOINT SMALL.bc LARGE.bc OTHER.bc
 *
 * SMALL is under 16 KiB, LARGE and OTHER 16 KiB or more (mmap'd by LLVM).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *mnt;
static char *small, *large, *other;
static size_t small_len, large_len, other_len;

static char *path(const char *fmt, ...)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];
	int n = snprintf(b, 4096, "%s/", mnt);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b + n, (size_t)(4096 - n), fmt, ap);
	va_end(ap);
	return b;
}

static char *slurp(const char *p, size_t *len)
{
	int fd = open(p, O_RDONLY);
	struct stat st;
	char *buf;
	size_t done = 0;

	if (fd < 0)
		return NULL;
	fstat(fd, &st);
	buf = malloc((size_t)st.st_size + 1);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

static bool write_file(const char *p, const char *data, size_t len)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t done = 0;

	if (fd < 0)
		return false;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n <= 0) {
			close(fd);
			return false;
		}
		done += (size_t)n;
	}
	return close(fd) == 0;
}

static bool same_file(const char *p, const char *want, size_t want_len)
{
	size_t len = 0;
	char *got = slurp(p, &len);
	bool same = got && len == want_len && memcmp(got, want, len) == 0;

	free(got);
	return same;
}

/* Stores @data under @key with tmp + rename, as the compiler does. */
static int store(const char *key, const char *data, size_t len)
{
	char *tmp = path("tmp/%s_%d.tmp", key, getpid());
	if (!write_file(tmp, data, len))
		return -1;
	int r = rename(tmp, path("monomorph/%.2s/%s.bc", key, key + 2));
	if (r < 0)
		unlink(tmp);
	return r;
}

static int renameat2_(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

/* ---- tests -------------------------------------------------------------- */

static void test_layout(void)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int shards = 0;

	CHECK(stat(mnt, &st) == 0 && S_ISDIR(st.st_mode), "root");
	CHECK(stat(path("monomorph"), &st) == 0 && S_ISDIR(st.st_mode) &&
		      st.st_nlink == 258,
	      "monomorph nlink %lu", (unsigned long)st.st_nlink);
	CHECK(stat(path("tmp"), &st) == 0 && S_ISDIR(st.st_mode), "tmp");
	CHECK(stat(path("monomorph/00"), &st) == 0 && S_ISDIR(st.st_mode),
	      "00");
	CHECK(stat(path("monomorph/ff"), &st) == 0 && S_ISDIR(st.st_mode),
	      "ff");
	CHECK_ERR(stat(path("monomorph/FF"), &st), ENOENT);
	CHECK_ERR(stat(path("monomorph/100"), &st), ENOENT);
	d = opendir(path("monomorph"));
	CHECK(d != NULL, "opendir monomorph");
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			shards++;
	if (d)
		closedir(d);
	CHECK(shards == 256, "%d shards listed", shards);
}

static void test_mkdir(void)
{
	CHECK_ERR(mkdir(path("monomorph"), 0755), EEXIST);
	CHECK_ERR(mkdir(path("tmp"), 0755), EEXIST);
	CHECK_ERR(mkdir(path("monomorph/c4"), 0755), EEXIST);
	CHECK_ERR(mkdir(path("monomorph/zz"), 0755), EINVAL);
	CHECK_ERR(mkdir(path("monomorph/c4/sub"), 0755), EINVAL);
	/* Beside monomorph/ and tmp/, an ordinary directory (test-posix). */
	CHECK(mkdir(path("globs"), 0755) == 0, "mkdir globs at the top");
	CHECK(rmdir(path("globs")) == 0, "rmdir globs");
}

static void test_invalid_names(void)
{
	static const char *const bad[] = {
		"monomorph/c4/9A2B7F8E123456.bc", /* uppercase */
		"monomorph/c4/9a2b7f8e12345.bc",  /* 13 digits */
		"monomorph/c4/9a2b7f8e1234567.bc",/* 15 digits */
		"monomorph/c4/9a2b7f8e123456.ll", /* wrong suffix */
		"monomorph/c4/9a2b7f8e123456.bc.x",
		"monomorph/c4/9a2b7f8e12345g.bc",
		"monomorph/c4/hello",
		"monomorph/notashard",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_ERR(open(path("%s", bad[i]), O_WRONLY | O_CREAT, 0644),
			  EINVAL);
	/* At the top: an ordinary file, not an entry. */
	int tfd = open(path("toplevel.txt"), O_WRONLY | O_CREAT, 0644);
	CHECK(tfd >= 0 && close(tfd) == 0, "ordinary file at the top");
	CHECK(unlink(path("toplevel.txt")) == 0, "unlink it");

	/* A rename onto a bad name fails and leaves the temp file alone. */
	CHECK(write_file(path("tmp/badname.tmp"), small, small_len), "write");
	CHECK_ERR(rename(path("tmp/badname.tmp"), path("monomorph/c4/xyz.bc")),
		  EINVAL);
	CHECK_ERR(rename(path("tmp/badname.tmp"), path("monomorph/x.bc")),
		  EINVAL);
	CHECK(same_file(path("tmp/badname.tmp"), small, small_len),
	      "temp file intact after refused rename");
	CHECK(unlink(path("tmp/badname.tmp")) == 0, "unlink tmp");
}

static void test_tmp_files(void)
{
	char buf[64];
	struct stat st;
	int fd = open(path("tmp/t1.tmp"), O_RDWR | O_CREAT | O_EXCL, 0644);

	CHECK(fd >= 0, "create tmp");
	CHECK(write(fd, "hello world", 11) == 11, "write");
	CHECK(pwrite(fd, "W", 1, 6) == 1, "pwrite");
	CHECK(pread(fd, buf, sizeof(buf), 0) == 11 &&
		      memcmp(buf, "hello World", 11) == 0,
	      "pread back");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 11, "size %ld",
	      (long)st.st_size);
	CHECK(ftruncate(fd, 5) == 0, "ftruncate");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 5, "size after ftruncate");
	CHECK(close(fd) == 0, "close");
	CHECK(truncate(path("tmp/t1.tmp"), 3) == 0, "truncate");
	CHECK(stat(path("tmp/t1.tmp"), &st) == 0 && st.st_size == 3,
	      "size after truncate");
	CHECK_ERR(open(path("tmp/t1.tmp"), O_RDWR | O_CREAT | O_EXCL, 0644),
		  EEXIST);
	CHECK_ERR(mkdir(path("tmp/sub"), 0755), EPERM);

	/* Listed in tmp/ with its size. */
	DIR *d = opendir(path("tmp"));
	struct dirent *de;
	bool seen = false;
	while (d && (de = readdir(d)))
		seen |= strcmp(de->d_name, "t1.tmp") == 0;
	if (d)
		closedir(d);
	CHECK(seen, "t1.tmp listed");
	CHECK(rename(path("tmp/t1.tmp"), path("tmp/t2.tmp")) == 0, "rename "
	      "within tmp");
	CHECK_ERR(stat(path("tmp/t1.tmp"), &st), ENOENT);
	CHECK(unlink(path("tmp/t2.tmp")) == 0, "unlink");
	CHECK_ERR(stat(path("tmp/t2.tmp"), &st), ENOENT);
	CHECK_ERR(unlink(path("tmp/t2.tmp")), ENOENT);
}

static void test_store_and_read(void)
{
	const char *key = "c49a2b7f8e123456";
	const char *p = path("monomorph/c4/9a2b7f8e123456.bc");
	struct stat st;
	time_t now = time(NULL);

	CHECK_ERR(stat(p, &st), ENOENT);
	CHECK(store(key, large, large_len) == 0, "store");
	CHECK(stat(p, &st) == 0 && S_ISREG(st.st_mode), "stat entry");
	CHECK((size_t)st.st_size == large_len, "size %ld", (long)st.st_size);
	/* st_blocks counts the compressed bytes the store keeps. */
	CHECK(st.st_blocks > 0 &&
		      st.st_blocks <= (blkcnt_t)((large_len + 511) / 512 + 1),
	      "st_blocks %ld", (long)st.st_blocks);
	CHECK(st.st_mtime <= now + 1 && st.st_mtime >= now - 60,
	      "mtime is the commit time");
	CHECK(lstat(p, &st) == 0, "lstat");
	CHECK(same_file(p, large, large_len), "read back byte for byte");
	CHECK(access(p, R_OK) == 0, "access R_OK");
	CHECK_ERR(access(p, W_OK), EACCES);

	/* pread at odd offsets. */
	int fd = open(p, O_RDONLY);
	char buf[100];
	CHECK(fd >= 0, "open");
	CHECK(pread(fd, buf, 100, 12345) == 100 &&
		      memcmp(buf, large + 12345, 100) == 0,
	      "pread");
	CHECK(pread(fd, buf, 100, (off_t)large_len) == 0, "pread at EOF");
	/* mmap, private and shared, read-only. */
	void *m1 = mmap(NULL, large_len, PROT_READ, MAP_PRIVATE, fd, 0);
	void *m2 = mmap(NULL, large_len, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m1 != MAP_FAILED && memcmp(m1, large, large_len) == 0,
	      "MAP_PRIVATE");
	CHECK(m2 != MAP_FAILED && memcmp(m2, large, large_len) == 0,
	      "MAP_SHARED");
	if (m1 != MAP_FAILED)
		munmap(m1, large_len);
	if (m2 != MAP_FAILED)
		munmap(m2, large_len);
	CHECK(fsync(fd) == 0, "fsync makes the commit durable");
	close(fd);

	/* The temp file is gone; the shard lists the entry. */
	DIR *d = opendir(path("monomorph/c4"));
	struct dirent *de;
	bool seen = false;
	while (d && (de = readdir(d)))
		seen |= strcmp(de->d_name, "9a2b7f8e123456.bc") == 0;
	if (d)
		closedir(d);
	CHECK(seen, "entry listed in its shard");
}

/*
 * A writable open of an entry: refused with EACCES by the daemon's OPEN
 * (--hit-mode=open). In the default kernel mode no OPEN comes and root
 * passes the kernel's check of mode 0444: the open succeeds, and every
 * write through it fails with EACCES.
 */
static bool refused_writable(const char *p, int flags)
{
	int fd = open(p, flags, 0644);

	if (fd < 0)
		return errno == EACCES;
	bool refused = geteuid() == 0 && write(fd, "x", 1) < 0 &&
		       errno == EACCES;
	close(fd);
	return refused;
}

static void test_immutable(void)
{
	const char *p = path("monomorph/c4/9a2b7f8e123456.bc");

	CHECK(refused_writable(p, O_WRONLY), "O_WRONLY: EACCES");
	CHECK(refused_writable(p, O_RDWR), "O_RDWR: EACCES");
	CHECK_ERR(open(p, O_WRONLY | O_TRUNC), EACCES);
	CHECK(refused_writable(p, O_WRONLY | O_CREAT), "O_CREAT: EACCES");
	CHECK_ERR(truncate(p, 0), EACCES);
	CHECK(same_file(p, large, large_len), "entry untouched");
}

static void test_replace_while_reading(void)
{
	const char *key = "c49a2b7f8e123456";
	const char *p = path("monomorph/c4/9a2b7f8e123456.bc");
	int fd = open(p, O_RDONLY);
	char *buf = malloc(large_len);

	CHECK(fd >= 0, "open reader");
	/* Read only the first byte now; the rest after the replacement. */
	CHECK(pread(fd, buf, 1, 0) == 1, "first byte");
	CHECK(store(key, other, other_len) == 0, "replace");
	CHECK(same_file(p, other, other_len), "new version visible");
	CHECK(pread(fd, buf, large_len, 0) == (ssize_t)large_len &&
		      memcmp(buf, large, large_len) == 0,
	      "old reader still reads the old version whole");
	CHECK(unlink(p) == 0, "unlink");
	struct stat st;
	CHECK_ERR(stat(p, &st), ENOENT);
	CHECK(pread(fd, buf, large_len, 0) == (ssize_t)large_len &&
		      memcmp(buf, large, large_len) == 0,
	      "old reader reads it whole after unlink too");
	void *m = mmap(NULL, large_len, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED && memcmp(m, large, large_len) == 0,
	      "mmap of the old version after unlink");
	if (m != MAP_FAILED)
		munmap(m, large_len);
	close(fd);
	free(buf);
	CHECK_ERR(unlink(p), ENOENT);
}

static void test_noreplace_and_exchange(void)
{
	const char *key = "ab00000000000001";
	const char *p = path("monomorph/ab/00000000000001.bc");

	CHECK(write_file(path("tmp/nr1.tmp"), small, small_len), "tmp");
	CHECK(renameat2_(path("tmp/nr1.tmp"), p, RENAME_NOREPLACE) == 0,
	      "RENAME_NOREPLACE onto an absent entry");
	CHECK(write_file(path("tmp/nr2.tmp"), large, large_len), "tmp");
	CHECK_ERR(renameat2_(path("tmp/nr2.tmp"), p, RENAME_NOREPLACE),
		  EEXIST);
	CHECK(same_file(p, small, small_len), "first version kept");
	CHECK_ERR(renameat2_(path("tmp/nr2.tmp"), p, RENAME_EXCHANGE),
		  EINVAL);
	CHECK(same_file(path("tmp/nr2.tmp"), large, large_len),
	      "temp file intact");
	CHECK(unlink(path("tmp/nr2.tmp")) == 0, "unlink");
	(void)key;
	/* .meta sidecars live beside the .bc. */
	const char meta[] = "{\"signature\":\"func<T>:max\",\"types\":[\"int32\"]}";
	CHECK(write_file(path("tmp/m.tmp"), meta, sizeof(meta) - 1), "meta");
	CHECK(rename(path("tmp/m.tmp"), path("monomorph/ab/00000000000001.meta"))
		      == 0, "rename meta");
	CHECK(same_file(path("monomorph/ab/00000000000001.meta"), meta,
			sizeof(meta) - 1), "meta read back");
	/* Moving an entry out of the cache is not a rename here. */
	CHECK_ERR(rename(path("monomorph/ab/00000000000001.bc"),
			 path("tmp/out.tmp")), EXDEV);
}

/* Returns the errno a fresh process sees for stat(@p), 0 if present. */
static int stat_in_child(const char *p)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct stat st;
		_exit(stat(p, &st) == 0 ? 0 : errno);
	}
	waitpid(pid, &status, 0);
	return WEXITSTATUS(status);
}

static void test_direct_create(void)
{
	const char *p = path("monomorph/d1/00000000000002.bc");
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);

	CHECK(fd >= 0, "direct create");
	CHECK(write(fd, large, large_len / 2) == (ssize_t)(large_len / 2),
	      "write half");
	CHECK(stat_in_child(p) == ENOENT, "invisible to others before close");
	CHECK(write(fd, large + large_len / 2, large_len - large_len / 2) ==
		      (ssize_t)(large_len - large_len / 2),
	      "write rest");
	CHECK(stat_in_child(p) == ENOENT, "still invisible");
	CHECK(close(fd) == 0, "close commits");
	CHECK(stat_in_child(p) == 0, "visible after close");
	CHECK(same_file(p, large, large_len), "direct write read back");
	CHECK_ERR(open(p, O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);

	/* O_TRUNC on a new entry, and a shell-style dup2 + close first. */
	const char *q = path("monomorph/d1/00000000000003.bc");
	fd = open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0, "create O_TRUNC");
	int fd2 = dup(fd);
	CHECK(close(fd) == 0, "close of the original fd before writing");
	CHECK(write(fd2, small, small_len) == (ssize_t)small_len, "write");
	CHECK(close(fd2) == 0, "close commits");
	CHECK(same_file(q, small, small_len), "read back");
}

static void test_times(void)
{
	const char *p = path("monomorph/d1/00000000000003.bc");
	struct timespec ts[2] = { { 1700000000, 0 }, { 1600000000, 5000 } };
	struct stat st;

	CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0, "utimensat");
	CHECK(stat(p, &st) == 0 && st.st_mtime == 1600000000 &&
		      st.st_atime == 1700000000,
	      "times set: mtime %ld atime %ld", (long)st.st_mtime,
	      (long)st.st_atime);
	CHECK(utimensat(AT_FDCWD, p, NULL, 0) == 0, "touch");
	CHECK(stat(p, &st) == 0 && st.st_mtime >= time(NULL) - 60,
	      "touch sets now");
	CHECK_ERR(chmod(p, 0666), EPERM);
}

static void test_statfs_and_limits(void)
{
	struct statvfs sv;

	CHECK(statvfs(mnt, &sv) == 0 && sv.f_bsize > 0 && sv.f_blocks > 0,
	      "statvfs");
	int fd = open(path("tmp/big.tmp"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0, "create");
	CHECK_ERR(pwrite(fd, "x", 1, (off_t)300 << 20), EFBIG);
	close(fd);
	unlink(path("tmp/big.tmp"));
}

static void test_same_key_race(void)
{
	const char *p = path("monomorph/e5/00000000000004.bc");
	pid_t pids[4];

	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char tmp[4096];
			snprintf(tmp, sizeof(tmp), "%s/tmp/race_%d.tmp", mnt, i);
			if (!write_file(tmp, large, large_len))
				_exit(1);
			_exit(rename(tmp, p) == 0 ? 0 : 2);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "writer %d exit %d", i, WEXITSTATUS(status));
	}
	CHECK(same_file(p, large, large_len), "one whole version");
}

/* Names a hostile or careless client may use, and what each must get. */
static void test_hostile_names(void)
{
	char name[400];
	struct stat st;
	int fd;

	memset(name, 'a', 300);
	name[300] = '\0';
	CHECK_ERR(open(path("tmp/%s", name), O_WRONLY | O_CREAT, 0644),
		  ENAMETOOLONG);
	name[255] = '\0'; /* NAME_MAX is fine in tmp/ */
	fd = open(path("tmp/%s", name), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0,
	      "255-byte temp name");
	CHECK(unlink(path("tmp/%s", name)) == 0, "unlink it");
	/* The full 16-digit key inside its shard is not an entry name. */
	CHECK_ERR(open(path("monomorph/c4/c49a2b7f8e123456.bc"),
		       O_WRONLY | O_CREAT, 0644), EINVAL);
	/* .. climbs out of a shard to the top: an ordinary file there, never
	 * an entry. */
	fd = open(path("monomorph/c4/../../evil"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && close(fd) == 0, "created at the top");
	CHECK(stat(path("evil"), &st) == 0 && S_ISREG(st.st_mode), "top");
	CHECK(unlink(path("evil")) == 0, "unlink it");
	CHECK_ERR(mkdir(path("monomorph/c4/.."), 0755), EEXIST);
	CHECK_ERR(rename(path("monomorph/c4/.."), path("tmp/x")), EBUSY);
	/* An entry moved to another key (poisoning that key) is refused. */
	CHECK(store("c400000000000011", small, small_len) == 0, "store");
	CHECK_ERR(rename(path("monomorph/c4/00000000000011.bc"),
			 path("monomorph/d5/00000000000011.bc")), EXDEV);
	CHECK_ERR(stat(path("monomorph/d5/00000000000011.bc"), &st), ENOENT);
	CHECK(same_file(path("monomorph/c4/00000000000011.bc"), small,
			small_len), "the entry stays where it was");
	/* NUL-free binary garbage and control characters in names. */
	CHECK_ERR(open(path("monomorph/c4/\x01\x02\xff.bc"), O_WRONLY | O_CREAT,
		       0644), EINVAL);
	CHECK_ERR(open(path("monomorph/c4/ 0000000000001.bc"),
		       O_WRONLY | O_CREAT, 0644), EINVAL);
}

/* 4096 open files at once: 2048 readers of one entry, 2048 temp files. */
static void test_many_open_files(void)
{
	enum { N = 2048 };
	static int rd[N], wr[N];
	struct rlimit rl = { 3 * N + 64, 3 * N + 64 };
	int ok_r = 0, ok_w = 0, same = 0;

	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "raise RLIMIT_NOFILE");
	CHECK(store("f100000000000001", large, large_len) == 0, "store");
	for (int i = 0; i < N; i++) {
		rd[i] = open(path("monomorph/f1/00000000000001.bc"), O_RDONLY);
		ok_r += rd[i] >= 0;
		wr[i] = open(path("tmp/many_%d.tmp", i),
			     O_RDWR | O_CREAT | O_TRUNC, 0644);
		ok_w += wr[i] >= 0 && write(wr[i], &i, sizeof(i)) ==
						sizeof(i);
	}
	CHECK(ok_r == N, "%d of %d entry opens", ok_r, N);
	CHECK(ok_w == N, "%d of %d temp files created and written", ok_w, N);
	for (int i = 0; i < N; i++) {
		char buf[64];
		int v = -1;
		if (rd[i] >= 0 && pread(rd[i], buf, sizeof(buf), 0) ==
					  (ssize_t)sizeof(buf) &&
		    memcmp(buf, large, sizeof(buf)) == 0 && wr[i] >= 0 &&
		    pread(wr[i], &v, sizeof(v), 0) == sizeof(v) && v == i)
			same++;
	}
	CHECK(same == N, "%d of %d read back right with all open", same, N);
	for (int i = 0; i < N; i++) {
		if (rd[i] >= 0)
			close(rd[i]);
		if (wr[i] >= 0)
			close(wr[i]);
		unlink(path("tmp/many_%d.tmp", i));
	}
	CHECK(same_file(path("monomorph/f1/00000000000001.bc"), large,
			large_len), "entry intact after");
}

/* A temp file read while another process writes it: every read sees a
 * prefix of what is being written, never other bytes. */
static void test_read_tmp_while_written(void)
{
	const char *p = path("tmp/growing.tmp");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	pid_t pid;
	int bad = 0, reads = 0;

	CHECK(fd >= 0, "create");
	close(fd);
	pid = fork();
	if (pid == 0) {
		int w = open(p, O_WRONLY);
		for (size_t off = 0; off < large_len; off += 4096) {
			size_t n = large_len - off < 4096 ? large_len - off
							  : 4096;
			if (pwrite(w, large + off, n, (off_t)off) != (ssize_t)n)
				_exit(1);
		}
		_exit(close(w) == 0 ? 0 : 1);
	}
	for (;;) {
		size_t len = 0;
		char *got = slurp(p, &len);
		int status;
		reads++;
		if (!got || len > large_len || memcmp(got, large, len) != 0)
			bad++;
		free(got);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "writer");
			break;
		}
	}
	CHECK(bad == 0, "%d of %d reads saw bytes that were never written",
	      bad, reads);
	CHECK(same_file(p, large, large_len), "whole file after the writer");
	CHECK(rename(p, path("monomorph/f2/00000000000001.bc")) == 0,
	      "then it commits");
	CHECK(same_file(path("monomorph/f2/00000000000001.bc"), large,
			large_len), "and reads back");
}

static const struct test tests[] = {
	{ "layout: monomorph/00..ff and tmp", test_layout },
	{ "mkdir: EEXIST for fixed dirs, errors for others", test_mkdir },
	{ "invalid names fail with EINVAL", test_invalid_names },
	{ "tmp/: create, write, truncate, rename, unlink", test_tmp_files },
	{ "store by tmp + rename; read, pread, mmap", test_store_and_read },
	{ "entries are immutable (EACCES)", test_immutable },
	{ "reader keeps its version across replace and unlink",
	  test_replace_while_reading },
	{ "RENAME_NOREPLACE, RENAME_EXCHANGE, .meta", test_noreplace_and_exchange },
	{ "direct create commits at close, invisible before",
	  test_direct_create },
	{ "utimens and touch on entries", test_times },
	{ "statfs and --max-entry-size", test_statfs_and_limits },
	{ "same key stored by 4 processes at once", test_same_key_race },
	{ "hostile names: too long, .., full key, other shard, garbage",
	  test_hostile_names },
	{ "4096 open files: entry readers and temp files",
	  test_many_open_files },
	{ "a temp file read while it is written", test_read_tmp_while_written },
};

int main(int argc, char **argv)
{
	size_t n = sizeof(tests) / sizeof(tests[0]);

	if (argc != 5) {
		fprintf(stderr, "usage: test-ops MOUNTPOINT SMALL.bc LARGE.bc "
			"OTHER.bc\n");
		return 2;
	}
	mnt = argv[1];
	small = slurp(argv[2], &small_len);
	large = slurp(argv[3], &large_len);
	other = slurp(argv[4], &other_len);
	if (!small || !large || !other || large_len < 16384 ||
	    other_len < 16384) {
		fprintf(stderr, "test-ops: need SMALL, and LARGE/OTHER of at "
			"least 16 KiB\n");
		return 2;
	}
	return run_tests(tests, n);
}
