/* SPDX-License-Identifier: MIT */
/*
 * The upload queues of the remote tiers, as rows of the uploads family:
 * remote(8) + id(8) for a version waiting to be uploaded (written by the
 * commit that made it), FF*8 + remote(8) + id(8) for one the remote does
 * not have (refused, or kept out by a full queue: reported by every sync
 * until uploaded or forgotten). See acfs/store.h.
 */
#include <errno.h>
#include <string.h>

#include "store-private.h"

void store_dropped_key(uint64_t remote, uint64_t id, unsigned char *k)
{
	memset(k, 0xff, 8);
	store_put_be64(k + 8, remote);
	store_put_be64(k + 16, id);
}

int acfs_store_uploads(struct acfs_store *s, uint64_t remote, uint64_t after,
		       struct acfs_upload *out, size_t max, size_t *ret_n)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_UPLOADS);
	unsigned char start[16];
	size_t n = 0;

	store_put_be64(start, remote);
	store_put_be64(start + 8, after + 1);
	for (acfs_kv_iter_seek(it, start, sizeof(start));
	     n < max && acfs_kv_iter_valid(it); acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const void *v = acfs_kv_iter_value(it, &vlen);
		if (klen != 16 || store_get_be64(k) != remote)
			break;
		out[n].id = store_get_be64(k + 8);
		if (store_decode_key(v, vlen, &out[n].key) == 0)
			n++;
	}
	*ret_n = n;
	return acfs_kv_iter_free(it, NULL);
}

int acfs_store_upload_done(struct acfs_store *s, uint64_t remote, uint64_t id,
			   char *err)
{
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	unsigned char k[16];
	int r;

	store_put_be64(k, remote);
	store_put_be64(k + 8, id);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_UPLOADS, k, sizeof(k));
	r = acfs_kv_write(s->kv, b, err);
	acfs_kv_batch_free(b);
	return r;
}

int acfs_store_upload_count(struct acfs_store *s, uint64_t remote,
			    uint64_t *ret)
{
	struct acfs_kv_iter *it;
	unsigned char start[8];
	uint64_t n = 0;

	if (!remote) {
		uint64_t dropped = 0;
		int r = store_count_rows(s, ACFS_CF_UPLOADS, NULL, ret);
		if (r == 0 && (r = acfs_store_dropped_count(s, 0, &dropped)) == 0)
			*ret -= dropped < *ret ? dropped : *ret;
		return r;
	}
	it = acfs_kv_iter_new(s->kv, ACFS_CF_UPLOADS);
	store_put_be64(start, remote);
	for (acfs_kv_iter_seek(it, start, sizeof(start));
	     acfs_kv_iter_valid(it); acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		if (klen < 8 || store_get_be64(k) != remote)
			break;
		n++;
	}
	*ret = n;
	return acfs_kv_iter_free(it, NULL);
}

/* ---- dropped uploads ----------------------------------------------------- */

/* Moves @u's row of @from (16 or 24 bytes) to @to in one write. */
static int move_upload(struct acfs_store *s, const unsigned char *from,
		       size_t flen, const unsigned char *to, size_t tlen,
		       const struct acfs_upload *u, char *err)
{
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	unsigned char k[ENTRY_KEY_SIZE];
	int r;

	if (!b)
		return -ENOMEM;
	store_encode_key(&u->key, k);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_UPLOADS, from, flen);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_UPLOADS, to, tlen, k, sizeof(k));
	r = acfs_kv_write(s->kv, b, err);
	acfs_kv_batch_free(b);
	return r;
}

int acfs_store_upload_drop(struct acfs_store *s, uint64_t remote,
			   const struct acfs_upload *u, char *err)
{
	unsigned char q[16], d[24];

	store_put_be64(q, remote);
	store_put_be64(q + 8, u->id);
	store_dropped_key(remote, u->id, d);
	return move_upload(s, q, sizeof(q), d, sizeof(d), u, err);
}

int acfs_store_dropped_requeue(struct acfs_store *s, uint64_t remote,
			       const struct acfs_upload *u, char *err)
{
	unsigned char q[16], d[24];

	store_put_be64(q, remote);
	store_put_be64(q + 8, u->id);
	store_dropped_key(remote, u->id, d);
	return move_upload(s, d, sizeof(d), q, sizeof(q), u, err);
}

int acfs_store_dropped(struct acfs_store *s, uint64_t remote, uint64_t after,
		       struct acfs_upload *out, size_t max, size_t *ret_n)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_UPLOADS);
	unsigned char start[24];
	size_t n = 0;

	if (!it)
		return -ENOMEM;
	store_dropped_key(remote, after + 1, start);
	for (acfs_kv_iter_seek(it, start, sizeof(start));
	     n < max && acfs_kv_iter_valid(it); acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const void *v = acfs_kv_iter_value(it, &vlen);
		if (klen != 24 || memcmp(k, start, 16) != 0)
			break;
		out[n].id = store_get_be64(k + 16);
		if (store_decode_key(v, vlen, &out[n].key) == 0)
			n++;
	}
	*ret_n = n;
	return acfs_kv_iter_free(it, NULL);
}

int acfs_store_dropped_count(struct acfs_store *s, uint64_t remote,
			     uint64_t *ret)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_UPLOADS);
	unsigned char start[24];
	uint64_t n = 0;

	if (!it)
		return -ENOMEM;
	store_dropped_key(remote, 0, start);
	for (acfs_kv_iter_seek(it, start, remote ? 16 : 8);
	     acfs_kv_iter_valid(it); acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		if (klen != 24 || memcmp(k, start, remote ? 16 : 8) != 0)
			break;
		n++;
	}
	*ret = n;
	return acfs_kv_iter_free(it, NULL);
}

int acfs_store_dropped_forget(struct acfs_store *s, uint64_t *ret)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_UPLOADS);
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	unsigned char start[8];
	uint64_t n = 0;
	int r;

	if (!it || !b) {
		acfs_kv_iter_free(it, NULL);
		acfs_kv_batch_free(b);
		return -ENOMEM;
	}
	memset(start, 0xff, sizeof(start));
	for (acfs_kv_iter_seek(it, start, sizeof(start));
	     acfs_kv_iter_valid(it); acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		if (klen != 24 || memcmp(k, start, 8) != 0)
			break;
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_UPLOADS, k, klen);
		n++;
	}
	r = acfs_kv_iter_free(it, NULL);
	if (r == 0 && n)
		r = acfs_kv_write(s->kv, b, NULL);
	acfs_kv_batch_free(b);
	*ret = n;
	return r;
}
