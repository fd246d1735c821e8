/* SPDX-License-Identifier: MIT */
/*
 * What stat(2) shows of the fixed directories, entries and staged files,
 * and the replies that carry it (lookup of a directory, an absence).
 */
#include <stdio.h>
#include <string.h>

#include "acfs/tree.h"
#include "cachefs.h"

void fs_dir_attr(struct acfs_fs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | fs->dir_mode;
	/* Exact link counts: find(1) relies on them. */
	st->st_nlink = ino == INO_ROOT ? 4 : ino == INO_MONOMORPH ? 258 : 2;
	if (ino == INO_ROOT) {
		/* Directories of the general tree beside monomorph and tmp. */
		struct acfs_tree_counters tc;
		acfs_tree_get_counters(fs->d->store, &tc);
		st->st_nlink += (nlink_t)tc.root_dirs;
	}
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs_timespec(fs->d->start_ns);
}

/* Caller holds in->lock. */
void fs_file_attr_locked(struct acfs_fs *fs, struct inode *in,
			     struct stat *st)
{
	FS_ASSERT_HELD(&in->lock);
	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = S_IFREG | in->mode;
	st->st_nlink = 1;
	/* Entries belong to the mount's owner; a temp file (or a direct
	 * create) to whoever made it, so default_permissions lets its maker
	 * write it and keeps others out. */
	st->st_uid = in->type == INODE_ENTRY ? fs->uid : in->uid;
	st->st_gid = in->type == INODE_ENTRY ? fs->gid : in->gid;
	st->st_size = (off_t)in->size;
	st->st_blksize = 4096;
	/* du(1) tells the truth: entries count the bytes the store keeps. */
	st->st_blocks = (blkcnt_t)(((in->type == INODE_ENTRY ? in->stored
							      : in->size) +
				    511) / 512);
	st->st_atim = fs_timespec(in->atime_ns);
	st->st_mtim = fs_timespec(in->mtime_ns);
	st->st_ctim = fs_timespec(in->ctime_ns);
}

void fs_file_attr(struct acfs_fs *fs, struct inode *in, struct stat *st)
{
	pthread_mutex_lock(&in->lock);
	fs_file_attr_locked(fs, in, st);
	pthread_mutex_unlock(&in->lock);
}

/* Caller holds in->lock. */
double fs_attr_timeout(struct acfs_fs *fs, struct inode *in)
{
	/* Temp files change size as they are written; entries only atime.
	 * With kernel-served hits an expired attribute would cost each
	 * hit's stat a GETATTR: the kernel keeps them (ls -lu then shows
	 * the last use as of the lookup; aria-cache ls the exact one). */
	if (in->type != INODE_ENTRY)
		return 0.0;
	return fs->d->kernel_hits ? fs->entry_timeout : ENTRY_ATTR_TIMEOUT;
}

void fs_reply_dir_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { 0 };

	e.ino = ino;
	e.attr_timeout = e.entry_timeout = FS(req)->entry_timeout;
	fs_dir_attr(FS(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

void fs_reply_negative(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e = { 0 };

	e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

/*
 * Names @in for a log line: "tmp/NAME" or the entry's path. Caller holds
 * in->lock (type and key are stable); a tmp name is copied under itab_lock.
 */
void fs_describe_locked(struct acfs_fs *fs, struct inode *in, char *buf,
			    size_t len)
{
	FS_ASSERT_HELD(&in->lock);
	if (in->type == INODE_TMP) {
		pthread_mutex_lock(&fs->itab_lock);
		snprintf(buf, len, "tmp/%s", in->name ? in->name : "?");
		pthread_mutex_unlock(&fs->itab_lock);
	} else {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&in->key, path);
		snprintf(buf, len, "%s", path);
	}
}
