/* SPDX-License-Identifier: MIT */
/* Read-through: fetches of missing entries by fetcher threads, and the
 * negative cache of keys every remote lacks (see remote.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "remote/remote-private.h"

/* ---- negative cache (lossy: a slot per hash) ----------------------------- */

static struct neg_slot *neg_slot(struct fs_remotes *rs,
				 const struct acfs_key *key)
{
	return &rs->neg[(key->hash ^ (uint64_t)key->kind) & (NEG_SLOTS - 1)];
}

static bool neg_known(struct fs_remotes *rs, const struct acfs_key *key)
{
	struct neg_slot *s = neg_slot(rs, key);

	return s->hash == key->hash && s->kind == (int)key->kind &&
	       s->until_ns > acfs_now_ns();
}

static void neg_add(struct fs_remotes *rs, const struct acfs_key *key)
{
	struct neg_slot *s = neg_slot(rs, key);

	s->hash = key->hash;
	s->kind = (int)key->kind;
	s->until_ns = acfs_now_ns() + (int64_t)rs->neg_ttl_ms * 1000000;
}

/* ---- fetching -------------------------------------------------------------- */

/* Drops one reference to @f (rs->lock held). */
static void fetch_put(struct fetch *f)
{
	if (--f->refs == 0)
		free(f);
}

static void admit(uint64_t size, void *d)
{
	fs_commit_gate(d, size, true);
}

/* Asks each readable remote for @f->key; commits what passes. */
static void fetch_one(struct acfs_daemon *d, struct acfs_remote_conn **conns,
		      struct fetch *f)
{
	struct fs_remotes *rs = d->remote;
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX];
	bool all_missed = true;
	int result = -ENOENT;

	acfs_key_format_path(&f->key, path);
	for (size_t i = 0; i < rs->n && result != 0; i++) {
		struct fs_remote *r = &rs->r[i];
		uint64_t down = 0, admitted;
		void *data;
		size_t len;
		int rc;

		if (!breaker_allow(r)) {
			all_missed = false;
			continue;
		}
		err[0] = '\0';
		/* Fetched bytes count with commits in flight: memory stays
		 * within --max-loaded whatever sizes remotes announce. */
		int64_t t0 = acfs_now_ns();
		rc = acfs_remote_fetch(conns[i], &f->key, d->max_entry_size,
				       admit, d, &admitted, &data, &len,
				       &down, err);
		acfs_histogram_observe(&d->latency[ACFS_LAT_REMOTE_FETCH],
				       acfs_now_ns() - t0);
		count(r, C_BYTES_DOWN, down);
		breaker_result(r, is_failure(rc), err);
		if (rc == 0) {
			rc = d->commit_fetched(d, &f->key, data, len,
					       r->url.display);
			free(data);
			fs_commit_gate(d, admitted, false);
			if (rc == 0) {
				count(r, C_HITS, 1);
				acfs_log(LOG_DEBUG, "fetched %s from %s (%zu "
					 "bytes)", path, r->url.display, len);
				result = 0;
			} else {
				count(r, C_REJECTED, 1);
				all_missed = false;
			}
		} else if (rc == -ENOENT) {
			fs_commit_gate(d, admitted, false);
			count(r, C_MISSES, 1);
		} else if (rc == -EBADMSG || rc == -EFBIG) {
			fs_commit_gate(d, admitted, false);
			count(r, C_REJECTED, 1);
			acfs_log(LOG_WARNING, "refused %s from remote %s: %s",
				 path, r->url.display, err);
		} else {
			fs_commit_gate(d, admitted, false);
			count(r, rc == -ETIMEDOUT ? C_TIMEOUTS : C_ERRORS, 1);
			all_missed = false;
			acfs_log(LOG_WARNING, "fetching %s from remote %s: %s",
				 path, r->url.display, err);
		}
	}
	pthread_mutex_lock(&rs->lock);
	if (result != 0 && all_missed)
		neg_add(rs, &f->key);
	f->result = result;
	f->all_missed = all_missed;
	f->done = true;
	/* Off the running list. */
	for (struct fetch **p = &rs->running; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
	pthread_cond_broadcast(&rs->done_cv);
	fetch_put(f);
	pthread_mutex_unlock(&rs->lock);
}

void *fetcher_main(void *arg)
{
	struct acfs_daemon *d = arg;
	struct fs_remotes *rs = d->remote;
	struct acfs_remote_conn *conns[rs->n ? rs->n : 1];

	char err[ACFS_ERR_MAX];

	for (size_t i = 0; i < rs->n; i++) {
		conns[i] = acfs_remote_conn_new(&rs->r[i].url, rs->timeout_ms,
						&rs->stopping);
		/* Connected (and authenticated) before the first lookup
		 * waits on this thread; fs_remote_start reports failures. */
		if (conns[i])
			acfs_remote_probe(conns[i], err);
	}
	pthread_mutex_lock(&rs->lock);
	for (;;) {
		while (!rs->stopping && !rs->queue_head)
			pthread_cond_wait(&rs->fetch_cv, &rs->lock);
		if (rs->stopping)
			break;
		struct fetch *f = rs->queue_head;
		rs->queue_head = f->next;
		if (!rs->queue_head)
			rs->queue_tail = NULL;
		rs->nqueued--;
		f->next = rs->running;
		rs->running = f;
		pthread_mutex_unlock(&rs->lock);
		bool ok = true;
		for (size_t i = 0; i < rs->n; i++)
			ok = ok && conns[i];
		if (ok) {
			fetch_one(d, conns, f);
		} else {
			pthread_mutex_lock(&rs->lock);
			f->done = true;
			f->result = -ENOENT;
			pthread_cond_broadcast(&rs->done_cv);
			fetch_put(f);
			pthread_mutex_unlock(&rs->lock);
		}
		pthread_mutex_lock(&rs->lock);
	}
	pthread_mutex_unlock(&rs->lock);
	for (size_t i = 0; i < rs->n; i++)
		acfs_remote_conn_free(conns[i]);
	return NULL;
}

static struct fetch *find_fetch(struct fetch *list, const struct acfs_key *key)
{
	for (; list; list = list->next)
		if (list->key.hash == key->hash && list->key.kind == key->kind)
			return list;
	return NULL;
}

int fs_remote_fetch(struct acfs_daemon *d, const struct acfs_key *key,
		    double *neg_timeout)
{
	struct fs_remotes *rs = d->remote;
	struct timespec until;
	struct fetch *f;
	bool any = false;
	int r;

	/* *neg_timeout comes in as the mount's own negative timeout. */
	if (!rs || !readable(rs))
		return -ENOENT; /* write-only: absent is absent */
	*neg_timeout = 0.0;
	/* Every remote's breaker open: local data only, at once. */
	for (size_t i = 0; i < rs->n && !any; i++)
		any = strcmp(breaker_state(&rs->r[i]), "open") != 0;
	if (!any)
		return -ENOENT;
	deadline(&until, rs->wait_ms);
	pthread_mutex_lock(&rs->lock);
	if (neg_known(rs, key)) {
		pthread_mutex_unlock(&rs->lock);
		__atomic_add_fetch(&rs->neg_hits, 1, __ATOMIC_RELAXED);
		*neg_timeout = (double)rs->neg_ttl_ms / 1000.0;
		return -ENOENT;
	}
	f = find_fetch(rs->running, key);
	if (!f)
		f = find_fetch(rs->queue_head, key);
	if (!f) {
		if (rs->nqueued >= FETCH_QUEUE_MAX || rs->stopping ||
		    !(f = calloc(1, sizeof(*f)))) {
			pthread_mutex_unlock(&rs->lock);
			__atomic_add_fetch(&rs->fetch_busy, 1,
					   __ATOMIC_RELAXED);
			return -ENOENT;
		}
		f->key = *key;
		f->refs = 1; /* the fetcher's */
		if (rs->queue_tail)
			rs->queue_tail->next = f;
		else
			rs->queue_head = f;
		rs->queue_tail = f;
		rs->nqueued++;
		pthread_cond_signal(&rs->fetch_cv);
	}
	f->refs++;
	while (!f->done && !rs->stopping)
		if (pthread_cond_timedwait(&rs->done_cv, &rs->lock, &until) ==
		    ETIMEDOUT)
			break;
	if (f->done) {
		r = f->result;
		if (r != 0 && f->all_missed)
			*neg_timeout = (double)rs->neg_ttl_ms / 1000.0;
	} else {
		/* The fetch goes on; the next lookup may find its entry. */
		r = -ENOENT;
		__atomic_add_fetch(&rs->wait_expired, 1, __ATOMIC_RELAXED);
	}
	fetch_put(f);
	pthread_mutex_unlock(&rs->lock);
	return r;
}
