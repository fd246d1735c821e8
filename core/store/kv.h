/* SPDX-License-Identifier: MIT */
/*
 * A thin key-value layer over RocksDB: column families, point reads,
 * atomic batches, ordered iteration. kv.c is the only file of the project
 * that includes <rocksdb/c.h>; RocksDB's strings never leave it (errors
 * become -errno plus a copied reason in a caller's buffer).
 * Private to core/.
 */
#ifndef ACFS_CORE_KV_H
#define ACFS_CORE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum acfs_cf {
	ACFS_CF_DEFAULT,
	ACFS_CF_ENTRIES,
	ACFS_CF_BLOBS,
	ACFS_CF_ORPHANS,
	ACFS_CF_LRU,
	ACFS_CF_INFO,
	ACFS_CF_QUARANTINE,
	ACFS_CF_GNODES,
	ACFS_CF_GDIRENTS,
	ACFS_CF_GCOOKIES,
	ACFS_CF_GDATA,
	ACFS_CF_GORPHANS,
	ACFS_CF_UPLOADS,
	ACFS_CF_COUNT
};

struct acfs_kv;
struct acfs_kv_batch;
struct acfs_kv_iter;

/*
 * Opens the database in @dir; creates one (unless @read_only) only where
 * @dir holds no RocksDB files. -EUCLEAN when @dir holds a damaged
 * database (data files without CURRENT, a corrupt MANIFEST): nothing is
 * opened, created or deleted, and @err says so and what to do.
 * @max_open_files bounds the table and blob files held open (0: no bound).
 */
int acfs_kv_open(const char *dir, bool read_only, bool sync,
		 int max_open_files, struct acfs_kv **ret, char *err);
void acfs_kv_close(struct acfs_kv *kv);
/*
 * Repairs the (closed) database in @dir: names the newest MANIFEST that
 * opens whole in a new CURRENT (lossless), else runs RocksDB's repair
 * (rebuilds a MANIFEST from the files it can read, moves the others into
 * @dir/lost/). Writes what it did into @how. Returns 0, 1 when RocksDB's
 * repair rebuilt the history (which names no blob file: see
 * acfs_kv_salvage_blobs), or -errno.
 */
int acfs_kv_repair(const char *dir, char *how, size_t how_len, char *err);
/* Files RocksDB's opens of @kv deleted, kept in DIR/unreferenced/
 * (kv_guard_lower). */
unsigned acfs_kv_kept(struct acfs_kv *kv);
/* Whether @kv has family @cf: a read-only open of a history written by
 * RocksDB's repair may lack the empty ones. */
bool acfs_kv_has_cf(struct acfs_kv *kv, enum acfs_cf cf);
/* The largest key of @cf in the table files (what the memtables hold
 * apart), read from the files' metadata: no value is read. 0, -ENOENT. */
int acfs_kv_largest_key(struct acfs_kv *kv, enum acfs_cf cf, void *buf,
			size_t cap, size_t *ret_len);

/* kv-history.c: the copy of the MANIFEST kept beside it. check: 1 (and
 * what is wrong in @what) when the history CURRENT names is older,
 * shorter or other than the copy, 0 when it is not, or -errno; keep:
 * brings the copy up to date; restore (repair): writes the copy back
 * when check finds damage, 1 (what it did in @how) or 0 or -errno. */
int kv_history_check(const char *dir, char *what, size_t len);
int kv_history_keep(const char *dir);
int kv_history_restore(const char *dir, char *how, size_t how_len);
/* The guard on an open for writing: raise hard-links every .sst and .blob
 * file of @dir into @dir/open-guard/ (0, or -errno: then no guard);
 * lower, after the open, drops the links of files still there and moves
 * those of files RocksDB deleted into @dir/unreferenced/, returning how
 * many. A guard left by a crash is lowered by the next raise. */
int kv_guard_raise(const char *dir);
unsigned kv_guard_lower(const char *dir);

/* kv-bloblog.c: reads the records of RocksDB's blob file @path, calling
 * @fn with each whose CRCs match (a nonzero return stops the scan);
 * counts the others in *@ret_bad. 0 or -errno. */
typedef int (*kv_blob_fn)(const void *key, size_t klen, const void *val,
			  size_t vlen, void *userdata);
int kv_blob_scan(const char *path, kv_blob_fn fn, void *userdata,
		 unsigned *ret_bad);
/* kv_blob_scan on every .blob file of @dir (none there: 0). */
int kv_blob_scan_dir(const char *dir, kv_blob_fn fn, void *userdata,
		     unsigned *ret_bad);

/*
 * Point read: calls @fn with the value, pinned (no copy), and returns what
 * @fn returns. -ENOENT if absent, -EIO on failure.
 */
typedef int (*acfs_kv_value_fn)(const void *val, size_t len, void *userdata);
int acfs_kv_get(struct acfs_kv *kv, enum acfs_cf cf, const void *key,
		size_t klen, acfs_kv_value_fn fn, void *userdata, char *err);

struct acfs_kv_batch *acfs_kv_batch_new(void);
void acfs_kv_batch_put(struct acfs_kv_batch *b, struct acfs_kv *kv,
		       enum acfs_cf cf, const void *key, size_t klen,
		       const void *val, size_t vlen);
void acfs_kv_batch_delete(struct acfs_kv_batch *b, struct acfs_kv *kv,
			  enum acfs_cf cf, const void *key, size_t klen);
int acfs_kv_batch_count(struct acfs_kv_batch *b);
void acfs_kv_batch_free(struct acfs_kv_batch *b);
/* Applies @b atomically. 0, -ENOSPC (disk full), -EIO. */
int acfs_kv_write(struct acfs_kv *kv, struct acfs_kv_batch *b, char *err);

/* Ordered iteration over one column family, on an implicit snapshot. */
struct acfs_kv_iter *acfs_kv_iter_new(struct acfs_kv *kv, enum acfs_cf cf);
void acfs_kv_iter_seek(struct acfs_kv_iter *it, const void *key, size_t klen);
void acfs_kv_iter_first(struct acfs_kv_iter *it);
void acfs_kv_iter_last(struct acfs_kv_iter *it);
bool acfs_kv_iter_valid(struct acfs_kv_iter *it);
void acfs_kv_iter_next(struct acfs_kv_iter *it);
const void *acfs_kv_iter_key(struct acfs_kv_iter *it, size_t *len);
const void *acfs_kv_iter_value(struct acfs_kv_iter *it, size_t *len);
/* Frees; returns -EIO if the iteration stopped on an error. */
int acfs_kv_iter_free(struct acfs_kv_iter *it, char *err);

/* Makes every write so far durable (fsyncs the WAL). 0 or -EIO. */
int acfs_kv_sync(struct acfs_kv *kv, char *err);

/* Free bytes on the database's filesystem. 0 or -errno. */
int acfs_kv_avail(struct acfs_kv *kv, uint64_t *ret);
/* Bytes memtables hold, as the live WAL files measure them: what a flush
 * of them would write again. Lists the database directory. */
uint64_t acfs_kv_unflushed(struct acfs_kv *kv);
/* Flushes every memtable (waits). 0, -ENOSPC, -EIO. */
int acfs_kv_flush(struct acfs_kv *kv, char *err);
/* Compacts one column family fully (blocks). */
void acfs_kv_compact_cf(struct acfs_kv *kv, enum acfs_cf cf);

/* Compacts every column family fully (maintenance; blocks). */
void acfs_kv_compact(struct acfs_kv *kv);

#endif
