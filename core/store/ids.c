/* SPDX-License-Identifier: MIT */
/*
 * Version ids: every committed version and every staged file gets the
 * next one, never reused. A block of ID_RESERVE ids is recorded ahead
 * ("id_limit" in the default family) so that most allocations write
 * nothing, and a restart continues past every id handed out. Below the
 * entry store and the general tree, which both allocate.
 */
#include "store-private.h"

uint64_t acfs_store_alloc_id(struct acfs_store *s)
{
	uint64_t id = 0;

	pthread_mutex_lock(&s->lock);
	if (s->next_id >= s->id_limit) {
		unsigned char v[8];
		struct acfs_kv_batch *b = acfs_kv_batch_new();

		if (!b)
			goto out;
		store_put_le(v, s->next_id + ID_RESERVE, 8);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_DEFAULT, "id_limit", 8, v,
				  8);
		int r = acfs_kv_write(s->kv, b, NULL);
		acfs_kv_batch_free(b);
		if (r < 0)
			goto out;
		s->id_limit = s->next_id + ID_RESERVE;
	}
	id = s->next_id++;
out:
	pthread_mutex_unlock(&s->lock);
	return id;
}
