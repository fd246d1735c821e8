/* SPDX-License-Identifier: MIT */
/*
 * Entries: lookup, open and read of monomorph/XX/NAME. A lookup reads the
 * store under ns_lock shared (read-through to the remotes on a miss) and
 * pins the version in the inode table; an open counts the hit and a read
 * serves the version's bytes, loaded once per open (load.c). A version's
 * bytes never change, so the kernel may cache them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "cachefs.h"

/*
 * A lookup answered @key from the store as it was at namespace change
 * @seq. If another mount committed or removed an entry since, its
 * invalidation of this mount may have reached the kernel before this
 * answer did, and the kernel would keep the answer: drop it once more
 * (the kernel takes the directory's lock for it, so this one comes after
 * the answer is in place).
 */
static void answered(struct acfs_fs *fs, const struct acfs_key *key,
		     uint64_t seq)
{
	if (__atomic_load_n(&fs->d->nmounts, __ATOMIC_RELAXED) > 1 &&
	    __atomic_load_n(&fs->d->ns_seq, __ATOMIC_ACQUIRE) != seq)
		fs_invalidate(fs, key);
}

/*
 * Kernel mode: a direct create commits at its close event (an inotify
 * IN_CLOSE_WRITE, queued before close(2) returns, read by the daemon
 * after). A lookup of a pending key that no process holds open any more
 * comes after that close: it reads the queued events and waits for the
 * commit (or the drop), so the entry is there for whoever looks once
 * close returned, as with a FLUSH. Bounded: the commit may wait for a
 * dying writer's status (fs_writer_fate).
 */
static void pending_settle(struct acfs_fs *fs, const struct acfs_key *key)
{
	for (int i = 0; i < 150 && pending_exists(fs, key); i++) {
		if (fs_key_held(fs, key))
			return; /* still being written: absent to others */
		/* Its close event is queued already: read it now. */
		fs_uses_apply(fs->d);
		if (pending_exists(fs, key))
			pending_wait(fs, key, 100);
	}
}

void fs_lookup_entry(fuse_req_t req, unsigned shard, const char *name)
{
	struct acfs_fs *fs = FS(req);
	struct fuse_entry_param e = { 0 };
	struct acfs_entry ent;
	struct acfs_key key;
	struct inode *in;
	int r;

	int64_t t0 = acfs_now_ns();

	if (acfs_key_parse_name(shard, name, &key) < 0) {
		fs_reply_negative(req, fs->neg_timeout);
		return;
	}
	if (fs->d->kernel_hits)
		pending_settle(fs, &key);
	pthread_rwlock_rdlock(&fs->d->ns_lock);
	r = acfs_store_get(fs->d->store, &key, &ent);
	uint64_t seq = __atomic_load_n(&fs->d->ns_seq, __ATOMIC_ACQUIRE);
	double neg_t = fs->neg_timeout;
	if (r == -ENOENT && fs->d->remote && !pending_exists(fs, &key)) {
		/* Read-through: the remotes get a bounded wait. */
		pthread_rwlock_unlock(&fs->d->ns_lock);
		r = fs_remote_fetch(fs->d, &key, &neg_t);
		pthread_rwlock_rdlock(&fs->d->ns_lock);
		seq = __atomic_load_n(&fs->d->ns_seq, __ATOMIC_ACQUIRE);
		r = r == 0 ? acfs_store_get(fs->d->store, &key, &ent) : -ENOENT;
	}
	if (r == -ENOENT) {
		/* A direct create of this name is being written: do not let
		 * the kernel remember "absent" past its commit. */
		double t = pending_exists(fs, &key) ? 0.0 : neg_t;
		pthread_rwlock_unlock(&fs->d->ns_lock);
		acfs_store_count(fs->d->store, ACFS_STAT_MISSES, 1);
		__atomic_add_fetch(&fs->misses, 1, __ATOMIC_RELAXED);
		fs_reply_negative(req, t);
		answered(fs, &key, seq);
		acfs_trace(fs->d, "miss", &key, 0, t0);
		return;
	}
	if (r < 0) {
		pthread_rwlock_unlock(&fs->d->ns_lock);
		acfs_log(LOG_ERR, "lookup of monomorph/%02x/%s failed: %s",
			 shard, name, strerror(-r));
		fs_reply_err(req, r);
		return;
	}
	in = inode_ref_entry(fs, &key, &ent);
	pthread_rwlock_unlock(&fs->d->ns_lock);
	if (!in) {
		fs_reply_err(req, -ENOMEM);
		return;
	}
	e.ino = in->ino;
	/* Replaced, removed and evicted versions are invalidated in every
	 * mount's kernel: the kernel may keep this one. A lookup is no use
	 * (stat, ls -l and indexers look up too): opens are (OPEN, or with
	 * --hit-mode=kernel the open events of housekeeping/uses.c). */
	e.entry_timeout = fs->entry_timeout;
	bool unwatched = __atomic_load_n(&fs->uses_unwatched, __ATOMIC_RELAXED);
	pthread_mutex_lock(&in->lock);
	if (unwatched) {
		/* Opens unseen: the lookup is the use, and repeats. */
		e.entry_timeout = UNWATCHED_ENTRY_TIMEOUT;
		fs_lru_note(fs, in);
	}
	e.attr_timeout = fs_attr_timeout(fs, in);
	fs_file_attr_locked(fs, in, &e.attr);
	pthread_mutex_unlock(&in->lock);
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(fs, in, 1);
	else
		answered(fs, &key, seq);
}

int fs_open_entry_locked(struct acfs_fs *fs, struct inode *in,
			 struct fuse_file_info *fi, bool writing, int64_t t0)
{
	int r = 0;

	FS_ASSERT_HELD(&in->lock);
	if (writing) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&in->key, path);
		acfs_log(LOG_WARNING, "refused writable open of %s: entries are "
			 "immutable; replace them by rename", path);
		r = -EACCES;
	}
	/* This version's bytes never change: keep the page cache, and a
	 * read-only close has nothing to flush. */
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (!writing) {
		fs_lru_note(fs, in);
		acfs_store_count(fs->d->store, ACFS_STAT_HITS, 1);
		__atomic_add_fetch(&fs->hits, 1, __ATOMIC_RELAXED);
		acfs_trace(fs->d, "hit", &in->key, in->size, t0);
		acfs_histogram_observe(&fs->d->latency[ACFS_LAT_HIT],
				       acfs_now_ns() - t0);
	}
	return r;
}

/* Caller holds in->lock; it is released here before the reply. */
void fs_read_entry(fuse_req_t req, struct acfs_fs *fs, struct inode *in,
		       size_t size, off_t off)
{
	int64_t t0 = acfs_now_ns();
	bool cold = !in->data;
	int r = fs_load_locked(fs, in);
	const char *data = in->data;
	size_t len = in->data_len;

	/* Kernel mode: the kernel serves warm hits alone; what the daemon
	 * can time is a hit's first read, which loads the entry. */
	if (r == 0 && cold && fs->d->kernel_hits)
		acfs_histogram_observe(&fs->d->latency[ACFS_LAT_HIT],
				       acfs_now_ns() - t0);

	if (r == 0) {
		in->drop_data = (uint64_t)off + size >= len;
		__atomic_store_n(&in->data_at, acfs_now_ns(), __ATOMIC_RELAXED);
	}

	/* The kernel may send RELEASE (and FORGET) as soon as it has the
	 * reply, before fuse_reply_buf returns here: hold the inode open so
	 * its bytes outlive the reply. */
	if (r == 0)
		inode_open(fs, in);
	pthread_mutex_unlock(&in->lock);
	if (r < 0) {
		fs_reply_err(req, r);
		return;
	}
	if ((uint64_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off,
			       size < len - (size_t)off ? size
							: len - (size_t)off);
	inode_close(fs, in);
}
