/* SPDX-License-Identifier: MIT */
/*
 * Ordinary files and directories beside monomorph/ and tmp/ (issue: the
 * build tool keeps other caches under .aria/cache): FUSE requests on the
 * general tree of acfs/tree.h. Inode numbers are the tree's; the kernel's
 * references live in the same inode table as entries (type INODE_GENERAL),
 * so an unlinked file stays readable while open and is dropped at the
 * last FORGET. These inodes change: attributes are cached for a second and
 * the page cache is not kept across opens.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sys/xattr.h>

#include "acfs/tree.h"
#include "cachefs.h"

#define GEN_TIMEOUT 1.0

void gen_attr(const struct acfs_gnode *g, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = g->ino;
	st->st_mode = g->mode;
	st->st_nlink = g->nlink;
	st->st_uid = g->uid;
	st->st_gid = g->gid;
	st->st_size = (off_t)g->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((g->stored + 511) / 512);
	if (S_ISCHR(g->mode) || S_ISBLK(g->mode))
		st->st_rdev = (dev_t)g->parent;
	st->st_atim = fs_timespec(g->atime_ns);
	st->st_mtim = fs_timespec(g->mtime_ns);
	st->st_ctim = fs_timespec(g->ctime_ns);
}

/* A general inode the kernel knows, or NULL. The fixed directories
 * (root, monomorph, tmp, shards) are below the store's first id: asked on
 * every lookup of an entry, they are answered without the inode table. */
static struct inode *general(struct acfs_fs *fs, fuse_ino_t ino)
{
	struct inode *in = ino >= ACFS_FIRST_ID ? inode_find(fs, ino) : NULL;
	return in && inode_type(in) == INODE_GENERAL ? in : NULL;
}

bool gen_is_node(struct acfs_fs *fs, fuse_ino_t ino)
{
	return general(fs, ino) != NULL;
}

bool gen_is_dir(struct acfs_fs *fs, fuse_ino_t ino)
{
	struct inode *in;

	if (ino == INO_ROOT)
		return true;
	in = general(fs, ino);
	return in && S_ISDIR(in->mode);
}

static void log_failure(const char *what, fuse_ino_t parent, const char *name,
			int r)
{
	/* Ordinary POSIX outcomes are the caller's business, not news. */
	if (r == -ENOENT || r == -EEXIST || r == -ENOTEMPTY || r == -ENOTDIR ||
	    r == -EISDIR)
		return;
	acfs_log(r == -ENOSPC ? LOG_ERR : LOG_WARNING,
		 "%s of %s in directory %llu failed: %s", what, name,
		 (unsigned long long)parent, strerror(-r));
}

/* Replies with @g as a new dentry (one lookup reference). */
static void reply_node(fuse_req_t req, const struct acfs_gnode *g)
{
	struct acfs_fs *fs = FS(req);
	struct fuse_entry_param e = { 0 };
	struct inode *in = inode_ref_general(fs, g);

	if (!in) {
		fs_reply_err(req, -ENOMEM);
		return;
	}
	e.ino = g->ino;
	e.attr_timeout = e.entry_timeout = GEN_TIMEOUT;
	gen_attr(g, &e.attr);
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(fs, in, 1);
}

void gen_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct acfs_gnode g;
	int r = acfs_tree_lookup(FS(req)->d->store, parent, name, &g);

	if (r == -ENOENT) {
		struct fuse_entry_param e = { 0 };
		e.entry_timeout = GEN_TIMEOUT;
		fuse_reply_entry(req, &e);
	} else if (r < 0) {
		fs_reply_err(req, r);
	} else {
		reply_node(req, &g);
	}
}

void gen_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct acfs_gnode g;
	struct stat st;
	int r = acfs_tree_get(FS(req)->d->store, ino, &g);

	if (r < 0) {
		fs_reply_err(req, r);
		return;
	}
	gen_attr(&g, &st);
	fuse_reply_attr(req, &st, GEN_TIMEOUT);
}

/* -EOVERFLOW for a time an int64 of nanoseconds cannot hold. */
static int time_to_set(const struct timespec *ts, int64_t now, bool use_now,
		       int64_t *ret_ns)
{
	if (use_now) {
		*ret_ns = now;
		return 0;
	}
	return fs_timespec_ns(ts, ret_ns);
}

void gen_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		 int to_set)
{
	struct acfs_gnode val = { 0 }, g;
	unsigned what = 0;
	int64_t now = acfs_now_ns();
	struct stat st;
	int r;

	if (to_set & FUSE_SET_ATTR_MODE) {
		what |= ACFS_TREE_SET_MODE;
		val.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		what |= ACFS_TREE_SET_UID;
		val.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		what |= ACFS_TREE_SET_GID;
		val.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		what |= ACFS_TREE_SET_SIZE;
		val.size = (uint64_t)attr->st_size;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		what |= ACFS_TREE_SET_ATIME;
		if (time_to_set(&attr->st_atim, now,
				to_set & FUSE_SET_ATTR_ATIME_NOW,
				&val.atime_ns) < 0)
			goto overflow;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		what |= ACFS_TREE_SET_MTIME;
		if (time_to_set(&attr->st_mtim, now,
				to_set & FUSE_SET_ATTR_MTIME_NOW,
				&val.mtime_ns) < 0)
			goto overflow;
	}
	r = acfs_tree_setattr(FS(req)->d->store, ino, what, &val, now, &g);
	if (r < 0) {
		fs_reply_err(req, r);
		return;
	}
	gen_attr(&g, &st);
	fuse_reply_attr(req, &st, GEN_TIMEOUT);
	return;
overflow:
	acfs_log(LOG_WARNING, "refused a time outside 1677-2262 for inode %lu "
		 "of the ordinary tree: it does not fit in 64-bit nanoseconds",
		 (unsigned long)ino);
	fs_reply_err(req, -EOVERFLOW);
}

/* Creates a file, directory or symlink and replies with its dentry, or,
 * with @fi, as an open file (create). */
static void make(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, const char *target, dev_t rdev,
		 struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	const struct fuse_ctx *who = fuse_req_ctx(req);
	struct acfs_gnode g;
	int r;

	if (fs_fixed_name(parent, name)) {
		fs_reply_err(req, -EEXIST);
		return;
	}
	r = acfs_tree_create(fs->d->store, parent, name, mode, who->uid, who->gid,
			     target, (uint64_t)rdev, acfs_now_ns(), &g);
	if (r < 0) {
		log_failure("create", parent, name, r);
		fs_reply_err(req, r);
		return;
	}
	if (!fi) {
		reply_node(req, &g);
		return;
	}
	struct fuse_entry_param e = { 0 };
	struct inode *in = inode_ref_general(fs, &g);
	if (!in) {
		fs_reply_err(req, -ENOMEM);
		return;
	}
	inode_open(fs, in);
	fs_open_set(fi, in);
	e.ino = g.ino;
	e.attr_timeout = e.entry_timeout = GEN_TIMEOUT;
	gen_attr(&g, &e.attr);
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		inode_close(fs, in);
		inode_forget(fs, in, 1);
	}
}

void gen_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode)
{
	make(req, parent, name, S_IFDIR | (mode & 07777), NULL, 0, NULL);
}

/* Regular files, FIFOs, sockets and device nodes (build tools and test
 * runners make FIFOs and sockets; device nodes are kept but inert: the
 * mount is nodev). */
void gen_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, dev_t rdev)
{
	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
	    !S_ISCHR(mode) && !S_ISBLK(mode)) {
		acfs_log(LOG_WARNING, "refused mknod of %s: mode %o is no "
			 "file type", name, (unsigned)mode);
		fs_reply_err(req, -EINVAL);
		return;
	}
	make(req, parent, name, mode, NULL, rdev, NULL);
}

void gen_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi)
{
	make(req, parent, name, S_IFREG | (mode & 07777), NULL, 0, fi);
}

void gen_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name)
{
	make(req, parent, name, S_IFLNK | 0777, link, 0, NULL);
}

void gen_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct acfs_gnode g;
	char buf[ACFS_TREE_BLOCK + 1];
	int r = acfs_tree_get(FS(req)->d->store, ino, &g);
	ssize_t n;

	if (r == 0 && !S_ISLNK(g.mode))
		r = -EINVAL;
	if (r < 0) {
		fs_reply_err(req, r);
		return;
	}
	n = acfs_tree_read(FS(req)->d->store, ino, 0, ACFS_TREE_BLOCK, buf);
	if (n < 0) {
		fs_reply_err(req, (int)n);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

void gen_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname)
{
	struct acfs_gnode g;
	int r;

	if (fs_fixed_name(newparent, newname)) {
		fs_reply_err(req, -EEXIST);
		return;
	}
	r = acfs_tree_link(FS(req)->d->store, ino, newparent, newname,
			   acfs_now_ns(), &g);
	if (r < 0) {
		log_failure("link", newparent, newname, r);
		fs_reply_err(req, r);
		return;
	}
	reply_node(req, &g);
}

void gen_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct acfs_fs *fs = FS(req);
	int r;

	if (fs_fixed_name(parent, name)) {
		fs_reply_err(req, dir ? -EBUSY : -EISDIR);
		return;
	}
	r = acfs_tree_remove(fs->d->store, parent, name, dir, inode_in_use, fs->d,
			     acfs_now_ns());
	if (r < 0)
		log_failure(dir ? "rmdir" : "unlink", parent, name, r);
	fs_reply_err(req, r);
}

void gen_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned flags)
{
	struct acfs_fs *fs = FS(req);
	int r;

	if (fs_fixed_name(parent, name) || fs_fixed_name(newparent, newname)) {
		fs_reply_err(req, -EBUSY);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		fs_reply_err(req, -EINVAL);
		return;
	}
	r = acfs_tree_rename(fs->d->store, parent, name, newparent, newname,
			     flags & RENAME_NOREPLACE, inode_in_use, fs->d,
			     acfs_now_ns());
	if (r < 0)
		log_failure("rename", parent, name, r);
	fs_reply_err(req, r);
}

void gen_open(fuse_req_t req, struct inode *in, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);

	if (S_ISDIR(in->mode)) {
		fs_reply_err(req, -EISDIR);
		return;
	}
	if (fi->flags & O_TRUNC) {
		struct acfs_gnode val = { 0 };
		int r = acfs_tree_setattr(fs->d->store, in->ino, ACFS_TREE_SET_SIZE,
					  &val, acfs_now_ns(), NULL);
		if (r < 0) {
			fs_reply_err(req, r);
			return;
		}
	}
	/* Others may have written it since the kernel cached its pages. */
	fi->keep_cache = 0;
	inode_open(fs, in);
	fs_open_set(fi, in);
	if (fuse_reply_open(req, fi) != 0)
		inode_close(fs, in);
}

void gen_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	if (!buf) {
		fs_reply_err(req, -ENOMEM);
		return;
	}
	n = acfs_tree_read(FS(req)->d->store, ino, (uint64_t)off, size, buf);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void gen_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	       off_t off)
{
	ssize_t n = acfs_tree_write(FS(req)->d->store, ino, (uint64_t)off, buf,
				    size, acfs_now_ns());

	if (n > 0 && FS(req)->d->evict_general && fs_over_budget(FS(req)->d))
		fs_lru_kick(FS(req)->d);
	if (n < 0) {
		if (n == -ENOSPC || n == -EIO)
			acfs_log(LOG_ERR, "write of %zu bytes to file %llu "
				 "failed: %s", size, (unsigned long long)ino,
				 strerror((int)-n));
		fs_reply_err(req, (int)n);
	} else {
		fuse_reply_write(req, (size_t)n);
	}
}

struct fill {
	struct dirbuf *d;
};

static int fill_one(const char *name, uint64_t ino, uint32_t mode,
		    uint64_t cookie, void *u)
{
	struct fill *f = u;
	return dirbuf_add(f->d, name, ino, mode & S_IFMT, (off_t)cookie) ? 0
									 : 1;
}

int gen_fill_dir(struct acfs_fs *fs, struct dirbuf *d, fuse_ino_t dir,
		 off_t off)
{
	struct fill f = { d };
	/* Offsets are cookies (store ids, 1024 and up); below them the
	 * fixed names of the directory. */
	int r = acfs_tree_readdir(fs->d->store, dir,
				  off >= ACFS_FIRST_ID ? (uint64_t)off : 0,
				  fill_one,
				  &f);
	return r > 0 ? 0 : r;
}

/* ---- extended attributes: user.* kept with the inode ---------------------- */

/* Answers a getxattr or listxattr of @len bytes at @v (@size 0: the size
 * only), or the error @r. */
static void reply_xattr(fuse_req_t req, int r, const void *v, size_t len,
			size_t size)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

void gen_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	void *v = NULL;
	size_t len = 0;
	int r = strncmp(name, "user.", 5) != 0
		? -ENODATA
		: acfs_tree_xattr_get(FS(req)->d->store, ino, name, &v, &len);

	reply_xattr(req, r, v, len, size);
	free(v);
}

void gen_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	int tflags = (flags & XATTR_CREATE ? ACFS_TREE_XATTR_CREATE : 0) |
		     (flags & XATTR_REPLACE ? ACFS_TREE_XATTR_REPLACE : 0);
	int r;

	if (strncmp(name, "user.", 5) != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	r = acfs_tree_xattr_set(FS(req)->d->store, ino, name, value, size,
				tflags, acfs_now_ns());
	if (r < 0 && r != -EEXIST && r != -ENODATA)
		acfs_log(LOG_WARNING, "setxattr %s on inode %lu: %s", name,
			 (unsigned long)ino, strerror(-r));
	fuse_reply_err(req, r < 0 ? -r : 0);
}

void gen_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *list = NULL;
	size_t len = 0;
	int r = acfs_tree_xattr_list(FS(req)->d->store, ino, &list, &len);

	reply_xattr(req, r, list, len, size);
	free(list);
}

void gen_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int r = strncmp(name, "user.", 5) != 0
		? -EOPNOTSUPP
		: acfs_tree_xattr_remove(FS(req)->d->store, ino, name,
					 acfs_now_ns());

	fuse_reply_err(req, r < 0 ? -r : 0);
}
