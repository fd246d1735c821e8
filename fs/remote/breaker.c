/* SPDX-License-Identifier: MIT */
/* The circuit breaker of each remote (see remote.c), and the errors it
 * remembers for stats. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "remote/remote-private.h"

/* ---- circuit breaker ------------------------------------------------------ */

/* May a request go to @r now? (In half-open state: only one.) */
bool breaker_allow(struct fs_remote *r)
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
void note_error_locked(struct fs_remote *r, const char *why)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	r->last_error_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* An upload the remote refused for good: counted, and reported by the
 * next sync (which must not say every upload is done). */
void note_dropped(struct fs_remote *r, const char *why)
{
	count(r, C_UPLOAD_DROPPED, 1);
	pthread_mutex_lock(&r->lock);
	r->unsynced_drops++;
	snprintf(r->drop_why, sizeof(r->drop_why), "%s", why);
	note_error_locked(r, why);
	pthread_mutex_unlock(&r->lock);
}

void breaker_result(struct fs_remote *r, bool failed, const char *why)
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

const char *breaker_state(struct fs_remote *r)
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
bool is_failure(int r)
{
	return r == -ETIMEDOUT || r == -EIO || r == -ECONNREFUSED ||
	       r == -ENOMEM || r == -EACCES;
}
