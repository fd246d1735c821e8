/* SPDX-License-Identifier: MIT */
/*
 * The last way back of repair (acfs_store_repair), when no MANIFEST reads
 * whole and the copy kept beside it cannot mend it: RocksDB's repair
 * rebuilds a history from the table files (it does not know blob files),
 * and then every row it reads, and every entry's bytes read back from the
 * blob files themselves, are copied into a new database:
 *
 *   - the history RocksDB's repair writes is not one to keep writing to:
 *     with it, RocksDB 7.8 deadlocked in close (a background flush waiting
 *     in LogAndApply) about one close in six; so the repaired database is
 *     only ever opened read-only, and a fresh one takes its rows;
 *   - a blob row whose bytes cannot be read (its blob file is not in the
 *     repaired history) is taken from the blob files: each record of
 *     RocksDB's blob log carries its key (the version id) and CRCs
 *     (kv-bloblog.c); only ids that an entry, orphan or quarantine row
 *     names are taken. verify --repair then checks every entry's digest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store-private.h"

struct wanted {
	struct idset ids;        /* ids whose bytes the copy still lacks */
	size_t got;              /* put back from the blob files */
	struct acfs_kv *dst;
	char *err;
};

static int ignore(const void *v, size_t len, void *u)
{
	(void)v;
	(void)len;
	(void)u;
	return 0;
}

static int put_back(const void *k, size_t klen, const void *v, size_t vlen,
		    void *u)
{
	struct wanted *w = u;
	struct acfs_kv_batch *b;
	int r;

	if (klen != 8 || !idset_has(&w->ids, store_get_be64(k)) ||
	    acfs_kv_get(w->dst, ACFS_CF_BLOBS, k, 8, ignore, NULL, NULL) == 0)
		return 0; /* not wanted, or put back already */
	if (!(b = acfs_kv_batch_new()))
		return -ENOMEM;
	acfs_kv_batch_put(b, w->dst, ACFS_CF_BLOBS, k, klen, v, vlen);
	r = acfs_kv_write(w->dst, b, w->err);
	acfs_kv_batch_free(b);
	if (r == 0)
		w->got++;
	return r;
}

struct blob_copy {
	struct acfs_kv *dst;
	const void *k;
	char *err;
};

static int copy_blob(const void *v, size_t len, void *u)
{
	struct blob_copy *c = u;
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	int r;

	if (!b)
		return -ENOMEM;
	acfs_kv_batch_put(b, c->dst, ACFS_CF_BLOBS, c->k, 8, v, len);
	r = acfs_kv_write(c->dst, b, c->err);
	acfs_kv_batch_free(b);
	return r;
}

/* The bytes of version @id: copied from @src if it reads them, else
 * wanted from the blob files. */
static int take_blob(struct acfs_kv *src, struct wanted *w, uint64_t id)
{
	unsigned char k[8];
	struct blob_copy c = { .dst = w->dst, .k = k, .err = w->err };

	store_put_be64(k, id);
	int r = acfs_kv_has_cf(src, ACFS_CF_BLOBS)
		? acfs_kv_get(src, ACFS_CF_BLOBS, k, 8, copy_blob, &c, NULL)
		: -EIO;
	if (r == 0 || r == -ENOENT)
		return 0;
	return idset_add(&w->ids, id);
}

/* Copies every row of @cf; for entries, orphans and quarantine, the blob
 * each names too. */
static int copy_cf(struct acfs_kv *src, struct wanted *w, enum acfs_cf cf)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(src, cf);
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	int r = 0, n = 0;

	if (!it || !b) {
		acfs_kv_iter_free(it, NULL);
		acfs_kv_batch_free(b);
		return -ENOMEM;
	}
	for (acfs_kv_iter_first(it); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const void *k = acfs_kv_iter_key(it, &klen);
		const void *v = acfs_kv_iter_value(it, &vlen);
		struct acfs_entry e;
		acfs_kv_batch_put(b, w->dst, cf, k, klen, v, vlen);
		if (cf == ACFS_CF_ENTRIES &&
		    store_decode_entry(v, vlen, &e) == 0)
			r = take_blob(src, w, e.id);
		else if ((cf == ACFS_CF_ORPHANS || cf == ACFS_CF_QUARANTINE) &&
			 klen == 8)
			r = take_blob(src, w, store_get_be64(k));
		if (r == 0 && ++n % 1000 == 0) {
			r = acfs_kv_write(w->dst, b, w->err);
			acfs_kv_batch_free(b);
			if (!(b = acfs_kv_batch_new()))
				r = -ENOMEM;
		}
	}
	int ir = acfs_kv_iter_free(it, w->err);
	if (r == 0)
		r = ir;
	if (r == 0 && b && acfs_kv_batch_count(b) > 0)
		r = acfs_kv_write(w->dst, b, w->err);
	acfs_kv_batch_free(b);
	return r;
}

int store_rebuild(const char *dir, char *how, size_t how_len, char *err)
{
	char next[4096 + 32], orig[4096 + 32], udir[4096 + 32], ldir[4096 + 32];
	struct wanted w = { .err = err };
	struct acfs_kv *src = NULL;
	unsigned bad = 0;
	int r;

	/* Names beside @dir that nothing has yet. */
	for (int n = 1;; n++) {
		snprintf(next, sizeof(next), "%s.rebuilt.%d", dir, n);
		snprintf(orig, sizeof(orig), "%s.repaired-by-rocksdb.%d", dir, n);
		if (access(next, F_OK) < 0 && access(orig, F_OK) < 0)
			break;
	}
	if ((r = acfs_kv_open(dir, true, false, 0, &src, err)) < 0)
		return r;
	if (mkdir(next, 0700) < 0) {
		r = -errno;
		snprintf(err, ACFS_ERR_MAX, "%.400s: %s", next, strerror(-r));
		acfs_kv_close(src);
		return r;
	}
	if ((r = acfs_kv_open(next, false, false, 0, &w.dst, err)) < 0) {
		acfs_kv_close(src);
		return r;
	}
	for (int cf = 0; cf < ACFS_CF_COUNT && r == 0; cf++)
		if (cf != ACFS_CF_BLOBS && acfs_kv_has_cf(src, (enum acfs_cf)cf))
			r = copy_cf(src, &w, (enum acfs_cf)cf);
	acfs_kv_close(src);
	idset_sort(&w.ids);
	snprintf(udir, sizeof(udir), "%s/unreferenced", dir);
	snprintf(ldir, sizeof(ldir), "%s/lost", dir);
	const char *dirs[] = { dir, udir, ldir };
	for (size_t i = 0; i < 3 && r == 0 && w.ids.n; i++)
		r = kv_blob_scan_dir(dirs[i], put_back, &w, &bad);
	acfs_kv_close(w.dst);
	if (r == 0 && (rename(dir, orig) < 0 || rename(next, dir) < 0)) {
		r = -errno;
		snprintf(err, ACFS_ERR_MAX, "putting the rebuilt database in "
			 "place of %.400s: %s", dir, strerror(-r));
	}
	if (r == 0) {
		size_t n = strlen(how);
		snprintf(how + n, how_len - n, "; its rows copied into a new "
			 "database, %zu entries' bytes read back from the blob "
			 "files (%zu not found, %u damaged records skipped); "
			 "RocksDB's repaired files kept in %s", w.got,
			 w.ids.n - w.got, bad, orig);
	}
	free(w.ids.v);
	return r;
}
