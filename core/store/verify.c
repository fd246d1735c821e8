/* SPDX-License-Identifier: MIT */
/* acfs_store_verify: see acfs/verify.h. */
#include "acfs/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"

struct run {
	struct acfs_store *s;
	const struct acfs_verify_opts *o;
	struct acfs_verify_result *res;
	uint64_t total;
	char *err;
};

static void report(struct run *w, enum acfs_problem_kind kind,
		   const struct acfs_key *key, uint64_t id, const char *reason,
		   bool repaired)
{
	struct acfs_problem p = {
		.kind = kind, .has_key = key != NULL, .id = id,
		.reason = reason, .repaired = repaired,
	};

	if (key)
		p.key = *key;
	w->res->problems++;
	if (repaired)
		w->res->repaired++;
	if (w->o->problem)
		w->o->problem(&p, w->o->report_data);
}

/* ---- entries: read back, digest, validation ------------------------------ */

/* Checks the bytes of @e; on a problem writes the reason and returns 1,
 * or 2 when it could not be checked now (never repaired). */
static int check_bytes(struct run *w, const struct acfs_key *key,
		       const struct acfs_entry *e, char *why)
{
	char err[ACFS_ERR_MAX] = "";
	unsigned char d[ACFS_DIGEST_SIZE];
	void *buf = malloc(e->size ? e->size : 1);
	int r, bad = 0;

	if (!buf)
		return -ENOMEM;
	r = acfs_store_read_into(w->s, e->id, buf, e->size, err);
	if (r == -ENOMEM) {
		free(buf);
		return r;
	}
	if (r < 0 && r != -EBADMSG && r != -ENOENT) {
		/* Not damage: the OS stopped this read (no fd, memory, an
		 * I/O error). Reported, never repaired. */
		snprintf(why, ACFS_ERR_MAX, "could not be read now (%.300s); "
			 "not a sign of damage: run verify again",
			 err[0] ? err : strerror(-r));
		bad = 2;
	} else if (r < 0) {
		snprintf(why, ACFS_ERR_MAX, "bytes unreadable: %.400s",
			 err[0] ? err : strerror(-r));
		bad = 1;
	} else if (!acfs_digest_is_none(e->digest)) {
		acfs_digest(buf, e->size, d);
		if (memcmp(d, e->digest, sizeof(d)) != 0) {
			char want[ACFS_DIGEST_TEXT_MAX], got[ACFS_DIGEST_TEXT_MAX];
			acfs_digest_format(e->digest, want);
			acfs_digest_format(d, got);
			snprintf(why, ACFS_ERR_MAX, "digest mismatch: recorded "
				 "%s, bytes have %s", want, got);
			bad = 1;
		}
	} else {
		w->res->no_digest++;
	}
	if (!bad && w->o->validate != ACFS_VALIDATE_NONE) {
		if (key->kind == ACFS_KIND_META)
			r = acfs_json_check(buf, e->size, err);
		else if (w->o->validator)
			r = acfs_validator_check(w->o->validator, buf, e->size,
						 w->o->validate, w->o->target,
						 NULL, NULL, err);
		else
			r = acfs_bitcode_check(buf, e->size, w->o->validate,
					       w->o->target, NULL, err);
		if (r == -ENOMEM) {
			free(buf);
			return r;
		}
		if (r == -EIO) {
			/* A helper that could not start: no verdict. */
			snprintf(why, ACFS_ERR_MAX, "not checked: %.400s", err);
			bad = 2;
		} else if (r < 0) {
			snprintf(why, ACFS_ERR_MAX, "%s: %.400s",
				 key->kind == ACFS_KIND_META ? "not JSON"
							     : "invalid bitcode",
				 err);
			bad = 1;
		}
	}
	free(buf);
	return bad;
}

static int verify_entry(const struct acfs_key *key, const struct acfs_entry *e,
			void *u)
{
	struct run *w = u;
	char why[ACFS_ERR_MAX];
	struct acfs_entry now, old;
	bool kept = false, repaired = false;
	int r = check_bytes(w, key, e, why);

	if (r < 0)
		return r;
	w->res->entries++;
	w->res->bytes += e->size;
	if (w->o->progress)
		w->o->progress(w->res->entries, w->total, w->res->bytes,
			       w->o->report_data);
	if (r == 0)
		return 0;
	/* Replaced or removed since the walk began: not this version's
	 * problem any more. */
	if (acfs_store_get(w->s, key, &now) < 0 || now.id != e->id)
		return 0;
	if (w->o->repair && r == 1) {
		if (w->o->batch_lock)
			w->o->batch_lock(true, w->o->userdata);
		r = acfs_store_remove(w->s, key, e->id, w->o->in_use,
				      w->o->userdata, &old, &kept, NULL);
		if (w->o->batch_lock)
			w->o->batch_lock(false, w->o->userdata);
		repaired = r == 0;
		if (repaired) {
			acfs_store_count(w->s, ACFS_STAT_EVICTIONS, 1);
			if (w->o->removed)
				w->o->removed(key, &old, kept, w->o->userdata);
		}
	}
	report(w, ACFS_PROBLEM_ENTRY, key, e->id, why, repaired);
	return 0;
}

/* ---- quarantine --------------------------------------------------------------- */

static int verify_quarantined(const struct acfs_quarantined *q, void *u)
{
	struct run *w = u;
	char why[ACFS_ERR_MAX];
	bool repaired = false;

	snprintf(why, sizeof(why), "quarantined: %s", q->reason);
	if (w->o->repair)
		repaired = acfs_store_drop_quarantined(w->s, q->id) == 0;
	report(w, ACFS_PROBLEM_QUARANTINED, &q->key, q->id, why, repaired);
	return 0;
}

/* ---- indexes and counters, under the store's lock ---------------------------- */

static int exists_cb(const void *v, size_t len, void *u)
{
	(void)v;
	(void)len;
	*(bool *)u = true;
	return 0;
}

static bool row_exists(struct acfs_store *s, enum acfs_cf cf, const void *k,
		       size_t klen)
{
	bool found = false;
	acfs_kv_get(s->kv, cf, k, klen, exists_cb, &found, NULL);
	return found;
}

/* Index problem: reported, and its fix added to @b when repairing. */
static void index_problem(struct run *w, const struct acfs_key *key,
			  uint64_t id, const char *why)
{
	report(w, ACFS_PROBLEM_INDEX, key, id, why, w->o->repair);
}

static int walk_entries_locked(struct run *w, struct acfs_kv_batch *b,
			       struct idset *owners,
			       struct acfs_store_counters *sum)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(w->s->kv, ACFS_CF_ENTRIES);
	int r = 0;

	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const void *k = acfs_kv_iter_key(it, &klen);
		const void *v = acfs_kv_iter_value(it, &vlen);
		struct acfs_key key;
		struct acfs_entry e;
		unsigned char lk[LRU_KEY_SIZE];

		if (store_decode_key(k, klen, &key) < 0 ||
		    store_decode_entry(v, vlen, &e) < 0) {
			index_problem(w, NULL, 0, "undecodable entries row");
			if (w->o->repair)
				acfs_kv_batch_delete(b, w->s->kv,
						     ACFS_CF_ENTRIES, k, klen);
			continue;
		}
		r = idset_add(owners, e.id);
		store_count_entry(sum, &e, 1);
		if (e.flags & ACFS_ENTRY_PINNED)
			continue;
		store_lru_key(e.atime_ns, &key, lk);
		if (!row_exists(w->s, ACFS_CF_LRU, lk, sizeof(lk))) {
			index_problem(w, &key, e.id,
				      "no lru row: eviction would never see "
				      "it");
			if (w->o->repair)
				acfs_kv_batch_put(b, w->s->kv, ACFS_CF_LRU, lk,
						  sizeof(lk), "", 0);
		}
	}
	int ir = acfs_kv_iter_free(it, w->err);
	return r < 0 ? r : ir;
}

/* lru and info rows must name an entry (lru: unpinned, at that time). */
static int walk_keyed_locked(struct run *w, struct acfs_kv_batch *b,
			     enum acfs_cf cf)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(w->s->kv, cf);
	bool lru = cf == ACFS_CF_LRU;
	int r = 0;

	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		size_t want = lru ? LRU_KEY_SIZE : ENTRY_KEY_SIZE;
		const unsigned char *ek = lru ? k + 8 : k;
		struct acfs_key key;
		struct acfs_entry e;
		const char *why = NULL;

		if (klen != want || store_decode_key(ek, ENTRY_KEY_SIZE,
						     &key) < 0) {
			why = lru ? "undecodable lru row" : "undecodable info row";
		} else if (store_get_locked(w->s, ek, &e, NULL) < 0) {
			why = lru ? "lru row for an absent entry"
				  : "info row for an absent entry";
		} else if (lru && ((e.flags & ACFS_ENTRY_PINNED) ||
				   store_get_be64(k) !=
					   (uint64_t)(e.atime_ns > 0
							      ? e.atime_ns
							      : 0))) {
			why = "stale lru row (pinned, or another access time)";
		}
		if (!why)
			continue;
		index_problem(w, why[0] == 'u' ? NULL : &key, 0, why);
		if (w->o->repair)
			acfs_kv_batch_delete(b, w->s->kv, cf, k, klen);
	}
	r = acfs_kv_iter_free(it, w->err);
	return r;
}

static int walk_ids_locked(struct run *w, struct acfs_kv_batch *b,
			   enum acfs_cf cf, struct idset *owners)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(w->s->kv, cf);
	int r = 0;

	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);

		if (klen != 8) {
			index_problem(w, NULL, 0, "undecodable id row");
			if (w->o->repair)
				acfs_kv_batch_delete(b, w->s->kv, cf, k, klen);
			continue;
		}
		/* The iterator reads a snapshot, row_exists the present: an
		 * owner row dropped with its blob since is no problem. */
		if (!row_exists(w->s, ACFS_CF_BLOBS, k, 8) &&
		    row_exists(w->s, cf, k, 8)) {
			uint64_t id = store_get_be64(k);
			index_problem(w, NULL, id, cf == ACFS_CF_ORPHANS
					  ? "orphans row without its blob"
					  : "quarantine row without its blob");
			if (w->o->repair)
				acfs_kv_batch_delete(b, w->s->kv, cf, k, 8);
			continue;
		}
		r = idset_add(owners, store_get_be64(k));
	}
	int ir = acfs_kv_iter_free(it, w->err);
	return r < 0 ? r : ir;
}

static int check_indexes(struct run *w, const struct idset *blobs)
{
	struct acfs_store *s = w->s;
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	struct idset owners = { 0 };
	struct acfs_store_counters sum = { 0 };
	int r;

	if (!b)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	r = walk_entries_locked(w, b, &owners, &sum);
	if (r == 0)
		r = walk_ids_locked(w, b, ACFS_CF_ORPHANS, &owners);
	if (r == 0)
		r = walk_ids_locked(w, b, ACFS_CF_QUARANTINE, &owners);
	if (r == 0)
		r = walk_keyed_locked(w, b, ACFS_CF_LRU);
	if (r == 0)
		r = walk_keyed_locked(w, b, ACFS_CF_INFO);
	idset_sort(&owners);
	for (size_t i = 0; r == 0 && i < blobs->n; i++) {
		unsigned char k[8];
		uint64_t id = blobs->v[i];

		store_put_be64(k, id);
		if (idset_has(&owners, id) || !row_exists(s, ACFS_CF_BLOBS, k, 8))
			continue;
		index_problem(w, NULL, id, "blob owned by no entry, orphan or "
			      "quarantine row");
		if (w->o->repair)
			acfs_kv_batch_delete(b, s->kv, ACFS_CF_BLOBS, k, 8);
	}
	bool fix_counters = false;
	if (r == 0 && memcmp(&sum, &s->counters, sizeof(sum)) != 0) {
		char why[ACFS_ERR_MAX];
		snprintf(why, sizeof(why),
			 "counters say %llu entries / %llu bytes / %llu stored, "
			 "the entries sum to %llu / %llu / %llu",
			 (unsigned long long)s->counters.entries,
			 (unsigned long long)s->counters.bytes,
			 (unsigned long long)s->counters.stored,
			 (unsigned long long)sum.entries,
			 (unsigned long long)sum.bytes,
			 (unsigned long long)sum.stored);
		report(w, ACFS_PROBLEM_COUNTERS, NULL, 0, why, w->o->repair);
		if (w->o->repair) {
			store_put_counters(s, b, &sum);
			fix_counters = true;
		}
	}
	if (r == 0 && w->o->repair && acfs_kv_batch_count(b) > 0) {
		r = acfs_kv_write(s->kv, b, w->err);
		if (r == 0 && fix_counters)
			s->counters = sum;
	}
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	free(owners.v);
	return r;
}

static void tree_problem(bool counters, const char *why, void *u)
{
	struct run *w = u;

	report(w, counters ? ACFS_PROBLEM_COUNTERS : ACFS_PROBLEM_INDEX, NULL,
	       0, why, w->o->repair);
}

int acfs_store_verify(struct acfs_store *s, const struct acfs_verify_opts *o,
		      struct acfs_verify_result *ret, char *err)
{
	struct run w = { .s = s, .o = o, .res = ret, .err = err };
	struct acfs_store_counters cnt;
	struct idset blobs = { 0 };
	uint64_t n;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (o->repair && s->read_only)
		return -EROFS;
	acfs_store_get_counters(s, &cnt);
	w.total = cnt.entries;
	r = acfs_store_foreach(s, verify_entry, &w);
	if (r == 0)
		r = acfs_store_foreach_quarantined(s, verify_quarantined, &w);
	/* Blob ids without the lock (this reads every blob file); only
	 * those nobody owns are looked at again under it. */
	if (r == 0)
		r = store_count_rows(s, ACFS_CF_BLOBS, &blobs, &n);
	if (r == 0)
		r = check_indexes(&w, &blobs);
	if (r == 0)
		r = store_tree_verify(s, o->repair, tree_problem, &w);
	free(blobs.v);
	if (r < 0 && err && !err[0])
		snprintf(err, ACFS_ERR_MAX, "%s", strerror(-r));
	return r;
}
