/* SPDX-License-Identifier: MIT */
/* Fault injection for tests (built into test binaries only, never into
 * the daemon or aria-cache). See store-inject.h. */
#include "store-inject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "store-private.h"

static int write_one(struct acfs_store *s, enum acfs_cf cf, const void *k,
		     size_t klen, const void *v, size_t vlen, bool del)
{
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	int r;

	if (!b)
		return -ENOMEM;
	if (del)
		acfs_kv_batch_delete(b, s->kv, cf, k, klen);
	else
		acfs_kv_batch_put(b, s->kv, cf, k, klen, v, vlen);
	r = acfs_kv_write(s->kv, b, NULL);
	acfs_kv_batch_free(b);
	return r;
}

static int flip_byte(struct acfs_store *s, const struct acfs_entry *e)
{
	unsigned char k[8];
	void *data, *val;
	size_t len, vlen;
	int r = acfs_store_read_blob(s, e->id, &data, &len, NULL);

	if (r < 0)
		return r;
	if (len)
		((unsigned char *)data)[len / 2] ^= 0x5a;
	r = acfs_blob_encode(data, len, s->zstd_level, &val, &vlen);
	free(data);
	if (r < 0)
		return r;
	store_put_be64(k, e->id);
	r = write_one(s, ACFS_CF_BLOBS, k, 8, val, vlen, false);
	free(val);
	return r;
}

int acfs_inject(struct acfs_store *s, enum acfs_injection what,
		const struct acfs_key *key)
{
	unsigned char k[ENTRY_KEY_SIZE], lk[LRU_KEY_SIZE], idk[8];
	struct acfs_entry e;
	int r = 0;

	if (s->read_only)
		return -EROFS;
	store_encode_key(key, k);
	switch (what) {
	case ACFS_INJECT_FLIP_BYTE:
	case ACFS_INJECT_DROP_BLOB:
	case ACFS_INJECT_DROP_LRU:
		r = acfs_store_get(s, key, &e);
		if (r < 0)
			return r;
		if (what == ACFS_INJECT_FLIP_BYTE)
			return flip_byte(s, &e);
		if (what == ACFS_INJECT_DROP_BLOB) {
			store_put_be64(idk, e.id);
			return write_one(s, ACFS_CF_BLOBS, idk, 8, NULL, 0,
					 true);
		}
		store_lru_key(e.atime_ns, key, lk);
		return write_one(s, ACFS_CF_LRU, lk, sizeof(lk), NULL, 0, true);
	case ACFS_INJECT_COUNTERS:
		pthread_mutex_lock(&s->lock);
		s->counters.entries += 1;
		s->counters.bytes += 1000;
		{
			struct acfs_kv_batch *b = acfs_kv_batch_new();
			store_put_counters(s, b, &s->counters);
			r = acfs_kv_write(s->kv, b, NULL);
			acfs_kv_batch_free(b);
		}
		pthread_mutex_unlock(&s->lock);
		return r;
	case ACFS_INJECT_DANGLING_LRU:
		store_lru_key(12345, key, lk);
		return write_one(s, ACFS_CF_LRU, lk, sizeof(lk), "", 0, false);
	case ACFS_INJECT_DANGLING_INFO:
		return write_one(s, ACFS_CF_INFO, k, sizeof(k), "x", 1, false);
	case ACFS_INJECT_TREE_NAME: {
		unsigned char dk[8 + 5], dv[16];
		store_put_be64(dk, ACFS_TREE_ROOT);
		memcpy(dk + 8, "ghost", 5);
		store_put_be64(dv, 987654321);
		store_put_be64(dv + 8, 1);
		return write_one(s, ACFS_CF_GDIRENTS, dk, sizeof(dk), dv,
				 sizeof(dv), false);
	}
	case ACFS_INJECT_TREE_COUNTERS: {
		unsigned char v[24];
		store_put_be64(v, s->tcount.files + 3);
		store_put_be64(v + 8, s->tcount.bytes + 3000);
		store_put_be64(v + 16, s->tcount.root_dirs);
		s->tcount.files += 3;
		s->tcount.bytes += 3000;
		return write_one(s, ACFS_CF_DEFAULT, "gcounters", 9, v, 24,
				 false);
	}
	case ACFS_INJECT_STRAY_BLOB:
		store_put_be64(idk, acfs_store_alloc_id(s));
		return write_one(s, ACFS_CF_BLOBS, idk, 8, "\0stray", 6, false);
	}
	return -EINVAL;
}

void acfs_store_compact(struct acfs_store *s)
{
	if (!s->read_only)
		acfs_kv_compact(s->kv);
}
