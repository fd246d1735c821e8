/* SPDX-License-Identifier: MIT */
/*
 * Uses, eviction and kernel invalidations.
 *
 * Every open records a use in memory (uses.c: an OPEN, or with
 * --hit-mode=kernel an inotify event) (no store write per
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

struct inval {
	fuse_ino_t parent;
	char name[ACFS_KEY_PATH_MAX];
	struct inval *next;
};

/* ---- eviction ---------------------------------------------------------- */

void fs_evict_batch_lock(bool lock, void *userdata)
{
	struct acfs_daemon *d = userdata;

	if (lock)
		pthread_rwlock_wrlock(&d->ns_lock);
	else
		pthread_rwlock_unlock(&d->ns_lock);
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

void fs_invalidate_mounts(struct acfs_daemon *d, struct acfs_fs *except,
			  const struct acfs_key *key)
{
	__atomic_add_fetch(&d->ns_seq, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *m = d->mounts; m; m = m->next)
		if (m != except)
			fs_invalidate(m, key);
	pthread_mutex_unlock(&d->mounts_lock);
}

/* How long a commit waits for its turn to tell the other mounts' kernels
 * itself (see fs_invalidate_mounts_now). */
#define DELIVER_WAIT_NS (50 * 1000 * 1000)

void fs_invalidate_mounts_now(struct acfs_daemon *d, struct acfs_fs *except,
			      const struct acfs_key *key)
{
	struct timespec until;
	char name[ACFS_KEY_PATH_MAX];
	fuse_ino_t parent = INO_SHARD0 + acfs_key_shard(key);

	if (__atomic_load_n(&d->nmounts, __ATOMIC_RELAXED) < (except ? 2u : 1u)) {
		fs_invalidate_mounts(d, except, key);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += DELIVER_WAIT_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&d->deliver_lock, &until) != 0) {
		/* Another commit is telling the kernels, and may be waiting
		 * on a directory our own request holds: the notifiers do
		 * it. */
		fs_invalidate_mounts(d, except, key);
		return;
	}
	__atomic_add_fetch(&d->ns_seq, 1, __ATOMIC_RELEASE);
	acfs_key_format_name(key, name);
	/* Sessions stay until deliver_lock is free (daemon/mounts.c frees
	 * a mount only holding it); mounts_lock is not held while the kernel
	 * is told, as the kernel may wait on requests that need it. */
	struct fuse_session *se[64];
	size_t n = 0;
	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *m = d->mounts; m; m = m->next) {
		if (m == except || m->ended)
			continue;
		if (n < 64)
			se[n++] = m->se;
		else
			fs_invalidate(m, key);
	}
	pthread_mutex_unlock(&d->mounts_lock);
	for (size_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_entry(se[i], parent, name,
						 strlen(name));
	pthread_mutex_unlock(&d->deliver_lock);
}

void fs_evicted(const struct acfs_key *key, const struct acfs_entry *e,
		bool kept, void *userdata)
{
	struct acfs_daemon *d = userdata;

	inode_retired(d, e->id, kept);
	acfs_trace(d, "evict", key, e->size, 0);
	/* Only a version a kernel knows can have a dentry to drop. */
	if (kept)
		fs_invalidate_mounts(d, NULL, key);
	if (acfs_log_debug_enabled()) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(key, path);
		acfs_log(LOG_DEBUG, "evicted %s (%llu bytes)", path,
			 (unsigned long long)e->size);
	}
}

/* Bytes the budget counts: entries, and general files with
 * --evict-general. */
static uint64_t general_bytes(struct acfs_daemon *d)
{
	struct acfs_tree_counters tc;

	if (!d->evict_general)
		return 0;
	acfs_tree_get_counters(d->store, &tc);
	return tc.bytes;
}

bool fs_over_budget(struct acfs_daemon *d)
{
	struct acfs_store_counters c;

	if (!d->max_size)
		return false;
	acfs_store_get_counters(d->store, &c);
	return c.stored + general_bytes(d) > d->max_size;
}

/* --evict-general: general files go after entries, oldest change first. */
static void evict_general(struct acfs_daemon *d, uint64_t target)
{
	struct acfs_store_counters c;
	uint64_t g = general_bytes(d), files, bytes;
	int r;

	acfs_store_get_counters(d->store, &c);
	if (!d->evict_general || c.stored + g <= target)
		return;
	r = acfs_tree_evict(d->store, c.stored + g - target, inode_in_use, d,
			    acfs_now_ns(), &files, &bytes);
	if (r < 0)
		acfs_log(LOG_ERR, "eviction of general files failed: %s",
			 strerror(-r));
	else if (files)
		acfs_log(LOG_INFO, "evicted %llu general files (%llu bytes) "
			 "to stay under the %llu-byte budget",
			 (unsigned long long)files, (unsigned long long)bytes,
			 (unsigned long long)d->max_size);
}

static void evict_pass(struct acfs_daemon *d)
{
	struct acfs_evict_opts o = { 0 };
	struct acfs_evict_result res;
	uint64_t target = d->max_size / 100 * d->low_water_pct;
	uint64_t g;
	int r;

	if (!fs_over_budget(d))
		return;
	fs_lru_flush(d); /* evict by the latest uses */
	g = general_bytes(d);
	o.batch_lock = fs_evict_batch_lock;
	o.use_target = true;
	o.target_stored = target > g ? target - g : 0;
	o.in_use = inode_in_use;
	o.userdata = d;
	r = acfs_store_evict(d->store, &o, fs_evicted, d, &res);
	if (r < 0)
		acfs_log(LOG_ERR, "eviction failed: %s", strerror(-r));
	else
		acfs_log(LOG_INFO, "evicted %llu entries (%llu bytes) to stay "
			 "under the %llu-byte budget",
			 (unsigned long long)res.entries,
			 (unsigned long long)res.bytes,
			 (unsigned long long)d->max_size);
	evict_general(d, target);
}

static void *keeper_main(void *arg)
{
	struct acfs_daemon *d = arg;

	pthread_mutex_lock(&d->lru_lock);
	while (!d->stopping) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += d->flush_secs;
		while (!d->stopping && !d->evict_wanted &&
		       pthread_cond_timedwait(&d->lru_cv, &d->lru_lock,
					      &deadline) != ETIMEDOUT)
			;
		bool evict = d->evict_wanted;
		d->evict_wanted = false;
		pthread_mutex_unlock(&d->lru_lock);

		fs_lru_flush(d);
		fs_unload_idle(d, 5 * 1000000000LL);
		if (evict)
			evict_pass(d);
		int fr = acfs_store_flush_stats(d->store);
		/* Without --sync, a power cut loses at most what was
		 * written since this fsync of the WAL (a kill -9 loses
		 * nothing either way). A failure says so, once until it
		 * heals: that bound does not hold meanwhile. */
		int sr = acfs_store_sync(d->store);
		if ((sr < 0 || fr < 0) != d->sync_failing) {
			d->sync_failing = sr < 0 || fr < 0;
			if (d->sync_failing)
				acfs_log(LOG_ERR, "the periodic sync of the "
					 "store %s failed (%s%s%s): a power cut "
					 "may lose more than the last 5 s of "
					 "commits until it works again",
					 d->store_dir,
					 sr < 0 ? strerror(-sr) : "",
					 sr < 0 && fr < 0 ? "; stats: " : "",
					 fr < 0 ? strerror(-fr) : "");
			else
				acfs_log(LOG_INFO, "the periodic sync of the "
					 "store %s works again", d->store_dir);
		}

		pthread_mutex_lock(&d->lru_lock);
		if (evict) {
			d->evict_passes++;
			pthread_cond_broadcast(&d->room_cv);
			/* Waiting commits go on; the disk space of what was
			 * evicted comes back now. */
			pthread_mutex_unlock(&d->lru_lock);
			acfs_store_reclaim(d->store);
			pthread_mutex_lock(&d->lru_lock);
		}
	}
	pthread_mutex_unlock(&d->lru_lock);
	return NULL;
}

void fs_lru_kick(struct acfs_daemon *d)
{
	pthread_mutex_lock(&d->lru_lock);
	d->evict_wanted = true;
	pthread_cond_signal(&d->lru_cv);
	pthread_mutex_unlock(&d->lru_lock);
}

void fs_lru_wait_room(struct acfs_daemon *d)
{
	struct timespec deadline;

	pthread_mutex_lock(&d->lru_lock);
	uint64_t pass = d->evict_passes;
	d->evict_wanted = true;
	pthread_cond_signal(&d->lru_cv);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	while (!d->stopping && d->evict_passes == pass &&
	       pthread_cond_timedwait(&d->room_cv, &d->lru_lock,
				      &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&d->lru_lock);
}

/* ---- kernel invalidations ---------------------------------------------------- */

static void *notifier_main(void *arg)
{
	struct acfs_fs *fs = arg;

	pthread_mutex_lock(&fs->inval_lock);
	for (;;) {
		while (!fs->inval_head && !fs->stopping)
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

int fs_notifier_start(struct acfs_fs *fs)
{
	int r;

	pthread_mutex_init(&fs->inval_lock, NULL);
	pthread_cond_init(&fs->inval_cv, NULL);
	r = pthread_create(&fs->notifier, NULL, notifier_main, fs);
	if (r)
		return -r;
	fs->notifier_started = true;
	return 0;
}

/* After the session ended: what is queued is dropped (the kernel has
 * forgotten the mount's dentries with it). */
void fs_notifier_stop(struct acfs_fs *fs)
{
	pthread_mutex_lock(&fs->inval_lock);
	fs->stopping = true;
	pthread_cond_broadcast(&fs->inval_cv);
	pthread_mutex_unlock(&fs->inval_lock);
	if (fs->notifier_started)
		pthread_join(fs->notifier, NULL);
	fs->notifier_started = false;
	while (fs->inval_head) {
		struct inval *iv = fs->inval_head;
		fs->inval_head = iv->next;
		free(iv);
	}
}

int fs_lru_start(struct acfs_daemon *d)
{
	int r;

	pthread_mutex_init(&d->lru_lock, NULL);
	pthread_cond_init(&d->lru_cv, NULL);
	pthread_cond_init(&d->room_cv, NULL);
	r = pthread_create(&d->keeper, NULL, keeper_main, d);
	if (r)
		return -r;
	d->keeper_started = true;
	return 0;
}

void fs_lru_stop(struct acfs_daemon *d)
{
	pthread_mutex_lock(&d->lru_lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->lru_cv);
	pthread_cond_broadcast(&d->room_cv);
	pthread_mutex_unlock(&d->lru_lock);
	if (d->keeper_started)
		pthread_join(d->keeper, NULL);
	d->keeper_started = false;
	fs_lru_flush(d);
	acfs_store_flush_stats(d->store);
}
