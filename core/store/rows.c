/* SPDX-License-Identifier: MIT */
/*
 * The store's rows as bytes: fixed-width integers, entry keys and records,
 * lru keys; sets of version ids; row counts. Below store.c, lru.c, tree.c,
 * check.c and verify.c, which all read and write these encodings; it calls
 * nothing above the key-value layer (kv.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"

/* ---- encoding ------------------------------------------------------------ */

void store_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

uint64_t store_get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void store_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

uint64_t store_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void store_encode_key(const struct acfs_key *key, unsigned char *out)
{
	store_put_be64(out, key->hash);
	out[8] = (unsigned char)key->kind;
}

int store_decode_key(const void *p, size_t len, struct acfs_key *ret)
{
	const unsigned char *u = p;

	if (len != ENTRY_KEY_SIZE || u[8] > ACFS_KIND_META)
		return -EIO;
	ret->hash = store_get_be64(u);
	ret->kind = (enum acfs_kind)u[8];
	return 0;
}

void store_encode_entry(const struct acfs_entry *e, unsigned char *out)
{
	out[0] = REC_VERSION;
	store_put_le(out + 1, e->id, 8);
	store_put_le(out + 9, e->size, 8);
	store_put_le(out + 17, e->stored, 8);
	store_put_le(out + 25, (uint64_t)e->mtime_ns, 8);
	store_put_le(out + 33, (uint64_t)e->atime_ns, 8);
	store_put_le(out + 41, (uint64_t)e->ctime_ns, 8);
	store_put_le(out + 49, e->flags, 4);
	memcpy(out + REC_SIZE_1, e->digest, ACFS_DIGEST_SIZE);
}

int store_decode_entry(const void *p, size_t len, struct acfs_entry *ret)
{
	const unsigned char *u = p;

	if (!((len == REC_SIZE && u[0] == REC_VERSION) ||
	      (len == REC_SIZE_1 && u[0] == REC_VERSION_1)))
		return -EIO;
	ret->id = store_get_le(u + 1, 8);
	ret->size = store_get_le(u + 9, 8);
	ret->stored = store_get_le(u + 17, 8);
	ret->mtime_ns = (int64_t)store_get_le(u + 25, 8);
	ret->atime_ns = (int64_t)store_get_le(u + 33, 8);
	ret->ctime_ns = (int64_t)store_get_le(u + 41, 8);
	ret->flags = (uint32_t)store_get_le(u + 49, 4);
	if (len == REC_SIZE)
		memcpy(ret->digest, u + REC_SIZE_1, ACFS_DIGEST_SIZE);
	else
		memset(ret->digest, 0, ACFS_DIGEST_SIZE);
	return 0;
}

void store_lru_key(int64_t atime_ns, const struct acfs_key *key,
		   unsigned char *out)
{
	/* Times before 1970 sort first, as 0. */
	store_put_be64(out, atime_ns > 0 ? (uint64_t)atime_ns : 0);
	store_encode_key(key, out + 8);
}

/* ---- id sets and row counts --------------------------------------------- */

int idset_add(struct idset *s, uint64_t id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *p = realloc(s->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = id;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void idset_sort(struct idset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(uint64_t), cmp_u64);
}

bool idset_has(const struct idset *s, uint64_t id)
{
	return s->n && bsearch(&id, s->v, s->n, sizeof(id), cmp_u64);
}

int store_count_rows(struct acfs_store *s, enum acfs_cf cf,
		      struct idset *ids, uint64_t *ret)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, cf);
	uint64_t n = 0;
	int r = 0;

	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t len;
		const unsigned char *k = acfs_kv_iter_key(it, &len);
		n++;
		if (ids && len == 8)
			r = idset_add(ids, store_get_be64(k));
	}
	int ir = acfs_kv_iter_free(it, NULL);
	*ret = n;
	return r < 0 ? r : ir;
}

void store_count_entry(struct acfs_store_counters *c,
		       const struct acfs_entry *e, int sign)
{
	if (sign > 0) {
		c->entries++;
		c->bytes += e->size;
		c->stored += e->stored;
	} else {
		c->entries--;
		c->bytes -= e->size;
		c->stored -= e->stored;
	}
}
