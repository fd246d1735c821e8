/* SPDX-License-Identifier: MIT */
/*
 * The entry store: committed entries and their bytes in RocksDB.
 *
 * Every committed version of an entry has its own 64-bit id, drawn from a
 * counter that never goes back (the filesystem uses it as inode number).
 * Column families:
 *   entries  key(8, big endian) + kind(1) -> struct acfs_entry record
 *   blobs    id(8, big endian)             -> format(1) + the entry's bytes,
 *                                             raw (0) or zstd-compressed (1)
 *   orphans  id(8, big endian)             -> ""  (blob no entry names, but
 *                                                  a reader may still hold)
 *   lru      atime(8, big endian) + key(9) -> ""  (unpinned entries, oldest
 *                                                  first: eviction order)
 *   info     key(9)                        -> what the module says
 *                                             (acfs_bitcode_info_encode)
 *   quarantine id(8, big endian)           -> key(9) + record + time(8) +
 *                                             reason: a version whose bytes
 *                                             did not match its digest,
 *                                             out of the namespace, its
 *                                             blob kept for verify
 *   uploads  remote(8) + id(8, big endian)  -> key(9): version @id of
 *                                             key waits to be uploaded to
 *                                             the remote tier @remote
 *                                             (acfs_remote_url.id), written
 *                                             by the commit that made it
 *            FF*8 + remote(8) + id(8)    -> key(9): version @id is not on
 *                                             @remote: the remote refused
 *                                             it, or its queue was full
 *                                             (dropped: reported by every
 *                                             sync until uploaded or
 *                                             forgotten)
 *   default  "counters", "stats", "id_limit", "budget"
 *
 * Invariants (checked by acfs_store_check):
 *   1. Every entries row names a blobs row of exactly its stored size.
 *   2. A blobs row is named by exactly one entries row, orphans row or
 *      quarantine row.
 *   3. counters.entries / .bytes / .stored equal the count and the sums of
 *      size and stored size of the entries rows.
 *   4. Every id in blobs is below the persisted id_limit.
 *   5. The lru rows are exactly (atime, key) of the unpinned entries.
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

#include "acfs/digest.h"
#include "acfs/key.h"

struct acfs_store;

struct acfs_entry {
	uint64_t id;       /* version id == inode number */
	uint64_t size;     /* logical bytes */
	uint64_t stored;   /* bytes the store keeps (after compression) */
	int64_t mtime_ns;  /* commit time, or what utimens set */
	int64_t atime_ns;  /* last use */
	int64_t ctime_ns;  /* commit time */
	uint32_t flags;    /* ACFS_ENTRY_* */
	/* SHA-256 of the logical bytes, computed at commit; all zero in
	 * records written before digests existed (never verified). */
	unsigned char digest[ACFS_DIGEST_SIZE];
};

#define ACFS_ENTRY_PINNED 0x1u

struct acfs_store_options {
	bool sync;           /* fsync the WAL on every commit */
	bool read_only;      /* open for reading, alongside a daemon */
	int zstd_level;      /* 0: the default (3); < 0: store uncompressed */
	int max_open_files;  /* RocksDB's table and blob files open at once;
				0: unbounded */
};

struct acfs_store_counters {
	uint64_t entries;
	uint64_t bytes;      /* logical */
	uint64_t stored;     /* what the budget counts */
};

/* Activity counters, kept in memory and persisted by acfs_store_flush. */
enum acfs_stat {
	ACFS_STAT_HITS,          /* opens of a committed entry */
	ACFS_STAT_MISSES,        /* lookups of an absent entry */
	ACFS_STAT_STORES,        /* commits */
	ACFS_STAT_REJECTED,      /* commits refused (invalid, too big, full) */
	ACFS_STAT_EVICTIONS,     /* entries removed by eviction or gc */
	ACFS_STAT_EVICTED_BYTES, /* their logical bytes */
	ACFS_STAT_PEAK_STORED,   /* highest counters.stored after a commit */
	ACFS_STAT_QUARANTINED,   /* versions whose bytes failed their digest */
	ACFS_STAT_VERIFIED,      /* reads checked against the digest */
	ACFS_STAT_COUNT
};

struct acfs_stats {
	uint64_t v[ACFS_STAT_COUNT];
	int64_t since_ns;        /* when the counters were last zeroed */
};

/* Ids (inode numbers) start here; below are the filesystem's fixed
 * directories. */
#define ACFS_FIRST_ID 1024

/* Size of the error buffers taken below. */
#define ACFS_ERR_MAX 512

/*
 * Opens the store in directory @dir, which must exist; creates one only
 * where @dir holds no database files yet. Sweeps orphans unless
 * read-only. On failure returns -errno and writes a reason into @err:
 * -EUCLEAN when @dir holds a damaged database (nothing is created or
 * deleted; acfs_store_repair is the way back).
 */
int acfs_store_open(const char *dir, const struct acfs_store_options *opts,
		    struct acfs_store **ret_store, char *err);

/* Closes; accepts NULL. */
void acfs_store_close(struct acfs_store *store);

/*
 * Repairs the closed store in @dir in place: where CURRENT is lost, names
 * the newest MANIFEST that opens whole (nothing lost); else RocksDB's
 * repair rebuilds one from the files it can read (it does not know blob
 * files: entry bytes may be lost, and the result may not open). Run it on
 * a copy. Writes what it did into @how.
 */
int acfs_store_repair(const char *dir, char *how, size_t how_len, char *err);
/*
 * How many data files the open of @s found unnamed by the database's
 * history: RocksDB deletes those at an open; they were kept, whole, in
 * DIR/unreferenced/ instead (left over from an interrupted compaction, or
 * what a damaged history lost).
 */
unsigned acfs_store_kept_unreferenced(struct acfs_store *s);

/*
 * The size budget (stored bytes; 0 = none). It is persisted so tools see
 * it when no daemon runs. A commit that starts while the store is over
 * budget fails with -EAGAIN: evict, then retry. So the total exceeds the
 * budget by at most the entry that pushed it over.
 */
int acfs_store_set_budget(struct acfs_store *store, uint64_t bytes);
uint64_t acfs_store_budget(struct acfs_store *store);

/*
 * The store's format: the layout of its rows. An older binary refuses a
 * store of a newer format (it would misread rows it does not know); a
 * newer binary opens an older store and, opened for writing, records its
 * own format once it has brought the rows up to it (format 1 is the first
 * recorded: stores made before it have no record and are format 1).
 */
#define ACFS_STORE_FORMAT 1u
unsigned acfs_store_format(struct acfs_store *store);

/* Looks up @key. Returns 0, -ENOENT, or -EIO. */
int acfs_store_get(struct acfs_store *store, const struct acfs_key *key,
		   struct acfs_entry *ret_entry);

/*
 * The info kept beside @key (malloc'd), if its version is @id (any if 0).
 * Returns 0, -ENOENT (no entry, another version, or no info), -EIO.
 */
int acfs_store_get_info(struct acfs_store *store, const struct acfs_key *key,
			uint64_t id, void **ret, size_t *ret_len);

/* A fresh, never used id (inode number). Returns 0 on failure. */
uint64_t acfs_store_alloc_id(struct acfs_store *store);

/*
 * Reads the bytes of version @id (decompressed) into a malloc'd buffer the
 * caller frees. Returns 0, -ENOENT (no such blob), -EBADMSG (proven
 * corrupt: a RocksDB checksum or the value's encoding), or the OS error
 * that stopped the read (-EMFILE, -ENOMEM, -EIO, ...: nothing is known
 * about the bytes); the reason in @err if not NULL.
 */
int acfs_store_read_blob(struct acfs_store *store, uint64_t id,
			 void **ret_data, size_t *ret_size, char *err);

/*
 * Reads the bytes of version @id into @dst, which has room for exactly
 * @size bytes (the entry's size). Returns as acfs_store_read_blob; bytes
 * that are not @size long are -EBADMSG.
 */
int acfs_store_read_into(struct acfs_store *store, uint64_t id, void *dst,
			 size_t size, char *err);

/*
 * Tells whether the version @id is still in use by a reader; if so its
 * bytes are kept (as an orphan) when an entry stops naming it.
 */
typedef bool (*acfs_in_use_fn)(uint64_t id, void *userdata);

/* An entry's bytes as the store keeps them, made outside any lock. */
struct acfs_encoded {
	void *val;              /* malloc'd: format byte + payload */
	size_t vlen;
	unsigned char digest[ACFS_DIGEST_SIZE]; /* of the raw bytes */
};

/*
 * Encodes @size bytes at @data for a commit (compression at the store's
 * level, SHA-256) and checks the store's filesystem has room for them.
 * Returns 0, -ENOMEM or -ENOSPC (reason in @err). Free with
 * acfs_encoded_free.
 */
int acfs_store_encode(struct acfs_store *store, const void *data, size_t size,
		      struct acfs_encoded *enc, char *err);
void acfs_encoded_free(struct acfs_encoded *enc);

struct acfs_commit {
	struct acfs_key key;
	uint64_t id;            /* from acfs_store_alloc_id */
	const void *data;
	size_t size;
	int64_t now_ns;
	bool noreplace;         /* fail with -EEXIST if the key exists */
	acfs_in_use_fn in_use;  /* may be NULL: nothing in use */
	void *userdata;
	const void *info;       /* kept beside the entry; may be NULL */
	size_t info_len;
	/* Remote tiers (acfs_remote_url.id) this version is to be uploaded
	 * to: queued in the same write as the commit. */
	const uint64_t *upload_to;
	size_t nupload;
	/* Remote tiers this version will not reach (their queues are full):
	 * recorded as dropped in the same write. */
	const uint64_t *dropped_for;
	size_t ndropped;
	/* @data already encoded by acfs_store_encode; NULL: the commit
	 * encodes it itself. */
	const struct acfs_encoded *enc;
};

/*
 * Makes @c->data the committed version of @c->key in one atomic write:
 * puts the blob and the entry, and drops or orphans the version replaced.
 * On success fills @ret_new (if not NULL) with the new entry and @ret_old
 * (if not NULL) with the replaced one, or ret_old->id == 0 if there was
 * none, and @ret_kept (if not NULL) with whether the replaced version was
 * kept as an orphan because @c->in_use said so. A pin carries over.
 * Returns 0, -EEXIST, -EAGAIN (over budget), -ENOSPC, -EIO.
 */
int acfs_store_commit(struct acfs_store *store, const struct acfs_commit *c,
		      struct acfs_entry *ret_new, struct acfs_entry *ret_old,
		      bool *ret_kept, char *err);

/*
 * Removes @key (only if its version is @id, or any version if @id is 0).
 * Returns 0, -ENOENT, -EIO. Fills @ret_old and @ret_kept as for commit.
 */
int acfs_store_remove(struct acfs_store *store, const struct acfs_key *key,
		      uint64_t id, acfs_in_use_fn in_use, void *userdata,
		      struct acfs_entry *ret_old, bool *ret_kept, char *err);

/* A time argument that leaves that time alone (times before 1970 are
 * negative and may be set). */
#define ACFS_TIME_KEEP INT64_MIN

/*
 * Sets times (ACFS_TIME_KEEP leaves that time alone) of @key, if its
 * version is still @id (any version if @id is 0). Returns 0, -ENOENT
 * (gone or replaced), -EIO. In the LRU index a time before 1970 counts as
 * 1970: the oldest.
 */
int acfs_store_set_times(struct acfs_store *store, const struct acfs_key *key,
			 uint64_t id, int64_t atime_ns, int64_t mtime_ns);

/* One recorded use of an entry, for acfs_store_touch. */
struct acfs_touch {
	struct acfs_key key;
	uint64_t id;
	int64_t atime_ns;
};

/*
 * Persists uses recorded in memory, in one write: moves each entry's lru
 * row to its new access time. Uses of replaced versions and times older
 * than the stored one are skipped. Reorders @t. Returns 0 or -EIO.
 */
int acfs_store_touch(struct acfs_store *store, struct acfs_touch *t,
		     size_t n);

/* An upload waiting in the queue of one remote tier. */
struct acfs_upload {
	uint64_t id;            /* the version committed */
	struct acfs_key key;
};

/*
 * Up to @max uploads queued for @remote with an id above @after, oldest
 * first. Returns 0 (*ret_n filled) or -EIO.
 */
int acfs_store_uploads(struct acfs_store *store, uint64_t remote,
		       uint64_t after, struct acfs_upload *out, size_t max,
		       size_t *ret_n);
/* Takes upload @id off @remote's queue. 0 or -EIO. */
int acfs_store_upload_done(struct acfs_store *store, uint64_t remote,
			   uint64_t id, char *err);
/* Uploads queued for @remote (0: for every remote). 0 or -EIO. */
int acfs_store_upload_count(struct acfs_store *store, uint64_t remote,
			    uint64_t *ret);
/*
 * Dropped uploads: versions a remote does not have (it refused them, or
 * its queue was full at the commit). They stay recorded, and every sync
 * reports them, until uploaded or forgotten.
 *   upload_drop: moves upload @id of @remote from its queue to dropped;
 *   dropped: up to @max dropped for @remote with an id above @after;
 *   dropped_requeue: moves dropped @id back into @remote's queue;
 *   dropped_count: how many for @remote (0: for every remote);
 *   dropped_forget: forgets every one, their number in *@ret.
 * Each returns 0 or -EIO.
 */
int acfs_store_upload_drop(struct acfs_store *store, uint64_t remote,
			   const struct acfs_upload *u, char *err);
int acfs_store_dropped(struct acfs_store *store, uint64_t remote,
		       uint64_t after, struct acfs_upload *out, size_t max,
		       size_t *ret_n);
int acfs_store_dropped_requeue(struct acfs_store *store, uint64_t remote,
			       const struct acfs_upload *u, char *err);
int acfs_store_dropped_count(struct acfs_store *store, uint64_t remote,
			     uint64_t *ret);
int acfs_store_dropped_forget(struct acfs_store *store, uint64_t *ret);

/* Pins (never evicted) or unpins @key, if its version is still @id (any
 * version if @id is 0). Returns 0, -ENOENT (absent, or @id replaced),
 * -EIO. */
int acfs_store_set_pinned(struct acfs_store *store, const struct acfs_key *key,
			  uint64_t id, bool pinned);

struct acfs_evict_opts {
	/* Called (lock true, then false) around each batch of removals,
	 * outside the store's lock; may be NULL. */
	void (*batch_lock)(bool lock, void *userdata);
	uint64_t target_stored;    /* evict until stored <= this ... */
	bool use_target;
	int64_t older_than_ns;     /* ... and every entry used before this */
	bool dry_run;              /* report, remove nothing */
	acfs_in_use_fn in_use;
	void *userdata;
};

/* Called for each entry evicted (or that would be, in a dry run). */
typedef void (*acfs_evicted_fn)(const struct acfs_key *key,
				const struct acfs_entry *entry, bool kept,
				void *userdata);

struct acfs_evict_result {
	uint64_t entries;
	uint64_t bytes;            /* logical */
	uint64_t stored;
	uint64_t visited;          /* lru rows looked at */
};

/*
 * Evicts least-recently-used first, skipping pinned entries, visiting only
 * what it evicts (plus rows made stale by concurrent use). Commits wait
 * at most one batch. Returns 0 or -EIO.
 */
int acfs_store_evict(struct acfs_store *store,
		     const struct acfs_evict_opts *opts, acfs_evicted_fn fn,
		     void *userdata, struct acfs_evict_result *ret);

/*
 * Takes version @id of @key out of the namespace because its bytes are bad,
 * in one write: the entry's rows go, its blob stays under a quarantine row
 * with @reason (for verify to report) and the counters drop it. Returns 0,
 * -ENOENT (no entry, or another version now), -EIO.
 */
int acfs_store_quarantine(struct acfs_store *store, const struct acfs_key *key,
			  uint64_t id, int64_t now_ns, const char *reason,
			  char *err);

struct acfs_quarantined {
	uint64_t id;
	struct acfs_key key;
	struct acfs_entry entry;  /* the record it had */
	int64_t when_ns;
	const char *reason;
};

/* Calls @fn for each quarantined version (stops as foreach). */
typedef int (*acfs_quarantined_fn)(const struct acfs_quarantined *q,
				   void *userdata);
int acfs_store_foreach_quarantined(struct acfs_store *store,
				   acfs_quarantined_fn fn, void *userdata);

/* Deletes quarantined version @id and its blob. Returns 0 or -EIO. */
int acfs_store_drop_quarantined(struct acfs_store *store, uint64_t id);

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

/* Calls @fn for every entry in key order (stops as foreach_in_shard). */
int acfs_store_foreach(struct acfs_store *store, acfs_entry_fn fn,
		       void *userdata);

/* Current counters. */
void acfs_store_get_counters(struct acfs_store *store,
			     struct acfs_store_counters *ret);

/* Activity counters: add, read, zero; persisted by acfs_store_flush. */
void acfs_store_count(struct acfs_store *store, enum acfs_stat which,
		      uint64_t n);
void acfs_store_get_stats(struct acfs_store *store, struct acfs_stats *ret);
void acfs_store_zero_stats(struct acfs_store *store, int64_t now_ns);
/* Persists the activity counters. 0 or -EIO. */
int acfs_store_flush_stats(struct acfs_store *store);

/*
 * Space on the store's filesystem. RocksDB must never meet a full disk (a
 * failed write puts it in an error state, and its log writer then fails
 * an assertion in Debian's build), so every commit, and every staging
 * write of the filesystem, first asks for room: the bytes about to be
 * written @copies times (a commit: 2, the WAL, then the blob file at the
 * flush), what memtables hold (written again by their flush), and
 * ACFS_SPACE_RESERVE for RocksDB's own files. With @flush_ok, memtables
 * are flushed first if that makes room. Returns 0 or -ENOSPC with the
 * figures in @err (may be NULL).
 */
#define ACFS_SPACE_RESERVE (4 << 20)
int acfs_store_room(struct acfs_store *store, uint64_t bytes,
		    unsigned copies, bool flush_ok, char *err);

/*
 * Gives the disk space of removed entries back: flushes memtables and
 * compacts the blob index, so blob files whose entries are all gone are
 * deleted (blocks; after gc and eviction passes).
 */
void acfs_store_reclaim(struct acfs_store *store);


/* Makes every commit so far durable against power loss. 0 or -EIO. */
int acfs_store_sync(struct acfs_store *store);

/*
 * Checks invariants 1-4 by walking everything (tests call it). Returns 0,
 * or -EUCLEAN with the first violation described in @err.
 */
int acfs_store_check(struct acfs_store *store, char *err);

#endif
