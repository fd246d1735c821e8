/* SPDX-License-Identifier: MIT */
/*
 * RocksDB backend of the entry store; the only file that includes
 * <rocksdb/c.h>. RocksDB's malloc'd strings are turned into errno values
 * and copied reasons here and never leave this file.
 */
#include "acfs/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

enum { CF_DEFAULT, CF_ENTRIES, CF_BLOBS, CF_ORPHANS, CF_COUNT };

static const char *const cf_names[CF_COUNT] = {
	"default", "entries", "blobs", "orphans",
};

#define REC_VERSION 1
#define REC_SIZE (1 + 8 * 5 + 4)
#define ENTRY_KEY_SIZE 9
#define ID_RESERVE 4096
/* Ids below this are the filesystem's fixed directory inodes. */
#define FIRST_ID 1024

struct acfs_store {
	rocksdb_t *db;
	rocksdb_options_t *db_opts;
	rocksdb_options_t *cf_opts[CF_COUNT];
	rocksdb_block_based_table_options_t *table_opts;
	rocksdb_cache_t *block_cache;
	rocksdb_column_family_handle_t *cf[CF_COUNT];
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
	bool read_only;

	pthread_mutex_t lock;
	uint64_t next_id;                  /* protected by lock */
	uint64_t id_limit;                 /* protected by lock */
	struct acfs_store_counters counters; /* protected by lock */
};

/* ---- encoding ---------------------------------------------------------- */

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void encode_key(const struct acfs_key *key, unsigned char *out)
{
	put_be64(out, key->hash);
	out[8] = (unsigned char)key->kind;
}

static int decode_key(const char *p, size_t len, struct acfs_key *ret)
{
	const unsigned char *u = (const unsigned char *)p;

	if (len != ENTRY_KEY_SIZE || u[8] > ACFS_KIND_META)
		return -EIO;
	ret->hash = get_be64(u);
	ret->kind = (enum acfs_kind)u[8];
	return 0;
}

static void encode_entry(const struct acfs_entry *e, unsigned char *out)
{
	out[0] = REC_VERSION;
	put_le(out + 1, e->id, 8);
	put_le(out + 9, e->size, 8);
	put_le(out + 17, (uint64_t)e->mtime_ns, 8);
	put_le(out + 25, (uint64_t)e->atime_ns, 8);
	put_le(out + 33, (uint64_t)e->ctime_ns, 8);
	put_le(out + 41, e->flags, 4);
}

static int decode_entry(const char *p, size_t len, struct acfs_entry *ret)
{
	const unsigned char *u = (const unsigned char *)p;

	if (len != REC_SIZE || u[0] != REC_VERSION)
		return -EIO;
	ret->id = get_le(u + 1, 8);
	ret->size = get_le(u + 9, 8);
	ret->mtime_ns = (int64_t)get_le(u + 17, 8);
	ret->atime_ns = (int64_t)get_le(u + 25, 8);
	ret->ctime_ns = (int64_t)get_le(u + 33, 8);
	ret->flags = (uint32_t)get_le(u + 41, 4);
	return 0;
}

/* ---- errors ------------------------------------------------------------ */

/* Turns a RocksDB error string into -errno and a reason; frees it. */
static int take_error(char *rerr, const char *what, char *err)
{
	int r = -EIO;

	if (!rerr)
		return 0;
	if (strstr(rerr, "No space left") || strstr(rerr, "NoSpace"))
		r = -ENOSPC;
	if (err)
		snprintf(err, ACFS_ERR_MAX, "%s: %s", what, rerr);
	rocksdb_free(rerr);
	return r;
}

/* ---- open / close ------------------------------------------------------ */

static void configure(struct acfs_store *s)
{
	s->block_cache = rocksdb_cache_create_lru(32 << 20);
	s->table_opts = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->table_opts,
						    s->block_cache);
	rocksdb_block_based_options_set_filter_policy(
		s->table_opts, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(
		s->table_opts, 1);

	s->db_opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(s->db_opts, 1);
	rocksdb_options_set_create_missing_column_families(s->db_opts, 1);
	rocksdb_options_set_max_background_jobs(s->db_opts, 2);
	rocksdb_options_set_keep_log_file_num(s->db_opts, 4);
	rocksdb_options_set_max_total_wal_size(s->db_opts, 256 << 20);

	for (int i = 0; i < CF_COUNT; i++) {
		rocksdb_options_t *o = rocksdb_options_create();
		rocksdb_options_set_block_based_table_factory(o, s->table_opts);
		rocksdb_options_set_compression(o, rocksdb_lz4_compression);
		if (i == CF_BLOBS) {
			/* Bitcode goes to blob files: compressed once, never
			 * rewritten by compaction of the small index rows. */
			rocksdb_options_set_enable_blob_files(o, 1);
			rocksdb_options_set_min_blob_size(o, 512);
			rocksdb_options_set_blob_compression_type(
				o, rocksdb_zstd_compression);
			rocksdb_options_set_enable_blob_gc(o, 1);
			rocksdb_options_set_write_buffer_size(o, 64 << 20);
		} else {
			rocksdb_options_optimize_for_point_lookup(o, 16);
			rocksdb_block_based_options_set_block_cache(
				s->table_opts, s->block_cache);
			rocksdb_options_set_block_based_table_factory(
				o, s->table_opts);
		}
		s->cf_opts[i] = o;
	}
	s->ropts = rocksdb_readoptions_create();
	s->wopts = rocksdb_writeoptions_create();
}

static int load_state(struct acfs_store *s, char *err)
{
	char *rerr = NULL;
	size_t len;
	char *v;

	v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_DEFAULT], "counters", 8,
			   &len, &rerr);
	if (rerr)
		return take_error(rerr, "reading counters", err);
	if (v && len == 16) {
		s->counters.entries = get_le((unsigned char *)v, 8);
		s->counters.bytes = get_le((unsigned char *)v + 8, 8);
	}
	rocksdb_free(v);

	v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_DEFAULT], "id_limit", 8,
			   &len, &rerr);
	if (rerr)
		return take_error(rerr, "reading id_limit", err);
	s->id_limit = (v && len == 8) ? get_le((unsigned char *)v, 8) : FIRST_ID;
	rocksdb_free(v);
	if (s->id_limit < FIRST_ID)
		s->id_limit = FIRST_ID;

	/* Defense in depth: never hand out an id a blob already has. */
	rocksdb_iterator_t *it =
		rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOBS]);
	rocksdb_iter_seek_to_last(it);
	if (rocksdb_iter_valid(it)) {
		const char *k = rocksdb_iter_key(it, &len);
		if (len == 8 && get_be64((const unsigned char *)k) >= s->id_limit)
			s->id_limit = get_be64((const unsigned char *)k) + 1;
	}
	rocksdb_iter_destroy(it);
	s->next_id = s->id_limit;
	return 0;
}

static int sweep_orphans(struct acfs_store *s, char *err)
{
	rocksdb_iterator_t *it =
		rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_ORPHANS]);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	char *rerr = NULL;
	size_t len;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		const char *k = rocksdb_iter_key(it, &len);
		rocksdb_writebatch_delete_cf(b, s->cf[CF_BLOBS], k, len);
		rocksdb_writebatch_delete_cf(b, s->cf[CF_ORPHANS], k, len);
	}
	rocksdb_iter_destroy(it);
	if (rocksdb_writebatch_count(b) > 0)
		rocksdb_write(s->db, s->wopts, b, &rerr);
	rocksdb_writebatch_destroy(b);
	return take_error(rerr, "sweeping orphans", err);
}

int acfs_store_open(const char *dir, const struct acfs_store_options *opts,
		    struct acfs_store **ret_store, char *err)
{
	struct acfs_store *s = calloc(1, sizeof(*s));
	const rocksdb_options_t *cfo[CF_COUNT];
	char *rerr = NULL;
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->read_only = opts && opts->read_only;
	configure(s);
	if (opts && opts->sync)
		rocksdb_writeoptions_set_sync(s->wopts, 1);
	for (int i = 0; i < CF_COUNT; i++)
		cfo[i] = s->cf_opts[i];

	if (s->read_only)
		s->db = rocksdb_open_for_read_only_column_families(
			s->db_opts, dir, CF_COUNT, cf_names, cfo, s->cf, 0,
			&rerr);
	else
		s->db = rocksdb_open_column_families(s->db_opts, dir, CF_COUNT,
						     cf_names, cfo, s->cf,
						     &rerr);
	if (rerr) {
		r = take_error(rerr, "opening RocksDB store", err);
		s->db = NULL;
		acfs_store_close(s);
		return r;
	}
	r = load_state(s, err);
	if (r == 0 && !s->read_only)
		r = sweep_orphans(s, err);
	if (r < 0) {
		acfs_store_close(s);
		return r;
	}
	*ret_store = s;
	return 0;
}

void acfs_store_close(struct acfs_store *s)
{
	if (!s)
		return;
	if (s->db) {
		if (!s->read_only) {
			char *rerr = NULL;
			rocksdb_flush_wal(s->db, 1, &rerr);
			rocksdb_free(rerr);
		}
		for (int i = 0; i < CF_COUNT; i++)
			if (s->cf[i])
				rocksdb_column_family_handle_destroy(s->cf[i]);
		rocksdb_close(s->db);
	}
	for (int i = 0; i < CF_COUNT; i++)
		if (s->cf_opts[i])
			rocksdb_options_destroy(s->cf_opts[i]);
	if (s->db_opts)
		rocksdb_options_destroy(s->db_opts);
	if (s->table_opts)
		rocksdb_block_based_options_destroy(s->table_opts);
	if (s->block_cache)
		rocksdb_cache_destroy(s->block_cache);
	if (s->ropts)
		rocksdb_readoptions_destroy(s->ropts);
	if (s->wopts)
		rocksdb_writeoptions_destroy(s->wopts);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- reads ------------------------------------------------------------- */

int acfs_store_get(struct acfs_store *s, const struct acfs_key *key,
		   struct acfs_entry *ret_entry)
{
	unsigned char k[ENTRY_KEY_SIZE];
	rocksdb_pinnableslice_t *ps;
	char *rerr = NULL;
	const char *v;
	size_t len;
	int r;

	encode_key(key, k);
	ps = rocksdb_get_pinned_cf(s->db, s->ropts, s->cf[CF_ENTRIES],
				   (const char *)k, sizeof(k), &rerr);
	if (rerr)
		return take_error(rerr, "get", NULL);
	if (!ps)
		return -ENOENT;
	v = rocksdb_pinnableslice_value(ps, &len);
	r = decode_entry(v, len, ret_entry);
	rocksdb_pinnableslice_destroy(ps);
	return r;
}

uint64_t acfs_store_alloc_id(struct acfs_store *s)
{
	uint64_t id = 0;

	pthread_mutex_lock(&s->lock);
	if (s->next_id >= s->id_limit) {
		unsigned char v[8];
		char *rerr = NULL;

		put_le(v, s->next_id + ID_RESERVE, 8);
		rocksdb_put_cf(s->db, s->wopts, s->cf[CF_DEFAULT], "id_limit",
			       8, (const char *)v, 8, &rerr);
		if (rerr) {
			rocksdb_free(rerr);
			goto out;
		}
		s->id_limit = s->next_id + ID_RESERVE;
	}
	id = s->next_id++;
out:
	pthread_mutex_unlock(&s->lock);
	return id;
}

int acfs_store_read_blob(struct acfs_store *s, uint64_t id, void **ret_data,
			 size_t *ret_size)
{
	unsigned char k[8];
	rocksdb_pinnableslice_t *ps;
	char *rerr = NULL;
	const char *v;
	size_t len;
	void *buf;

	put_be64(k, id);
	ps = rocksdb_get_pinned_cf(s->db, s->ropts, s->cf[CF_BLOBS],
				   (const char *)k, 8, &rerr);
	if (rerr)
		return take_error(rerr, "read blob", NULL);
	if (!ps)
		return -ENOENT;
	v = rocksdb_pinnableslice_value(ps, &len);
	buf = malloc(len ? len : 1);
	if (!buf) {
		rocksdb_pinnableslice_destroy(ps);
		return -ENOMEM;
	}
	memcpy(buf, v, len);
	rocksdb_pinnableslice_destroy(ps);
	*ret_data = buf;
	*ret_size = len;
	return 0;
}

/* ---- writes ------------------------------------------------------------ */

static void put_counters(struct acfs_store *s, rocksdb_writebatch_t *b,
			 const struct acfs_store_counters *c)
{
	unsigned char v[16];

	put_le(v, c->entries, 8);
	put_le(v + 8, c->bytes, 8);
	rocksdb_writebatch_put_cf(b, s->cf[CF_DEFAULT], "counters", 8,
				  (const char *)v, 16);
}

/* Drops the blob of @old now, or keeps it as an orphan if still read. */
static void retire(struct acfs_store *s, rocksdb_writebatch_t *b,
		   uint64_t old_id, acfs_in_use_fn in_use, void *userdata)
{
	unsigned char k[8];

	put_be64(k, old_id);
	if (in_use && in_use(old_id, userdata))
		rocksdb_writebatch_put_cf(b, s->cf[CF_ORPHANS],
					  (const char *)k, 8, "", 0);
	else
		rocksdb_writebatch_delete_cf(b, s->cf[CF_BLOBS],
					     (const char *)k, 8);
}

/* Caller holds s->lock. */
static int get_locked(struct acfs_store *s, const unsigned char *k,
		      struct acfs_entry *ret, char *err)
{
	char *rerr = NULL;
	size_t len;
	char *v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_ENTRIES],
				 (const char *)k, ENTRY_KEY_SIZE, &len, &rerr);
	int r;

	if (rerr)
		return take_error(rerr, "reading entry", err);
	if (!v)
		return -ENOENT;
	r = decode_entry(v, len, ret);
	rocksdb_free(v);
	if (r < 0 && err)
		snprintf(err, ACFS_ERR_MAX, "entry record is corrupt");
	return r;
}

int acfs_store_commit(struct acfs_store *s, const struct acfs_commit *c,
		      struct acfs_entry *ret_old, char *err)
{
	unsigned char k[ENTRY_KEY_SIZE], idk[8], rec[REC_SIZE];
	struct acfs_entry old = { 0 }, e = { 0 };
	struct acfs_store_counters cnt;
	rocksdb_writebatch_t *b;
	char *rerr = NULL;
	int r;

	if (s->read_only)
		return -EROFS;
	encode_key(&c->key, k);
	put_be64(idk, c->id);
	e.id = c->id;
	e.size = c->size;
	e.mtime_ns = e.atime_ns = e.ctime_ns = c->now_ns;

	pthread_mutex_lock(&s->lock);
	r = get_locked(s, k, &old, err);
	if (r == -ENOENT) {
		old.id = 0;
	} else if (r < 0) {
		goto out;
	} else if (c->noreplace) {
		r = -EEXIST;
		goto out;
	}
	if (old.flags & ACFS_ENTRY_PINNED)
		e.flags |= ACFS_ENTRY_PINNED;

	cnt = s->counters;
	b = rocksdb_writebatch_create();
	rocksdb_writebatch_put_cf(b, s->cf[CF_BLOBS], (const char *)idk, 8,
				  c->data, c->size);
	encode_entry(&e, rec);
	rocksdb_writebatch_put_cf(b, s->cf[CF_ENTRIES], (const char *)k,
				  sizeof(k), (const char *)rec, sizeof(rec));
	if (old.id) {
		retire(s, b, old.id, c->in_use, c->userdata);
		cnt.bytes -= old.size;
	} else {
		cnt.entries++;
	}
	cnt.bytes += c->size;
	put_counters(s, b, &cnt);
	rocksdb_write(s->db, s->wopts, b, &rerr);
	rocksdb_writebatch_destroy(b);
	r = take_error(rerr, "committing entry", err);
	if (r == 0)
		s->counters = cnt;
out:
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && ret_old)
		*ret_old = old;
	return r;
}

int acfs_store_remove(struct acfs_store *s, const struct acfs_key *key,
		      uint64_t id, acfs_in_use_fn in_use, void *userdata,
		      struct acfs_entry *ret_old, char *err)
{
	unsigned char k[ENTRY_KEY_SIZE];
	struct acfs_entry old;
	struct acfs_store_counters cnt;
	rocksdb_writebatch_t *b;
	char *rerr = NULL;
	int r;

	if (s->read_only)
		return -EROFS;
	encode_key(key, k);
	pthread_mutex_lock(&s->lock);
	r = get_locked(s, k, &old, err);
	if (r < 0)
		goto out;
	if (id && old.id != id) {
		r = -ENOENT;
		goto out;
	}
	cnt = s->counters;
	cnt.entries--;
	cnt.bytes -= old.size;
	b = rocksdb_writebatch_create();
	rocksdb_writebatch_delete_cf(b, s->cf[CF_ENTRIES], (const char *)k,
				     sizeof(k));
	retire(s, b, old.id, in_use, userdata);
	put_counters(s, b, &cnt);
	rocksdb_write(s->db, s->wopts, b, &rerr);
	rocksdb_writebatch_destroy(b);
	r = take_error(rerr, "removing entry", err);
	if (r == 0)
		s->counters = cnt;
out:
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && ret_old)
		*ret_old = old;
	return r;
}

int acfs_store_set_times(struct acfs_store *s, const struct acfs_key *key,
			 uint64_t id, int64_t atime_ns, int64_t mtime_ns)
{
	unsigned char k[ENTRY_KEY_SIZE], rec[REC_SIZE];
	struct acfs_entry e;
	char *rerr = NULL;
	int r;

	if (s->read_only)
		return -EROFS;
	encode_key(key, k);
	pthread_mutex_lock(&s->lock);
	r = get_locked(s, k, &e, NULL);
	if (r == 0 && e.id != id)
		r = -ENOENT;
	if (r == 0) {
		if (atime_ns >= 0)
			e.atime_ns = atime_ns;
		if (mtime_ns >= 0)
			e.mtime_ns = mtime_ns;
		encode_entry(&e, rec);
		rocksdb_put_cf(s->db, s->wopts, s->cf[CF_ENTRIES],
			       (const char *)k, sizeof(k), (const char *)rec,
			       sizeof(rec), &rerr);
		r = take_error(rerr, "setting times", NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int acfs_store_drop_orphan(struct acfs_store *s, uint64_t id)
{
	unsigned char k[8];
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	char *rerr = NULL;

	put_be64(k, id);
	rocksdb_writebatch_delete_cf(b, s->cf[CF_BLOBS], (const char *)k, 8);
	rocksdb_writebatch_delete_cf(b, s->cf[CF_ORPHANS], (const char *)k, 8);
	rocksdb_write(s->db, s->wopts, b, &rerr);
	rocksdb_writebatch_destroy(b);
	return take_error(rerr, "dropping orphan", NULL);
}

/* ---- iteration, counters, durability, checks ---------------------------- */

int acfs_store_foreach_in_shard(struct acfs_store *s, unsigned shard,
				bool from_start, const struct acfs_key *after,
				acfs_entry_fn fn, void *userdata)
{
	unsigned char start[ENTRY_KEY_SIZE];
	rocksdb_iterator_t *it;
	char *rerr = NULL;
	int r = 0;

	if (from_start) {
		memset(start, 0, sizeof(start));
		start[0] = (unsigned char)shard;
	} else {
		encode_key(after, start);
	}
	it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_ENTRIES]);
	rocksdb_iter_seek(it, (const char *)start, sizeof(start));
	for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		struct acfs_key key;
		struct acfs_entry e;
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);

		if (klen < 1 || (unsigned char)k[0] != shard)
			break;
		if (!from_start && klen == sizeof(start) &&
		    memcmp(k, start, klen) == 0)
			continue;
		if (decode_key(k, klen, &key) < 0 ||
		    decode_entry(v, vlen, &e) < 0)
			continue;
		r = fn(&key, &e, userdata);
		if (r)
			break;
	}
	rocksdb_iter_get_error(it, &rerr);
	rocksdb_iter_destroy(it);
	if (rerr)
		return take_error(rerr, "iterating shard", NULL);
	return r;
}

void acfs_store_get_counters(struct acfs_store *s,
			     struct acfs_store_counters *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->counters;
	pthread_mutex_unlock(&s->lock);
}

int acfs_store_sync(struct acfs_store *s)
{
	char *rerr = NULL;

	if (s->read_only)
		return 0;
	rocksdb_flush_wal(s->db, 1, &rerr);
	return take_error(rerr, "syncing WAL", NULL);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Collects the ids that may own a blob: entries' ids and orphans. */
static int collect_ids(struct acfs_store *s, uint64_t **ret_ids,
		       size_t *ret_n, struct acfs_store_counters *ret_sum,
		       char *err)
{
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	memset(ret_sum, 0, sizeof(*ret_sum));
	for (int cf = CF_ENTRIES; cf <= CF_ORPHANS && r == 0; cf += 2) {
		rocksdb_iterator_t *it =
			rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[cf]);
		for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
		     rocksdb_iter_next(it)) {
			size_t klen, vlen;
			const char *k = rocksdb_iter_key(it, &klen);
			const char *v = rocksdb_iter_value(it, &vlen);
			struct acfs_entry e;
			unsigned char bk[8];
			size_t blen;

			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				uint64_t *p = realloc(ids, cap * sizeof(*ids));
				if (!p) {
					r = -ENOMEM;
					break;
				}
				ids = p;
			}
			if (cf == CF_ORPHANS) {
				ids[n++] = get_be64((const unsigned char *)k);
				continue;
			}
			if (decode_entry(v, vlen, &e) < 0) {
				snprintf(err, ACFS_ERR_MAX,
					 "corrupt entry record");
				r = -EUCLEAN;
				break;
			}
			ids[n++] = e.id;
			ret_sum->entries++;
			ret_sum->bytes += e.size;
			put_be64(bk, e.id);
			char *rerr = NULL;
			char *bv = rocksdb_get_cf(s->db, s->ropts,
						  s->cf[CF_BLOBS],
						  (const char *)bk, 8, &blen,
						  &rerr);
			rocksdb_free(rerr);
			rocksdb_free(bv);
			if (!bv || blen != e.size) {
				snprintf(err, ACFS_ERR_MAX,
					 "entry id %llu: blob %s",
					 (unsigned long long)e.id,
					 bv ? "has the wrong size" : "missing");
				r = -EUCLEAN;
				break;
			}
		}
		rocksdb_iter_destroy(it);
	}
	*ret_ids = ids;
	*ret_n = n;
	return r;
}

int acfs_store_check(struct acfs_store *s, char *err)
{
	struct acfs_store_counters sum, cnt;
	uint64_t *ids;
	size_t n;
	int r = collect_ids(s, &ids, &n, &sum, err);

	if (r < 0)
		goto out;
	if (n > 0)
		qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (ids[i] == ids[i - 1]) {
			snprintf(err, ACFS_ERR_MAX, "id %llu owned twice",
				 (unsigned long long)ids[i]);
			r = -EUCLEAN;
			goto out;
		}
	acfs_store_get_counters(s, &cnt);
	if (cnt.entries != sum.entries || cnt.bytes != sum.bytes) {
		snprintf(err, ACFS_ERR_MAX,
			 "counters say %llu entries / %llu bytes, rows say "
			 "%llu / %llu",
			 (unsigned long long)cnt.entries,
			 (unsigned long long)cnt.bytes,
			 (unsigned long long)sum.entries,
			 (unsigned long long)sum.bytes);
		r = -EUCLEAN;
		goto out;
	}
	rocksdb_iterator_t *it =
		rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_BLOBS]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen;
		uint64_t id = get_be64(
			(const unsigned char *)rocksdb_iter_key(it, &klen));
		if (n == 0 || !bsearch(&id, ids, n, sizeof(*ids), cmp_u64)) {
			snprintf(err, ACFS_ERR_MAX,
				 "blob %llu is owned by nobody",
				 (unsigned long long)id);
			r = -EUCLEAN;
			break;
		}
		if (id >= s->id_limit) {
			snprintf(err, ACFS_ERR_MAX,
				 "blob %llu is past the id limit",
				 (unsigned long long)id);
			r = -EUCLEAN;
			break;
		}
	}
	rocksdb_iter_destroy(it);
out:
	free(ids);
	return r;
}
