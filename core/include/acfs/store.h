/* SPDX-License-Identifier: MIT */
/*
 * The entry store: committed entries and their bytes in RocksDB.
 *
 * Every committed version of an entry has its own 64-bit id, drawn from a
 * counter that never goes back (the filesystem uses it as inode number).
 * Column families:
 *   entries  key(8, big endian) + kind(1) -> struct acfs_entry record
 *   blobs    id(8, big endian)             -> the entry's bytes
 *   orphans  id(8, big endian)             -> ""  (blob no entry names, but
 *                                                  a reader may still hold)
 *   default  "counters", "id_limit"
 *
 * Invariants (checked by acfs_store_check):
 *   1. Every entries row names a blobs row of exactly its size.
 *   2. A blobs row is named by exactly one entries row, or has an orphans
 *      row, never both.
 *   3. counters.entries / counters.bytes equal the count and the sum of
 *      sizes of the entries rows.
 *   4. Every id in blobs is below the persisted id_limit.
 * Each public call that changes anything is one atomic RocksDB write, so
 * the invariants hold after a crash at any moment. Orphans are swept at
 * open, when no reader can exist any more.
 *
 * Errors: -ENOENT (absent), -EEXIST (no-replace commit onto an entry),
 * -ENOSPC (store's disk full), -EIO (anything else; the reason is in the
 * caller's error buffer where one is taken). Nothing here logs.
 */
#ifndef ACFS_STORE_H
#define ACFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acfs/key.h"

struct acfs_store;

struct acfs_entry {
	uint64_t id;       /* version id == inode number */
	uint64_t size;     /* logical bytes */
	int64_t mtime_ns;  /* commit time, or what utimens set */
	int64_t atime_ns;  /* last use */
	int64_t ctime_ns;  /* commit time */
	uint32_t flags;    /* ACFS_ENTRY_* */
};

#define ACFS_ENTRY_PINNED 0x1u

struct acfs_store_options {
	bool sync;           /* fsync the WAL on every commit */
	bool read_only;      /* open for reading, alongside a daemon */
};

struct acfs_store_counters {
	uint64_t entries;
	uint64_t bytes;
};

/* Size of the error buffers taken below. */
#define ACFS_ERR_MAX 512

/*
 * Opens (creating if absent) the store in directory @dir, which must
 * exist. Sweeps orphans unless read-only. On failure returns -errno and
 * writes a reason into @err.
 */
int acfs_store_open(const char *dir, const struct acfs_store_options *opts,
		    struct acfs_store **ret_store, char *err);

/* Closes; accepts NULL. */
void acfs_store_close(struct acfs_store *store);

/* Looks up @key. Returns 0, -ENOENT, or -EIO. */
int acfs_store_get(struct acfs_store *store, const struct acfs_key *key,
		   struct acfs_entry *ret_entry);

/* A fresh, never used id (inode number). Returns 0 on failure. */
uint64_t acfs_store_alloc_id(struct acfs_store *store);

/*
 * Reads the bytes of version @id into a malloc'd buffer the caller frees.
 * Returns 0, -ENOENT (no such blob), or -EIO.
 */
int acfs_store_read_blob(struct acfs_store *store, uint64_t id,
			 void **ret_data, size_t *ret_size);

/*
 * Tells whether the version @id is still in use by a reader; if so its
 * bytes are kept (as an orphan) when an entry stops naming it.
 */
typedef bool (*acfs_in_use_fn)(uint64_t id, void *userdata);

struct acfs_commit {
	struct acfs_key key;
	uint64_t id;            /* from acfs_store_alloc_id */
	const void *data;
	size_t size;
	int64_t now_ns;
	bool noreplace;         /* fail with -EEXIST if the key exists */
	acfs_in_use_fn in_use;  /* may be NULL: nothing in use */
	void *userdata;
};

/*
 * Makes @c->data the committed version of @c->key in one atomic write:
 * puts the blob and the entry, and drops or orphans the version replaced.
 * On success fills @ret_old (if not NULL) with the replaced entry, or
 * ret_old->id == 0 if there was none. Returns 0, -EEXIST, -ENOSPC, -EIO.
 */
int acfs_store_commit(struct acfs_store *store, const struct acfs_commit *c,
		      struct acfs_entry *ret_old, char *err);

/*
 * Removes @key (only if its version is @id, or any version if @id is 0).
 * Returns 0, -ENOENT, -EIO. Fills @ret_old as for commit.
 */
int acfs_store_remove(struct acfs_store *store, const struct acfs_key *key,
		      uint64_t id, acfs_in_use_fn in_use, void *userdata,
		      struct acfs_entry *ret_old, char *err);

/*
 * Sets times (a negative value leaves that time alone) of @key, if its
 * version is still @id. Returns 0, -ENOENT (gone or replaced), -EIO.
 */
int acfs_store_set_times(struct acfs_store *store, const struct acfs_key *key,
			 uint64_t id, int64_t atime_ns, int64_t mtime_ns);

/* Deletes the orphaned blob @id once nobody reads it. Returns 0 or -EIO. */
int acfs_store_drop_orphan(struct acfs_store *store, uint64_t id);

/*
 * Calls @fn for each entry of shard @shard in key order, starting after
 * (@after_hash, @after_kind) unless @from_start. Stops when @fn returns
 * non-zero and returns that value; 0 at the end; -EIO on failure.
 */
typedef int (*acfs_entry_fn)(const struct acfs_key *key,
			     const struct acfs_entry *entry, void *userdata);
int acfs_store_foreach_in_shard(struct acfs_store *store, unsigned shard,
				bool from_start, const struct acfs_key *after,
				acfs_entry_fn fn, void *userdata);

/* Current counters. */
void acfs_store_get_counters(struct acfs_store *store,
			     struct acfs_store_counters *ret);

/* Makes every commit so far durable against power loss. 0 or -EIO. */
int acfs_store_sync(struct acfs_store *store);

/*
 * Checks invariants 1-4 by walking everything (tests call it). Returns 0,
 * or -EUCLEAN with the first violation described in @err.
 */
int acfs_store_check(struct acfs_store *store, char *err);

#endif
