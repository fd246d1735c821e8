/* SPDX-License-Identifier: MIT */
/* acfs_store_check: walks everything and tests the store's invariants. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"

static int value_len(const void *v, size_t len, void *u)
{
	(void)v;
	*(size_t *)u = len;
	return 0;
}

static int lru_row_exists(const void *v, size_t len, void *u)
{
	(void)v;
	(void)len;
	(void)u;
	return 0;
}

struct walk {
	struct acfs_store *s;
	struct idset ids;
	struct acfs_store_counters sum;
	uint64_t unpinned;
	char *err;
};

static int check_entry(const struct acfs_key *key, const struct acfs_entry *e,
		       void *u)
{
	struct walk *w = u;
	unsigned char bk[8], lk[LRU_KEY_SIZE];
	size_t blen = 0;
	char path[ACFS_KEY_PATH_MAX];

	acfs_key_format_path(key, path);
	if (idset_add(&w->ids, e->id) < 0)
		return -ENOMEM;
	store_count_entry(&w->sum, e, 1);
	store_put_be64(bk, e->id);
	if (acfs_kv_get(w->s->kv, ACFS_CF_BLOBS, bk, 8, value_len, &blen,
			NULL) < 0 || blen != e->stored) {
		snprintf(w->err, ACFS_ERR_MAX, "%s: version %llu: blob %s",
			 path, (unsigned long long)e->id,
			 blen ? "has the wrong size" : "missing");
		return -EUCLEAN;
	}
	if (!(e->flags & ACFS_ENTRY_PINNED)) {
		w->unpinned++;
		store_lru_key(e->atime_ns, key, lk);
		if (acfs_kv_get(w->s->kv, ACFS_CF_LRU, lk, sizeof(lk),
				lru_row_exists, NULL, NULL) < 0) {
			snprintf(w->err, ACFS_ERR_MAX,
				 "%s: no lru row for its access time", path);
			return -EUCLEAN;
		}
	}
	return 0;
}


/* The first problem the tree's own walk reports, as the check's error. */
struct first_problem {
	char *err;
	bool seen;
};

static void note_first(bool counters, const char *why, void *u)
{
	struct first_problem *f = u;

	(void)counters;
	if (!f->seen)
		snprintf(f->err, ACFS_ERR_MAX, "%s", why);
	f->seen = true;
}

/* The general tree: what verify walks, without repairing. */
static int check_tree(struct acfs_store *s, char *err)
{
	struct first_problem f = { err, false };
	int r = store_tree_verify(s, false, note_first, &f);

	return r < 0 ? r : f.seen ? -EUCLEAN : 0;
}

int acfs_store_check(struct acfs_store *s, char *err)
{
	struct walk w = { .s = s, .err = err };
	struct acfs_store_counters cnt;
	struct idset blobs = { 0 };
	uint64_t n, id_limit;
	int r;

	r = acfs_store_foreach(s, check_entry, &w);
	if (r < 0)
		goto out;
	r = store_count_rows(s, ACFS_CF_ORPHANS, &w.ids, &n);
	if (r == 0)
		r = store_count_rows(s, ACFS_CF_QUARANTINE, &w.ids, &n);
	if (r < 0)
		goto out;
	idset_sort(&w.ids);
	for (size_t i = 1; i < w.ids.n; i++)
		if (w.ids.v[i] == w.ids.v[i - 1]) {
			snprintf(err, ACFS_ERR_MAX, "version %llu owned twice",
				 (unsigned long long)w.ids.v[i]);
			r = -EUCLEAN;
			goto out;
		}
	acfs_store_get_counters(s, &cnt);
	if (memcmp(&cnt, &w.sum, sizeof(cnt)) != 0) {
		snprintf(err, ACFS_ERR_MAX,
			 "counters say %llu entries / %llu bytes / %llu stored, "
			 "rows say %llu / %llu / %llu",
			 (unsigned long long)cnt.entries,
			 (unsigned long long)cnt.bytes,
			 (unsigned long long)cnt.stored,
			 (unsigned long long)w.sum.entries,
			 (unsigned long long)w.sum.bytes,
			 (unsigned long long)w.sum.stored);
		r = -EUCLEAN;
		goto out;
	}
	r = store_count_rows(s, ACFS_CF_LRU, NULL, &n);
	if (r < 0)
		goto out;
	if (n != w.unpinned) {
		snprintf(err, ACFS_ERR_MAX, "%llu lru rows for %llu unpinned "
			 "entries", (unsigned long long)n,
			 (unsigned long long)w.unpinned);
		r = -EUCLEAN;
		goto out;
	}
	r = store_count_rows(s, ACFS_CF_BLOBS, &blobs, &n);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&s->lock);
	id_limit = s->id_limit;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < blobs.n; i++) {
		if (!idset_has(&w.ids, blobs.v[i])) {
			snprintf(err, ACFS_ERR_MAX, "blob %llu is owned by "
				 "nobody", (unsigned long long)blobs.v[i]);
			r = -EUCLEAN;
			break;
		}
		if (blobs.v[i] >= id_limit) {
			snprintf(err, ACFS_ERR_MAX, "blob %llu is past the id "
				 "limit", (unsigned long long)blobs.v[i]);
			r = -EUCLEAN;
			break;
		}
	}
	if (r == 0)
		r = check_tree(s, err);
out:
	free(w.ids.v);
	free(blobs.v);
	return r;
}
