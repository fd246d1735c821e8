/* SPDX-License-Identifier: MIT */
/* GETATTR, SETATTR and ACCESS: attributes of every inode but the general
 * tree's (tree/general.c). Entries take new times only; staged files also
 * a size and a mode. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "cachefs.h"

void acfs_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct stat st;
	struct inode *in;

	(void)fi;
	if (fs_is_dir(ino)) {
		fs_dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, fs->entry_timeout);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		fs_reply_err(req, -ENOENT);
		return;
	}
	if (inode_type(in) == INODE_GENERAL) {
		gen_getattr(req, ino);
		return;
	}
	pthread_mutex_lock(&in->lock);
	fs_file_attr_locked(fs, in, &st);
	double t = fs_attr_timeout(fs, in);
	pthread_mutex_unlock(&in->lock);
	fuse_reply_attr(req, &st, t);
}

/* The time to set (ACFS_TIME_KEEP: none), or -EOVERFLOW for one that
 * an int64 of nanoseconds cannot hold. */
static int time_to_set(const struct stat *attr, int to_set, int bit,
		       int now_bit, bool atime, int64_t now, int64_t *ret_ns)
{
	*ret_ns = ACFS_TIME_KEEP;
	if (to_set & now_bit)
		*ret_ns = now;
	else if (to_set & bit)
		return fs_timespec_ns(atime ? &attr->st_atim : &attr->st_mtim,
				      ret_ns);
	return 0;
}

static int setattr_file(struct acfs_fs *fs, struct inode *in,
			struct stat *attr, int to_set)
{
	int64_t now = acfs_now_ns(), at, mt;
	char path[ACFS_KEY_PATH_MAX];
	int r = 0;

	if (time_to_set(attr, to_set, FUSE_SET_ATTR_ATIME,
			FUSE_SET_ATTR_ATIME_NOW, true, now, &at) < 0 ||
	    time_to_set(attr, to_set, FUSE_SET_ATTR_MTIME,
			FUSE_SET_ATTR_MTIME_NOW, false, now, &mt) < 0) {
		acfs_log(LOG_WARNING, "refused a time outside 1677-2262 for "
			 "inode %lu: it does not fit in 64-bit nanoseconds",
			 (unsigned long)in->ino);
		return -EOVERFLOW;
	}

	if (in->type == INODE_ENTRY) {
		acfs_key_format_path(&in->key, path);
		if (to_set & FUSE_SET_ATTR_SIZE) {
			acfs_log(LOG_WARNING,
				 "refused truncate of %s: committed entries "
				 "are immutable; replace them by rename",
				 path);
			return -EACCES;
		}
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID)) {
			acfs_log(LOG_WARNING,
				 "refused chmod/chown of %s: entries have "
				 "fixed modes", path);
			return -EPERM;
		}
		if (at != ACFS_TIME_KEEP || mt != ACFS_TIME_KEEP) {
			r = acfs_store_set_times(fs->d->store, &in->key, in->ino,
						 at, mt);
			/* -ENOENT: replaced or removed meanwhile; the old
			 * version's times live only in memory now. */
			if (r < 0 && r != -ENOENT) {
				acfs_log(LOG_ERR, "setting times of %s: %s",
					 path, strerror(-r));
				return r;
			}
		}
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		r = fs_truncate_staged(fs, in, attr->st_size);
		if (r < 0)
			return r;
		in->mtime_ns = in->ctime_ns = now;
	}
	if (in->type != INODE_ENTRY && (to_set & FUSE_SET_ATTR_MODE))
		in->mode = attr->st_mode & 07777;
	if (at != ACFS_TIME_KEEP)
		in->atime_ns = at;
	if (mt != ACFS_TIME_KEEP)
		in->mtime_ns = mt;
	return 0;
}

void acfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;
	struct stat st;
	int r;

	(void)fi;
	if (fs_is_dir(ino)) {
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE)) {
			fs_reply_err(req, -EPERM);
			return;
		}
		fs_dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, fs->entry_timeout);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		fs_reply_err(req, -ENOENT);
		return;
	}
	if (inode_type(in) == INODE_GENERAL) {
		gen_setattr(req, ino, attr, to_set);
		return;
	}
	pthread_mutex_lock(&in->lock);
	r = setattr_file(fs, in, attr, to_set);
	fs_file_attr_locked(fs, in, &st);
	double t = fs_attr_timeout(fs, in);
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		fs_reply_err(req, r);
	else
		fuse_reply_attr(req, &st, t);
}

void acfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;
	int r = 0;

	if (!fs_is_dir(ino) && (mask & W_OK)) {
		in = inode_find(fs, ino);
		if (!in) {
			r = -ENOENT;
		} else {
			pthread_mutex_lock(&in->lock);
			if (in->type == INODE_ENTRY)
				r = -EACCES;
			pthread_mutex_unlock(&in->lock);
		}
	}
	fs_reply_err(req, r);
}
