/* SPDX-License-Identifier: MIT */
/*
 * lossyfs: a FUSE filesystem for the power-loss test. It passes a backing
 * directory through, except that file data written and not yet fsync'ed
 * lives only in its memory, as in a page cache whose writeback never
 * happened; a simulated power cut drops all of it. Then the backing
 * directory holds exactly what a disk would after losing power: every
 * byte that an fsync or fdatasync covered, and nothing written since.
 *
 *   lossyfs BACKING MOUNTPOINT [FUSE options]
 *   stat MOUNTPOINT/.powercut      the power cut: unsynced data is gone
 *                                  (the stat fails with ENOENT)
 *
 * Model: names (create, mkdir, rename, unlink, link) and truncates are
 * durable at once, as on a filesystem with ordered metadata journaling;
 * file contents are durable only up to the last fsync of that file. A
 * written file is held whole in memory from its first unsynced write to
 * its next fsync (this is a test tool: files are small). Runs single
 * threaded, with direct_io and no attribute caching, so that the kernel
 * caches nothing the cut should have lost.
 */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int backing; /* directory fd */

/* Unsynced contents of one file (by backing inode: renames keep it). */
struct dirty {
	ino_t ino;
	char *data;
	size_t size, cap;
	struct dirty *next;
};
static struct dirty *dirty_list;
static unsigned long cuts, synced, dropped_bytes;

static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

/* Backing files open for writing are opened for reading too: a first
 * unsynced write reads the durable contents into memory. */
static int backing_flags(int flags)
{
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags | O_CLOEXEC;
}

static struct dirty *find_dirty(ino_t ino)
{
	for (struct dirty *d = dirty_list; d; d = d->next)
		if (d->ino == ino)
			return d;
	return NULL;
}

static void drop_dirty(ino_t ino)
{
	for (struct dirty **p = &dirty_list; *p; p = &(*p)->next)
		if ((*p)->ino == ino) {
			struct dirty *d = *p;
			*p = d->next;
			free(d->data);
			free(d);
			return;
		}
}

static int reserve(struct dirty *d, size_t size)
{
	if (size <= d->cap)
		return 0;
	size_t cap = d->cap ? d->cap : 65536;
	while (cap < size)
		cap *= 2;
	char *p = realloc(d->data, cap);
	if (!p)
		return -ENOMEM;
	memset(p + d->cap, 0, cap - d->cap);
	d->data = p;
	d->cap = cap;
	return 0;
}

/* The file's contents in memory, from the backing file at first. */
static int get_dirty(int fd, struct dirty **ret)
{
	struct stat st;
	struct dirty *d;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((d = find_dirty(st.st_ino))) {
		*ret = d;
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d || reserve(d, (size_t)st.st_size + 1) < 0) {
		free(d);
		return -ENOMEM;
	}
	d->ino = st.st_ino;
	d->size = (size_t)st.st_size;
	if (d->size && pread(fd, d->data, d->size, 0) != (ssize_t)d->size) {
		free(d->data);
		free(d);
		return -EIO;
	}
	d->next = dirty_list;
	dirty_list = d;
	*ret = d;
	return 0;
}

static void power_cut(void)
{
	while (dirty_list) {
		dropped_bytes += dirty_list->size;
		drop_dirty(dirty_list->ino);
	}
	cuts++;
	fprintf(stderr, "lossyfs: power cut %lu: unsynced data dropped "
		"(%lu bytes so far; %lu fsyncs kept theirs)\n", cuts,
		dropped_bytes, synced);
}

static int lf_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct dirty *d;

	if (strcmp(path, "/.powercut") == 0) {
		power_cut();
		return -ENOENT;
	}
	if (fi ? fstat((int)fi->fh, st) : fstatat(backing, rel(path), st,
						   AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (S_ISREG(st->st_mode) && (d = find_dirty(st->st_ino))) {
		st->st_size = (off_t)d->size;
		st->st_blocks = (blkcnt_t)((d->size + 511) / 512);
	}
	return 0;
}

static int lf_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	int fd = openat(backing, rel(path), O_RDONLY | O_DIRECTORY);
	DIR *dh;
	struct dirent *e;

	(void)off;
	(void)fi;
	(void)flags;
	if (fd < 0 || !(dh = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((e = readdir(dh)))
		fill(buf, e->d_name, NULL, 0, 0);
	closedir(dh);
	return 0;
}

static int lf_mkdir(const char *path, mode_t mode)
{
	return mkdirat(backing, rel(path), mode) ? -errno : 0;
}

static int lf_rmdir(const char *path)
{
	return unlinkat(backing, rel(path), AT_REMOVEDIR) ? -errno : 0;
}

static int lf_unlink(const char *path)
{
	struct stat st;

	if (fstatat(backing, rel(path), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_nlink == 1)
		drop_dirty(st.st_ino);
	return unlinkat(backing, rel(path), 0) ? -errno : 0;
}

static int lf_rename(const char *from, const char *to, unsigned int flags)
{
	return renameat2(backing, rel(from), backing, rel(to), flags) ? -errno
								      : 0;
}

static int lf_link(const char *from, const char *to)
{
	return linkat(backing, rel(from), backing, rel(to), 0) ? -errno : 0;
}

/* An open backing file becomes the FUSE file; O_TRUNC truncated it, and
 * with it what memory held. */
static int opened(int fd, struct fuse_file_info *fi)
{
	struct stat st;

	if (fd < 0)
		return -errno;
	if ((fi->flags & O_TRUNC) && fstat(fd, &st) == 0)
		drop_dirty(st.st_ino);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int lf_open(const char *path, struct fuse_file_info *fi)
{
	return opened(openat(backing, rel(path), backing_flags(fi->flags &
								~O_APPEND)),
		      fi);
}

static int lf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return opened(openat(backing, rel(path),
			     backing_flags(fi->flags & ~O_APPEND) | O_CREAT,
			     mode),
		      fi);
}

static int lf_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct stat st;
	struct dirty *d;

	(void)path;
	if (fstat((int)fi->fh, &st) < 0)
		return -errno;
	if ((d = find_dirty(st.st_ino))) {
		if ((size_t)off >= d->size)
			return 0;
		if (size > d->size - (size_t)off)
			size = d->size - (size_t)off;
		memcpy(buf, d->data + off, size);
		return (int)size;
	}
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int lf_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct dirty *d = NULL;
	int r;

	(void)path;
	if ((r = get_dirty((int)fi->fh, &d)) < 0)
		return r;
	if (fi->flags & O_APPEND)
		off = (off_t)d->size;
	if ((r = reserve(d, (size_t)off + size)) < 0)
		return r;
	memcpy(d->data + off, buf, size);
	if ((size_t)off + size > d->size)
		d->size = (size_t)off + size;
	return (int)size;
}

static int lf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd = fi ? (int)fi->fh : openat(backing, rel(path), O_RDWR);
	struct stat st;
	struct dirty *d;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && (d = find_dirty(st.st_ino))) {
		if (reserve(d, (size_t)size) < 0)
			r = -ENOMEM;
		else if ((size_t)size < d->size)
			memset(d->data + size, 0, d->size - (size_t)size);
		if (r == 0)
			d->size = (size_t)size;
	}
	if (r == 0 && ftruncate(fd, size) < 0)
		r = -errno;
	if (!fi)
		close(fd);
	return r;
}

/* What fsync promises: this file's bytes reach the backing file. */
static int lf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct stat st;
	struct dirty *d;
	int fd = (int)fi->fh;

	(void)path;
	(void)datasync;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((d = find_dirty(st.st_ino))) {
		if (pwrite(fd, d->data, d->size, 0) != (ssize_t)d->size ||
		    ftruncate(fd, (off_t)d->size) < 0)
			return -EIO;
		drop_dirty(st.st_ino);
	}
	synced++;
	return fsync(fd) ? -errno : 0;
}

static int lf_fsyncdir(const char *path, int datasync,
		       struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return 0; /* names are durable at once */
}

static int lf_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh); /* unsynced data stays in memory, as in a cache */
	return 0;
}

static int lf_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return fstatvfs(backing, sv) ? -errno : 0;
}

static int lf_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	(void)fi;
	return utimensat(backing, rel(path), tv, AT_SYMLINK_NOFOLLOW) ? -errno
								      : 0;
}

static int lf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return fchmodat(backing, rel(path), mode, 0) ? -errno : 0;
}

static void *lf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->use_ino = 1;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = lf_init,
	.getattr = lf_getattr,
	.readdir = lf_readdir,
	.mkdir = lf_mkdir,
	.rmdir = lf_rmdir,
	.unlink = lf_unlink,
	.rename = lf_rename,
	.link = lf_link,
	.open = lf_open,
	.create = lf_create,
	.read = lf_read,
	.write = lf_write,
	.truncate = lf_truncate,
	.fsync = lf_fsync,
	.fsyncdir = lf_fsyncdir,
	.release = lf_release,
	.statfs = lf_statfs,
	.utimens = lf_utimens,
	.chmod = lf_chmod,
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lossyfs BACKING MOUNTPOINT [FUSE "
			"options]\n");
		return 2;
	}
	backing = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (backing < 0) {
		perror(argv[1]);
		return 1;
	}
	/* fuse_main gets: prog MOUNTPOINT -s [options] */
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	int n = 0;
	args[n++] = argv[0];
	args[n++] = argv[2];
	args[n++] = "-s";
	for (int i = 3; i < argc; i++)
		args[n++] = argv[i];
	return fuse_main(n, args, &ops, NULL);
}
