/* SPDX-License-Identifier: MIT */
/*
 * The general tree: ordinary files, directories and symlinks that live
 * beside monomorph/ and tmp/ (the build tool's other caches, such as glob
 * manifests), in the same RocksDB store. Each call that changes anything
 * is one atomic write, so a crash leaves every rename, unlink, mkdir and
 * write either done or not done.
 *
 * Column families (store.h lists the others):
 *   gnodes    ino(8)                -> the inode record
 *   gdirents  parent(8) + name      -> child ino(8) + cookie(8)
 *   gcookies  parent(8) + cookie(8) -> name   (readdir order: a cookie
 *                                     never changes while the name exists,
 *                                     so offsets are stable whatever is
 *                                     added or removed meanwhile)
 *   gdata     ino(8) + block(8)     -> up to ACFS_TREE_BLOCK bytes (absent
 *                                     blocks read as zeros: sparse files)
 *   gorphans  ino(8)                -> ""  (unlinked while still open;
 *                                     dropped at the last close, or at the
 *                                     next open of the store)
 * Inode numbers come from the store's id counter (never reused), so they
 * never collide with entry versions. Directory ACFS_TREE_ROOT is the mount
 * root: it has no record; its children are the general names beside
 * monomorph/ and tmp/.
 *
 * Errors are POSIX: -ENOENT, -EEXIST, -ENOTDIR, -EISDIR, -ENOTEMPTY,
 * -EINVAL (a directory into itself), -EMLINK, -ENOSPC, -EIO.
 */
#ifndef ACFS_TREE_H
#define ACFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "acfs/store.h"

#define ACFS_TREE_ROOT 1
#define ACFS_TREE_BLOCK 65536
/* The largest size of an ordinary file, by write or by truncate (EFBIG). */
#define ACFS_TREE_MAX_SIZE ((uint64_t)1 << 40)
#define ACFS_TREE_NAME_MAX 255
/* Extended attributes of ordinary files and directories (user.*, as
 * ext4 keeps them): names up to 255 bytes, values up to 64 KiB. */
#define ACFS_TREE_XATTR_NAME_MAX 255
#define ACFS_TREE_XATTR_SIZE_MAX 65536
#define ACFS_TREE_XATTR_CREATE 1  /* XATTR_CREATE: -EEXIST if set */
#define ACFS_TREE_XATTR_REPLACE 2 /* XATTR_REPLACE: -ENODATA if not */

struct acfs_gnode {
	uint64_t ino;
	uint32_t mode;        /* S_IFREG / DIR / LNK / FIFO / SOCK / CHR / BLK
				 | permissions */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size;
	uint64_t stored;      /* bytes in data blocks (st_blocks) */
	int64_t atime_ns, mtime_ns, ctime_ns;
	uint64_t parent;      /* directories: their parent; device nodes:
				 their device number (rdev) */
};

/* Counters of the general tree (not part of the entries' budget). */
struct acfs_tree_counters {
	uint64_t files;       /* inodes of any type */
	uint64_t bytes;       /* sum of regular files' stored bytes (a sparse
				 file counts what it holds, not its size) */
	uint64_t root_dirs;   /* directories directly in the root (its nlink) */
};

int acfs_tree_get(struct acfs_store *s, uint64_t ino, struct acfs_gnode *ret);
int acfs_tree_lookup(struct acfs_store *s, uint64_t parent, const char *name,
		     struct acfs_gnode *ret);

/*
 * Creates @name in @parent: a regular file, a directory, a symlink to
 * @target (S_IFLNK), a FIFO, a socket, or a character or block device
 * numbered @rdev (kept, never opened here: the mount is nodev). @mode
 * includes the type; another type is -EINVAL.
 */
int acfs_tree_create(struct acfs_store *s, uint64_t parent, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid,
		     const char *target, uint64_t rdev, int64_t now_ns,
		     struct acfs_gnode *ret);

/* A hard link @newparent/@newname to file @ino. */
int acfs_tree_link(struct acfs_store *s, uint64_t ino, uint64_t newparent,
		   const char *newname, int64_t now_ns,
		   struct acfs_gnode *ret);

/*
 * Removes @name from @parent (@dir: rmdir, else unlink). An inode left with
 * no link is dropped with its data, or kept as an orphan while @in_use
 * says it is open (acfs_tree_drop then frees it).
 */
int acfs_tree_remove(struct acfs_store *s, uint64_t parent, const char *name,
		     bool dir, acfs_in_use_fn in_use, void *userdata,
		     int64_t now_ns);

/*
 * rename(2) with RENAME_NOREPLACE (@noreplace): over an existing target of
 * the same kind (a directory only if empty); a directory never into its
 * own subtree. A replaced inode is handled as by acfs_tree_remove.
 */
int acfs_tree_rename(struct acfs_store *s, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname, bool noreplace,
		     acfs_in_use_fn in_use, void *userdata, int64_t now_ns);

/* What acfs_tree_setattr changes. */
#define ACFS_TREE_SET_MODE  0x01
#define ACFS_TREE_SET_UID   0x02
#define ACFS_TREE_SET_GID   0x04
#define ACFS_TREE_SET_SIZE  0x08
#define ACFS_TREE_SET_ATIME 0x10
#define ACFS_TREE_SET_MTIME 0x20

/*
 * Extended attributes of inode @ino: get (a malloc'd copy; -ENODATA),
 * list (names, each ended by a NUL, malloc'd), set (@flags: the
 * ACFS_TREE_XATTR_* above; the inode's ctime changes), remove (-ENODATA).
 * Each returns 0 or -errno; they go with the inode.
 */
int acfs_tree_xattr_get(struct acfs_store *s, uint64_t ino, const char *name,
			void **ret, size_t *ret_len);
int acfs_tree_xattr_list(struct acfs_store *s, uint64_t ino, char **ret,
			 size_t *ret_len);
int acfs_tree_xattr_set(struct acfs_store *s, uint64_t ino, const char *name,
			const void *val, size_t len, int flags, int64_t now_ns);
int acfs_tree_xattr_remove(struct acfs_store *s, uint64_t ino, const char *name,
			   int64_t now_ns);

int acfs_tree_setattr(struct acfs_store *s, uint64_t ino, unsigned what,
		      const struct acfs_gnode *val, int64_t now_ns,
		      struct acfs_gnode *ret);

/* Reads up to @size bytes at @off into @buf; returns the count or -errno. */
ssize_t acfs_tree_read(struct acfs_store *s, uint64_t ino, uint64_t off,
		       size_t size, void *buf);
/* Writes @size bytes at @off (one atomic write); returns @size or -errno. */
ssize_t acfs_tree_write(struct acfs_store *s, uint64_t ino, uint64_t off,
			const void *buf, size_t size, int64_t now_ns);

/*
 * Calls @fn for each name in directory @dir whose cookie is above @after,
 * in cookie order, until @fn returns non-zero (returned as is).
 */
typedef int (*acfs_tree_dirent_fn)(const char *name, uint64_t ino,
				   uint32_t mode, uint64_t cookie,
				   void *userdata);
int acfs_tree_readdir(struct acfs_store *s, uint64_t dir, uint64_t after,
		      acfs_tree_dirent_fn fn, void *userdata);

/* Frees orphan @ino (unlinked, now closed). */
int acfs_tree_drop(struct acfs_store *s, uint64_t ino);

void acfs_tree_get_counters(struct acfs_store *s,
			    struct acfs_tree_counters *ret);

/*
 * --evict-general: removes regular files, least recently modified first,
 * every name of each, until @bytes are freed (or none is left). Scans the
 * tree (these are few next to entries). Counts what went in *ret_files
 * and *ret_bytes.
 */
int acfs_tree_evict(struct acfs_store *s, uint64_t bytes,
		    acfs_in_use_fn in_use, void *userdata, int64_t now_ns,
		    uint64_t *ret_files, uint64_t *ret_bytes);

#endif
