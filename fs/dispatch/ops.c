/* SPDX-License-Identifier: MIT */
/*
 * Request dispatch: the FUSE low-level operations, each sending a request
 * to the part that owns its inode: the fixed directories answer here;
 * entries (entries/), staged files (staging/), commits (commit/) and the
 * general tree (tree/) do the work. Errors inside are -errno;
 * fs_reply_err() is the one place the sign flips for libfuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "cachefs.h"

static void acfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct acfs_fs *fs = FS(req);
	unsigned shard;

	if (parent == INO_ROOT) {
		if (strcmp(name, "monomorph") == 0)
			fs_reply_dir_entry(req, INO_MONOMORPH);
		else if (strcmp(name, "tmp") == 0)
			fs_reply_dir_entry(req, INO_TMP);
		else
			gen_lookup(req, parent, name);
	} else if (gen_is_dir(fs, parent)) {
		gen_lookup(req, parent, name);
	} else if (parent == INO_MONOMORPH) {
		if (acfs_key_parse_shard(name, &shard) == 0)
			fs_reply_dir_entry(req, INO_SHARD0 + shard);
		else
			fs_reply_negative(req, fs->neg_timeout);
	} else if (fs_is_shard(parent)) {
		fs_lookup_entry(req, (unsigned)(parent - INO_SHARD0), name);
	} else if (parent == INO_TMP) {
		fs_lookup_tmp(req, name);
	} else {
		fs_reply_err(req, -ENOTDIR);
	}
}

static void acfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (!fs_is_dir(ino)) {
		struct inode *in = inode_find(FS(req), ino);
		if (in)
			inode_forget(FS(req), in, nlookup);
	}
	fuse_reply_none(req);
}

static void acfs_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		if (fs_is_dir(forgets[i].ino))
			continue;
		struct inode *in = inode_find(FS(req), forgets[i].ino);
		if (in)
			inode_forget(FS(req), in, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void acfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	unsigned shard;

	if (fs_fixed_name(parent, name)) {
		fs_reply_err(req, -EEXIST);
	} else if (parent == INO_MONOMORPH &&
		   acfs_key_parse_shard(name, &shard) == 0) {
		fs_reply_err(req, -EEXIST);
	} else if (gen_is_dir(FS(req), parent)) {
		gen_mkdir(req, parent, name, mode);
	} else {
		acfs_log(LOG_WARNING,
			 "refused mkdir of %s: the cache's directories are "
			 "fixed (monomorph/00..ff, tmp)", name);
		fs_reply_err(req, parent == INO_TMP ? -EPERM : -EINVAL);
	}
}

static void acfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (gen_is_dir(FS(req), parent)) {
		gen_remove(req, parent, name, true);
		return;
	}
	acfs_log(LOG_WARNING, "refused rmdir of %s: the cache's directories "
		 "are fixed", name);
	fs_reply_err(req, -EPERM);
}

static void acfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct fuse_entry_param e = { 0 };
	struct inode *in = NULL;
	int r;

	if (gen_is_dir(fs, parent)) {
		gen_create(req, parent, name, mode, fi);
		return;
	}
	r = fs_create_staged(fs, parent, name, mode, fuse_req_ctx(req),
			     fi->flags & O_EXCL, &in);
	if (r < 0) {
		fs_reply_err(req, r);
		return;
	}
	if ((fi->flags & O_ACCMODE) == O_RDWR)
		__atomic_store_n(&in->rw_opened, true, __ATOMIC_RELAXED);
	/* Kernel mode: once the kernel stopped sending OPEN it sends no
	 * RELEASE either, not even for created files (Linux 6.18): nothing
	 * is pinned by the open; a direct create stays pinned until its
	 * close event (fs_commit_closed). */
	bool kernel = fs->d->kernel_hits;
	if (!kernel || inode_type(in) == INODE_PENDING)
		inode_open(fs, in);
	if (kernel && inode_type(in) == INODE_PENDING) {
		pthread_mutex_lock(&in->lock);
		in->close_pin = true;
		pthread_mutex_unlock(&in->lock);
	}
	e.ino = in->ino;
	/* A direct create stays invisible to other lookups until committed:
	 * the kernel must ask again instead of caching this dentry. */
	e.entry_timeout = inode_type(in) == INODE_PENDING ? 0.0 : fs->entry_timeout;
	e.attr_timeout = 0.0;
	fs_file_attr(fs, in, &e.attr);
	if (kernel)
		fi->fh = 0; /* found by number, as every open file there */
	else
		fs_open_set(fi, in);
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		if (!kernel || inode_type(in) == INODE_PENDING)
			inode_close(fs, in);
		inode_forget(fs, in, 1);
	}
}

static void acfs_open(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY ||
		       (fi->flags & O_TRUNC);
	int64_t t0 = acfs_now_ns();
	struct inode *in;
	int r = 0;

	if (fs_is_dir(ino)) {
		fs_reply_err(req, -EISDIR);
		return;
	}
	if (fs->d->kernel_hits) {
		/* The kernel stops sending OPEN (and RELEASE) for good. */
		fs_reply_err(req, -ENOSYS);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		fs_reply_err(req, -ENOENT);
		return;
	}
	if (inode_type(in) == INODE_GENERAL) {
		gen_open(req, in, fi);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (in->type == INODE_ENTRY)
		r = fs_open_entry_locked(fs, in, fi, writing, t0);
	else if (fi->flags & O_TRUNC)
		r = fs_truncate_staged(fs, in, 0);
	if (in->type != INODE_ENTRY && (fi->flags & O_ACCMODE) == O_RDWR)
		__atomic_store_n(&in->rw_opened, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&in->lock);
	if (r < 0) {
		fs_reply_err(req, r);
		return;
	}
	inode_open(fs, in);
	fs_open_set(fi, in);
	if (fuse_reply_open(req, fi) != 0)
		inode_close(fs, in);
}

static void acfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in = fs_open_inode(fs, ino, fi);
	int r;

	if (!in) {
		fs_reply_err(req, -EBADF);
		return;
	}
	if (inode_type(in) == INODE_GENERAL) {
		gen_read(req, ino, size, off);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (in->type == INODE_ENTRY) {
		fs_read_entry(req, fs, in, size, off);
		return;
	}
	char *buf = malloc(size ? size : 1);
	ssize_t n = buf ? fs_read_staged_locked(in, buf, size, off) : -1;
	r = n < 0 ? (buf ? -errno : -ENOMEM) : 0;
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		fs_reply_err(req, r);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void acfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in = fs_open_inode(fs, ino, fi);
	size_t n = 0;
	int r;

	if (!in) {
		fs_reply_err(req, -EBADF);
		return;
	}
	if (inode_type(in) == INODE_GENERAL) {
		gen_write(req, ino, buf, size, off);
		return;
	}
	pthread_mutex_lock(&in->lock);
	r = fs_write_staged_locked(fs, in, buf, size, off,
				   fuse_req_ctx(req)->pid, &n);
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		fs_reply_err(req, r);
	else
		fuse_reply_write(req, n);
}

static void acfs_flush(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;

	if (fs->d->kernel_hits) {
		/* The kernel stops sending FLUSH for good: closes are free. */
		fs_reply_err(req, -ENOSYS);
		return;
	}
	in = fs_open_inode(fs, ino, fi);
	if (in && inode_type(in) == INODE_TMP)
		fs_prepare_at_close(fs, in);
	fs_reply_err(req, in ? fs_commit_at_flush(fs, in,
						  fuse_req_ctx(req)->pid) : 0);
}

static void acfs_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	/* With --hit-mode=kernel no open pins an inode (fh is 0). */
	struct inode *in = fs->d->kernel_hits
		? (struct inode *)(uintptr_t)fi->fh : fs_open_inode(fs, ino, fi);

	if (in) {
		fs_commit_at_release(fs, in);
		inode_close(fs, in);
	}
	fs_reply_err(req, 0);
}

static void acfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	int r;

	(void)ino;
	(void)datasync;
	(void)fi;
	/* Staged bytes die with the mount anyway; committed ones are made
	 * durable by syncing the store's write-ahead log. */
	r = acfs_store_sync(fs->d->store);
	if (r < 0)
		acfs_log(LOG_ERR, "fsync: syncing the store %s failed: %s",
			 fs->d->store_dir, strerror(-r));
	fs_reply_err(req, r);
}

static void acfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	acfs_fsync(req, ino, datasync, fi);
}

static void acfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct acfs_fs *fs = FS(req);

	if (parent == INO_TMP) {
		pthread_mutex_lock(&fs->itab_lock);
		struct inode *in = tmp_find_locked(fs, name);
		if (in)
			tmp_unlink_locked(fs, in);
		pthread_mutex_unlock(&fs->itab_lock);
		fs_reply_err(req, in ? 0 : -ENOENT);
	} else if (gen_is_dir(fs, parent)) {
		gen_remove(req, parent, name, false);
	} else if (!fs_is_shard(parent)) {
		fs_reply_err(req, parent == INO_MONOMORPH ? -EPERM : -ENOTDIR);
	} else {
		fs_reply_err(req, fs_remove_entry(fs, (unsigned)(parent -
								INO_SHARD0),
						  name));
	}
}

static void acfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	struct acfs_fs *fs = FS(req);
	int r;

	bool from_gen = gen_is_dir(fs, parent) && !fs_fixed_name(parent, name);
	bool to_gen = gen_is_dir(fs, newparent);

	if (from_gen && to_gen) {
		gen_rename(req, parent, name, newparent, newname, flags);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		r = -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	} else if (from_gen || to_gen) {
		/* Entries and ordinary files are different worlds: mv(1)
		 * copies, which validates what enters monomorph/. */
		r = -EXDEV;
	} else if (parent == INO_TMP && newparent == INO_TMP) {
		r = fs_rename_in_tmp(fs, name, newname, flags);
	} else if (parent == INO_TMP && fs_is_shard(newparent)) {
		r = fs_rename_to_entry(fs, name,
				    (unsigned)(newparent - INO_SHARD0),
				    newname, flags);
	} else if (parent == INO_TMP && newparent == INO_MONOMORPH) {
		acfs_log(LOG_WARNING, "refused rename of tmp/%s to "
			 "monomorph/%s: entries live in shards 00..ff",
			 name, newname);
		r = -EINVAL;
	} else if (fs_is_shard(parent)) {
		/* Entries are immutable in place; mv(1) falls back to copy. */
		r = -EXDEV;
	} else {
		acfs_log(LOG_WARNING, "refused rename of %s to %s: only "
			 "tmp/ files can be renamed into monomorph/", name,
			 newname);
		r = -EPERM;
	}
	fs_reply_err(req, r);
}

static void acfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct acfs_fs *fs = FS(req);
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs->d->staging_dfd, &sv) < 0) {
		fs_reply_err(req, -errno);
		return;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void acfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct acfs_fs *fs = userdata;

	/* Every write must reach the daemon before close returns. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* O_TRUNC carried by OPEN saves a SETATTR, but with kernel hits OPEN
	 * is answered ENOSYS and the kernel would then truncate nothing: it
	 * must send the SETATTR instead. */
	if (fs->d->kernel_hits)
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	else if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void acfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	if (gen_is_dir(FS(req), parent) && !fs_fixed_name(parent, name))
		gen_mknod(req, parent, name, mode, rdev);
	else
		fs_reply_err(req, -EPERM);
}

static void acfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	if (gen_is_dir(FS(req), parent)) {
		gen_symlink(req, link, parent, name);
		return;
	}
	acfs_log(LOG_WARNING, "refused symlink %s: monomorph/ and tmp/ hold "
		 "regular files only", name);
	fs_reply_err(req, -EPERM);
}

static void acfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	if (gen_is_node(FS(req), ino))
		gen_readlink(req, ino);
	else
		fs_reply_err(req, -EINVAL);
}

static void acfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	struct acfs_fs *fs = FS(req);

	if (gen_is_node(fs, ino) && gen_is_dir(fs, newparent))
		gen_link(req, ino, newparent, newname);
	else
		fs_reply_err(req, gen_is_node(fs, ino) || gen_is_dir(fs, newparent)
				       ? -EXDEV
				       : -EPERM);
}

const struct fuse_lowlevel_ops acfs_ops = {
	.init = acfs_init,
	.lookup = acfs_lookup,
	.forget = acfs_forget,
	.forget_multi = acfs_forget_multi,
	.getattr = acfs_getattr,
	.setattr = acfs_setattr,
	.mkdir = acfs_mkdir,
	.mknod = acfs_mknod,
	.symlink = acfs_symlink,
	.readlink = acfs_readlink,
	.link = acfs_link,
	.rmdir = acfs_rmdir,
	.unlink = acfs_unlink,
	.rename = acfs_rename,
	.create = acfs_create,
	.open = acfs_open,
	.read = acfs_read,
	.write = acfs_write,
	.flush = acfs_flush,
	.release = acfs_release,
	.fsync = acfs_fsync,
	.fsyncdir = acfs_fsyncdir,
	.readdir = acfs_readdir,
	.statfs = acfs_statfs,
	.access = acfs_access,
	.setxattr = acfs_setxattr,
	.getxattr = acfs_getxattr,
	.listxattr = acfs_listxattr,
	.removexattr = acfs_removexattr,
};
