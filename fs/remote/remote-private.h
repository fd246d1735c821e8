/* SPDX-License-Identifier: MIT */
/* The remote tiers' state, shared by the files of remote/ only: see
 * remote.c for what they do. */
#ifndef ACFS_FS_REMOTE_PRIVATE_H
#define ACFS_FS_REMOTE_PRIVATE_H

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "acfs/remote.h"
#include "acfs/size.h"
#include "cachefs.h"

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
extern const char *const remote_counter_names[C_COUNT];

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

static inline void count(struct fs_remote *r, enum counter c, uint64_t n)
{
	__atomic_add_fetch(&r->c[c], n, __ATOMIC_RELAXED);
}

static inline bool readable(const struct fs_remotes *rs)
{
	return rs->mode != ACFS_REMOTE_WRITE_ONLY;
}

static inline bool writable(const struct fs_remotes *rs)
{
	return rs->mode != ACFS_REMOTE_READ_ONLY;
}

static inline void deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* breaker.c: the circuit breaker of each remote, and its last errors */
bool breaker_allow(struct fs_remote *r);
void note_error_locked(struct fs_remote *r, const char *why);
void note_dropped(struct fs_remote *r, const char *why);
void breaker_result(struct fs_remote *r, bool failed, const char *why);
const char *breaker_state(struct fs_remote *r);
/* Does error @r count against a remote (not a plain absence)? */
bool is_failure(int r);

/* fetch.c */
void *fetcher_main(void *arg);
/* upload.c */
struct uploader_arg {
	struct acfs_daemon *d;
	struct fs_remote *r;
};
void *uploader_main(void *arg);

#endif
