/* SPDX-License-Identifier: MIT */
/*
 * The commit pipeline: a staged file becomes entry KEY. Validate (LLVM in
 * a helper process, or JSON for .meta) -> encode and apply in one RocksDB
 * batch (acfs_store_commit, under ns_lock exclusive) -> retire the version
 * it replaced, queue uploads, wake eviction. Commits come from rename
 * (tmp/ -> a shard), from the close of a direct create, and from remote
 * fetches. Bytes of commits in flight are bounded by --max-loaded
 * (fs_commit_gate). Entry removal (unlink) is here too: it retires a
 * version the same way.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <syslog.h>
#include <unistd.h>

#include "cachefs.h"

/*
 * Checks what is about to become entry @key: bitcode to --validate depth
 * (and --target), .meta as JSON. On success *ret_info is what the store
 * keeps beside the entry (malloc'd, or NULL). A refusal is -EINVAL for the
 * caller, with the key and LLVM's reason in the log.
 */
static int validate(struct acfs_daemon *d, const struct acfs_key *key,
		    const void *buf, size_t len, const char *origin,
		    const void **ret_info, size_t *ret_len)
{
	char err[ACFS_ERR_MAX] = "", path[ACFS_KEY_PATH_MAX];
	void *enc = NULL;
	int r = 0;

	*ret_info = NULL;
	*ret_len = 0;
	if (d->validate == ACFS_VALIDATE_NONE)
		return 0;
	int64_t t0 = acfs_now_ns();
	if (key->kind == ACFS_KIND_META) {
		r = acfs_json_check(buf, len, err);
	} else {
		/* LLVM runs in a helper process: it aborts on some inputs. */
		r = acfs_validator_check(d->validator, buf, len, d->validate,
					 d->target, &enc, ret_len, err);
		*ret_info = enc;
	}
	acfs_histogram_observe(&d->latency[ACFS_LAT_VALIDATE],
			       acfs_now_ns() - t0);
	if (r < 0) {
		acfs_key_format_path(key, path);
		acfs_log(LOG_WARNING, "refused commit of %s (%zu bytes%s%s): %s",
			 path, len, origin ? " from remote " : "",
			 origin ? origin : "", err[0] ? err : strerror(-r));
		acfs_store_count(d->store, ACFS_STAT_REJECTED, 1);
		return r == -ENOMEM ? r : -EINVAL;
	}
	return 0;
}

static bool looks_like_bitcode(const unsigned char *p, uint64_t n)
{
	static const unsigned char raw[4] = { 'B', 'C', 0xC0, 0xDE };
	static const unsigned char wrapper[4] = { 0xDE, 0xC0, 0x17, 0x0B };

	return n >= 4 && (!memcmp(p, raw, 4) || !memcmp(p, wrapper, 4));
}

/*
 * A temp file's commit, prepared when its writer closed it. The compiler
 * writes tmp/X, closes it and renames it into a shard; the kernel holds
 * tmp/'s lock (and the shard's) across the RENAME, so every other store
 * waits for the one renaming. Validation, compression and the digest done
 * at close run beside the other writers instead; the rename then only
 * writes. Kept while the bytes stay unchanged (wgen); its bytes count in
 * the staging budget.
 */
void fs_prepare_at_close(struct acfs_fs *fs, struct inode *in)
{
	struct acfs_daemon *d = fs->d;
	char err[ACFS_ERR_MAX] = "";
	struct fs_prepared *p;
	int r = 0;

	pthread_mutex_lock(&in->lock);
	/* Only bitcode staged in memory: what the compiler renames into a
	 * shard next. Anything else is checked at its rename, as before. */
	if (in->type != INODE_TMP || in->stage_fd >= 0 || !in->written ||
	    (in->prep && in->prep->wgen == in->wgen) ||
	    !looks_like_bitcode((const unsigned char *)in->stage_mem,
				in->size))
		goto out;
	fs_prepared_free(d, in);
	if (__atomic_add_fetch(&d->stage_mem_bytes, in->size,
			       __ATOMIC_RELAXED) > d->stage_mem_max ||
	    !(p = calloc(1, sizeof(*p)))) {
		__atomic_sub_fetch(&d->stage_mem_bytes, in->size,
				   __ATOMIC_RELAXED);
		goto out;
	}
	p->charged = in->size;
	p->wgen = in->wgen;
	if (d->validate != ACFS_VALIDATE_NONE) {
		int64_t t0 = acfs_now_ns();
		r = acfs_validator_check(d->validator, in->stage_mem, in->size,
					 d->validate, d->target, &p->info,
					 &p->info_len, err);
		acfs_histogram_observe(&d->latency[ACFS_LAT_VALIDATE],
				       acfs_now_ns() - t0);
	}
	if (r == 0)
		r = acfs_store_encode(d->store, in->stage_mem, in->size,
				      &p->enc, err);
	if (r < 0) {
		/* The rename checks again, and says why with the key. */
		in->prep = p;
		fs_prepared_free(d, in);
		goto out;
	}
	in->prep = p;
out:
	pthread_mutex_unlock(&in->lock);
}

static void unmap_staged(struct acfs_daemon *d, struct inode *in, char *buf)
{
	if (in->size && in->stage_fd >= 0)
		munmap(buf, in->size);
	fs_commit_gate(d, in->size, false);
}

/*
 * acfs_store_commit, waiting for eviction while the store is over budget.
 * Compression, the digest and the space check run first, outside the
 * namespace lock: lookups wait only for the write itself.
 */
static int store_commit(struct acfs_daemon *d, struct acfs_commit *c,
			const struct acfs_encoded *pre, struct acfs_entry *ent,
			struct acfs_entry *old, bool *kept, char *err)
{
	struct acfs_encoded enc = { 0 };
	int r = pre ? acfs_store_room(d->store, pre->vlen, 2, true, err)
		    : acfs_store_encode(d->store, c->data, c->size, &enc, err);

	if (r < 0)
		return r;
	c->enc = pre ? pre : &enc;
	for (int tries = 0;; tries++) {
		pthread_rwlock_wrlock(&d->ns_lock);
		r = acfs_store_commit(d->store, c, ent, old, kept, err);
		pthread_rwlock_unlock(&d->ns_lock);
		if (r != -EAGAIN)
			break;
		if (tries == 3) {
			/* Eviction ran and could not make room: what is
			 * left is pinned. */
			snprintf(err, ACFS_ERR_MAX, "the store is over its "
				 "%llu-byte budget and eviction cannot free "
				 "space (pinned entries?); unpin or raise "
				 "--max-size", (unsigned long long)d->max_size);
			r = -ENOSPC;
			break;
		}
		fs_lru_wait_room(d);
	}
	c->enc = NULL;
	acfs_encoded_free(&enc);
	return r;
}

int fs_commit_fetched(struct acfs_daemon *d, const struct acfs_key *key,
		      const void *data, size_t len, const char *origin)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	struct acfs_commit c = { 0 };
	struct acfs_entry ent, old;
	bool kept = false;
	int r;

	acfs_key_format_path(key, path);
	if (len > d->max_entry_size) {
		acfs_log(LOG_WARNING, "refused %s from remote %s: %zu bytes, "
			 "over --max-entry-size", path, origin, len);
		return -EFBIG;
	}
	r = validate(d, key, data, len, origin, &c.info, &c.info_len);
	if (r < 0)
		return r;
	c.key = *key;
	c.id = acfs_store_alloc_id(d->store);
	c.data = data;
	c.size = len;
	c.now_ns = acfs_now_ns();
	c.noreplace = true; /* a local commit meanwhile wins */
	c.in_use = inode_in_use;
	c.userdata = d;
	if (!c.id) {
		free((void *)c.info);
		return -EIO;
	}
	r = store_commit(d, &c, NULL, &ent, &old, &kept, err);
	free((void *)c.info);
	if (r == -EEXIST)
		return 0;
	if (r < 0) {
		acfs_log(LOG_ERR, "commit of %s from remote %s failed: %s",
			 path, origin, err);
		return r;
	}
	if (fs_over_budget(d))
		fs_lru_kick(d);
	/* Another mount may have answered "absent" meanwhile. Queued: the
	 * lookup that asked for it holds its directory in the kernel until
	 * this fetch ends. With one mount, that lookup answers the entry
	 * itself (prefetch drops dentries on its own). */
	if (__atomic_load_n(&d->nmounts, __ATOMIC_RELAXED) > 1)
		fs_invalidate_mounts(d, NULL, key);
	return 0;
}

/*
 * Turns staged inode @in (locked by the caller) into the committed version
 * of @key. @what names the operation for logs.
 */
static int commit_locked(struct acfs_fs *fs, struct inode *in,
			 const struct acfs_key *key, bool noreplace)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	struct acfs_entry old, ent;
	bool kept = false;
	struct acfs_commit c = { 0 };
	char *buf;
	int r;
	int64_t t0 = acfs_now_ns();

	FS_ASSERT_HELD(&in->lock);
	acfs_key_format_path(key, path);
	/* Bytes staged in a file are read through a mapping (page cache,
	 * not daemon memory); the in->lock held keeps them from changing. */
	fs_commit_gate(fs->d, in->size, true);
	if (!in->size)
		buf = (char *)"";
	else if (in->stage_fd < 0)
		buf = in->stage_mem;
	else
		buf = mmap(NULL, in->size, PROT_READ, MAP_SHARED,
			   in->stage_fd, 0);
	if (buf == MAP_FAILED) {
		r = -errno;
		acfs_log(LOG_ERR, "commit of %s: mapping %llu staged bytes: %s",
			 path, (unsigned long long)in->size, strerror(-r));
		fs_commit_gate(fs->d, in->size, false);
		return r;
	}
	struct fs_prepared *prep = in->prep && in->prep->wgen == in->wgen
					   ? in->prep : NULL;
	if (prep && key->kind == ACFS_KIND_BC) {
		c.info = prep->info; /* prep keeps it */
		c.info_len = prep->info_len;
		r = 0;
	} else {
		r = validate(fs->d, key, buf, in->size, NULL, &c.info,
			     &c.info_len);
	}
	if (r < 0) {
		unmap_staged(fs->d, in, buf);
		return r;
	}
	c.key = *key;
	c.id = in->ino;
	c.data = buf;
	c.size = in->size;
	c.now_ns = acfs_now_ns();
	c.noreplace = noreplace;
	c.in_use = inode_in_use;
	c.userdata = fs->d;
	uint64_t upload_to[fs_remote_count(fs->d) + 1];
	uint64_t full[fs_remote_count(fs->d) + 1];
	c.upload_to = upload_to;
	c.dropped_for = full;
	c.nupload = fs_remote_upload_targets(fs->d, key, upload_to, full,
					     &c.ndropped);

	r = store_commit(fs->d, &c, prep ? &prep->enc : NULL, &ent, &old,
			 &kept, err);
	if (r == 0)
		fs_remote_queued(fs->d, upload_to, c.nupload);
	unmap_staged(fs->d, in, buf);
	if (!prep || c.info != prep->info)
		free((void *)c.info);
	if (r == -EEXIST)
		return r;
	if (r < 0) {
		acfs_log(LOG_ERR, "commit of %s failed: %s", path, err);
		acfs_store_count(fs->d->store, ACFS_STAT_REJECTED, 1);
		return r;
	}
	if (fs_over_budget(fs->d))
		fs_lru_kick(fs->d);
	inode_retired(fs->d, old.id, kept);
	/* The other mounts' kernels may hold "absent" or the version
	 * replaced (this one's is moved by the rename, or was a pending
	 * create's). */
	fs_invalidate_mounts_now(fs->d, fs, key);
	__atomic_add_fetch(&fs->stores, 1, __ATOMIC_RELAXED);
	fs_stage_free(fs->d, in);
	__atomic_store_n(&in->type, INODE_ENTRY, __ATOMIC_RELAXED);
	in->key = *key;
	in->mode = 0444;
	in->atime_ns = in->mtime_ns = in->ctime_ns = c.now_ns;
	in->stored = ent.stored;
	memcpy(in->digest, ent.digest, sizeof(in->digest));
	acfs_trace(fs->d, "store", key, in->size, t0);
	acfs_histogram_observe(&fs->d->latency[ACFS_LAT_STORE],
			       acfs_now_ns() - t0);
	acfs_log(LOG_DEBUG, "committed %s (%llu bytes, version %llu)", path,
		 (unsigned long long)in->size, (unsigned long long)in->ino);
	return 0;
}

/*
 * A temp file opened read-write may be mapped shared and written through
 * the mapping (LLVM's FileOutputBuffer does): its dirty pages are in the
 * kernel's cache, not here, until writeback, and a rename while the
 * mapping lives would commit the bytes from before. So the kernel is
 * asked to drop the file's pages first: it writes the dirty ones back
 * (WRITE requests, served by other threads) before it drops them, and
 * the commit then has every byte. No lock of ours is held meanwhile.
 * Fails the rename (-EIO) if the kernel could not do it.
 */
static int writeback_mapped(struct acfs_fs *fs, struct inode *in)
{
	if (!__atomic_load_n(&in->rw_opened, __ATOMIC_RELAXED))
		return 0;
	int r = fuse_lowlevel_notify_inval_inode(fs->se, in->ino, 0, 0);
	if (r < 0 && r != -ENOENT) {
		acfs_log(LOG_ERR, "rename of tmp inode %llu: the kernel did "
			 "not write back its cached pages (%s); refused, so "
			 "that no bytes but those written are committed",
			 (unsigned long long)in->ino, strerror(-r));
		return -EIO;
	}
	return 0;
}

int fs_rename_to_entry(struct acfs_fs *fs, const char *name,
			   unsigned shard, const char *newname, unsigned flags)
{
	struct acfs_key key;
	struct inode *src;
	int r;

	if (acfs_key_parse_name(shard, newname, &key) < 0) {
		acfs_log(LOG_WARNING,
			 "refused rename of tmp/%s to monomorph/%02x/%s: "
			 "entries are named <14 lowercase hex>.bc or .meta",
			 name, shard, newname);
		return -EINVAL;
	}
	pthread_mutex_lock(&fs->itab_lock);
	src = tmp_find_locked(fs, name);
	pthread_mutex_unlock(&fs->itab_lock);
	if (!src)
		return -ENOENT;
	if ((r = writeback_mapped(fs, src)) < 0)
		return r;

	pthread_mutex_lock(&src->lock);
	if (src->type != INODE_TMP) {
		r = -ENOENT;
	} else {
		r = commit_locked(fs, src, &key,
				  (flags & RENAME_NOREPLACE) != 0);
	}
	pthread_mutex_unlock(&src->lock);
	if (r == 0) {
		pthread_mutex_lock(&fs->itab_lock);
		if (src->in_tmp)
			tmp_unlink_locked(fs, src);
		pthread_mutex_unlock(&fs->itab_lock);
	}
	return r;
}

int fs_commit_at_flush(struct acfs_fs *fs, struct inode *in, pid_t tid)
{
	int r = 0;

	pthread_mutex_lock(&in->lock);
	/* Shells open, dup2 and close the original fd before writing: a
	 * flush with nothing written yet must not commit an empty entry.
	 * What no flush committed is committed at the last release. */
	/* A child that inherited the fd and exits also flushes: only the
	 * process that wrote commits before its close returns, and only if
	 * no other process still holds the file: in `{ head; tail; } > f`
	 * head's close is not the end of the writing; the shell's, after
	 * tail exited (the writer is gone), is, and commits then rather
	 * than at the RELEASE that follows close's return. */
	if (in->type == INODE_PENDING && in->written && !in->failed &&
	    in->writer_tgid != 0 &&
	    (fs_tgid_of(tid) == in->writer_tgid ||
	     (kill(in->writer_tgid, 0) < 0 && errno == ESRCH)) &&
	    !fs_held_elsewhere(fs, in)) {
		/* The close that ends the writing is a death by a signal
		 * (kill -9 mid-write): what was left may be half a file. It
		 * is never committed, whatever the validation level. */
		if (fs_killed_by_signal(tid)) {
			char path[ACFS_KEY_PATH_MAX];
			acfs_key_format_path(&in->key, path);
			acfs_log(LOG_WARNING, "%s: its writer (pid %d) was "
				 "killed by a signal before it closed the "
				 "file; what it wrote is dropped, not "
				 "committed", path, (int)fs_tgid_of(tid));
			in->failed = true;
		} else {
			r = commit_locked(fs, in, &in->key, false);
			if (r == 0)
				pending_remove(fs, in);
			else
				in->failed = true;
		}
	}
	pthread_mutex_unlock(&in->lock);
	return r;
}

void fs_commit_at_release(struct acfs_fs *fs, struct inode *in)
{
	pthread_mutex_lock(&fs->itab_lock);
	bool last = in->nopen == 1;
	pthread_mutex_unlock(&fs->itab_lock);
	pthread_mutex_lock(&in->lock);
	if (last && in->type == INODE_PENDING) {
		/* Errors here reach nobody; commit_locked logs them. */
		if (!in->failed)
			commit_locked(fs, in, &in->key, false);
		pending_remove(fs, in);
	}
	pthread_mutex_unlock(&in->lock);
}

/*
 * Kernel mode: the last close of direct create @key in @fs, seen as an
 * inotify IN_CLOSE_WRITE (housekeeping/uses.c). Once the kernel stopped
 * sending OPEN it sends neither FLUSH nor RELEASE, not even for created
 * files: this event is the close. It comes for every open file
 * description: while another still holds the file, the writing goes on.
 * A writer killed by a signal leaves what may be half a file: never
 * committed, whatever the validation level (fs_writer_fate).
 */
void fs_commit_closed(struct acfs_fs *fs, const struct acfs_key *key)
{
	struct inode *in = pending_get(fs, key);
	char path[ACFS_KEY_PATH_MAX], why[200];
	bool unpin = false;

	if (!in)
		return; /* committed already, or not a direct create */
	if (fs_held_elsewhere(fs, in)) {
		inode_close(fs, in);
		return;
	}
	acfs_key_format_path(key, path);
	pthread_mutex_lock(&in->lock);
	if (in->type == INODE_PENDING) {
		if (!in->failed && in->written &&
		    fs_writer_fate(in, why, sizeof(why)) != 1) {
			acfs_log(LOG_WARNING, "%s: %s; what it wrote is "
				 "dropped, not committed", path, why);
			in->failed = true;
		}
		/* Errors here reach nobody; commit_locked logs them. */
		if (!in->failed)
			commit_locked(fs, in, &in->key, false);
		pending_remove(fs, in);
	}
	unpin = in->close_pin;
	in->close_pin = false;
	pthread_mutex_unlock(&in->lock);
	if (unpin)
		inode_close(fs, in);
	inode_close(fs, in);
}

int fs_remove_entry(struct acfs_fs *fs, unsigned shard, const char *name)
{
	char err[ACFS_ERR_MAX] = "";
	struct acfs_entry old;
	struct acfs_key key;
	bool kept = false;
	int r;

	if (acfs_key_parse_name(shard, name, &key) < 0)
		return -ENOENT;
	pthread_rwlock_wrlock(&fs->d->ns_lock);
	r = acfs_store_remove(fs->d->store, &key, 0, inode_in_use, fs->d, &old,
			      &kept, err);
	pthread_rwlock_unlock(&fs->d->ns_lock);
	if (r == 0) {
		inode_retired(fs->d, old.id, kept);
		fs_invalidate_mounts_now(fs->d, fs, &key);
	} else if (r != -ENOENT) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&key, path);
		acfs_log(LOG_ERR, "unlink of %s failed: %s", path, err);
	}
	return r;
}
