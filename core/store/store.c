/* SPDX-License-Identifier: MIT */
/*
 * The entry store: entries, their bytes, orphans, counters and ids, on the
 * key-value layer of kv.h. Eviction and access times are in lru.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/size.h"
#include "blob.h"
#include "store-private.h"


/* ---- small values ---------------------------------------------------------- */

struct fixed {
	unsigned char *buf;
	size_t cap, len;
};

static int copy_fixed(const void *v, size_t len, void *u)
{
	struct fixed *f = u;

	f->len = len;
	if (len <= f->cap)
		memcpy(f->buf, v, len);
	return 0;
}

/* Reads a small value of at most @cap bytes; *ret_len 0 if absent. */
static int get_fixed(struct acfs_store *s, enum acfs_cf cf, const char *key,
		     unsigned char *buf, size_t cap, size_t *ret_len, char *err)
{
	struct fixed f = { buf, cap, 0 };
	int r = acfs_kv_get(s->kv, cf, key, strlen(key), copy_fixed, &f, err);

	*ret_len = r == 0 && f.len <= cap ? f.len : 0;
	return r == -ENOENT ? 0 : r;
}

static int decode_entry_cb(const void *v, size_t len, void *u)
{
	return store_decode_entry(v, len, u);
}

int store_get_locked(struct acfs_store *s, const unsigned char *k,
		     struct acfs_entry *ret, char *err)
{
	int r = acfs_kv_get(s->kv, ACFS_CF_ENTRIES, k, ENTRY_KEY_SIZE,
			    decode_entry_cb, ret, err);

	if (r == -EIO && err && !err[0])
		snprintf(err, ACFS_ERR_MAX, "entry record is corrupt");
	return r;
}

/* ---- open / close -------------------------------------------------------- */

static int load_state(struct acfs_store *s, char *err)
{
	unsigned char v[8 * (ACFS_STAT_COUNT + 1)];
	size_t len;
	int r;

	r = get_fixed(s, ACFS_CF_DEFAULT, "counters", v, sizeof(v), &len, err);
	if (r < 0)
		return r;
	if (len == 24) {
		s->counters.entries = store_get_le(v, 8);
		s->counters.bytes = store_get_le(v + 8, 8);
		s->counters.stored = store_get_le(v + 16, 8);
	}
	r = get_fixed(s, ACFS_CF_DEFAULT, "budget", v, sizeof(v), &len, err);
	if (r < 0)
		return r;
	if (len == 8)
		s->budget = store_get_le(v, 8);
	r = get_fixed(s, ACFS_CF_DEFAULT, "stats", v, sizeof(v), &len, err);
	if (r < 0)
		return r;
	/* Counters added later read as 0 from an older store. */
	if (len >= 16 && len % 8 == 0 && len <= sizeof(v)) {
		size_t n = len / 8 - 1;
		for (size_t i = 0; i < n; i++)
			s->stats[i] = store_get_le(v + 8 * i, 8);
		s->stats_since_ns = (int64_t)store_get_le(v + 8 * n, 8);
	}
	r = get_fixed(s, ACFS_CF_DEFAULT, "format", v, sizeof(v), &len, err);
	if (r < 0)
		return r;
	s->format = len == 4 ? (unsigned)store_get_le(v, 4) : 1;
	if (s->format > ACFS_STORE_FORMAT) {
		snprintf(err, ACFS_ERR_MAX, "the store is of format %u, newer "
			 "than this aria-cachefs knows (format %u): use the "
			 "aria-cachefs that wrote it, or a newer one; nothing "
			 "was changed", s->format, ACFS_STORE_FORMAT);
		return -EPROTONOSUPPORT;
	}
	if (len != 4 && !s->read_only) {
		struct acfs_kv_batch *b = acfs_kv_batch_new();
		store_put_le(v, ACFS_STORE_FORMAT, 4);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_DEFAULT, "format", 6, v, 4);
		r = acfs_kv_write(s->kv, b, err);
		acfs_kv_batch_free(b);
		if (r < 0)
			return r;
		s->format = ACFS_STORE_FORMAT;
	}
	r = get_fixed(s, ACFS_CF_DEFAULT, "id_limit", v, sizeof(v), &len, err);
	if (r < 0)
		return r;
	s->id_limit = len == 8 ? store_get_le(v, 8) : ACFS_FIRST_ID;
	if (s->id_limit < ACFS_FIRST_ID)
		s->id_limit = ACFS_FIRST_ID;

	/* Defense in depth: never hand out an id a blob already has. The
	 * largest blob key comes from the table files' metadata: an
	 * iterator would read the newest blob's bytes, and one damaged
	 * entry would then keep the whole store from opening. An open for
	 * writing has flushed what the WAL held into table files. */
	unsigned char top[8];
	if (acfs_kv_largest_key(s->kv, ACFS_CF_BLOBS, top, sizeof(top),
				&len) == 0 && len == 8 &&
	    store_get_be64(top) >= s->id_limit)
		s->id_limit = store_get_be64(top) + 1;
	r = 0;
	s->next_id = s->id_limit;
	return r;
}

static int sweep_orphans(struct acfs_store *s, char *err)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_ORPHANS);
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	int r = 0;

	if (!it || !b) {
		acfs_kv_iter_free(it, NULL);
		acfs_kv_batch_free(b);
		return -ENOMEM;
	}
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t len;
		const void *k = acfs_kv_iter_key(it, &len);
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_BLOBS, k, len);
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_ORPHANS, k, len);
	}
	r = acfs_kv_iter_free(it, err);
	if (r == 0 && acfs_kv_batch_count(b) > 0)
		r = acfs_kv_write(s->kv, b, err);
	acfs_kv_batch_free(b);
	return r;
}

int acfs_store_open(const char *dir, const struct acfs_store_options *opts,
		    struct acfs_store **ret_store, char *err)
{
	struct acfs_store *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->tree_lock, NULL);
	s->read_only = opts && opts->read_only;
	s->zstd_level = opts ? opts->zstd_level : 0;
	r = acfs_kv_open(dir, s->read_only, opts && opts->sync,
			 opts ? opts->max_open_files : 0, &s->kv, err);
	if (r == 0)
		r = load_state(s, err);
	if (r == 0 && !s->read_only)
		r = sweep_orphans(s, err);
	if (r == 0)
		r = store_tree_open(s, err);
	if (r < 0) {
		acfs_store_close(s);
		return r;
	}
	*ret_store = s;
	return 0;
}

unsigned acfs_store_kept_unreferenced(struct acfs_store *s)
{
	return acfs_kv_kept(s->kv);
}

int acfs_store_repair(const char *dir, char *how, size_t how_len, char *err)
{
	int r = acfs_kv_repair(dir, how, how_len, err);

	/* RocksDB's repair rebuilt the history: its rows, and the bytes of
	 * the blob files it does not know, go into a new database. */
	return r == 1 ? store_rebuild(dir, how, how_len, err) : r;
}

void acfs_store_close(struct acfs_store *s)
{
	if (!s)
		return;
	if (s->kv && !s->read_only)
		acfs_store_flush_stats(s);
	acfs_kv_close(s->kv);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->tree_lock);
	free(s);
}

/* ---- budget, ids, reads ---------------------------------------------------- */

int acfs_store_set_budget(struct acfs_store *s, uint64_t bytes)
{
	unsigned char v[8];
	struct acfs_kv_batch *b;
	int r;

	store_put_le(v, bytes, 8);
	pthread_mutex_lock(&s->lock);
	s->budget = bytes;
	pthread_mutex_unlock(&s->lock);
	if (s->read_only)
		return 0;
	b = acfs_kv_batch_new();
	acfs_kv_batch_put(b, s->kv, ACFS_CF_DEFAULT, "budget", 6, v, 8);
	r = acfs_kv_write(s->kv, b, NULL);
	acfs_kv_batch_free(b);
	return r;
}

unsigned acfs_store_format(struct acfs_store *s)
{
	return s->format;
}

uint64_t acfs_store_budget(struct acfs_store *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t v = s->budget;
	pthread_mutex_unlock(&s->lock);
	return v;
}

int acfs_store_get(struct acfs_store *s, const struct acfs_key *key,
		   struct acfs_entry *ret_entry)
{
	unsigned char k[ENTRY_KEY_SIZE];

	store_encode_key(key, k);
	return acfs_kv_get(s->kv, ACFS_CF_ENTRIES, k, sizeof(k),
			   decode_entry_cb, ret_entry, NULL);
}

struct copy_ctx {
	void *data;
	size_t len;
};

static int copy_value(const void *v, size_t len, void *u)
{
	struct copy_ctx *c = u;

	c->data = malloc(len ? len : 1);
	if (!c->data)
		return -ENOMEM;
	memcpy(c->data, v, len);
	c->len = len;
	return 0;
}

int acfs_store_get_info(struct acfs_store *s, const struct acfs_key *key,
			uint64_t id, void **ret, size_t *ret_len)
{
	unsigned char k[ENTRY_KEY_SIZE];
	struct acfs_entry e;
	struct copy_ctx c = { 0 };
	int r;

	/* Entry and info are written together; a replaced version's info
	 * is gone, so ask which version the entry is first. */
	r = acfs_store_get(s, key, &e);
	if (r < 0)
		return r;
	if (id && e.id != id)
		return -ENOENT;
	store_encode_key(key, k);
	r = acfs_kv_get(s->kv, ACFS_CF_INFO, k, sizeof(k), copy_value, &c,
			NULL);
	if (r < 0)
		return r;
	*ret = c.data;
	*ret_len = c.len;
	return 0;
}

struct decode_ctx {
	void *data;
	size_t len;
	char *err;
};

static int decode_blob_cb(const void *v, size_t len, void *u)
{
	struct decode_ctx *c = u;
	return acfs_blob_decode(v, len, &c->data, &c->len, c->err);
}

int acfs_store_read_blob(struct acfs_store *s, uint64_t id, void **ret_data,
			 size_t *ret_size, char *err)
{
	char local[ACFS_ERR_MAX];
	struct decode_ctx c = { .err = err ? err : local };
	unsigned char k[8];
	int r;

	store_put_be64(k, id);
	r = acfs_kv_get(s->kv, ACFS_CF_BLOBS, k, 8, decode_blob_cb, &c, c.err);
	if (r < 0)
		return r;
	*ret_data = c.data;
	*ret_size = c.len;
	return 0;
}

struct into_ctx {
	void *dst;
	size_t size;
	char *err;
};

static int decode_into_cb(const void *v, size_t len, void *u)
{
	struct into_ctx *c = u;
	return acfs_blob_decode_into(v, len, c->dst, c->size, c->err);
}

int acfs_store_read_into(struct acfs_store *s, uint64_t id, void *dst,
			 size_t size, char *err)
{
	char local[ACFS_ERR_MAX];
	struct into_ctx c = { dst, size, err ? err : local };
	unsigned char k[8];

	store_put_be64(k, id);
	return acfs_kv_get(s->kv, ACFS_CF_BLOBS, k, 8, decode_into_cb, &c,
			   c.err);
}

/* ---- writes -------------------------------------------------------------- */

void store_put_counters(struct acfs_store *s, struct acfs_kv_batch *b,
			const struct acfs_store_counters *c)
{
	unsigned char v[24];

	store_put_le(v, c->entries, 8);
	store_put_le(v + 8, c->bytes, 8);
	store_put_le(v + 16, c->stored, 8);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_DEFAULT, "counters", 8, v, 24);
}

bool store_retire(struct acfs_store *s, struct acfs_kv_batch *b, uint64_t id,
		  acfs_in_use_fn in_use, void *userdata)
{
	unsigned char k[8];
	bool kept = in_use && in_use(id, userdata);

	store_put_be64(k, id);
	if (kept)
		acfs_kv_batch_put(b, s->kv, ACFS_CF_ORPHANS, k, 8, "", 0);
	else
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_BLOBS, k, 8);
	return kept;
}

void store_remove_rows(struct acfs_store *s, struct acfs_kv_batch *b,
		       const unsigned char *k, const struct acfs_entry *e)
{
	struct acfs_key key;
	unsigned char lk[LRU_KEY_SIZE];

	acfs_kv_batch_delete(b, s->kv, ACFS_CF_ENTRIES, k, ENTRY_KEY_SIZE);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_INFO, k, ENTRY_KEY_SIZE);
	if (!(e->flags & ACFS_ENTRY_PINNED)) {
		store_decode_key(k, ENTRY_KEY_SIZE, &key);
		store_lru_key(e->atime_ns, &key, lk);
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_LRU, lk, sizeof(lk));
	}
}

static void note_peak(struct acfs_store *s, uint64_t stored)
{
	uint64_t cur = __atomic_load_n(&s->stats[ACFS_STAT_PEAK_STORED],
				       __ATOMIC_RELAXED);
	while (stored > cur &&
	       !__atomic_compare_exchange_n(&s->stats[ACFS_STAT_PEAK_STORED],
					    &cur, stored, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int acfs_store_encode(struct acfs_store *s, const void *data, size_t size,
		      struct acfs_encoded *enc, char *err)
{
	int r = acfs_blob_encode(data, size, s->zstd_level, &enc->val,
				 &enc->vlen);

	if (r < 0)
		return r;
	acfs_digest(data, size, enc->digest);
	r = acfs_store_room(s, enc->vlen, 2, true, err);
	if (r < 0) {
		acfs_encoded_free(enc);
		return r;
	}
	return 0;
}

void acfs_encoded_free(struct acfs_encoded *enc)
{
	free(enc->val);
	enc->val = NULL;
}

int acfs_store_commit(struct acfs_store *s, const struct acfs_commit *c,
		      struct acfs_entry *ret_new, struct acfs_entry *ret_old,
		      bool *ret_kept, char *err)
{
	unsigned char k[ENTRY_KEY_SIZE], idk[8], rec[REC_SIZE], lk[LRU_KEY_SIZE];
	struct acfs_entry old = { 0 }, e = { 0 };
	struct acfs_store_counters cnt;
	struct acfs_encoded own = { 0 };
	const struct acfs_encoded *enc = c->enc;
	struct acfs_kv_batch *b;
	bool kept = false;
	int r;

	if (s->read_only)
		return -EROFS;
	/* Encode before taking the lock: commits of other keys go on. */
	if (!enc) {
		r = acfs_store_encode(s, c->data, c->size, &own, err);
		if (r < 0)
			return r;
		enc = &own;
	}
	const void *val = enc->val;
	size_t vlen = enc->vlen;
	memcpy(e.digest, enc->digest, sizeof(e.digest));
	store_encode_key(&c->key, k);
	store_put_be64(idk, c->id);
	e.id = c->id;
	e.size = c->size;
	e.stored = vlen;
	e.mtime_ns = e.atime_ns = e.ctime_ns = c->now_ns;

	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->lock);
	if (s->budget && s->counters.stored > s->budget) {
		r = -EAGAIN;
		goto out;
	}
	r = store_get_locked(s, k, &old, err);
	if (r == -ENOENT) {
		old.id = 0;
	} else if (r < 0) {
		goto out;
	} else if (c->noreplace) {
		r = -EEXIST;
		goto out;
	}
	cnt = s->counters;
	if (old.id) {
		store_remove_rows(s, b, k, &old);
		kept = store_retire(s, b, old.id, c->in_use, c->userdata);
		store_count_entry(&cnt, &old, -1);
		e.flags |= old.flags & ACFS_ENTRY_PINNED;
	}
	store_count_entry(&cnt, &e, 1);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_BLOBS, idk, 8, val, vlen);
	store_encode_entry(&e, rec);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_ENTRIES, k, sizeof(k), rec,
			  sizeof(rec));
	if (c->info)
		acfs_kv_batch_put(b, s->kv, ACFS_CF_INFO, k, sizeof(k),
				  c->info, c->info_len);
	if (!(e.flags & ACFS_ENTRY_PINNED)) {
		store_lru_key(e.atime_ns, &c->key, lk);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_LRU, lk, sizeof(lk), "", 0);
	}
	for (size_t i = 0; i < c->nupload; i++) {
		unsigned char uk[16];
		store_put_be64(uk, c->upload_to[i]);
		store_put_be64(uk + 8, c->id);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_UPLOADS, uk, sizeof(uk), k,
				  sizeof(k));
	}
	for (size_t i = 0; i < c->ndropped; i++) {
		unsigned char dk[24];
		store_dropped_key(c->dropped_for[i], c->id, dk);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_UPLOADS, dk, sizeof(dk), k,
				  sizeof(k));
	}
	store_put_counters(s, b, &cnt);
	r = acfs_kv_write(s->kv, b, err);
	if (r == 0) {
		s->counters = cnt;
		acfs_store_count(s, ACFS_STAT_STORES, 1);
		note_peak(s, cnt.stored);
	}
out:
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	acfs_encoded_free(&own);
	if (r == 0 && ret_old)
		*ret_old = old;
	if (r == 0 && ret_new)
		*ret_new = e;
	if (r == 0 && ret_kept)
		*ret_kept = kept;
	return r;
}

int acfs_store_remove(struct acfs_store *s, const struct acfs_key *key,
		      uint64_t id, acfs_in_use_fn in_use, void *userdata,
		      struct acfs_entry *ret_old, bool *ret_kept, char *err)
{
	unsigned char k[ENTRY_KEY_SIZE];
	struct acfs_entry old;
	struct acfs_store_counters cnt;
	struct acfs_kv_batch *b;
	bool kept = false;
	int r;

	if (s->read_only)
		return -EROFS;
	store_encode_key(key, k);
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->lock);
	r = store_get_locked(s, k, &old, err);
	if (r < 0)
		goto out;
	if (id && old.id != id) {
		r = -ENOENT;
		goto out;
	}
	cnt = s->counters;
	store_count_entry(&cnt, &old, -1);
	store_remove_rows(s, b, k, &old);
	kept = store_retire(s, b, old.id, in_use, userdata);
	store_put_counters(s, b, &cnt);
	r = acfs_kv_write(s->kv, b, err);
	if (r == 0)
		s->counters = cnt;
out:
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	if (r == 0 && ret_old)
		*ret_old = old;
	if (r == 0 && ret_kept)
		*ret_kept = kept;
	return r;
}

int acfs_store_quarantine(struct acfs_store *s, const struct acfs_key *key,
			  uint64_t id, int64_t now_ns, const char *reason,
			  char *err)
{
	unsigned char k[ENTRY_KEY_SIZE], idk[8];
	struct acfs_entry old;
	struct acfs_store_counters cnt;
	struct acfs_kv_batch *b;
	size_t rlen = strlen(reason);
	unsigned char *v;
	int r;

	if (s->read_only)
		return -EROFS;
	v = malloc(ENTRY_KEY_SIZE + REC_SIZE + 8 + rlen);
	if (!v)
		return -ENOMEM;
	store_encode_key(key, k);
	store_put_be64(idk, id);
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->lock);
	r = store_get_locked(s, k, &old, err);
	if (r == 0 && old.id != id)
		r = -ENOENT;
	if (r < 0)
		goto out;
	cnt = s->counters;
	store_count_entry(&cnt, &old, -1);
	store_remove_rows(s, b, k, &old);
	memcpy(v, k, ENTRY_KEY_SIZE);
	store_encode_entry(&old, v + ENTRY_KEY_SIZE);
	store_put_le(v + ENTRY_KEY_SIZE + REC_SIZE, (uint64_t)now_ns, 8);
	memcpy(v + ENTRY_KEY_SIZE + REC_SIZE + 8, reason, rlen);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_QUARANTINE, idk, 8, v,
			  ENTRY_KEY_SIZE + REC_SIZE + 8 + rlen);
	store_put_counters(s, b, &cnt);
	r = acfs_kv_write(s->kv, b, err);
	if (r == 0) {
		s->counters = cnt;
		acfs_store_count(s, ACFS_STAT_QUARANTINED, 1);
	}
out:
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	free(v);
	return r;
}

int acfs_store_foreach_quarantined(struct acfs_store *s,
				   acfs_quarantined_fn fn, void *userdata)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_QUARANTINE);
	int r = 0;

	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const unsigned char *v = acfs_kv_iter_value(it, &vlen);
		struct acfs_quarantined q = { 0 };
		const size_t fixed = ENTRY_KEY_SIZE + REC_SIZE + 8;
		char *reason;

		if (klen != 8 || vlen < fixed ||
		    store_decode_key(v, ENTRY_KEY_SIZE, &q.key) < 0 ||
		    store_decode_entry(v + ENTRY_KEY_SIZE, REC_SIZE,
				       &q.entry) < 0) {
			r = -EIO;
			break;
		}
		reason = strndup((const char *)v + fixed, vlen - fixed);
		if (!reason) {
			r = -ENOMEM;
			break;
		}
		q.id = store_get_be64(k);
		q.when_ns = (int64_t)store_get_le(v + ENTRY_KEY_SIZE + REC_SIZE, 8);
		q.reason = reason;
		r = fn(&q, userdata);
		free(reason);
	}
	int ir = acfs_kv_iter_free(it, NULL);
	return r ? r : ir;
}

/* Deletes blob @id and the row of @owner (orphans, quarantine) naming it. */
static int drop_blob(struct acfs_store *s, uint64_t id, enum acfs_cf owner)
{
	unsigned char k[8];
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	int r;

	store_put_be64(k, id);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_BLOBS, k, 8);
	acfs_kv_batch_delete(b, s->kv, owner, k, 8);
	/* Under the store's lock, as every change verify's walk of the
	 * indexes must not see half of (its iterator saw the owner row,
	 * its later read would miss the blob). */
	pthread_mutex_lock(&s->lock);
	r = acfs_kv_write(s->kv, b, NULL);
	pthread_mutex_unlock(&s->lock);
	acfs_kv_batch_free(b);
	return r;
}

int acfs_store_drop_quarantined(struct acfs_store *s, uint64_t id)
{
	return drop_blob(s, id, ACFS_CF_QUARANTINE);
}

int acfs_store_drop_orphan(struct acfs_store *s, uint64_t id)
{
	return drop_blob(s, id, ACFS_CF_ORPHANS);
}

/* ---- iteration ------------------------------------------------------------- */

static int foreach_range(struct acfs_store *s, const unsigned char *start,
			 bool skip_start, int shard, acfs_entry_fn fn,
			 void *userdata)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_ENTRIES);
	int r = 0;

	if (!it)
		return -ENOMEM;
	if (start)
		acfs_kv_iter_seek(it, start, ENTRY_KEY_SIZE);
	else
		acfs_kv_iter_first(it);
	for (; acfs_kv_iter_valid(it); acfs_kv_iter_next(it)) {
		struct acfs_key key;
		struct acfs_entry e;
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const void *v = acfs_kv_iter_value(it, &vlen);

		if (shard >= 0 && (klen < 1 || k[0] != (unsigned)shard))
			break;
		if (skip_start && klen == ENTRY_KEY_SIZE &&
		    memcmp(k, start, klen) == 0)
			continue;
		if (store_decode_key(k, klen, &key) < 0 ||
		    store_decode_entry(v, vlen, &e) < 0)
			continue;
		r = fn(&key, &e, userdata);
		if (r)
			break;
	}
	int ir = acfs_kv_iter_free(it, NULL);
	return ir < 0 ? ir : r;
}

int acfs_store_foreach_in_shard(struct acfs_store *s, unsigned shard,
				bool from_start, const struct acfs_key *after,
				acfs_entry_fn fn, void *userdata)
{
	unsigned char start[ENTRY_KEY_SIZE];

	if (from_start) {
		memset(start, 0, sizeof(start));
		start[0] = (unsigned char)shard;
	} else {
		store_encode_key(after, start);
	}
	return foreach_range(s, start, !from_start, (int)shard, fn, userdata);
}

int acfs_store_foreach(struct acfs_store *s, acfs_entry_fn fn, void *userdata)
{
	return foreach_range(s, NULL, false, -1, fn, userdata);
}

/* ---- counters and stats ------------------------------------------------------ */

void acfs_store_get_counters(struct acfs_store *s,
			     struct acfs_store_counters *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->counters;
	pthread_mutex_unlock(&s->lock);
}

void acfs_store_count(struct acfs_store *s, enum acfs_stat which, uint64_t n)
{
	__atomic_add_fetch(&s->stats[which], n, __ATOMIC_RELAXED);
}

void acfs_store_get_stats(struct acfs_store *s, struct acfs_stats *ret)
{
	for (int i = 0; i < ACFS_STAT_COUNT; i++)
		ret->v[i] = __atomic_load_n(&s->stats[i], __ATOMIC_RELAXED);
	ret->since_ns = __atomic_load_n(&s->stats_since_ns, __ATOMIC_RELAXED);
}

void acfs_store_zero_stats(struct acfs_store *s, int64_t now_ns)
{
	struct acfs_store_counters c;

	acfs_store_get_counters(s, &c);
	for (int i = 0; i < ACFS_STAT_COUNT; i++)
		__atomic_store_n(&s->stats[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->stats[ACFS_STAT_PEAK_STORED], c.stored,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->stats_since_ns, now_ns, __ATOMIC_RELAXED);
}

int acfs_store_flush_stats(struct acfs_store *s)
{
	unsigned char v[8 * (ACFS_STAT_COUNT + 1)];
	struct acfs_stats st;
	struct acfs_kv_batch *b;
	int r;

	if (s->read_only)
		return 0;
	acfs_store_get_stats(s, &st);
	for (int i = 0; i < ACFS_STAT_COUNT; i++)
		store_put_le(v + 8 * i, st.v[i], 8);
	store_put_le(v + 8 * ACFS_STAT_COUNT, (uint64_t)st.since_ns, 8);
	b = acfs_kv_batch_new();
	acfs_kv_batch_put(b, s->kv, ACFS_CF_DEFAULT, "stats", 5, v, sizeof(v));
	r = acfs_kv_write(s->kv, b, NULL);
	acfs_kv_batch_free(b);
	return r;
}

int acfs_store_sync(struct acfs_store *s)
{
	return acfs_kv_sync(s->kv, NULL);
}

/* ---- the upload queues of remote tiers ----------------------------------- */
