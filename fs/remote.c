/* SPDX-License-Identifier: MIT */
/*
 * The daemon's remote tiers (--remote URL, tried in order).
 *
 * Read-through: a lookup that finds no entry asks fs_remote_fetch, which
 * hands the key to a fetcher thread and waits at most --remote-wait
 * (default 100 ms). A fetcher asks each readable remote in turn; what it
 * gets is checked (digest and size against the action result, then the
 * same validation as a local commit) and committed locally, so the lookup
 * (or, if it stopped waiting, the next one) finds an ordinary entry. A
 * key every remote said it lacks is remembered for --remote-negative-ttl,
 * and the kernel is told to remember "absent" as long; a lookup that
 * stopped waiting gets a negative answer the kernel does not keep.
 *
 * Circuit breaker, per remote: three failures or timeouts in a row open
 * it; while open the remote is skipped (lookups answer from local data at
 * once, uploads wait). After a cooldown (1 s, doubling to 30 s while it
 * keeps failing) one request tries it again; its success closes it.
 *
 * Write-behind: a local commit puts a row in the store's upload queue of
 * every writable remote in the same write as the entry, so a kill -9
 * loses nothing; --remote-uploads threads per remote take rows oldest
 * first and upload (bytes, then action result), retrying with backoff
 * (250 ms doubling to 30 s) while the remote fails. Rows leave the queue
 * when uploaded, when the remote refuses the entry for good (logged), or
 * when the version is gone (replaced or evicted first; logged and
 * counted). Past --remote-queue-max rows, commits still succeed but are
 * not queued: counted as queue_full and logged.
 *
 * Lock order: fs->ns_lock (never held here while waiting), rs->lock or
 * rs->up_lock (never both), r->lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "acfs/remote.h"
#include "acfs/size.h"
#include "cachefs.h"
#include "cmd.h"

#define FETCHERS 4
#define FETCH_QUEUE_MAX 1024
#define NEG_SLOTS 65536
#define BREAKER_FAILURES 3
#define BREAKER_MIN_MS 1000
#define BREAKER_MAX_MS 30000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define CLAIM_BATCH 64

enum counter {
	C_HITS, C_MISSES, C_ERRORS, C_TIMEOUTS, C_REJECTED, C_BYTES_DOWN,
	C_BYTES_UP, C_UPLOADS, C_UPLOAD_ERRORS, C_UPLOAD_DROPPED,
	C_QUEUE_FULL, C_TRIPS, C_COUNT
};
static const char *const counter_names[C_COUNT] = {
	"hits", "misses", "errors", "timeouts", "rejected", "bytes_down",
	"bytes_up", "uploads", "upload_errors", "upload_dropped",
	"queue_full", "breaker_trips",
};

struct fs_remote {
	struct acfs_remote_url url;
	uint64_t c[C_COUNT];            /* atomic */
	/* breaker, protected by lock */
	pthread_mutex_t lock;
	unsigned failures;
	int64_t open_until_ns;          /* 0: closed */
	unsigned open_ms;
	bool probing;                   /* half open: one request out */
	char last_error[ACFS_ERR_MAX];  /* the latest failure or refusal */
	int64_t last_error_ns;          /* when (CLOCK_REALTIME), 0: none */
	uint64_t unsynced_drops;        /* refused for good since a sync */
	char drop_why[ACFS_ERR_MAX];    /* the latest of those */
	/* upload queue, protected by rs->up_lock */
	uint64_t queued;                /* rows in the store */
	uint64_t cursor;                /* highest id handed out this pass */
	uint64_t inflight[64];          /* ids being uploaded */
	unsigned ninflight;
	int64_t backoff_until_ns;
	unsigned backoff_ms;
	bool full_reported;
	pthread_t *uploaders;
	unsigned nuploaders;
};

struct fetch {
	struct acfs_key key;
	struct fetch *next;             /* queue or in-flight list */
	unsigned refs;                  /* waiters + the fetcher */
	bool done;
	int result;                     /* 0: committed; -ENOENT */
	bool all_missed;                /* every remote said "absent" */
};

struct neg_slot {
	uint64_t hash;
	int kind;
	int64_t until_ns;
};

struct fs_remotes {
	struct fs_remote *r;
	size_t n;
	enum acfs_remote_mode mode;
	unsigned wait_ms, timeout_ms, neg_ttl_ms;
	uint64_t queue_max;
	volatile bool stopping;
	pthread_mutex_t lock;           /* fetches and the negative cache */
	pthread_cond_t fetch_cv;        /* work for fetchers */
	pthread_cond_t done_cv;         /* a fetch finished */
	/* The upload queues: apart, so that a lookup's bounded wait never
	 * waits behind a scan of the store's queue rows. */
	pthread_mutex_t up_lock;
	pthread_cond_t upload_cv;       /* work, or backoff over */
	pthread_cond_t drained_cv;      /* an upload left a queue */
	struct fetch *queue_head, *queue_tail; /* protected by lock */
	struct fetch *running;          /* protected by lock */
	unsigned nqueued;
	pthread_t fetchers[FETCHERS];
	unsigned nfetchers;
	struct neg_slot *neg;           /* protected by lock */
	uint64_t wait_expired, neg_hits, fetch_busy; /* atomic */
};

static void count(struct fs_remote *r, enum counter c, uint64_t n)
{
	__atomic_add_fetch(&r->c[c], n, __ATOMIC_RELAXED);
}

static bool readable(const struct fs_remotes *rs)
{
	return rs->mode != ACFS_REMOTE_WRITE_ONLY;
}

static bool writable(const struct fs_remotes *rs)
{
	return rs->mode != ACFS_REMOTE_READ_ONLY;
}

static void deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- circuit breaker ------------------------------------------------------ */

/* May a request go to @r now? (In half-open state: only one.) */
static bool breaker_allow(struct fs_remote *r)
{
	bool ok;

	pthread_mutex_lock(&r->lock);
	if (!r->open_until_ns) {
		ok = true;
	} else if (acfs_now_ns() < r->open_until_ns || r->probing) {
		ok = false;
	} else {
		r->probing = true;
		ok = true;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* The remote answered (@failed false: even "absent" or "refused"), or
 * did not. */
static void note_error_locked(struct fs_remote *r, const char *why)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	r->last_error_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* An upload the remote refused for good: counted, and reported by the
 * next sync (which must not say every upload is done). */
static void note_dropped(struct fs_remote *r, const char *why)
{
	count(r, C_UPLOAD_DROPPED, 1);
	pthread_mutex_lock(&r->lock);
	r->unsynced_drops++;
	snprintf(r->drop_why, sizeof(r->drop_why), "%s", why);
	note_error_locked(r, why);
	pthread_mutex_unlock(&r->lock);
}

static void breaker_result(struct fs_remote *r, bool failed, const char *why)
{
	pthread_mutex_lock(&r->lock);
	if (failed)
		note_error_locked(r, why);
	if (!failed) {
		if (r->open_until_ns)
			acfs_log(LOG_NOTICE, "remote %s answers again; using "
				 "it", r->url.display);
		r->failures = 0;
		r->open_until_ns = 0;
		r->open_ms = 0;
		r->probing = false;
	} else if (r->probing || ++r->failures >= BREAKER_FAILURES) {
		bool was_open = r->open_until_ns != 0;
		r->open_ms = r->open_ms ? r->open_ms * 2 : BREAKER_MIN_MS;
		if (r->open_ms > BREAKER_MAX_MS)
			r->open_ms = BREAKER_MAX_MS;
		r->open_until_ns = acfs_now_ns() + (int64_t)r->open_ms * 1000000;
		r->probing = false;
		if (!was_open) {
			count(r, C_TRIPS, 1);
			acfs_log(LOG_WARNING, "remote %s: %u failures in a "
				 "row (last: %s); answering from local data "
				 "only, trying it again in %u ms",
				 r->url.display, r->failures, why, r->open_ms);
		}
	}
	pthread_mutex_unlock(&r->lock);
}

static const char *breaker_state(struct fs_remote *r)
{
	const char *s;

	pthread_mutex_lock(&r->lock);
	s = !r->open_until_ns ? "closed"
	    : acfs_now_ns() < r->open_until_ns ? "open"
					       : "half-open";
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* A transport failure, as opposed to an answer. */
static bool is_failure(int r)
{
	return r == -ETIMEDOUT || r == -EIO || r == -ECONNREFUSED ||
	       r == -ENOMEM || r == -EACCES;
}

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

static void admit(uint64_t size, void *fs)
{
	fs_commit_gate(fs, size, true);
}

/* Asks each readable remote for @f->key; commits what passes. */
static void fetch_one(struct acfs_fs *fs, struct acfs_remote_conn **conns,
		      struct fetch *f)
{
	struct fs_remotes *rs = fs->remote;
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
		rc = acfs_remote_fetch(conns[i], &f->key, fs->max_entry_size,
				       admit, fs, &admitted, &data, &len,
				       &down, err);
		count(r, C_BYTES_DOWN, down);
		breaker_result(r, is_failure(rc), err);
		if (rc == 0) {
			rc = fs_commit_fetched(fs, &f->key, data, len,
					       r->url.display);
			free(data);
			fs_commit_gate(fs, admitted, false);
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
			fs_commit_gate(fs, admitted, false);
			count(r, C_MISSES, 1);
		} else if (rc == -EBADMSG || rc == -EFBIG) {
			fs_commit_gate(fs, admitted, false);
			count(r, C_REJECTED, 1);
			acfs_log(LOG_WARNING, "refused %s from remote %s: %s",
				 path, r->url.display, err);
		} else {
			fs_commit_gate(fs, admitted, false);
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

static void *fetcher_main(void *arg)
{
	struct acfs_fs *fs = arg;
	struct fs_remotes *rs = fs->remote;
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
			fetch_one(fs, conns, f);
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

int fs_remote_fetch(struct acfs_fs *fs, const struct acfs_key *key,
		    double *neg_timeout)
{
	struct fs_remotes *rs = fs->remote;
	struct timespec until;
	struct fetch *f;
	bool any = false;
	int r;

	*neg_timeout = fs->neg_timeout;
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

/* ---- uploading ------------------------------------------------------------- */

size_t fs_remote_upload_targets(struct acfs_fs *fs, const struct acfs_key *key,
				uint64_t *ids)
{
	struct fs_remotes *rs = fs->remote;
	char path[ACFS_KEY_PATH_MAX];
	size_t n = 0;

	if (!rs || !writable(rs))
		return 0;
	pthread_mutex_lock(&rs->up_lock);
	for (size_t i = 0; i < rs->n; i++) {
		struct fs_remote *r = &rs->r[i];
		if (r->queued < rs->queue_max) {
			ids[n++] = r->url.id;
			continue;
		}
		count(r, C_QUEUE_FULL, 1);
		if (!r->full_reported) {
			acfs_key_format_path(key, path);
			acfs_log(LOG_ERR, "upload queue of remote %s is full "
				 "(%" PRIu64 " entries, --remote-queue-max): "
				 "%s and later commits are not uploaded until "
				 "it drains", r->url.display, r->queued, path);
			r->full_reported = true;
		}
	}
	pthread_mutex_unlock(&rs->up_lock);
	return n;
}

void fs_remote_queued(struct acfs_fs *fs, const uint64_t *ids, size_t n)
{
	struct fs_remotes *rs = fs->remote;

	if (!rs || !n)
		return;
	pthread_mutex_lock(&rs->up_lock);
	for (size_t i = 0; i < rs->n; i++)
		for (size_t j = 0; j < n; j++)
			if (rs->r[i].url.id == ids[j])
				rs->r[i].queued++;
	pthread_cond_broadcast(&rs->upload_cv);
	pthread_mutex_unlock(&rs->up_lock);
}

static bool in_flight(struct fs_remote *r, uint64_t id)
{
	for (unsigned i = 0; i < r->ninflight; i++)
		if (r->inflight[i] == id)
			return true;
	return false;
}

/* The oldest queued upload of @r nobody is working on (rs->up_lock held).
 * A pass goes up through the ids; after a failure it starts again. */
static bool claim(struct acfs_fs *fs, struct fs_remote *r,
		  struct acfs_upload *ret)
{
	struct acfs_upload batch[CLAIM_BATCH];
	size_t n;

	if (r->ninflight == sizeof(r->inflight) / sizeof(r->inflight[0]))
		return false;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t after = r->cursor;
		for (;;) {
			if (acfs_store_uploads(fs->store, r->url.id, after,
					       batch, CLAIM_BATCH, &n) < 0 ||
			    n == 0)
				break;
			for (size_t i = 0; i < n; i++) {
				if (in_flight(r, batch[i].id))
					continue;
				*ret = batch[i];
				r->cursor = batch[i].id;
				r->inflight[r->ninflight++] = batch[i].id;
				return true;
			}
			after = batch[n - 1].id;
		}
		if (r->cursor == 0)
			break;
		r->cursor = 0;
	}
	return false;
}

static void unclaim(struct fs_remote *r, uint64_t id)
{
	for (unsigned i = 0; i < r->ninflight; i++)
		if (r->inflight[i] == id) {
			r->inflight[i] = r->inflight[--r->ninflight];
			break;
		}
}

/* Uploads one queued version; returns 0, or the failure to retry. */
static int upload_one(struct acfs_fs *fs, struct fs_remote *r,
		      struct acfs_remote_conn *conn, const struct acfs_upload *u,
		      bool *drop)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	unsigned char d[ACFS_DIGEST_SIZE];
	struct acfs_entry e;
	uint64_t up = 0;
	void *data;
	size_t len;
	int rc;

	*drop = true;
	acfs_key_format_path(&u->key, path);
	rc = acfs_store_get(fs->store, &u->key, &e);
	if (rc == -ENOENT || (rc == 0 && e.id != u->id)) {
		/* A newer version has its own row, or came from a remote. */
		if (rc == -ENOENT) {
			count(r, C_UPLOAD_DROPPED, 1);
			acfs_log(LOG_INFO, "not uploading %s to %s: removed "
				 "or evicted before its upload", path,
				 r->url.display);
		}
		return 0;
	}
	if (rc < 0 || (rc = acfs_store_read_blob(fs->store, e.id, &data, &len,
						 err)) < 0) {
		char why[ACFS_ERR_MAX + 64];
		snprintf(why, sizeof(why), "%s could not be read: %s", path,
			 err[0] ? err : strerror(-rc));
		note_dropped(r, why);
		acfs_log(LOG_ERR, "not uploading %s to %s: cannot read it: "
			 "%s", path, r->url.display, err[0] ? err : strerror(-rc));
		return 0;
	}
	acfs_digest(data, len, d);
	if (!acfs_digest_is_none(e.digest) && memcmp(d, e.digest, sizeof(d))) {
		free(data);
		char why[ACFS_KEY_PATH_MAX + 64];
		snprintf(why, sizeof(why), "%s no longer matches its digest",
			 path);
		note_dropped(r, why);
		acfs_log(LOG_ERR, "not uploading %s to %s: its bytes no longer "
			 "match their digest (aria-cache verify)", path,
			 r->url.display);
		return 0;
	}
	rc = acfs_remote_upload(conn, &u->key, data, len, d, &up, err);
	free(data);
	count(r, C_BYTES_UP, up);
	if (rc == -ECANCELED) {
		*drop = false;
		return rc;
	}
	breaker_result(r, is_failure(rc), err);
	if (rc == 0) {
		count(r, C_UPLOADS, 1);
		acfs_log(LOG_DEBUG, "uploaded %s to %s (%zu bytes)", path,
			 r->url.display, len);
		return 0;
	}
	if (!is_failure(rc)) {
		note_dropped(r, err);
		acfs_log(LOG_ERR, "remote %s refused %s (%zu bytes): %s; "
			 "dropped from its upload queue", r->url.display, path,
			 len, err);
		return 0;
	}
	*drop = false;
	count(r, rc == -ETIMEDOUT ? C_TIMEOUTS : C_UPLOAD_ERRORS, 1);
	acfs_log(LOG_WARNING, "uploading %s to %s: %s; retrying in %u ms", path,
		 r->url.display, err,
		 r->backoff_ms ? (r->backoff_ms * 2 > BACKOFF_MAX_MS
					  ? BACKOFF_MAX_MS
					  : r->backoff_ms * 2)
			       : BACKOFF_MIN_MS);
	return rc;
}

struct uploader_arg {
	struct acfs_fs *fs;
	struct fs_remote *r;
};

static void *uploader_main(void *arg)
{
	struct uploader_arg *a = arg;
	struct acfs_fs *fs = a->fs;
	struct fs_remote *r = a->r;
	struct fs_remotes *rs = fs->remote;
	struct acfs_remote_conn *conn;
	char err[ACFS_ERR_MAX];

	free(a);
	conn = acfs_remote_conn_new(&r->url, rs->timeout_ms, &rs->stopping);
	if (!conn)
		return NULL;
	pthread_mutex_lock(&rs->up_lock);
	while (!rs->stopping) {
		struct acfs_upload u;
		struct timespec ts;
		int64_t now = acfs_now_ns();

		if (now < r->backoff_until_ns) {
			unsigned ms = (unsigned)((r->backoff_until_ns - now) /
						 1000000) + 1;
			deadline(&ts, ms);
			pthread_cond_timedwait(&rs->upload_cv, &rs->up_lock, &ts);
			continue;
		}
		if (!r->queued || !claim(fs, r, &u)) {
			/* Nothing to take: the count may be ahead of the rows
			 * (an upload can finish before its commit counted
			 * it); the store's rows are the truth. */
			uint64_t rows;
			if (r->queued && !r->ninflight &&
			    acfs_store_upload_count(fs->store, r->url.id,
						    &rows) == 0 &&
			    rows != r->queued) {
				r->queued = rows;
				pthread_cond_broadcast(&rs->drained_cv);
				continue;
			}
			pthread_cond_wait(&rs->upload_cv, &rs->up_lock);
			continue;
		}
		pthread_mutex_unlock(&rs->up_lock);
		bool drop = false;
		int rc = -EAGAIN;
		if (breaker_allow(r))
			rc = upload_one(fs, r, conn, &u, &drop);
		if (drop && acfs_store_upload_done(fs->store, r->url.id, u.id,
						   err) < 0) {
			char path[ACFS_KEY_PATH_MAX];
			acfs_key_format_path(&u.key, path);
			acfs_log(LOG_ERR, "cannot take %s (version %" PRIu64
				 ") off the upload queue of %s: %s", path, u.id,
				 r->url.display, err);
			drop = false;
		}
		pthread_mutex_lock(&rs->up_lock);
		unclaim(r, u.id);
		if (drop) {
			if (r->queued)
				r->queued--;
			if (r->queued < rs->queue_max)
				r->full_reported = false;
			r->backoff_ms = 0;
		} else {
			/* Retry later, from the oldest row again. */
			r->cursor = 0;
			if (rc != -EAGAIN && rc != -ECANCELED) {
				r->backoff_ms = r->backoff_ms
						? r->backoff_ms * 2
						: BACKOFF_MIN_MS;
				if (r->backoff_ms > BACKOFF_MAX_MS)
					r->backoff_ms = BACKOFF_MAX_MS;
			} else if (!r->backoff_ms) {
				r->backoff_ms = BACKOFF_MIN_MS;
			}
			r->backoff_until_ns = acfs_now_ns() +
					      (int64_t)r->backoff_ms * 1000000;
		}
		pthread_cond_broadcast(&rs->drained_cv);
		pthread_cond_broadcast(&rs->upload_cv);
	}
	pthread_mutex_unlock(&rs->up_lock);
	acfs_remote_conn_free(conn);
	return NULL;
}

int fs_remote_sync(struct acfs_fs *fs, unsigned timeout_ms, FILE *progress,
		   struct acfs_sync_result *res)
{
	struct fs_remotes *rs = fs->remote;
	struct timespec until;
	uint64_t left = 0, shown = UINT64_MAX;
	int64_t end = acfs_now_ns() + (int64_t)timeout_ms * 1000000;
	size_t w = 0;

	memset(res, 0, sizeof(*res));
	if (!rs || !writable(rs))
		return 0;
	pthread_mutex_lock(&rs->up_lock);
	for (;;) {
		left = 0;
		for (size_t i = 0; i < rs->n; i++)
			left += rs->r[i].queued;
		if (progress && left != shown) {
			fprintf(progress, "\r%" PRIu64 " uploads pending   ",
				left);
			fflush(progress);
			shown = left;
		}
		if (left == 0 || rs->stopping || acfs_now_ns() >= end)
			break;
		/* Wake the uploaders of remotes in backoff: a sync is a
		 * request to try now. */
		deadline(&until, 200);
		pthread_cond_timedwait(&rs->drained_cv, &rs->up_lock, &until);
	}
	pthread_mutex_unlock(&rs->up_lock);
	if (progress)
		fputc('\n', progress);
	/* Per remote: what it refused since the last sync (reported once),
	 * and, while uploads wait, its last error. */
	for (size_t i = 0; i < rs->n; i++) {
		struct fs_remote *r = &rs->r[i];
		uint64_t queued;
		pthread_mutex_lock(&rs->up_lock);
		queued = r->queued;
		pthread_mutex_unlock(&rs->up_lock);
		pthread_mutex_lock(&r->lock);
		if (r->unsynced_drops && w < sizeof(res->why))
			w += (size_t)snprintf(res->why + w, sizeof(res->why) - w,
					      "%s: %" PRIu64 " uploads refused "
					      "and dropped (last: %s)\n",
					      r->url.display, r->unsynced_drops,
					      r->drop_why);
		else if (queued && r->last_error_ns &&
			 w < sizeof(res->why))
			w += (size_t)snprintf(res->why + w, sizeof(res->why) - w,
					      "%s: %" PRIu64 " uploads waiting "
					      "(last error: %s)\n",
					      r->url.display, queued,
					      r->last_error);
		res->dropped += r->unsynced_drops;
		r->unsynced_drops = 0;
		pthread_mutex_unlock(&r->lock);
	}
	res->left = left;
	return left ? -ETIMEDOUT : res->dropped ? -EIO : 0;
}

size_t fs_remote_count(struct acfs_fs *fs)
{
	return fs->remote ? fs->remote->n : 0;
}

/* ---- report ---------------------------------------------------------------- */

static const char *mode_name(enum acfs_remote_mode m)
{
	return m == ACFS_REMOTE_READ_ONLY ? "read-only"
	       : m == ACFS_REMOTE_WRITE_ONLY ? "write-only"
					     : "read-write";
}

void fs_remote_report(struct acfs_fs *fs, FILE *out, bool json)
{
	struct fs_remotes *rs = fs->remote;
	char a[32], b[32];

	if (!rs) {
		if (json)
			fprintf(out, "null");
		else
			fprintf(out, "remote             none\n");
		return;
	}
	if (json) {
		fprintf(out, "{\"mode\": \"%s\", \"wait_ms\": %u, "
			"\"wait_expired\": %" PRIu64 ", \"negative_hits\": %"
			PRIu64 ", \"fetch_busy\": %" PRIu64 ", \"tiers\": [",
			mode_name(rs->mode), rs->wait_ms, rs->wait_expired,
			rs->neg_hits, rs->fetch_busy);
	} else {
		fprintf(out, "remote mode        %s (lookups wait %u ms; %"
			PRIu64 " stopped waiting, %" PRIu64 " answered from "
			"remembered misses)\n", mode_name(rs->mode),
			rs->wait_ms, rs->wait_expired, rs->neg_hits);
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct fs_remote *r = &rs->r[i];
		uint64_t c[C_COUNT], queued;
		for (int k = 0; k < C_COUNT; k++)
			c[k] = __atomic_load_n(&r->c[k], __ATOMIC_RELAXED);
		pthread_mutex_lock(&rs->up_lock);
		queued = r->queued;
		pthread_mutex_unlock(&rs->up_lock);
		const char *state = breaker_state(r);
		char last[ACFS_ERR_MAX], when[64] = "";
		int64_t last_ns;
		pthread_mutex_lock(&r->lock);
		snprintf(last, sizeof(last), "%s", r->last_error);
		last_ns = r->last_error_ns;
		pthread_mutex_unlock(&r->lock);
		if (last_ns) {
			time_t t = (time_t)(last_ns / 1000000000);
			struct tm tm;
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
		}
		if (json) {
			fprintf(out, "%s{\"url\": ", i ? ", " : "");
			acfs_cmd_json_string(out, r->url.display);
			fprintf(out, ", \"breaker\": \"%s\", \"queue_depth\": %"
				PRIu64, state, queued);
			for (int k = 0; k < C_COUNT; k++)
				fprintf(out, ", \"%s\": %" PRIu64,
					counter_names[k], c[k]);
			fprintf(out, ", \"last_error\": ");
			if (last_ns) {
				acfs_cmd_json_string(out, last);
				fprintf(out, ", \"last_error_at\": \"%s\"", when);
			} else {
				fprintf(out, "null, \"last_error_at\": null");
			}
			fprintf(out, "}");
			continue;
		}
		acfs_size_format(c[C_BYTES_DOWN], a, sizeof(a));
		acfs_size_format(c[C_BYTES_UP], b, sizeof(b));
		fprintf(out, "remote             %s (breaker %s, %" PRIu64
			" trips)\n", r->url.display, state, c[C_TRIPS]);
		fprintf(out, "  fetched          %" PRIu64 " hits, %" PRIu64
			" misses, %" PRIu64 " rejected, %s down\n",
			c[C_HITS], c[C_MISSES], c[C_REJECTED], a);
		fprintf(out, "  failures         %" PRIu64 " errors, %" PRIu64
			" timeouts\n", c[C_ERRORS], c[C_TIMEOUTS]);
		fprintf(out, "  uploaded         %" PRIu64 " (%s up), %" PRIu64
			" failed attempts, %" PRIu64 " dropped\n",
			c[C_UPLOADS], b, c[C_UPLOAD_ERRORS],
			c[C_UPLOAD_DROPPED]);
		fprintf(out, "  upload queue     %" PRIu64 " pending, %" PRIu64
			" commits not queued (queue full)\n", queued,
			c[C_QUEUE_FULL]);
		if (last_ns)
			fprintf(out, "  last error       %s (%s)\n", last, when);
	}
	if (json)
		fprintf(out, "]}");
}

/* ---- start / stop ---------------------------------------------------------- */

int fs_remote_start(struct acfs_fs *fs, const struct acfs_config *cfg)
{
	const char *list = cfg->value[ACFS_SET_REMOTE];
	struct acfs_remote_url *urls;
	struct fs_remotes *rs;
	char err[ACFS_ERR_MAX];
	size_t n;
	int r;

	if (!list || !*list)
		return 0;
	/* The setting was checked when it was read. */
	if ((r = acfs_remote_list_parse(list, &urls, &n, err)) < 0) {
		acfs_log(LOG_ERR, "%s", r == -EINVAL ? err : strerror(-r));
		return r;
	}
	if (n == 0)
		return 0;
	acfs_remote_global_init();
	rs = calloc(1, sizeof(*rs));
	if (!rs || !(rs->r = calloc(n, sizeof(*rs->r))) ||
	    !(rs->neg = calloc(NEG_SLOTS, sizeof(*rs->neg)))) {
		if (rs)
			free(rs->r);
		free(rs);
		acfs_remote_list_free(urls, n);
		acfs_log(LOG_ERR, "remote tiers: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct fs_remote *x = &rs->r[i];
		x->url = urls[i]; /* moved: released with rs */
		if (cfg->value[ACFS_SET_REMOTE_CA] && *cfg->value[ACFS_SET_REMOTE_CA])
			x->url.ca_file = strdup(cfg->value[ACFS_SET_REMOTE_CA]);
		pthread_mutex_init(&x->lock, NULL);
		if (acfs_store_upload_count(fs->store, x->url.id, &x->queued) < 0)
			x->queued = 0;
	}
	free(urls);
	rs->n = n;
	rs->mode = cfg->remote_mode;
	rs->wait_ms = cfg->remote_wait_ms;
	rs->timeout_ms = cfg->remote_timeout_ms;
	rs->neg_ttl_ms = cfg->remote_negative_ttl_ms;
	rs->queue_max = cfg->remote_queue_max;
	pthread_mutex_init(&rs->lock, NULL);
	pthread_mutex_init(&rs->up_lock, NULL);
	pthread_cond_init(&rs->fetch_cv, NULL);
	pthread_cond_init(&rs->done_cv, NULL);
	pthread_cond_init(&rs->upload_cv, NULL);
	pthread_cond_init(&rs->drained_cv, NULL);
	fs->remote = rs;
	if (readable(rs))
		for (unsigned i = 0; i < FETCHERS; i++)
			if (pthread_create(&rs->fetchers[i], NULL, fetcher_main,
					   fs) == 0)
				rs->nfetchers++;
	if (readable(rs) && rs->nfetchers == 0)
		acfs_log(LOG_ERR, "cannot start a fetcher thread: lookups "
			 "will not read the remotes");
	for (size_t i = 0; i < n && writable(rs); i++) {
		struct fs_remote *x = &rs->r[i];
		x->uploaders = calloc(cfg->remote_uploads, sizeof(pthread_t));
		for (unsigned k = 0; x->uploaders && k < cfg->remote_uploads;
		     k++) {
			struct uploader_arg *a = malloc(sizeof(*a));
			if (!a)
				break;
			a->fs = fs;
			a->r = x;
			if (pthread_create(&x->uploaders[k], NULL,
					   uploader_main, a) != 0) {
				free(a);
				break;
			}
			x->nuploaders++;
		}
		if (x->nuploaders == 0)
			acfs_log(LOG_ERR, "cannot start an upload thread for "
				 "%s: its %" PRIu64 " queued uploads wait in the "
				 "store for the next start", x->url.display,
				 x->queued);
	}
	/* Start-up work stays out of the first lookups' bounded waits: the
	 * LLVM helpers that validate fetched entries are started now, and
	 * each remote is asked once, its answer logged and printed. */
	if (readable(rs))
		acfs_validator_warm(fs->validator);
	for (size_t i = 0; i < n; i++) {
		struct fs_remote *x = &rs->r[i];
		struct acfs_remote_conn *c =
			acfs_remote_conn_new(&x->url, rs->timeout_ms, &rs->stopping);
		int64_t t0 = acfs_now_ns();
		r = c ? acfs_remote_probe(c, err) : -ENOMEM;
		acfs_remote_conn_free(c);
		if (r == 0) {
			acfs_log(LOG_INFO, "remote %s answers (%.1f ms; %s; %"
				 PRIu64 " uploads queued)", x->url.display,
				 (double)(acfs_now_ns() - t0) / 1e6,
				 mode_name(rs->mode), x->queued);
		} else {
			if (r != -ENOMEM) {
				pthread_mutex_lock(&x->lock);
				note_error_locked(x, err);
				pthread_mutex_unlock(&x->lock);
			}
			acfs_log_say(LOG_WARNING, "remote %s does not answer as "
				     "it should: %s (%s; %" PRIu64 " uploads "
				     "queued); the mount serves local data and "
				     "keeps trying", x->url.display,
				     r == -ENOMEM ? "out of memory" : err,
				     mode_name(rs->mode), x->queued);
		}
	}
	return 0;
}

void fs_remote_stop(struct acfs_fs *fs)
{
	struct fs_remotes *rs = fs->remote;

	if (!rs)
		return;
	pthread_mutex_lock(&rs->lock);
	rs->stopping = true;
	pthread_cond_broadcast(&rs->fetch_cv);
	pthread_cond_broadcast(&rs->done_cv);
	pthread_mutex_unlock(&rs->lock);
	pthread_mutex_lock(&rs->up_lock);
	pthread_cond_broadcast(&rs->upload_cv);
	pthread_cond_broadcast(&rs->drained_cv);
	pthread_mutex_unlock(&rs->up_lock);
	for (unsigned i = 0; i < rs->nfetchers; i++)
		pthread_join(rs->fetchers[i], NULL);
	rs->nfetchers = 0;
	for (size_t i = 0; i < rs->n; i++) {
		struct fs_remote *r = &rs->r[i];
		for (unsigned k = 0; k < r->nuploaders; k++)
			pthread_join(r->uploaders[k], NULL);
		r->nuploaders = 0;
	}
}

void fs_remote_free(struct acfs_fs *fs)
{
	struct fs_remotes *rs = fs->remote;

	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		struct fs_remote *r = &rs->r[i];
		free(r->uploaders);
		pthread_mutex_destroy(&r->lock);
		acfs_remote_url_release(&r->url);
	}
	/* Fetches nobody ran. */
	while (rs->queue_head) {
		struct fetch *f = rs->queue_head;
		rs->queue_head = f->next;
		free(f);
	}
	free(rs->neg);
	free(rs->r);
	free(rs);
	fs->remote = NULL;
}
