/* SPDX-License-Identifier: MIT */
/* Write-behind: the upload queues and their uploader threads, and
 * aria-cache sync (see remote.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cmd.h"
#include "remote/remote-private.h"

/* ---- uploading ------------------------------------------------------------- */

size_t fs_remote_upload_targets(struct acfs_daemon *d, const struct acfs_key *key,
				uint64_t *ids, uint64_t *full, size_t *nfull)
{
	struct fs_remotes *rs = d->remote;
	char path[ACFS_KEY_PATH_MAX];
	size_t n = 0;

	*nfull = 0;
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
		full[(*nfull)++] = r->url.id;
		if (!r->full_reported) {
			acfs_key_format_path(key, path);
			acfs_log(LOG_ERR, "upload queue of remote %s is full "
				 "(%" PRIu64 " entries, --remote-queue-max): "
				 "%s and later commits are recorded as not "
				 "uploaded (aria-cache sync retries them)",
				 r->url.display, r->queued, path);
			r->full_reported = true;
		}
	}
	pthread_mutex_unlock(&rs->up_lock);
	return n;
}

void fs_remote_queued(struct acfs_daemon *d, const uint64_t *ids, size_t n)
{
	struct fs_remotes *rs = d->remote;

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
static bool claim(struct acfs_daemon *d, struct fs_remote *r,
		  struct acfs_upload *ret)
{
	struct acfs_upload batch[CLAIM_BATCH];
	size_t n;

	if (r->ninflight == sizeof(r->inflight) / sizeof(r->inflight[0]))
		return false;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t after = r->cursor;
		for (;;) {
			if (acfs_store_uploads(d->store, r->url.id, after,
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
static int upload_one(struct acfs_daemon *d, struct fs_remote *r,
		      struct acfs_remote_conn *conn, const struct acfs_upload *u,
		      bool *drop, bool *missing)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	unsigned char dg[ACFS_DIGEST_SIZE];
	struct acfs_entry e;
	uint64_t up = 0;
	void *data;
	size_t len;
	int rc;

	*drop = true;
	*missing = false;
	acfs_key_format_path(&u->key, path);
	rc = acfs_store_get(d->store, &u->key, &e);
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
	if (rc < 0 || (rc = acfs_store_read_blob(d->store, e.id, &data, &len,
						 err)) < 0) {
		char why[ACFS_ERR_MAX + 64];
		snprintf(why, sizeof(why), "%s could not be read: %s", path,
			 err[0] ? err : strerror(-rc));
		note_dropped(r, why);
		*missing = true;
		acfs_log(LOG_ERR, "not uploading %s to %s: cannot read it: "
			 "%s", path, r->url.display, err[0] ? err : strerror(-rc));
		return 0;
	}
	acfs_digest(data, len, dg);
	if (!acfs_digest_is_none(e.digest) && memcmp(dg, e.digest, sizeof(dg))) {
		free(data);
		char why[ACFS_KEY_PATH_MAX + 64];
		snprintf(why, sizeof(why), "%s no longer matches its digest",
			 path);
		note_dropped(r, why);
		*missing = true;
		acfs_log(LOG_ERR, "not uploading %s to %s: its bytes no longer "
			 "match their digest (aria-cache verify)", path,
			 r->url.display);
		return 0;
	}
	rc = acfs_remote_upload(conn, &u->key, data, len, dg, &up, err);
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
		*missing = true;
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

void *uploader_main(void *arg)
{
	struct uploader_arg *a = arg;
	struct acfs_daemon *d = a->d;
	struct fs_remote *r = a->r;
	struct fs_remotes *rs = d->remote;
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
		if (!r->queued || !claim(d, r, &u)) {
			/* Nothing to take: the count may be ahead of the rows
			 * (an upload can finish before its commit counted
			 * it); the store's rows are the truth. */
			uint64_t rows;
			if (r->queued && !r->ninflight &&
			    acfs_store_upload_count(d->store, r->url.id,
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
		bool drop = false, missing = false;
		int rc = -EAGAIN;
		if (breaker_allow(r))
			rc = upload_one(d, r, conn, &u, &drop, &missing);
		/* Off the queue; what the remote does not have stays
		 * recorded as dropped, for every sync to report. */
		if (drop && (missing ? acfs_store_upload_drop(d->store,
							     r->url.id, &u, err)
				     : acfs_store_upload_done(d->store, r->url.id,
							      u.id, err)) < 0) {
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

/* Moves dropped versions of @r with ids above *@cursor back into its
 * queue, as many as it has room for (rs->up_lock held). A sync tries
 * each once: one the remote refuses again is dropped again, with an id
 * at or below the cursor. */
static uint64_t requeue_dropped(struct acfs_daemon *d, struct fs_remote *r,
				uint64_t room, uint64_t *cursor)
{
	struct acfs_upload batch[64];
	uint64_t moved = 0;
	size_t n;

	while (moved < room) {
		size_t want = room - moved < 64 ? (size_t)(room - moved) : 64;
		if (acfs_store_dropped(d->store, r->url.id, *cursor, batch, want,
				       &n) < 0 || n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			*cursor = batch[i].id;
			if (acfs_store_dropped_requeue(d->store, r->url.id,
						       &batch[i], NULL) == 0)
				moved++;
		}
	}
	return moved;
}

int fs_remote_sync(struct acfs_daemon *d, unsigned timeout_ms, FILE *progress,
		   struct acfs_sync_result *res)
{
	struct fs_remotes *rs = d->remote;
	struct timespec until;
	uint64_t left = 0, shown = UINT64_MAX;
	int64_t end = acfs_now_ns() + (int64_t)timeout_ms * 1000000;
	size_t w = 0;

	memset(res, 0, sizeof(*res));
	if (!rs || !writable(rs))
		return 0;
	uint64_t cursor[rs->n + 1];
	memset(cursor, 0, sizeof(cursor));
	pthread_mutex_lock(&rs->up_lock);
	for (;;) {
		uint64_t moved = 0;
		left = 0;
		/* What a remote refused, or a full queue kept from it, is
		 * tried again: a sync is a request to upload everything. */
		for (size_t i = 0; i < rs->n; i++) {
			struct fs_remote *r = &rs->r[i];
			uint64_t room = rs->queue_max > r->queued
					? rs->queue_max - r->queued : 0;
			uint64_t m = requeue_dropped(d, r, room, &cursor[i]);
			r->queued += m;
			moved += m;
			left += r->queued;
		}
		if (moved) {
			pthread_cond_broadcast(&rs->upload_cv);
			continue;
		}
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
	/* Per remote: the versions it does not have (recorded in the store:
	 * reported by every sync until uploaded or forgotten), and, while
	 * uploads wait, its last error. */
	for (size_t i = 0; i < rs->n; i++) {
		struct fs_remote *r = &rs->r[i];
		uint64_t queued, missing = 0;
		pthread_mutex_lock(&rs->up_lock);
		queued = r->queued;
		if (acfs_store_dropped_count(d->store, r->url.id, &missing) < 0)
			missing = 0;
		pthread_mutex_unlock(&rs->up_lock);
		pthread_mutex_lock(&r->lock);
		if (missing && w < sizeof(res->why))
			w += (size_t)snprintf(res->why + w, sizeof(res->why) - w,
					      "%s: %" PRIu64 " versions not "
					      "uploaded (last: %s); aria-cache "
					      "sync --forget-dropped stops "
					      "reporting them\n",
					      r->url.display, missing,
					      r->drop_why[0] ? r->drop_why
							     : "its upload queue "
							       "was full");
		else if (queued && r->last_error_ns &&
			 w < sizeof(res->why))
			w += (size_t)snprintf(res->why + w, sizeof(res->why) - w,
					      "%s: %" PRIu64 " uploads waiting "
					      "(last error: %s)\n",
					      r->url.display, queued,
					      r->last_error);
		res->dropped += missing;
		r->unsynced_drops = 0;
		pthread_mutex_unlock(&r->lock);
	}
	res->left = left;
	return left ? -ETIMEDOUT : res->dropped ? -EIO : 0;
}

size_t fs_remote_count(struct acfs_daemon *d)
{
	return d->remote ? d->remote->n : 0;
}
