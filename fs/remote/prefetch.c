/* SPDX-License-Identifier: MIT */
/*
 * Manifests and prefetch: CI publishes the keys it has for a ref (a
 * branch, a commit) and a developer's mount fetches those entries before
 * the first build after `git pull` probes them.
 *
 * A manifest is a JSON document,
 *   {"aria_cachefs_manifest": 1, "ref": "REF", "keys": ["<key16>", ...]}
 * ("<key16>.meta" for .meta entries), stored on the remotes as if it were
 * the .meta entry of a key derived from REF (manifest_key): the same
 * upload and fetch as entries, so the layout stays Bazel's (bazel-remote,
 * S3 and nginx serve it unchanged) and a manifest is checked against its
 * digest like any entry. It is never committed locally.
 *
 * Prefetch runs @jobs fetchers, each with its own connections; each
 * fetched entry is validated and committed as a read-through fetch is
 * (d->commit_fetched). It stops before the store would pass 90% of its
 * budget: prefetching never evicts what the developer used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "acfs/digest.h"
#include "cmd.h"
#include "remote/remote-private.h"

#define MANIFEST_MAX (64u << 20)
#define PREFETCH_JOBS_MAX 64

static void manifest_key(const char *ref, struct acfs_key *key)
{
	static const char prefix[] = "aria-cachefs manifest";
	unsigned char dg[ACFS_DIGEST_SIZE];
	size_t n = strlen(ref);
	char *buf = malloc(sizeof(prefix) + n);
	uint64_t h = 0;

	if (buf) {
		memcpy(buf, prefix, sizeof(prefix)); /* with its NUL */
		memcpy(buf + sizeof(prefix), ref, n);
		acfs_digest(buf, sizeof(prefix) + n, dg);
		free(buf);
	} else {
		acfs_digest(ref, n, dg);
	}
	for (int i = 0; i < 8; i++)
		h = h << 8 | dg[i];
	key->hash = h;
	key->kind = ACFS_KIND_META;
}

/* ---- publish ------------------------------------------------------------- */

struct listing {
	FILE *m;
	uint64_t n;
	uint64_t *absent;       /* versions some remote lacks, sorted */
	size_t nabsent, cap;
	uint64_t skipped;
};

static int by_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int note_absent(struct listing *l, const struct acfs_upload *u,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (l->nabsent == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 256;
			uint64_t *a = realloc(l->absent, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			l->absent = a;
			l->cap = cap;
		}
		l->absent[l->nabsent++] = u[i].id;
	}
	return 0;
}

/* The versions a remote does not have: queued for it, or dropped. */
static int collect_absent(struct acfs_daemon *d, struct listing *l)
{
	struct fs_remotes *rs = d->remote;
	struct acfs_upload batch[256];
	int r = 0;

	for (size_t i = 0; i < rs->n && r == 0; i++) {
		for (int dropped = 0; dropped < 2 && r == 0; dropped++) {
			uint64_t after = 0;
			size_t n;
			for (;;) {
				r = dropped ? acfs_store_dropped(d->store,
						rs->r[i].url.id, after, batch,
						256, &n)
					    : acfs_store_uploads(d->store,
						rs->r[i].url.id, after, batch,
						256, &n);
				if (r < 0 || n == 0 ||
				    (r = note_absent(l, batch, n)) < 0)
					break;
				after = batch[n - 1].id;
			}
		}
	}
	if (l->nabsent)
		qsort(l->absent, l->nabsent, sizeof(*l->absent), by_id);
	return r;
}

static int list_key(const struct acfs_key *key, const struct acfs_entry *e,
		    void *userdata)
{
	struct listing *l = userdata;

	/* A manifest names only what the remotes have. */
	if (l->nabsent && bsearch(&e->id, l->absent, l->nabsent,
				  sizeof(*l->absent), by_id)) {
		l->skipped++;
		return 0;
	}
	fprintf(l->m, "%s\"%016llx%s\"", l->n++ ? ", " : "",
		(unsigned long long)key->hash,
		key->kind == ACFS_KIND_META ? ".meta" : "");
	return 0;
}

int fs_remote_publish(struct acfs_daemon *d, const char *ref,
		      uint64_t *ret_keys, char *why, size_t whylen)
{
	struct fs_remotes *rs = d->remote;
	struct listing l = { 0 };
	unsigned char dg[ACFS_DIGEST_SIZE];
	struct acfs_key mkey;
	char *text = NULL, err[ACFS_ERR_MAX];
	size_t len = 0;
	unsigned ok = 0, tried = 0;
	int r;

	*ret_keys = 0;
	if (!rs || !writable(rs)) {
		snprintf(why, whylen, "no remote to publish to: this daemon "
			 "runs without a writable one. Add one as remote = URL "
			 "in ~/.config/aria-cachefs/config (or --remote URL "
			 "when mounting; redis:// or http(s)://, see man "
			 "aria-cachefs), then unmount and mount again");
		return -ENOTSUP;
	}
	if ((r = collect_absent(d, &l)) < 0) {
		free(l.absent);
		snprintf(why, whylen, "listing the upload queues failed");
		return r;
	}
	if (!(l.m = open_memstream(&text, &len))) {
		free(l.absent);
		return -ENOMEM;
	}
	fprintf(l.m, "{\"aria_cachefs_manifest\": 1, \"ref\": ");
	acfs_cmd_json_string(l.m, ref);
	fprintf(l.m, ", \"keys\": [");
	r = acfs_store_foreach(d->store, list_key, &l);
	fprintf(l.m, "]}\n");
	fclose(l.m);
	free(l.absent);
	if (l.skipped)
		acfs_log(LOG_WARNING, "manifest %s leaves out %llu keys a remote "
			 "does not have (queued or dropped: aria-cache sync)",
			 ref, (unsigned long long)l.skipped);
	if (r < 0) {
		free(text);
		snprintf(why, whylen, "listing the store's entries failed");
		return r;
	}
	manifest_key(ref, &mkey);
	acfs_digest(text, len, dg);
	why[0] = '\0';
	for (size_t i = 0; i < rs->n; i++) {
		struct acfs_remote_conn *c;
		uint64_t up = 0;

		tried++;
		c = acfs_remote_conn_new(&rs->r[i].url, rs->timeout_ms,
					 &rs->stopping);
		r = c ? acfs_remote_upload(c, &mkey, text, len, dg, &up, err)
		      : -ENOMEM;
		acfs_remote_conn_free(c);
		if (r == 0) {
			ok++;
		} else {
			size_t used = strlen(why);
			snprintf(why + used, whylen - used, "%s: %s\n",
				 rs->r[i].url.display,
				 r == -ENOMEM ? "out of memory" : err);
		}
	}
	free(text);
	*ret_keys = l.n;
	acfs_log(LOG_INFO, "published manifest %s: %llu keys to %u of %u "
		 "remotes", ref, (unsigned long long)l.n, ok, tried);
	return ok == tried ? 0 : -EIO;
}

/* ---- prefetch ------------------------------------------------------------ */

struct prefetch {
	struct acfs_daemon *d;
	struct acfs_key *keys;
	size_t n, next, done;
	uint64_t room;              /* stored bytes we may still add */
	pthread_mutex_t lock;
	FILE *progress;
	struct acfs_prefetch_result *res;
};

static void admit(uint64_t size, void *d)
{
	fs_commit_gate(d, size, true);
}

/* One key: 0 fetched, 1 present, 2 missing, 3 stop (budget), <0 failed. */
static int prefetch_one(struct prefetch *p, struct acfs_remote_conn **conns,
			const struct acfs_key *key, char *err)
{
	struct acfs_daemon *d = p->d;
	struct fs_remotes *rs = d->remote;
	struct acfs_entry e;
	int last = -ENOENT;

	if (acfs_store_get(d->store, key, &e) == 0)
		return 1;
	for (size_t i = 0; i < rs->n; i++) {
		uint64_t admitted = 0, down = 0;
		void *data = NULL;
		size_t len = 0;
		int rc;

		if (!conns[i])
			continue;
		rc = acfs_remote_fetch(conns[i], key, d->max_entry_size, admit,
				       d, &admitted, &data, &len, &down, err);
		count(&rs->r[i], C_BYTES_DOWN, down);
		if (rc == -ENOENT) {
			fs_commit_gate(d, admitted, false);
			continue;
		}
		if (rc < 0) {
			fs_commit_gate(d, admitted, false);
			last = rc;
			continue;
		}
		/* The budget counts stored bytes (compressed, known after the
		 * commit): the raw length is reserved first (no more is
		 * stored, but for a frame's few bytes), what compression
		 * saved is given back after. */
		pthread_mutex_lock(&p->lock);
		bool fits = len <= p->room;
		if (fits)
			p->room -= len;
		pthread_mutex_unlock(&p->lock);
		if (!fits) {
			free(data);
			fs_commit_gate(d, admitted, false);
			return 3;
		}
		rc = d->commit_fetched(d, key, data, len, rs->r[i].url.display);
		free(data);
		fs_commit_gate(d, admitted, false);
		if (rc != 0) {
			pthread_mutex_lock(&p->lock);
			p->room += len; /* not stored after all */
			pthread_mutex_unlock(&p->lock);
		}
		if (rc == 0) {
			struct acfs_entry got;
			uint64_t stored = acfs_store_get(d->store, key, &got) == 0
					  ? got.stored : len;
			pthread_mutex_lock(&p->lock);
			if (stored < len)
				p->room += len - stored;
			else
				p->room = p->room > stored - len
					  ? p->room - (stored - len) : 0;
			pthread_mutex_unlock(&p->lock);
			/* A mount may remember the key as absent. */
			fs_invalidate_mounts(d, NULL, key);
			pthread_mutex_lock(&p->lock);
			p->res->bytes += len;
			pthread_mutex_unlock(&p->lock);
			return 0;
		}
		snprintf(err, ACFS_ERR_MAX, "refused: %s (see the log)",
			 strerror(-rc));
		return rc;
	}
	return last == -ENOENT ? 2 : last;
}

static void *prefetcher_main(void *arg)
{
	struct prefetch *p = arg;
	struct fs_remotes *rs = p->d->remote;
	struct acfs_remote_conn *conns[rs->n ? rs->n : 1];
	char err[ACFS_ERR_MAX];

	for (size_t i = 0; i < rs->n; i++)
		conns[i] = acfs_remote_conn_new(&rs->r[i].url, rs->timeout_ms,
						&rs->stopping);
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->next >= p->n || p->res->budget_stop || rs->stopping) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		struct acfs_key key = p->keys[p->next++];
		pthread_mutex_unlock(&p->lock);

		err[0] = '\0';
		int r = prefetch_one(p, conns, &key, err);

		pthread_mutex_lock(&p->lock);
		p->done++;
		switch (r) {
		case 0: p->res->fetched++; break;
		case 1: p->res->present++; break;
		case 2: p->res->missing++; break;
		case 3: p->res->budget_stop = true; break;
		default:
			p->res->failed++;
			snprintf(p->res->why, sizeof(p->res->why), "%016llx: %s",
				 (unsigned long long)key.hash,
				 err[0] ? err : strerror(-r));
		}
		if (p->progress && (p->done % 64 == 0 || p->done == p->n)) {
			fprintf(p->progress, "\rprefetch: %zu/%zu keys, %llu "
				"fetched", p->done, p->n,
				(unsigned long long)p->res->fetched);
			fflush(p->progress);
		}
		pthread_mutex_unlock(&p->lock);
	}
	for (size_t i = 0; i < rs->n; i++)
		acfs_remote_conn_free(conns[i]);
	return NULL;
}

/* A strict reader of the one JSON document a manifest is. */
struct jr {
	const char *p, *end;
};

static void jr_ws(struct jr *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool jr_lit(struct jr *j, char c)
{
	jr_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

/* A JSON string into @out (escapes kept undecoded: names and keys are
 * plain ASCII; a ref's escapes only need to be well formed). */
static bool jr_string(struct jr *j, char *out, size_t len)
{
	size_t n = 0;

	if (!jr_lit(j, '"'))
		return false;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p >= j->end || !strchr("\"\\/bfnrtu", *j->p))
				return false;
			if (*j->p == 'u') {
				if (j->end - j->p < 5)
					return false;
				for (int k = 1; k <= 4; k++)
					if (!strchr("0123456789abcdefABCDEF",
						    j->p[k]) || !j->p[k])
						return false;
				j->p += 4;
			}
			j->p++;
			c = '?';
		}
		if (n + 1 < len)
			out[n++] = (char)c;
		else
			return false;
	}
	if (j->p >= j->end)
		return false;
	j->p++;
	out[n] = '\0';
	return true;
}

/*
 * The keys of manifest @text, read strictly: exactly one object with
 * "aria_cachefs_manifest": 1, "ref": a string, "keys": an array of keys,
 * and nothing after it. A truncated or edited document is no manifest
 * (it was scanned for quoted keys once: half a manifest prefetched half).
 * More than @max keys: -E2BIG.
 */
static int parse_manifest(const char *text, size_t len, uint64_t max,
			  struct acfs_key **ret, size_t *ret_n)
{
	struct jr j = { text, text + len };
	struct acfs_key *keys = NULL;
	bool version = false, ref = false, have_keys = false;
	size_t n = 0, cap = 0;
	char name[64], val[1300];
	int r = -EBADMSG;

	if (!jr_lit(&j, '{'))
		return -EBADMSG;
	do {
		if (!jr_string(&j, name, sizeof(name)) || !jr_lit(&j, ':'))
			goto fail;
		if (!strcmp(name, "aria_cachefs_manifest") && !version) {
			jr_ws(&j);
			if (j.end - j.p < 1 || *j.p != '1' ||
			    (j.end - j.p > 1 && strchr("0123456789.eE", j.p[1])))
				goto fail;
			j.p++;
			version = true;
		} else if (!strcmp(name, "ref") && !ref) {
			if (!jr_string(&j, val, sizeof(val)))
				goto fail;
			ref = true;
		} else if (!strcmp(name, "keys") && !have_keys) {
			if (!jr_lit(&j, '['))
				goto fail;
			if (!jr_lit(&j, ']')) {
				do {
					struct acfs_key key;
					if (!jr_string(&j, val, sizeof(val)) ||
					    acfs_key_parse_any(val, &key) < 0)
						goto fail;
					if (n >= max) {
						r = -E2BIG;
						goto fail;
					}
					if (n == cap) {
						cap = cap ? cap * 2 : 1024;
						void *nk = realloc(keys, cap *
								   sizeof(*keys));
						if (!nk) {
							r = -ENOMEM;
							goto fail;
						}
						keys = nk;
					}
					keys[n++] = key;
				} while (jr_lit(&j, ','));
				if (!jr_lit(&j, ']'))
					goto fail;
			}
			have_keys = true;
		} else {
			goto fail; /* unknown or repeated member */
		}
	} while (jr_lit(&j, ','));
	if (!jr_lit(&j, '}') || !version || !have_keys)
		goto fail;
	jr_ws(&j);
	if (j.p != j.end)
		goto fail;
	*ret = keys;
	*ret_n = n;
	return 0;
fail:
	free(keys);
	return r;
}

int fs_remote_prefetch(struct acfs_daemon *d, const char *ref, unsigned jobs,
		       FILE *progress, struct acfs_prefetch_result *res)
{
	struct fs_remotes *rs = d->remote;
	struct prefetch p = { .d = d, .progress = progress, .res = res };
	struct acfs_key mkey;
	struct acfs_store_counters c;
	char err[ACFS_ERR_MAX] = "";
	void *text = NULL;
	size_t len = 0;
	int64_t t0 = acfs_now_ns();
	int r = -ENOENT;

	uint64_t max_keys = res->max_keys ? res->max_keys
					  : ACFS_PREFETCH_MAX_KEYS;

	memset(res, 0, sizeof(*res));
	if (!rs || !readable(rs)) {
		snprintf(res->why, sizeof(res->why), "no remote to fetch from "
			 "(--remote, not write-only)");
		return -ENOTSUP;
	}
	manifest_key(ref, &mkey);
	for (size_t i = 0; i < rs->n && r != 0; i++) {
		struct acfs_remote_conn *conn =
			acfs_remote_conn_new(&rs->r[i].url, rs->timeout_ms,
					     &rs->stopping);
		uint64_t down = 0, admitted = 0;
		r = conn ? acfs_remote_fetch(conn, &mkey, MANIFEST_MAX, NULL,
					     NULL, &admitted, &text, &len,
					     &down, err)
			 : -ENOMEM;
		acfs_remote_conn_free(conn);
		if (r < 0 && r != -ENOENT) {
			size_t used = strlen(res->why);
			snprintf(res->why + used, sizeof(res->why) - used,
				 "%s: %s\n", rs->r[i].url.display, err);
		}
	}
	if (r == -ENOENT && !res->why[0])
		snprintf(res->why, sizeof(res->why), "no remote has a manifest "
			 "for %s (published with aria-cache publish %s?)", ref,
			 ref);
	if (r < 0)
		return r;
	r = parse_manifest(text, len, max_keys, &p.keys, &p.n);
	free(text);
	if (r == -E2BIG) {
		snprintf(res->why, sizeof(res->why), "the manifest of %s names "
			 "more than %llu keys (--max-keys): refused whole", ref,
			 (unsigned long long)max_keys);
		return r;
	}
	if (r < 0) {
		snprintf(res->why, sizeof(res->why), "the manifest of %s is "
			 "not a whole manifest (JSON of {\"aria_cachefs_manifest\""
			 ": 1, \"ref\", \"keys\"}; cut short or edited?): "
			 "nothing fetched", ref);
		return r;
	}
	res->total = p.n;
	/* Room: up to the low water mark, never into eviction. */
	acfs_store_get_counters(d->store, &c);
	uint64_t cap = d->max_size ? d->max_size / 100 * d->low_water_pct
				   : UINT64_MAX;
	p.room = c.stored < cap ? cap - c.stored : 0;
	pthread_mutex_init(&p.lock, NULL);
	if (jobs < 1)
		jobs = 1;
	if (jobs > PREFETCH_JOBS_MAX)
		jobs = PREFETCH_JOBS_MAX;
	pthread_t t[PREFETCH_JOBS_MAX];
	unsigned started = 0;
	for (unsigned i = 0; i < jobs; i++)
		if (pthread_create(&t[started], NULL, prefetcher_main, &p) == 0)
			started++;
	if (!started)
		prefetcher_main(&p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	if (progress && p.n >= 64)
		fprintf(progress, "\r\033[K");
	pthread_mutex_destroy(&p.lock);
	free(p.keys);
	res->seconds = (double)(acfs_now_ns() - t0) / 1e9;
	acfs_log(LOG_INFO, "prefetched %s: %llu of %llu keys fetched, %llu "
		 "present, %llu missing, %llu failed%s (%.1f s)", ref,
		 (unsigned long long)res->fetched,
		 (unsigned long long)res->total,
		 (unsigned long long)res->present,
		 (unsigned long long)res->missing,
		 (unsigned long long)res->failed,
		 res->budget_stop ? ", stopped at the budget" : "",
		 res->seconds);
	return res->failed ? -EIO : 0;
}
