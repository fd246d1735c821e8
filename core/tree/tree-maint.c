/* SPDX-License-Identifier: MIT */
/*
 * Upkeep of the general tree: dropping an unlinked inode at its last
 * forget, its counters, loading them and dropping orphans at open, eviction of its files (--evict-general), and verify's
 * walk. The calls themselves are in tree.c.
 */
#include "acfs/tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tree-private.h"

int acfs_tree_drop(struct acfs_store *s, uint64_t ino)
{
	struct acfs_gnode g;
	struct acfs_tree_counters cnt;
	struct acfs_kv_batch *b;
	unsigned char k[8];
	int r;

	if (s->read_only)
		return 0;
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->tree_lock);
	r = tree_get_node(s, ino, &g);
	if (r < 0 || g.nlink > 0) {
		pthread_mutex_unlock(&s->tree_lock);
		acfs_kv_batch_free(b);
		return r == -ENOENT ? 0 : r;
	}
	cnt = s->tcount; /* it left the counters when it lost its name */
	store_put_be64(k, ino);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_GNODES, k, 8);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_GORPHANS, k, 8);
	r = tree_delete_blocks(s, b, ino, 0);
	if (r == 0)
		r = tree_commit(s, b, &cnt);
	else
		acfs_kv_batch_free(b);
	pthread_mutex_unlock(&s->tree_lock);
	return r;
}

void acfs_tree_get_counters(struct acfs_store *s,
			    struct acfs_tree_counters *ret)
{
	pthread_mutex_lock(&s->tree_lock);
	*ret = s->tcount;
	pthread_mutex_unlock(&s->tree_lock);
}

int store_tree_open(struct acfs_store *s, char *err)
{
	struct acfs_kv_iter *it;
	unsigned char v[24];
	struct block bl = { v, 0 };
	int r;

	r = acfs_kv_get(s->kv, ACFS_CF_DEFAULT, "gcounters", 9, tree_copy_block,
			&bl, err);
	if (r == 0 && bl.len == 24) {
		s->tcount.files = store_get_be64(v);
		s->tcount.bytes = store_get_be64(v + 8);
		s->tcount.root_dirs = store_get_be64(v + 16);
	} else if (r != -ENOENT && r != 0) {
		return r;
	}
	r = 0;
	if (s->read_only)
		return 0;
	/* Files unlinked while open when the daemon stopped: nobody holds
	 * them now. */
	it = acfs_kv_iter_new(s->kv, ACFS_CF_GORPHANS);
	if (!it)
		return -ENOMEM;
	struct idset orphans = { 0 };
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r >= 0;
	     acfs_kv_iter_next(it)) {
		size_t len;
		const unsigned char *k = acfs_kv_iter_key(it, &len);
		if (len == 8)
			r = idset_add(&orphans, store_get_be64(k));
	}
	int ir = acfs_kv_iter_free(it, err);
	for (size_t i = 0; r >= 0 && ir == 0 && i < orphans.n; i++)
		r = acfs_tree_drop(s, orphans.v[i]);
	free(orphans.v);
	return r < 0 ? r : ir;
}

struct victim {
	int64_t mtime_ns;
	uint64_t ino, size;
};

static int cmp_victim(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

int acfs_tree_evict(struct acfs_store *s, uint64_t bytes,
		    acfs_in_use_fn in_use, void *userdata, int64_t now_ns,
		    uint64_t *ret_files, uint64_t *ret_bytes)
{
	struct victim *v = NULL;
	size_t n = 0, cap = 0, take = 0;
	struct idset chosen = { 0 };
	struct acfs_kv_iter *it;
	uint64_t sum = 0;
	int r = 0;

	*ret_files = *ret_bytes = 0;
	if (bytes == 0 || s->read_only)
		return 0;
	/* The regular files, oldest change first. */
	it = acfs_kv_iter_new(s->kv, ACFS_CF_GNODES);
	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const void *val = acfs_kv_iter_value(it, &vlen);
		struct acfs_gnode g;
		if (klen != 8 || tree_decode_node(val, vlen, &g) < 0 ||
		    !S_ISREG(g.mode) || g.nlink == 0)
			continue;
		if (n == cap) {
			struct victim *p = realloc(v, (cap = cap ? 2 * cap
								: 256) *
							      sizeof(*v));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			v = p;
		}
		v[n].mtime_ns = g.mtime_ns;
		v[n].ino = store_get_be64(k);
		v[n++].size = g.stored;
	}
	int ir = acfs_kv_iter_free(it, NULL);
	if (r == 0)
		r = ir;
	if (r == 0 && n)
		qsort(v, n, sizeof(*v), cmp_victim);
	while (r == 0 && take < n && sum < bytes) {
		sum += v[take].size;
		r = idset_add(&chosen, v[take++].ino);
	}
	idset_sort(&chosen);
	/* Every name of the chosen files goes. */
	it = r == 0 ? acfs_kv_iter_new(s->kv, ACFS_CF_GDIRENTS) : NULL;
	if (it)
		acfs_kv_iter_first(it);
	for (; it && acfs_kv_iter_valid(it) && r == 0; acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const unsigned char *val = acfs_kv_iter_value(it, &vlen);
		char name[ACFS_TREE_NAME_MAX + 1];
		if (klen <= 8 || klen > DIRENT_KEY_MAX || vlen != 16 ||
		    !idset_has(&chosen, store_get_be64(val)))
			continue;
		memcpy(name, k + 8, klen - 8);
		name[klen - 8] = '\0';
		r = acfs_tree_remove(s, store_get_be64(k), name, false, in_use,
				     userdata, now_ns);
		if (r == -ENOENT)
			r = 0; /* removed meanwhile */
	}
	if (it) {
		ir = acfs_kv_iter_free(it, NULL);
		if (r == 0)
			r = ir;
	}
	if (r == 0) {
		*ret_files = take;
		*ret_bytes = sum;
	}
	free(v);
	free(chosen.v);
	return r;
}

static int exists_cb(const void *v, size_t len, void *u)
{
	(void)v;
	(void)len;
	*(bool *)u = true;
	return 0;
}

static bool row_exists(struct acfs_store *s, enum acfs_cf cf,
		       const unsigned char *k)
{
	bool found = false;
	acfs_kv_get(s->kv, cf, k, 16, exists_cb, &found, NULL);
	return found;
}

/* Readdir rows must name a name of their directory with that cookie. */
static int check_cookies(struct acfs_store *s, struct acfs_kv_batch *b,
			 bool repair,
			 void (*report)(bool counters, const char *why,
					void *userdata),
			 void *userdata)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_GCOOKIES);
	char why[ACFS_ERR_MAX];

	if (!it)
		return -ENOMEM;
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const char *v = acfs_kv_iter_value(it, &vlen);
		char name[ACFS_TREE_NAME_MAX + 1];
		struct dirent_val d;

		if (klen == 16 && vlen > 0 && vlen <= ACFS_TREE_NAME_MAX) {
			memcpy(name, v, vlen);
			name[vlen] = '\0';
			if (tree_get_dirent(s, store_get_be64(k), name, &d) == 0 &&
			    d.cookie == store_get_be64(k + 8))
				continue;
		}
		snprintf(why, sizeof(why), "ordinary tree: a readdir row of "
			 "directory %llu names no entry (%.*s)",
			 klen >= 8 ? (unsigned long long)store_get_be64(k) : 0,
			 (int)(vlen < 64 ? vlen : 64), v);
		report(false, why, userdata);
		if (repair)
			acfs_kv_batch_delete(b, s->kv, ACFS_CF_GCOOKIES, k, klen);
	}
	return acfs_kv_iter_free(it, NULL);
}

int store_tree_verify(struct acfs_store *s, bool repair,
		      void (*report)(bool counters, const char *why,
				     void *userdata),
		      void *userdata)
{
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	struct acfs_tree_counters sum = { 0 };
	struct idset named = { 0 };
	struct acfs_kv_iter *it;
	char why[ACFS_ERR_MAX];
	int r = 0, ir;

	if (!b)
		return -ENOMEM;
	pthread_mutex_lock(&s->tree_lock);
	/* What the inodes add up to. */
	it = acfs_kv_iter_new(s->kv, ACFS_CF_GNODES);
	if (!it) {
		r = -ENOMEM;
		goto out;
	}
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const void *v = acfs_kv_iter_value(it, &vlen);
		struct acfs_gnode g;
		if (klen != 8 || tree_decode_node(v, vlen, &g) < 0)
			continue;
		r = idset_add(&named, store_get_be64(k));
		if (g.nlink == 0)
			continue;
		sum.files++;
		if (S_ISREG(g.mode))
			sum.bytes += g.stored;
		if (S_ISDIR(g.mode) && g.parent == ACFS_TREE_ROOT)
			sum.root_dirs++;
	}
	ir = acfs_kv_iter_free(it, NULL);
	if (r < 0 || (r = ir) < 0)
		goto out;
	idset_sort(&named);
	/* Names must point at an inode; readdir rows at a name. */
	it = acfs_kv_iter_new(s->kv, ACFS_CF_GDIRENTS);
	if (!it) {
		r = -ENOMEM;
		goto out;
	}
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *k = acfs_kv_iter_key(it, &klen);
		const unsigned char *v = acfs_kv_iter_value(it, &vlen);
		unsigned char ck[16];
		if (klen > 8 && vlen == 16 &&
		    idset_has(&named, store_get_be64(v))) {
			/* Listed by readdir only through its cookie row. */
			tree_pair_key(store_get_be64(k), store_get_be64(v + 8), ck);
			if (row_exists(s, ACFS_CF_GCOOKIES, ck))
				continue;
			snprintf(why, sizeof(why), "ordinary tree: the name "
				 "%.*s in directory %llu has no readdir row",
				 (int)(klen - 8), (const char *)k + 8,
				 (unsigned long long)store_get_be64(k));
			report(false, why, userdata);
			if (repair)
				acfs_kv_batch_put(b, s->kv, ACFS_CF_GCOOKIES,
						  ck, 16, k + 8, klen - 8);
			continue;
		}
		snprintf(why, sizeof(why), "ordinary tree: the name %.*s in "
			 "directory %llu points at no inode",
			 klen > 8 ? (int)(klen - 8) : 0, (const char *)k + 8,
			 klen >= 8 ? (unsigned long long)store_get_be64(k) : 0);
		report(false, why, userdata);
		if (repair) {
			unsigned char ck[16];
			acfs_kv_batch_delete(b, s->kv, ACFS_CF_GDIRENTS, k, klen);
			if (klen >= 8 && vlen == 16) {
				tree_pair_key(store_get_be64(k),
					 store_get_be64(v + 8), ck);
				acfs_kv_batch_delete(b, s->kv, ACFS_CF_GCOOKIES,
						     ck, 16);
			}
		}
	}
	ir = acfs_kv_iter_free(it, NULL);
	if ((r = ir) < 0 || (r = check_cookies(s, b, repair, report,
					       userdata)) < 0)
		goto out;
	if (memcmp(&sum, &s->tcount, sizeof(sum)) != 0) {
		snprintf(why, sizeof(why),
			 "ordinary tree: counters say %llu files / %llu bytes, "
			 "the inodes sum to %llu / %llu",
			 (unsigned long long)s->tcount.files,
			 (unsigned long long)s->tcount.bytes,
			 (unsigned long long)sum.files,
			 (unsigned long long)sum.bytes);
		report(true, why, userdata);
	}
	if (repair && (acfs_kv_batch_count(b) > 0 ||
		       memcmp(&sum, &s->tcount, sizeof(sum)) != 0)) {
		r = tree_commit(s, b, &sum);
		b = NULL;
	}
out:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	free(named.v);
	return r;
}
