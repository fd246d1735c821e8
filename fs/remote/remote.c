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
 * Lock order: d->ns_lock (never held here while waiting), rs->lock or
 * rs->up_lock (never both), r->lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "acfs/size.h"
#include "cmd.h"
#include "remote/remote-private.h"

const char *const remote_counter_names[C_COUNT] = {
	"hits", "misses", "errors", "timeouts", "rejected", "bytes_down",
	"bytes_up", "uploads", "upload_errors", "upload_dropped",
	"queue_full", "breaker_trips",
};

/* ---- report ---------------------------------------------------------------- */

static const char *mode_name(enum acfs_remote_mode m)
{
	return m == ACFS_REMOTE_READ_ONLY ? "read-only"
	       : m == ACFS_REMOTE_WRITE_ONLY ? "write-only"
					     : "read-write";
}

void fs_remote_report(struct acfs_daemon *d, FILE *out, bool json)
{
	struct fs_remotes *rs = d->remote;
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
		/* Versions the remote does not have, recorded in the store
		 * until uploaded or forgotten (aria-cache sync). */
		uint64_t missing = 0;
		if (acfs_store_dropped_count(d->store, r->url.id, &missing) < 0)
			missing = 0;
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
				PRIu64 ", \"not_uploaded\": %" PRIu64, state,
				queued, missing);
			for (int k = 0; k < C_COUNT; k++)
				fprintf(out, ", \"%s\": %" PRIu64,
					remote_counter_names[k], c[k]);
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
		if (missing)
			fprintf(out, "  not uploaded     %" PRIu64 " versions "
				"dropped (refused, or the queue was full): "
				"aria-cache sync retries them\n", missing);
		if (last_ns)
			fprintf(out, "  last error       %s (%s)\n", last, when);
	}
	if (json)
		fprintf(out, "]}");
}

void fs_remote_metrics(struct acfs_daemon *d, FILE *out, const char *labels)
{
	static const char *const help[C_COUNT] = {
		"Entries fetched from the remote and committed.",
		"Fetches the remote answered with absent.",
		"Requests to the remote that failed.",
		"Requests to the remote that timed out.",
		"Fetched entries refused (digest, size or validation).",
		"Bytes received from the remote.",
		"Bytes sent to the remote.",
		"Entries uploaded to the remote.",
		"Upload attempts that failed (retried).",
		"Uploads given up for good.",
		"Commits not queued for upload: the queue was full.",
		"Times the circuit breaker opened.",
	};
	struct fs_remotes *rs = d->remote;

	if (!rs)
		return;
	for (int k = 0; k < C_COUNT; k++) {
		fprintf(out, "# HELP aria_cache_remote_%s_total %s\n"
			"# TYPE aria_cache_remote_%s_total counter\n",
			remote_counter_names[k], help[k],
			remote_counter_names[k]);
		for (size_t i = 0; i < rs->n; i++) {
			fprintf(out, "aria_cache_remote_%s_total{%s,remote=",
				remote_counter_names[k], labels);
			acfs_cmd_prom_string(out, rs->r[i].url.display);
			fprintf(out, "} %" PRIu64 "\n",
				__atomic_load_n(&rs->r[i].c[k],
						__ATOMIC_RELAXED));
		}
	}
	fprintf(out, "# HELP aria_cache_remote_upload_queue Uploads waiting "
		"for the remote.\n# TYPE aria_cache_remote_upload_queue "
		"gauge\n");
	for (size_t i = 0; i < rs->n; i++) {
		pthread_mutex_lock(&rs->up_lock);
		uint64_t queued = rs->r[i].queued;
		pthread_mutex_unlock(&rs->up_lock);
		fprintf(out, "aria_cache_remote_upload_queue{%s,remote=",
			labels);
		acfs_cmd_prom_string(out, rs->r[i].url.display);
		fprintf(out, "} %" PRIu64 "\n", queued);
	}
	fprintf(out, "# HELP aria_cache_remote_breaker_open 1 while the "
		"remote is skipped after failures.\n# TYPE "
		"aria_cache_remote_breaker_open gauge\n");
	for (size_t i = 0; i < rs->n; i++) {
		fprintf(out, "aria_cache_remote_breaker_open{%s,remote=",
			labels);
		acfs_cmd_prom_string(out, rs->r[i].url.display);
		fprintf(out, "} %d\n",
			strcmp(breaker_state(&rs->r[i]), "closed") != 0);
	}
}

void fs_remote_totals(struct acfs_daemon *d, uint64_t *down, uint64_t *up,
		      uint64_t *queued)
{
	struct fs_remotes *rs = d->remote;

	*down = *up = *queued = 0;
	if (!rs)
		return;
	pthread_mutex_lock(&rs->up_lock);
	for (size_t i = 0; i < rs->n; i++)
		*queued += rs->r[i].queued;
	pthread_mutex_unlock(&rs->up_lock);
	for (size_t i = 0; i < rs->n; i++) {
		*down += __atomic_load_n(&rs->r[i].c[C_BYTES_DOWN],
					 __ATOMIC_RELAXED);
		*up += __atomic_load_n(&rs->r[i].c[C_BYTES_UP],
				       __ATOMIC_RELAXED);
	}
}

/* ---- start / stop ---------------------------------------------------------- */

int fs_remote_start(struct acfs_daemon *d, const struct acfs_config *cfg)
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
		if (acfs_store_upload_count(d->store, x->url.id, &x->queued) < 0)
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
	d->remote = rs;
	if (readable(rs))
		for (unsigned i = 0; i < FETCHERS; i++)
			if (pthread_create(&rs->fetchers[i], NULL, fetcher_main,
					   d) == 0)
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
			a->d = d;
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
		acfs_validator_warm(d->validator);
	for (size_t i = 0; i < n; i++) {
		struct fs_remote *x = &rs->r[i];
		struct acfs_remote_conn *c =
			acfs_remote_conn_new(&x->url, rs->timeout_ms, &rs->stopping);
		int64_t t0 = acfs_now_ns();
		r = c ? acfs_remote_probe(c, err) : -ENOMEM;
		if (c && *acfs_remote_conn_warning(c))
			acfs_log_say(LOG_WARNING, "remote %s: %s: its requests "
				     "go unsigned", x->url.display,
				     acfs_remote_conn_warning(c));
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

void fs_remote_stop(struct acfs_daemon *d)
{
	struct fs_remotes *rs = d->remote;

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

void fs_remote_free(struct acfs_daemon *d)
{
	struct fs_remotes *rs = d->remote;

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
	d->remote = NULL;
}
