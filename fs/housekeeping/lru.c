/* SPDX-License-Identifier: MIT */
/*
 * Uses, eviction and kernel invalidations.
 *
 * Every lookup hit and open records a use in memory (no store write per
 * hit); the housekeeper thread persists them every flush_secs seconds in
 * one write, and evicts to the low watermark whenever a commit leaves the
 * store over budget. Evicted versions that the kernel still knows have
 * their dentries invalidated from a separate thread, which nothing waits
 * for: a handler that holds a directory lock in the kernel may be waiting
 * for eviction, and the invalidation needs that lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "acfs/tree.h"
#include "cachefs.h"

#define TOUCH_FLUSH_AT 65536

struct inval {
	fuse_ino_t parent;
	char name[ACFS_KEY_PATH_MAX];
	struct inval *next;
};

/* ---- recorded uses ------------------------------------------------------- */

static void flush_touches(struct acfs_fs *fs, struct acfs_touch *t, size_t n)
{
	int r = acfs_store_touch(fs->d->store, t, n);

	if (r < 0)
		acfs_log(LOG_WARNING, "could not persist %zu access times: %s",
			 n, strerror(-r));
}

void fs_lru_note(struct acfs_fs *fs, struct inode *in)
{
	struct acfs_touch *full = NULL;
	size_t n = 0;

	in->atime_ns = acfs_now_ns();
	pthread_mutex_lock(&fs->d->lru_lock);
	if (fs->d->ntouches == fs->d->touch_cap) {
		size_t cap = fs->d->touch_cap ? fs->d->touch_cap * 2 : 1024;
		struct acfs_touch *p = cap <= TOUCH_FLUSH_AT
			? realloc(fs->d->touches, cap * sizeof(*p)) : NULL;
		if (p) {
			fs->d->touches = p;
			fs->d->touch_cap = cap;
		} else {
			/* Full: this thread persists them (rare). */
			full = fs->d->touches;
			n = fs->d->ntouches;
			fs->d->touches = NULL;
			fs->d->ntouches = fs->d->touch_cap = 0;
		}
	}
	if (fs->d->ntouches < fs->d->touch_cap) {
		struct acfs_touch *t = &fs->d->touches[fs->d->ntouches++];
		t->key = in->key;
		t->id = in->ino;
		t->atime_ns = in->atime_ns;
	}
	pthread_mutex_unlock(&fs->d->lru_lock);
	if (full) {
		flush_touches(fs, full, n);
		free(full);
	}
}

void fs_lru_flush(struct acfs_fs *fs)
{
	struct acfs_touch *t;
	size_t n;

	pthread_mutex_lock(&fs->d->lru_lock);
	t = fs->d->touches;
	n = fs->d->ntouches;
	fs->d->touches = NULL;
	fs->d->ntouches = fs->d->touch_cap = 0;
	pthread_mutex_unlock(&fs->d->lru_lock);
	if (n)
		flush_touches(fs, t, n);
	free(t);
}

/* ---- eviction ---------------------------------------------------------- */

void fs_evict_batch_lock(bool lock, void *userdata)
{
	struct acfs_fs *fs = userdata;

	if (lock)
		pthread_rwlock_wrlock(&fs->d->ns_lock);
	else
		pthread_rwlock_unlock(&fs->d->ns_lock);
}

void fs_invalidate(struct acfs_fs *fs, const struct acfs_key *key)
{
	struct inval *iv = malloc(sizeof(*iv));

	if (!iv)
		return; /* the dentry then expires with its timeout */
	iv->parent = INO_SHARD0 + acfs_key_shard(key);
	acfs_key_format_name(key, iv->name);
	pthread_mutex_lock(&fs->inval_lock);
	iv->next = fs->inval_head;
	fs->inval_head = iv;
	pthread_cond_signal(&fs->inval_cv);
	pthread_mutex_unlock(&fs->inval_lock);
}

void fs_evicted(const struct acfs_key *key, const struct acfs_entry *e,
		bool kept, void *userdata)
{
	struct acfs_fs *fs = userdata;

	inode_retired(fs, e->id, kept);
	acfs_trace(fs, "evict", key, e->size, 0);
	/* Only a version the kernel knows can have a dentry to drop. */
	if (kept)
		fs_invalidate(fs, key);
	if (acfs_log_debug_enabled()) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(key, path);
		acfs_log(LOG_DEBUG, "evicted %s (%llu bytes)", path,
			 (unsigned long long)e->size);
	}
}

/* Bytes the budget counts: entries, and general files with
 * --evict-general. */
static uint64_t general_bytes(struct acfs_fs *fs)
{
	struct acfs_tree_counters tc;

	if (!fs->d->evict_general)
		return 0;
	acfs_tree_get_counters(fs->d->store, &tc);
	return tc.bytes;
}

bool fs_over_budget(struct acfs_fs *fs)
{
	struct acfs_store_counters c;

	if (!fs->d->max_size)
		return false;
	acfs_store_get_counters(fs->d->store, &c);
	return c.stored + general_bytes(fs) > fs->d->max_size;
}

/* --evict-general: general files go after entries, oldest change first. */
static void evict_general(struct acfs_fs *fs, uint64_t target)
{
	struct acfs_store_counters c;
	uint64_t g = general_bytes(fs), files, bytes;
	int r;

	acfs_store_get_counters(fs->d->store, &c);
	if (!fs->d->evict_general || c.stored + g <= target)
		return;
	r = acfs_tree_evict(fs->d->store, c.stored + g - target, inode_in_use, fs,
			    acfs_now_ns(), &files, &bytes);
	if (r < 0)
		acfs_log(LOG_ERR, "eviction of general files failed: %s",
			 strerror(-r));
	else if (files)
		acfs_log(LOG_INFO, "evicted %llu general files (%llu bytes) "
			 "to stay under the %llu-byte budget",
			 (unsigned long long)files, (unsigned long long)bytes,
			 (unsigned long long)fs->d->max_size);
}

static void evict_pass(struct acfs_fs *fs)
{
	struct acfs_evict_opts o = { 0 };
	struct acfs_evict_result res;
	uint64_t target = fs->d->max_size / 100 * fs->d->low_water_pct;
	uint64_t g;
	int r;

	if (!fs_over_budget(fs))
		return;
	fs_lru_flush(fs); /* evict by the latest uses */
	g = general_bytes(fs);
	o.batch_lock = fs_evict_batch_lock;
	o.use_target = true;
	o.target_stored = target > g ? target - g : 0;
	o.in_use = inode_in_use;
	o.userdata = fs;
	r = acfs_store_evict(fs->d->store, &o, fs_evicted, fs, &res);
	if (r < 0)
		acfs_log(LOG_ERR, "eviction failed: %s", strerror(-r));
	else
		acfs_log(LOG_INFO, "evicted %llu entries (%llu bytes) to stay "
			 "under the %llu-byte budget",
			 (unsigned long long)res.entries,
			 (unsigned long long)res.bytes,
			 (unsigned long long)fs->d->max_size);
	evict_general(fs, target);
}

static void *keeper_main(void *arg)
{
	struct acfs_fs *fs = arg;

	pthread_mutex_lock(&fs->d->lru_lock);
	while (!fs->d->stopping) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += fs->d->flush_secs;
		while (!fs->d->stopping && !fs->d->evict_wanted &&
		       pthread_cond_timedwait(&fs->d->lru_cv, &fs->d->lru_lock,
					      &deadline) != ETIMEDOUT)
			;
		bool evict = fs->d->evict_wanted;
		fs->d->evict_wanted = false;
		pthread_mutex_unlock(&fs->d->lru_lock);

		fs_lru_flush(fs);
		if (evict)
			evict_pass(fs);
		acfs_store_flush_stats(fs->d->store);
		/* Without --sync, a power cut loses at most what was
		 * written since this fsync of the WAL (a kill -9 loses
		 * nothing either way). */
		acfs_store_sync(fs->d->store);

		pthread_mutex_lock(&fs->d->lru_lock);
		if (evict) {
			fs->d->evict_passes++;
			pthread_cond_broadcast(&fs->d->room_cv);
			/* Waiting commits go on; the disk space of what was
			 * evicted comes back now. */
			pthread_mutex_unlock(&fs->d->lru_lock);
			acfs_store_reclaim(fs->d->store);
			pthread_mutex_lock(&fs->d->lru_lock);
		}
	}
	pthread_mutex_unlock(&fs->d->lru_lock);
	return NULL;
}

void fs_lru_kick(struct acfs_fs *fs)
{
	pthread_mutex_lock(&fs->d->lru_lock);
	fs->d->evict_wanted = true;
	pthread_cond_signal(&fs->d->lru_cv);
	pthread_mutex_unlock(&fs->d->lru_lock);
}

void fs_lru_wait_room(struct acfs_fs *fs)
{
	struct timespec deadline;

	pthread_mutex_lock(&fs->d->lru_lock);
	uint64_t pass = fs->d->evict_passes;
	fs->d->evict_wanted = true;
	pthread_cond_signal(&fs->d->lru_cv);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	while (!fs->d->stopping && fs->d->evict_passes == pass &&
	       pthread_cond_timedwait(&fs->d->room_cv, &fs->d->lru_lock,
				      &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&fs->d->lru_lock);
}

/* ---- kernel invalidations ---------------------------------------------------- */

static void *notifier_main(void *arg)
{
	struct acfs_fs *fs = arg;

	pthread_mutex_lock(&fs->inval_lock);
	for (;;) {
		while (!fs->inval_head && !fs->d->stopping)
			pthread_cond_wait(&fs->inval_cv, &fs->inval_lock);
		if (!fs->inval_head)
			break;
		struct inval *iv = fs->inval_head;
		fs->inval_head = iv->next;
		pthread_mutex_unlock(&fs->inval_lock);
		/* -ENOENT: the kernel had no such dentry; fine. */
		fuse_lowlevel_notify_inval_entry(fs->se, iv->parent, iv->name,
						 strlen(iv->name));
		free(iv);
		pthread_mutex_lock(&fs->inval_lock);
	}
	pthread_mutex_unlock(&fs->inval_lock);
	return NULL;
}

int fs_lru_start(struct acfs_fs *fs)
{
	int r;

	r = pthread_create(&fs->d->keeper, NULL, keeper_main, fs);
	if (r)
		return -r;
	fs->d->keeper_started = true;
	r = pthread_create(&fs->notifier, NULL, notifier_main, fs);
	if (r)
		return -r;
	fs->notifier_started = true;
	return 0;
}

void fs_lru_stop(struct acfs_fs *fs)
{
	/* Both threads read stopping, each under its own lock: it is
	 * written holding both (lru_lock, then inval_lock). */
	pthread_mutex_lock(&fs->d->lru_lock);
	pthread_mutex_lock(&fs->inval_lock);
	fs->d->stopping = true;
	pthread_cond_broadcast(&fs->d->lru_cv);
	pthread_cond_broadcast(&fs->d->room_cv);
	pthread_cond_broadcast(&fs->inval_cv);
	pthread_mutex_unlock(&fs->inval_lock);
	pthread_mutex_unlock(&fs->d->lru_lock);
	if (fs->d->keeper_started)
		pthread_join(fs->d->keeper, NULL);
	if (fs->notifier_started)
		pthread_join(fs->notifier, NULL);
	fs->d->keeper_started = fs->notifier_started = false;
	fs_lru_flush(fs);
	acfs_store_flush_stats(fs->d->store);
	while (fs->inval_head) {
		struct inval *iv = fs->inval_head;
		fs->inval_head = iv->next;
		free(iv);
	}
}
