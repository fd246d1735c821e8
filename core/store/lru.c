/* SPDX-License-Identifier: MIT */
/*
 * Access times and eviction. The lru column family orders unpinned
 * entries by last use, so eviction reads exactly the rows it removes
 * (plus rows made stale by concurrent use, which it skips): evicting 10%
 * costs the same whatever the size of the cache.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"

#define EVICT_BATCH 256

/* Rewrites @e (now @n) and moves its lru row. Caller holds s->lock. */
static void update_entry(struct acfs_store *s, struct acfs_kv_batch *b,
			 const struct acfs_key *key, const struct acfs_entry *e,
			 const struct acfs_entry *n)
{
	unsigned char k[ENTRY_KEY_SIZE], rec[REC_SIZE], lk[LRU_KEY_SIZE];
	bool was = !(e->flags & ACFS_ENTRY_PINNED);
	bool now = !(n->flags & ACFS_ENTRY_PINNED);

	store_encode_key(key, k);
	if (was && (!now || e->atime_ns != n->atime_ns)) {
		store_lru_key(e->atime_ns, key, lk);
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_LRU, lk, sizeof(lk));
	}
	if (now && (!was || e->atime_ns != n->atime_ns)) {
		store_lru_key(n->atime_ns, key, lk);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_LRU, lk, sizeof(lk), "", 0);
	}
	store_encode_entry(n, rec);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_ENTRIES, k, sizeof(k), rec,
			  sizeof(rec));
}

/*
 * Rewrites entry @key (version @id, or any version if 0) as @edit makes
 * it, moving its lru row, in one write. -ENOENT if gone or replaced.
 */
static int modify_entry(struct acfs_store *s, const struct acfs_key *key,
			uint64_t id,
			void (*edit)(struct acfs_entry *n, const void *arg),
			const void *arg)
{
	unsigned char k[ENTRY_KEY_SIZE];
	struct acfs_entry e, n;
	struct acfs_kv_batch *b;
	int r;

	if (s->read_only)
		return -EROFS;
	store_encode_key(key, k);
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->lock);
	r = store_get_locked(s, k, &e, NULL);
	if (r == 0 && id && e.id != id)
		r = -ENOENT;
	if (r == 0) {
		n = e;
		edit(&n, arg);
		if (memcmp(&n, &e, sizeof(n)) != 0) {
			update_entry(s, b, key, &e, &n);
			r = acfs_kv_write(s->kv, b, NULL);
		}
	}
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	return r;
}

static void edit_times(struct acfs_entry *n, const void *arg)
{
	const int64_t *t = arg; /* atime, mtime; ACFS_TIME_KEEP leaves it */

	if (t[0] != ACFS_TIME_KEEP)
		n->atime_ns = t[0];
	if (t[1] != ACFS_TIME_KEEP)
		n->mtime_ns = t[1];
}

int acfs_store_set_times(struct acfs_store *s, const struct acfs_key *key,
			 uint64_t id, int64_t atime_ns, int64_t mtime_ns)
{
	int64_t t[2] = { atime_ns, mtime_ns };

	return modify_entry(s, key, id, edit_times, t);
}

static void edit_pin(struct acfs_entry *n, const void *arg)
{
	if (*(const bool *)arg)
		n->flags |= ACFS_ENTRY_PINNED;
	else
		n->flags &= ~ACFS_ENTRY_PINNED;
}

int acfs_store_set_pinned(struct acfs_store *s, const struct acfs_key *key,
			  uint64_t id, bool pinned)
{
	return modify_entry(s, key, id, edit_pin, &pinned);
}

static int cmp_touch(const void *a, const void *b)
{
	const struct acfs_touch *x = a, *y = b;

	if (x->key.hash != y->key.hash)
		return x->key.hash < y->key.hash ? -1 : 1;
	if (x->key.kind != y->key.kind)
		return x->key.kind < y->key.kind ? -1 : 1;
	/* Newest use first: it is the one kept. */
	return x->atime_ns > y->atime_ns ? -1 : x->atime_ns < y->atime_ns;
}

int acfs_store_touch(struct acfs_store *s, struct acfs_touch *t, size_t n)
{
	struct acfs_kv_batch *b;
	int r = 0;

	if (s->read_only)
		return -EROFS;
	if (n == 0)
		return 0;
	qsort(t, n, sizeof(*t), cmp_touch);
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		unsigned char k[ENTRY_KEY_SIZE];
		struct acfs_entry e, ne;

		/* One row per key in a batch: a second would read the
		 * record from before the batch and leave a stale lru row. */
		if (i > 0 && t[i].key.hash == t[i - 1].key.hash &&
		    t[i].key.kind == t[i - 1].key.kind)
			continue;
		store_encode_key(&t[i].key, k);
		r = store_get_locked(s, k, &e, NULL);
		if (r == -ENOENT || (r == 0 && (e.id != t[i].id ||
						e.atime_ns >= t[i].atime_ns))) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		ne = e;
		ne.atime_ns = t[i].atime_ns;
		update_entry(s, b, &t[i].key, &e, &ne);
	}
	if (r == 0 && acfs_kv_batch_count(b) > 0)
		r = acfs_kv_write(s->kv, b, NULL);
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	return r;
}

struct victim {
	struct acfs_key key;
	struct acfs_entry entry;
	bool kept;
};

static bool wanted(const struct acfs_evict_opts *o, uint64_t stored,
		   int64_t atime)
{
	return (o->use_target && stored > o->target_stored) ||
	       (o->older_than_ns && atime < o->older_than_ns);
}

/*
 * Evicts up to EVICT_BATCH entries from the iterator's position in one
 * write. Returns the number evicted, 0 at the end, or -errno.
 */
static int evict_batch(struct acfs_store *s, struct acfs_kv_iter *it,
		       const struct acfs_evict_opts *o, uint64_t *dry_stored,
		       struct victim *v, struct acfs_evict_result *res)
{
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	struct acfs_store_counters cnt;
	int n = 0, r = 0;
	bool done = false;

	if (o->batch_lock && !o->dry_run)
		o->batch_lock(true, o->userdata);
	pthread_mutex_lock(&s->lock);
	cnt = s->counters;
	if (o->dry_run)
		cnt.stored = *dry_stored;
	for (; n < EVICT_BATCH && acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *lk = acfs_kv_iter_key(it, &klen);
		unsigned char k[ENTRY_KEY_SIZE];
		int64_t atime;
		struct acfs_entry e;

		if (klen != LRU_KEY_SIZE)
			continue;
		atime = (int64_t)store_get_be64(lk);
		if (!wanted(o, cnt.stored, atime)) {
			done = true;
			break;
		}
		res->visited++;
		memcpy(k, lk + 8, ENTRY_KEY_SIZE);
		r = store_get_locked(s, k, &e, NULL);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		/* Used, pinned or replaced since the iterator's snapshot. */
		if ((e.flags & ACFS_ENTRY_PINNED) ||
		    (e.atime_ns > 0 ? e.atime_ns : 0) != atime)
			continue;
		store_decode_key(k, ENTRY_KEY_SIZE, &v[n].key);
		v[n].entry = e;
		v[n].kept = false;
		if (!o->dry_run) {
			store_remove_rows(s, b, k, &e);
			v[n].kept = store_retire(s, b, e.id, o->in_use,
						 o->userdata);
		}
		store_count_entry(&cnt, &e, -1);
		n++;
	}
	if (r == 0 && n > 0 && !o->dry_run) {
		store_put_counters(s, b, &cnt);
		r = acfs_kv_write(s->kv, b, NULL);
		if (r == 0) {
			s->counters = cnt;
			for (int i = 0; i < n; i++) {
				acfs_store_count(s, ACFS_STAT_EVICTIONS, 1);
				acfs_store_count(s, ACFS_STAT_EVICTED_BYTES,
						 v[i].entry.size);
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (o->batch_lock && !o->dry_run)
		o->batch_lock(false, o->userdata);
	acfs_kv_batch_free(b);
	if (o->dry_run)
		*dry_stored = cnt.stored;
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		res->entries++;
		res->bytes += v[i].entry.size;
		res->stored += v[i].entry.stored;
	}
	return done && n == 0 ? 0 : n;
}

int acfs_store_evict(struct acfs_store *s, const struct acfs_evict_opts *o,
		     acfs_evicted_fn fn, void *userdata,
		     struct acfs_evict_result *ret)
{
	struct acfs_evict_result res = { 0 };
	struct victim *v = calloc(EVICT_BATCH, sizeof(*v));
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_LRU);
	uint64_t dry_stored;
	int r = 0;

	if (!v || !it) {
		free(v);
		acfs_kv_iter_free(it, NULL);
		return -ENOMEM;
	}
	if (s->read_only && !o->dry_run) {
		r = -EROFS;
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	dry_stored = s->counters.stored;
	pthread_mutex_unlock(&s->lock);
	acfs_kv_iter_first(it);
	while (acfs_kv_iter_valid(it)) {
		r = evict_batch(s, it, o, &dry_stored, v, &res);
		if (r <= 0)
			break;
		if (fn)
			for (int i = 0; i < r; i++)
				fn(&v[i].key, &v[i].entry, v[i].kept, userdata);
		r = 0;
	}
	if (r == 0)
		r = acfs_kv_iter_free(it, NULL);
	else
		acfs_kv_iter_free(it, NULL);
	it = NULL;
out:
	acfs_kv_iter_free(it, NULL);
	free(v);
	if (ret)
		*ret = res;
	return r;
}
