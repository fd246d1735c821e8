/* SPDX-License-Identifier: MIT */
/*
 * test-posix: POSIX behaviour of the ordinary files and directories kept
 * beside monomorph/ and tmp/, through a mounted aria-cachefs, with plain
 * system calls. Prints TAP.
 *
 *   test-posix MOUNTPOINT
 *
 * Works in MOUNTPOINT/posix (created, and removed at the end).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *mnt;

static char *P(const char *fmt, ...)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];
	int n = snprintf(b, 4096, "%s/posix/", mnt);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b + n, (size_t)(4096 - n), fmt, ap);
	va_end(ap);
	return b;
}

static bool put(const char *p, const void *data, size_t len)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

	return fd >= 0 && close(fd) == 0 && ok;
}

/* The whole file, or NULL; its length in *len. */
static char *get(const char *p, size_t *len)
{
	int fd = open(p, O_RDONLY);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	*len = n;
	return buf;
}

static bool same(const char *p, const void *want, size_t want_len)
{
	size_t len = 0;
	char *got = get(p, &len);
	bool ok = got && len == want_len && memcmp(got, want, len) == 0;

	free(got);
	return ok;
}

static nlink_t links(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0 ? st.st_nlink : 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_files(void)
{
	char buf[64];
	struct stat st;
	int fd = open(P("f"), O_RDWR | O_CREAT | O_EXCL, 0640);

	CHECK(fd >= 0, "create");
	CHECK_ERR(open(P("f"), O_RDWR | O_CREAT | O_EXCL, 0640), EEXIST);
	CHECK(pwrite(fd, "hello world", 11, 0) == 11, "write");
	CHECK(pwrite(fd, "W", 1, 6) == 1, "overwrite at 6");
	CHECK(pread(fd, buf, sizeof(buf), 0) == 11 &&
		      memcmp(buf, "hello World", 11) == 0,
	      "read back");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 11 &&
		      (st.st_mode & 07777) == 0640 && S_ISREG(st.st_mode) &&
		      st.st_nlink == 1,
	      "fstat");
	close(fd);
	/* O_APPEND writes at the end whatever the offset. */
	fd = open(P("f"), O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 &&
		      write(fd, "!!", 2) == 2 && close(fd) == 0,
	      "append");
	CHECK(same(P("f"), "hello World!!", 13), "appended");
	/* Truncate down, then up: the new bytes are zeros. */
	CHECK(truncate(P("f"), 5) == 0, "truncate 5");
	CHECK(truncate(P("f"), 8) == 0, "truncate 8");
	CHECK(same(P("f"), "hello\0\0\0", 8), "zeros after a truncate up");
	/* A hole: written past the end, the gap reads as zeros. */
	fd = open(P("f"), O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "end", 3, 200000) == 3 && close(fd) == 0,
	      "write past the end");
	CHECK(stat(P("f"), &st) == 0 && st.st_size == 200003, "size %lld",
	      (long long)st.st_size);
	size_t len;
	char *all = get(P("f"), &len);
	bool zeros = all && len == 200003;
	for (size_t i = 8; zeros && i < 200000; i++)
		zeros = all[i] == 0;
	CHECK(zeros && memcmp(all + 200000, "end", 3) == 0, "hole reads 0");
	free(all);
	/* O_TRUNC empties it. */
	fd = open(P("f"), O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 0 &&
		      close(fd) == 0,
	      "O_TRUNC");
	CHECK(unlink(P("f")) == 0, "unlink");
	CHECK_ERR(unlink(P("f")), ENOENT);
	CHECK_ERR(stat(P("f"), &st), ENOENT);
}

static void test_big_file(void)
{
	size_t n = 1536 * 1024 + 77;
	char *data = malloc(n);
	struct stat st;
	int fd;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 2654435761u >> 24);
	fd = open(P("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	/* Odd chunk sizes cross the store's 64 KiB blocks everywhere. */
	for (size_t off = 0, step = 12345; off < n; off += step)
		CHECK(pwrite(fd, data + off, off + step > n ? n - off : step,
			     (off_t)off) >= 0,
		      "write at %zu", off);
	close(fd);
	CHECK(same(P("big"), data, n), "1.5 MiB read back");
	/* Overwrite across a block boundary. */
	fd = open(P("big"), O_WRONLY);
	memset(data + 65530, 'x', 20);
	CHECK(pwrite(fd, data + 65530, 20, 65530) == 20 && close(fd) == 0,
	      "overwrite across a block edge");
	CHECK(same(P("big"), data, n), "read back after");
	CHECK(stat(P("big"), &st) == 0 && st.st_blocks * 512 >= (off_t)n,
	      "st_blocks %lld", (long long)st.st_blocks);
	CHECK(truncate(P("big"), 70000) == 0 && same(P("big"), data, 70000),
	      "truncate into the second block");
	CHECK(unlink(P("big")) == 0, "unlink");
	free(data);
}

static void test_dirs(void)
{
	struct stat st;

	CHECK(mkdir(P("d"), 0750) == 0, "mkdir");
	CHECK_ERR(mkdir(P("d"), 0750), EEXIST);
	CHECK(stat(P("d"), &st) == 0 && S_ISDIR(st.st_mode) &&
		      (st.st_mode & 07777) == 0750 && st.st_nlink == 2,
	      "a new directory has 2 links");
	nlink_t top = links(P(""));
	CHECK(mkdir(P("d/sub"), 0755) == 0 && mkdir(P("d/sub2"), 0755) == 0,
	      "subdirs");
	CHECK(links(P("d")) == 4, "nlink counts subdirectories (%lu)",
	      (unsigned long)links(P("d")));
	CHECK(links(P("")) == top, "the parent's parent is unchanged");
	CHECK(put(P("d/sub/file"), "x", 1), "file in subdir");
	CHECK_ERR(rmdir(P("d/sub")), ENOTEMPTY);
	CHECK_ERR(rmdir(P("d/sub/file")), ENOTDIR);
	CHECK_ERR(unlink(P("d/sub")), EISDIR);
	CHECK_ERR(mkdir(P("d/sub/file/x"), 0755), ENOTDIR);
	CHECK_ERR(rmdir(P("d/none")), ENOENT);
	CHECK(unlink(P("d/sub/file")) == 0 && rmdir(P("d/sub")) == 0,
	      "empty it, rmdir");
	CHECK(links(P("d")) == 3, "nlink back to 3");
	CHECK(rmdir(P("d/sub2")) == 0 && rmdir(P("d")) == 0, "rmdir all");
}

static void test_rename_files(void)
{
	char buf[16];
	int fd;

	CHECK(put(P("a"), "AAA", 3) && put(P("b"), "BBBB", 4), "two files");
	fd = open(P("b"), O_RDONLY); /* holds the version about to go */
	CHECK(rename(P("a"), P("b")) == 0, "rename over an existing file");
	CHECK(same(P("b"), "AAA", 3), "target has the new bytes");
	CHECK_ERR(access(P("a"), F_OK), ENOENT);
	CHECK(fd >= 0 && pread(fd, buf, sizeof(buf), 0) == 4 &&
		      memcmp(buf, "BBBB", 4) == 0,
	      "an open fd still reads the replaced file");
	close(fd);
	CHECK(put(P("c"), "C", 1), "c");
	CHECK_ERR(renameat2(AT_FDCWD, P("c"), AT_FDCWD, P("b"),
			    RENAME_NOREPLACE),
		  EEXIST);
	CHECK(renameat2(AT_FDCWD, P("c"), AT_FDCWD, P("new"),
			RENAME_NOREPLACE) == 0,
	      "RENAME_NOREPLACE onto a free name");
	CHECK(rename(P("new"), P("new")) == 0 && same(P("new"), "C", 1),
	      "rename onto itself changes nothing");
	CHECK(mkdir(P("dir"), 0755) == 0, "mkdir");
	CHECK(rename(P("new"), P("dir/moved")) == 0 &&
		      same(P("dir/moved"), "C", 1),
	      "rename into another directory");
	CHECK_ERR(rename(P("b"), P("dir")), EISDIR);
	CHECK_ERR(rename(P("nothere"), P("x")), ENOENT);
	CHECK(unlink(P("b")) == 0 && unlink(P("dir/moved")) == 0 &&
		      rmdir(P("dir")) == 0,
	      "clean up");
}

static void test_rename_dirs(void)
{
	CHECK(mkdir(P("r1"), 0755) == 0 && mkdir(P("r1/in"), 0755) == 0 &&
		      mkdir(P("r2"), 0755) == 0 && put(P("r1/in/f"), "f", 1),
	      "tree");
	CHECK_ERR(rename(P("r1"), P("r1/in/deeper")), EINVAL);
	CHECK_ERR(rename(P("r1"), P("r1/in")), EINVAL);
	CHECK(rename(P("r1/in"), P("r2/in")) == 0, "move a subtree");
	CHECK(same(P("r2/in/f"), "f", 1), "its files moved with it");
	CHECK(links(P("r1")) == 2 && links(P("r2")) == 3,
	      "parents' nlink follow (%lu, %lu)", (unsigned long)links(P("r1")),
	      (unsigned long)links(P("r2")));
	CHECK(rename(P("r2/in"), P("r1")) == 0,
	      "a directory over an empty directory");
	CHECK(same(P("r1/f"), "f", 1), "moved over it");
	CHECK(mkdir(P("r3"), 0755) == 0, "r3");
	CHECK_ERR(rename(P("r3"), P("r1")), ENOTEMPTY);
	CHECK(put(P("plain"), "p", 1), "plain");
	CHECK_ERR(rename(P("r3"), P("plain")), ENOTDIR);
	CHECK(unlink(P("r1/f")) == 0 && rmdir(P("r1")) == 0 &&
		      rmdir(P("r2")) == 0 && rmdir(P("r3")) == 0 &&
		      unlink(P("plain")) == 0,
	      "clean up");
}

static void test_unlinked_open(void)
{
	char buf[16];
	struct stat st;
	int fd = open(P("ghost"), O_RDWR | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0 && write(fd, "boo", 3) == 3, "create");
	CHECK(unlink(P("ghost")) == 0, "unlink while open");
	CHECK_ERR(stat(P("ghost"), &st), ENOENT);
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0, "fstat nlink 0");
	CHECK(pwrite(fd, "!", 1, 3) == 1, "still writable");
	CHECK(pread(fd, buf, sizeof(buf), 0) == 4 &&
		      memcmp(buf, "boo!", 4) == 0,
	      "still readable");
	CHECK(put(P("ghost"), "new", 3) && same(P("ghost"), "new", 3),
	      "the name is free for a new file");
	CHECK(pread(fd, buf, sizeof(buf), 0) == 4 &&
		      memcmp(buf, "boo!", 4) == 0,
	      "the old one is unaffected");
	close(fd);
	CHECK(unlink(P("ghost")) == 0, "unlink");
}

static void test_links(void)
{
	struct stat a, b;

	CHECK(put(P("orig"), "data", 4), "file");
	CHECK(link(P("orig"), P("alias")) == 0, "link");
	CHECK(stat(P("orig"), &a) == 0 && stat(P("alias"), &b) == 0 &&
		      a.st_ino == b.st_ino && a.st_nlink == 2,
	      "same inode, nlink 2");
	CHECK_ERR(link(P("orig"), P("alias")), EEXIST);
	CHECK(mkdir(P("ld"), 0755) == 0, "dir");
	CHECK_ERR(link(P("ld"), P("ld2")), EPERM);
	CHECK(unlink(P("orig")) == 0 && same(P("alias"), "data", 4) &&
		      links(P("alias")) == 1,
	      "the other name lives on");
	CHECK(symlink("alias", P("sym")) == 0, "symlink");
	char t[64] = "";
	CHECK(readlink(P("sym"), t, sizeof(t)) == 5 &&
		      memcmp(t, "alias", 5) == 0,
	      "readlink");
	CHECK(lstat(P("sym"), &a) == 0 && S_ISLNK(a.st_mode) &&
		      a.st_size == 5,
	      "lstat: a symlink");
	CHECK(same(P("sym"), "data", 4), "opening follows it");
	CHECK(symlink("ld/../alias", P("sym2")) == 0 &&
		      same(P("sym2"), "data", 4),
	      "a relative path through a directory");
	CHECK(symlink("nowhere", P("dangling")) == 0, "dangling symlink");
	CHECK_ERR(open(P("dangling"), O_RDONLY), ENOENT);
	CHECK_ERR(readlink(P("alias"), t, sizeof(t)), EINVAL);
	CHECK(unlink(P("sym")) == 0 && unlink(P("sym2")) == 0 &&
		      unlink(P("dangling")) == 0 && unlink(P("alias")) == 0 &&
		      rmdir(P("ld")) == 0,
	      "clean up");
}

static void test_attrs(void)
{
	struct timespec ts[2] = { { 1000000, 123456789 }, { 2000000, 987654321 } };
	struct stat st;
	int fd;

	CHECK(put(P("m"), "m", 1), "file");
	CHECK(chmod(P("m"), 0600) == 0 && stat(P("m"), &st) == 0 &&
		      (st.st_mode & 07777) == 0600 && S_ISREG(st.st_mode),
	      "chmod");
	CHECK(chown(P("m"), 65534, 65534) == 0 && stat(P("m"), &st) == 0 &&
		      st.st_uid == 65534 && st.st_gid == 65534,
	      "chown");
	CHECK(utimensat(AT_FDCWD, P("m"), ts, 0) == 0 &&
		      stat(P("m"), &st) == 0 && st.st_atim.tv_sec == 1000000 &&
		      st.st_atim.tv_nsec == 123456789 &&
		      st.st_mtim.tv_sec == 2000000 &&
		      st.st_mtim.tv_nsec == 987654321,
	      "utimensat keeps nanoseconds");
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	time_t t0 = time(NULL);
	CHECK(utimensat(AT_FDCWD, P("m"), now, 0) == 0 &&
		      stat(P("m"), &st) == 0 && st.st_atim.tv_sec >= t0 &&
		      st.st_mtim.tv_sec == 2000000,
	      "UTIME_NOW and UTIME_OMIT");
	fd = open(P("m"), O_WRONLY);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1 && fsync(fd) == 0 &&
		      fdatasync(fd) == 0 && fstat(fd, &st) == 0 &&
		      st.st_mtim.tv_sec >= t0,
	      "a write moves mtime; fsync, fdatasync");
	close(fd);
	CHECK(unlink(P("m")) == 0, "unlink");
}

/* Names seen by reading directory @d from its current position on. */
static int read_rest(DIR *d, char seen[][16], int max, int n)
{
	struct dirent *de;

	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(seen[n++], 16, "%.15s", de->d_name);
	}
	return n;
}

static void test_readdir(void)
{
	enum { N = 200 };
	static char seen[3 * N][16];
	int n = 0, dups = 0, missing = 0;
	struct dirent *de;
	DIR *d;

	CHECK(mkdir(P("rd"), 0755) == 0 && mkdir(P("rd/sub"), 0755) == 0 &&
		      symlink("x", P("rd/lnk")) == 0,
	      "dir");
	for (int i = 0; i < N; i++)
		put(P("rd/f%03d", i), "", 0);
	d = opendir(P("rd"));
	CHECK(d != NULL, "opendir");
	if (!d)
		return;
	/* d_type is right for each kind. */
	int types = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, "sub"))
			types += de->d_type == DT_DIR;
		else if (!strcmp(de->d_name, "lnk"))
			types += de->d_type == DT_LNK;
		else if (!strcmp(de->d_name, "f000"))
			types += de->d_type == DT_REG;
	}
	CHECK(types == 3, "d_type of a dir, a symlink, a file");
	rewinddir(d);
	/* Read part, change the directory, read on: names present all along
	 * are seen exactly once (offsets are stable). */
	for (int i = 0; i < 60 && (de = readdir(d));)
		if (de->d_name[0] != '.')
			snprintf(seen[n++], 16, "%.15s", de->d_name), i++;
	long mark = telldir(d);
	char after_mark[16] = "";
	if ((de = readdir(d)))
		snprintf(after_mark, sizeof(after_mark), "%.15s", de->d_name);
	for (int i = 150; i < N; i++)
		unlink(P("rd/f%03d", i));
	for (int i = 0; i < 50; i++)
		put(P("rd/g%03d", i), "", 0);
	seekdir(d, mark);
	de = readdir(d);
	CHECK(de && !strcmp(de->d_name, after_mark),
	      "seekdir back to telldir (%s)", after_mark);
	seekdir(d, mark);
	n = read_rest(d, seen, 3 * N, n);
	closedir(d);
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			dups += !strcmp(seen[i], seen[j]);
	for (int i = 0; i < 150; i++) {
		char want[16];
		bool found = false;
		snprintf(want, sizeof(want), "f%03d", i);
		for (int j = 0; j < n && !found; j++)
			found = !strcmp(seen[j], want);
		missing += !found;
	}
	CHECK(dups == 0, "%d names seen twice", dups);
	CHECK(missing == 0, "%d names present all along were not seen",
	      missing);
	for (int i = 0; i < 150; i++)
		unlink(P("rd/f%03d", i));
	for (int i = 0; i < 50; i++)
		unlink(P("rd/g%03d", i));
	CHECK(unlink(P("rd/lnk")) == 0 && rmdir(P("rd/sub")) == 0 &&
		      rmdir(P("rd")) == 0,
	      "clean up");
}

static void test_boundaries(void)
{
	char top[4096], name[300];

	snprintf(top, sizeof(top), "%s/posix/x", mnt);
	CHECK(put(top, "x", 1), "file");
	/* Ordinary files never become entries, nor entries ordinary files. */
	snprintf(name, sizeof(name), "%s/monomorph/c4/00000000000077.bc", mnt);
	CHECK_ERR(rename(top, name), EXDEV);
	snprintf(name, sizeof(name), "%s/tmp/x", mnt);
	CHECK(put(name, "t", 1), "temp file");
	CHECK_ERR(rename(name, top), EXDEV);
	unlink(name);
	snprintf(name, sizeof(name), "%s/tmp", mnt);
	CHECK_ERR(rename(top, name), EISDIR);
	CHECK(mkdir(P("dd"), 0755) == 0, "dir");
	CHECK_ERR(rename(P("dd"), name), EBUSY);
	CHECK(rmdir(P("dd")) == 0, "rmdir");
	CHECK_ERR(rmdir(name), EBUSY);
	snprintf(name, sizeof(name), "%s/monomorph", mnt);
	CHECK_ERR(unlink(name), EISDIR);
	memset(name, 'n', 256);
	name[256] = '\0';
	CHECK_ERR(open(P("%s", name), O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
	CHECK(unlink(top) == 0, "unlink");
}

static void test_nodes(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	char buf[8] = "";
	int s, rd, wr;

	/* A FIFO works through the mount: the kernel serves its bytes. */
	CHECK(mkfifo(P("fifo"), 0640) == 0, "mkfifo");
	CHECK(lstat(P("fifo"), &st) == 0 && S_ISFIFO(st.st_mode) &&
	      (st.st_mode & 07777) == 0640, "a FIFO, mode 0640");
	rd = open(P("fifo"), O_RDONLY | O_NONBLOCK);
	wr = open(P("fifo"), O_WRONLY | O_NONBLOCK);
	CHECK(rd >= 0 && wr >= 0, "both ends open");
	CHECK(write(wr, "pipe", 4) == 4, "write into it");
	CHECK(read(rd, buf, sizeof(buf)) == 4 && memcmp(buf, "pipe", 4) == 0,
	      "read it back");
	close(rd);
	close(wr);
	CHECK_ERR(mkfifo(P("fifo"), 0640), EEXIST);
	CHECK(rename(P("fifo"), P("fifo2")) == 0, "rename a FIFO");
	CHECK(link(P("fifo2"), P("fifo3")) == 0, "link a FIFO");
	CHECK(lstat(P("fifo3"), &st) == 0 && st.st_nlink == 2, "nlink 2");
	CHECK(unlink(P("fifo2")) == 0 && unlink(P("fifo3")) == 0, "unlink");

	/* A Unix socket bound in the tree. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", P("sock"));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (strlen(P("sock")) < sizeof(sa.sun_path)) {
		CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind");
		CHECK(lstat(P("sock"), &st) == 0 && S_ISSOCK(st.st_mode),
		      "a socket");
		CHECK(unlink(P("sock")) == 0, "unlink the socket");
	}
	close(s);
	CHECK(mknod(P("sock2"), S_IFSOCK | 0600, 0) == 0, "mknod S_IFSOCK");
	CHECK(lstat(P("sock2"), &st) == 0 && S_ISSOCK(st.st_mode), "socket");
	unlink(P("sock2"));

	/* Device nodes are kept with their numbers, and inert: nodev. */
	CHECK(mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) == 0,
	      "mknod a character device");
	CHECK(lstat(P("null"), &st) == 0 && S_ISCHR(st.st_mode) &&
	      major(st.st_rdev) == 1 && minor(st.st_rdev) == 3,
	      "character device 1:3");
	CHECK_ERR(open(P("null"), O_RDONLY), EACCES);
	CHECK(mknod(P("blk"), S_IFBLK | 0600, makedev(7, 0)) == 0,
	      "mknod a block device");
	CHECK(lstat(P("blk"), &st) == 0 && S_ISBLK(st.st_mode) &&
	      major(st.st_rdev) == 7, "block device 7:0");
	CHECK(unlink(P("null")) == 0 && unlink(P("blk")) == 0, "unlink");
	/* mknod of a regular file still works; of no type at all: EINVAL. */
	CHECK(mknod(P("reg"), S_IFREG | 0644, 0) == 0, "mknod S_IFREG");
	CHECK(unlink(P("reg")) == 0, "unlink");
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		{ "files: create, write at offsets, append, truncate, holes",
		  test_files },
		{ "a 1.5 MiB file across blocks", test_big_file },
		{ "mkdir, rmdir (ENOTEMPTY, ENOTDIR), nlink", test_dirs },
		{ "rename files: over targets, NOREPLACE, across dirs",
		  test_rename_files },
		{ "rename directories: subtrees, over empty dirs, into itself",
		  test_rename_dirs },
		{ "an unlinked file stays usable while open",
		  test_unlinked_open },
		{ "hard links and symlinks", test_links },
		{ "chmod, chown, utimens, fsync", test_attrs },
		{ "readdir: d_type, stable offsets across changes",
		  test_readdir },
		{ "boundaries with monomorph/ and tmp/", test_boundaries },
		{ "FIFOs, sockets and device nodes (nodev)", test_nodes },
	};
	char base[4096];
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: test-posix MOUNTPOINT\n");
		return 2;
	}
	mnt = argv[1];
	snprintf(base, sizeof(base), "%s/posix", mnt);
	if (mkdir(base, 0755) < 0) {
		perror(base);
		return 2;
	}
	r = run_tests(tests, sizeof(tests) / sizeof(tests[0]));
	rmdir(base);
	return r;
}
