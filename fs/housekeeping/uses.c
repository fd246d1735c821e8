/* SPDX-License-Identifier: MIT */
/*
 * Recorded uses, kept in memory and written to the store in one batch
 * (fs_lru_flush: every flush_secs seconds, before an eviction pass and
 * before every aria-cache command), and under --hit-mode=kernel learnt
 * from inotify.
 *
 * With kernel-served hits no OPEN reaches the daemon, yet eviction must
 * stay exact least-recently-*opened*. The VFS raises an fsnotify IN_OPEN
 * event on the parent directory of every file opened, FUSE included,
 * without a request to the daemon: one inotify instance watches the 256
 * shard directories of every mount the daemon serves, and each event of
 * an entry's open is a use (and a hit), in the order the opens happened
 * across all mounts (one queue). A stat, ls -l or lookup is not an open,
 * and no use.
 *
 * An event is queued inside open(2), before it returns; whoever reads
 * uses (the periodic flush, an eviction pass, every aria-cache command)
 * drains the queue first, so what it sees includes every open that
 * returned before it started.
 *
 * The queue holds /proc/sys/fs/inotify/max_queued_events events; past
 * them the kernel drops events and says so (IN_Q_OVERFLOW). Opens were
 * lost then, but only of entries the kernel knew (a dentry it holds: an
 * open of any other entry costs a LOOKUP first, and its event comes after
 * the overflow): every entry some mount's kernel holds counts as used at
 * that moment. Eviction then keeps too much for a while, never the wrong
 * entry.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <syslog.h>
#include <unistd.h>

#include "cachefs.h"

#define TOUCH_FLUSH_AT 65536

/* ---- recorded uses ------------------------------------------------------- */

static void flush_touches(struct acfs_daemon *d, struct acfs_touch *t, size_t n)
{
	int r = acfs_store_touch(d->store, t, n);

	if (r < 0)
		acfs_log(LOG_WARNING, "could not persist %zu access times: %s",
			 n, strerror(-r));
}

void fs_lru_note_touch(struct acfs_daemon *d, const struct acfs_touch *t)
{
	struct acfs_touch *full = NULL;
	size_t n = 0;

	pthread_mutex_lock(&d->lru_lock);
	if (d->ntouches == d->touch_cap) {
		size_t cap = d->touch_cap ? d->touch_cap * 2 : 1024;
		struct acfs_touch *p = cap <= TOUCH_FLUSH_AT
			? realloc(d->touches, cap * sizeof(*p)) : NULL;
		if (p) {
			d->touches = p;
			d->touch_cap = cap;
		} else {
			/* Full: this thread persists them (rare). */
			full = d->touches;
			n = d->ntouches;
			d->touches = NULL;
			d->ntouches = d->touch_cap = 0;
		}
	}
	if (d->ntouches < d->touch_cap)
		d->touches[d->ntouches++] = *t;
	pthread_mutex_unlock(&d->lru_lock);
	if (full) {
		flush_touches(d, full, n);
		free(full);
	}
}

void fs_lru_note(struct acfs_fs *fs, struct inode *in)
{
	struct acfs_touch t = { .key = in->key, .id = in->ino };

	in->atime_ns = t.atime_ns = acfs_now_ns();
	fs_lru_note_touch(fs->d, &t);
}

void fs_lru_flush(struct acfs_daemon *d)
{
	struct acfs_touch *t;
	size_t n;

	fs_uses_drain(d); /* every open that returned before this */
	pthread_mutex_lock(&d->lru_lock);
	t = d->touches;
	n = d->ntouches;
	d->touches = NULL;
	d->ntouches = d->touch_cap = 0;
	pthread_mutex_unlock(&d->lru_lock);
	if (n)
		flush_touches(d, t, n);
	free(t);
}

struct use_watch {
	struct acfs_fs *fs;         /* NULL: unused or its mount ended */
	unsigned shard;
};

/* Records a use of version @id of @key at @now_ns (no inode needed). */
static void note(struct acfs_daemon *d, const struct acfs_key *key,
		 uint64_t id, int64_t now_ns)
{
	struct acfs_touch t = { .key = *key, .id = id, .atime_ns = now_ns };

	fs_lru_note_touch(d, &t);
}

/* An open of monomorph/@shard/@name in @fs. Caller holds use_lock. */
static void opened(struct acfs_fs *fs, unsigned shard, const char *name,
		   int64_t now_ns)
{
	struct acfs_daemon *d = fs->d;
	struct acfs_entry ent;
	struct acfs_key key;
	int r;

	if (acfs_key_parse_name(shard, name, &key) < 0)
		return;
	pthread_rwlock_rdlock(&d->ns_lock);
	r = acfs_store_get(d->store, &key, &ent);
	pthread_rwlock_unlock(&d->ns_lock);
	if (r < 0)
		return; /* a direct create, or gone meanwhile */
	note(d, &key, ent.id, now_ns);
	acfs_store_count(d->store, ACFS_STAT_HITS, 1);
	__atomic_add_fetch(&fs->hits, 1, __ATOMIC_RELAXED);
	acfs_trace(d, "hit", &key, ent.size, now_ns);
}

/* A close to apply (fs_commit_closed), queued under use_lock. */
struct use_close {
	struct acfs_fs *fs;
	struct acfs_key key;
};

static void queue_close(struct acfs_daemon *d, struct acfs_fs *fs,
			const struct acfs_key *key)
{
	if (d->ncloses == d->close_cap) {
		size_t cap = d->close_cap ? d->close_cap * 2 : 16;
		struct use_close *n = realloc(d->closes, cap * sizeof(*n));
		if (!n) {
			acfs_log(LOG_ERR, "out of memory: the close of a direct "
				 "create is applied at its next lookup");
			return;
		}
		d->closes = n;
		d->close_cap = cap;
	}
	d->closes[d->ncloses].fs = fs;
	d->closes[d->ncloses++].key = *key;
}

/* A file written in monomorph/@shard/@name of @fs was closed: a direct
 * create commits (fs_uses_drain, outside use_lock). */
static void closed(struct acfs_fs *fs, unsigned shard, const char *name)
{
	struct acfs_key key;

	if (acfs_key_parse_name(shard, name, &key) == 0)
		queue_close(fs->d, fs, &key);
}

/* Close events were lost too: each pending direct create is closed if no
 * process holds it any more. Caller holds use_lock: the mounts stay. */
static void closed_all(struct acfs_daemon *d)
{
	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next) {
		struct acfs_key keys[64];
		size_t k = pending_keys(fs, keys, 64);
		for (size_t i = 0; i < k; i++)
			queue_close(d, fs, &keys[i]);
	}
	pthread_mutex_unlock(&d->mounts_lock);
}

/* Events were lost: every entry a kernel holds counts as used now. */
static void overflowed(struct acfs_daemon *d, int64_t now_ns)
{
	unsigned long n = 0;

	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next) {
		pthread_mutex_lock(&fs->itab_lock);
		for (size_t b = 0; b < fs->nbuckets; b++)
			for (struct inode *in = fs->buckets[b]; in;
			     in = in->hnext) {
				if (inode_type(in) != INODE_ENTRY ||
				    !in->nlookup)
					continue;
				note(d, &in->key, in->ino, now_ns);
				n++;
			}
		pthread_mutex_unlock(&fs->itab_lock);
	}
	pthread_mutex_unlock(&d->mounts_lock);
	closed_all(d);
	__atomic_add_fetch(&d->use_overflows, 1, __ATOMIC_RELAXED);
	acfs_log(LOG_WARNING, "the kernel's queue of open events overflowed "
		 "(more opens than /proc/sys/fs/inotify/max_queued_events "
		 "before the daemon read them): the %lu entries the kernels "
		 "hold count as used now, so eviction keeps them", n);
}

/* Reads and applies every queued event. Caller holds use_lock. */
static void drain_locked(struct acfs_daemon *d)
{
	char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(d->use_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EAGAIN: empty */
		/* Opens read together get increasing times: their order. */
		int64_t now = acfs_now_ns();
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflowed(d, now++);
				continue;
			}
			if (!(ev->mask & (IN_OPEN | IN_CLOSE_WRITE)) ||
			    (ev->mask & IN_ISDIR) || !ev->len || ev->wd < 0 ||
			    (size_t)ev->wd >= d->nwatches)
				continue;
			struct use_watch *w = &d->watches[ev->wd];
			if (!w->fs)
				continue;
			if (ev->mask & IN_OPEN)
				opened(w->fs, w->shard, ev->name, now++);
			if (ev->mask & IN_CLOSE_WRITE)
				closed(w->fs, w->shard, ev->name);
		}
	}
}

/*
 * Applies every queued event. Closes of direct creates are committed
 * outside use_lock, under close_lock, and only if @closes: a commit may
 * wait for an eviction pass, and the keeper drains (without closes)
 * before each one; the closes it read wait for the next drain that
 * applies them (the reader thread's, within USE_READ_MS, or a lookup's).
 */
static void drain(struct acfs_daemon *d, bool closes)
{
	if (d->use_fd < 0)
		return;
	if (closes)
		pthread_mutex_lock(&d->close_lock);
	pthread_mutex_lock(&d->use_lock);
	drain_locked(d);
	struct use_close *c = NULL;
	size_t n = 0;
	if (closes) {
		c = d->closes;
		n = d->ncloses;
		d->closes = NULL;
		d->ncloses = d->close_cap = 0;
	}
	pthread_mutex_unlock(&d->use_lock);
	/* The mounts stay: fs_uses_forget takes close_lock first. */
	for (size_t i = 0; i < n && d->commit_closed; i++)
		d->commit_closed(c[i].fs, &c[i].key);
	free(c);
	if (closes)
		pthread_mutex_unlock(&d->close_lock);
}

void fs_uses_drain(struct acfs_daemon *d)
{
	drain(d, false);
}

void fs_uses_apply(struct acfs_daemon *d)
{
	drain(d, true);
}

/*
 * Reads the queue every USE_READ_MS, not at each event: waking a thread on
 * the other core for every open cost a hit 35-50 us on a 2-core VM (the
 * halted CPU's wakeup, perf: pvm_safe_halt, TLB-flush IPIs), more than
 * the hit itself. The queue holds max_queued_events (16384 by default):
 * over 300,000 opens a second before it overflows. Everything that needs
 * the uses now (a flush, an eviction pass, an aria-cache command, a
 * lookup of a direct create just closed) drains it itself.
 */
#define USE_READ_MS 50

static void *use_main(void *arg)
{
	struct acfs_daemon *d = arg;
	struct pollfd stop = { .fd = d->use_stop_fd, .events = POLLIN };

	for (;;) {
		int n = poll(&stop, 1, USE_READ_MS);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && stop.revents)
			break;
		fs_uses_apply(d);
	}
	return NULL;
}

int fs_uses_start(struct acfs_daemon *d)
{
	int r;

	d->use_fd = d->use_stop_fd = -1;
	pthread_mutex_init(&d->use_lock, NULL);
	pthread_mutex_init(&d->close_lock, NULL);
	if (!d->kernel_hits)
		return 0;
	d->use_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	d->use_stop_fd = eventfd(0, EFD_CLOEXEC);
	if (d->use_fd < 0 || d->use_stop_fd < 0) {
		r = -errno;
		goto fail;
	}
	if ((r = -pthread_create(&d->use_thread, NULL, use_main, d)) < 0)
		goto fail;
	d->use_started = true;
	return 0;
fail:
	if (d->use_fd >= 0)
		close(d->use_fd);
	if (d->use_stop_fd >= 0)
		close(d->use_stop_fd);
	d->use_fd = d->use_stop_fd = -1;
	return r;
}

void fs_uses_stop(struct acfs_daemon *d)
{
	uint64_t one = 1;

	if (d->use_started) {
		if (write(d->use_stop_fd, &one, sizeof(one)) != sizeof(one))
			acfs_log(LOG_WARNING, "could not stop the use reader: "
				 "%s", strerror(errno));
		pthread_join(d->use_thread, NULL);
		d->use_started = false;
	}
}

/* After fs_lru_stop: its last flush drained the queue, and no thread
 * reads use_fd any more. */
void fs_uses_free(struct acfs_daemon *d)
{
	if (d->use_fd >= 0)
		close(d->use_fd);
	if (d->use_stop_fd >= 0)
		close(d->use_stop_fd);
	d->use_fd = d->use_stop_fd = -1;
	free(d->watches);
	d->watches = NULL;
	d->nwatches = 0;
	free(d->closes);
	d->closes = NULL;
	d->ncloses = d->close_cap = 0;
	pthread_mutex_destroy(&d->use_lock);
	pthread_mutex_destroy(&d->close_lock);
}

int fs_uses_watch(struct acfs_fs *fs, char *err, size_t errlen)
{
	struct acfs_daemon *d = fs->d;
	size_t len = strlen(fs->mountpoint) + sizeof("/monomorph/00");
	char *path = malloc(len);
	int r = 0;

	if (!d->kernel_hits) {
		free(path);
		return 0;
	}
	if (d->use_fd < 0 || !path) {
		free(path);
		snprintf(err, errlen, "cannot watch %s for opens (the uses of "
			 "kernel-served hits): %s", fs->mountpoint,
			 path ? "no inotify instance" : "out of memory");
		return path ? -ENOSYS : -ENOMEM;
	}
	/* Path lookups through the mount: its loop serves them, and this
	 * thread is none of its handlers and holds none of their locks. */
	for (unsigned s = 0; s < 256; s++) {
		snprintf(path, len, "%s/monomorph/%02x", fs->mountpoint, s);
		int wd = inotify_add_watch(d->use_fd, path,
					   IN_OPEN | IN_CLOSE_WRITE |
					   IN_ONLYDIR);
		if (wd < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot watch %s for opens (the "
				 "uses of kernel-served hits): %s%s", path,
				 strerror(errno), errno == ENOSPC ? "; raise "
				 "/proc/sys/fs/inotify/max_user_watches "
				 "(256 a mount)" : "");
			break;
		}
		pthread_mutex_lock(&d->use_lock);
		if ((size_t)wd >= d->nwatches) {
			size_t cap = d->nwatches ? d->nwatches : 512;
			while (cap <= (size_t)wd)
				cap *= 2;
			struct use_watch *w = realloc(d->watches,
						      cap * sizeof(*w));
			if (!w) {
				pthread_mutex_unlock(&d->use_lock);
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			memset(w + d->nwatches, 0,
			       (cap - d->nwatches) * sizeof(*w));
			d->watches = w;
			d->nwatches = cap;
		}
		d->watches[wd].fs = fs;
		d->watches[wd].shard = s;
		pthread_mutex_unlock(&d->use_lock);
	}
	free(path);
	return r;
}

void fs_uses_forget(struct acfs_fs *fs)
{
	struct acfs_daemon *d = fs->d;

	struct use_close *mine = NULL;
	size_t n = 0;

	if (d->use_fd < 0)
		return;
	pthread_mutex_lock(&d->close_lock);
	pthread_mutex_lock(&d->use_lock);
	drain_locked(d); /* its last opens and closes count */
	for (size_t i = 0; i < d->nwatches; i++)
		if (d->watches[i].fs == fs)
			d->watches[i].fs = NULL;
	/* Its queued closes are applied now, the others' stay queued. */
	for (size_t i = 0; i < d->ncloses;) {
		if (d->closes[i].fs != fs) {
			i++;
			continue;
		}
		void *m = realloc(mine, (n + 1) * sizeof(*mine));
		if (m) {
			mine = m;
			mine[n++] = d->closes[i];
		}
		d->closes[i] = d->closes[--d->ncloses];
	}
	pthread_mutex_unlock(&d->use_lock);
	for (size_t i = 0; i < n && d->commit_closed; i++)
		d->commit_closed(fs, &mine[i].key);
	free(mine);
	pthread_mutex_unlock(&d->close_lock);
}
