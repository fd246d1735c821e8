/* SPDX-License-Identifier: MIT */
/* Internals shared by the store's files (store.c, rows.c, space.c, lru.c,
 * tree.c, check.c, verify.c). Private to core/. */
#ifndef ACFS_CORE_STORE_PRIVATE_H
#define ACFS_CORE_STORE_PRIVATE_H

#include <pthread.h>

#include "acfs/store.h"
#include "acfs/tree.h"
#include "kv.h"

/* Ids recorded ahead of use (ids.c). */
#define ID_RESERVE 4096
#define ENTRY_KEY_SIZE 9
#define LRU_KEY_SIZE 17
#define REC_VERSION_1 1   /* no digest */
#define REC_VERSION 2
#define REC_SIZE_1 (1 + 8 * 6 + 4)
#define REC_SIZE (REC_SIZE_1 + ACFS_DIGEST_SIZE)

struct acfs_store {
	struct acfs_kv *kv;
	bool read_only;
	unsigned format;        /* ACFS_STORE_FORMAT once opened for writing */
	int zstd_level;

	/* Orders every read-modify-write of entries, lru rows and counters. */
	pthread_mutex_t lock;
	uint64_t next_id;                    /* protected by lock */
	uint64_t id_limit;                   /* protected by lock */
	struct acfs_store_counters counters; /* protected by lock */
	uint64_t budget;                     /* protected by lock */

	/* The general tree (tree.c): every change of it holds tree_lock,
	 * taken before lock where both are needed. */
	pthread_mutex_t tree_lock;
	struct acfs_tree_counters tcount;    /* protected by tree_lock */

	uint64_t stats[ACFS_STAT_COUNT];     /* atomic */
	int64_t stats_since_ns;              /* atomic */
};

/* rows.c: encodings of the store's rows */
void store_put_be64(unsigned char *p, uint64_t v);
void store_put_le(unsigned char *p, uint64_t v, int n);
uint64_t store_get_le(const unsigned char *p, int n);
uint64_t store_get_be64(const unsigned char *p);
void store_encode_key(const struct acfs_key *key, unsigned char *out);
int store_decode_key(const void *p, size_t len, struct acfs_key *ret);
void store_encode_entry(const struct acfs_entry *e, unsigned char *out);
int store_decode_entry(const void *p, size_t len, struct acfs_entry *ret);
/* Adds entry @e to counters @c (@sign 1) or takes it out (-1): the one
 * place entries, bytes and stored bytes move together. */
void store_count_entry(struct acfs_store_counters *c,
		       const struct acfs_entry *e, int sign);
/* (atime, key) -> the lru row's key. */
void store_lru_key(int64_t atime_ns, const struct acfs_key *key,
		   unsigned char *out);

/* Reads the record of encoded key @k. Caller holds s->lock. */
int store_get_locked(struct acfs_store *s, const unsigned char *k,
		     struct acfs_entry *ret, char *err);
void store_put_counters(struct acfs_store *s, struct acfs_kv_batch *b,
			const struct acfs_store_counters *c);
/* Drops the blob of @id now, or keeps it as an orphan if still read. */
bool store_retire(struct acfs_store *s, struct acfs_kv_batch *b, uint64_t id,
		  acfs_in_use_fn in_use, void *userdata);
/* Adds the batch's changes for removing entry (@k, @e). */
void store_remove_rows(struct acfs_store *s, struct acfs_kv_batch *b,
		       const unsigned char *k, const struct acfs_entry *e);

/*
 * verify's walk of the general tree: names that point at no inode and
 * counters that differ from the inodes are reported (@counters tells
 * which) and, with @repair, deleted or corrected in one write.
 */
int store_tree_verify(struct acfs_store *s, bool repair,
		      void (*report)(bool counters, const char *why,
				     void *userdata),
		      void *userdata);

/* Loads the tree's counters and drops its orphans (at open). */
int store_tree_open(struct acfs_store *s, char *err);

/* A set of version ids: add, sort once, then look up. */
struct idset {
	uint64_t *v;
	size_t n, cap;
};
int idset_add(struct idset *s, uint64_t id);
void idset_sort(struct idset *s);
bool idset_has(const struct idset *s, uint64_t id);

/* A dropped upload's row key (24 bytes; FF*8 sorts after every queue's). */
void store_dropped_key(uint64_t remote, uint64_t id, unsigned char *k);

/* rebuild.c: after RocksDB's repair of @dir, its rows and the entries'
 * bytes from the blob files copied into a new database put in its place
 * (what it did appended to @how). 0 or -errno. */
int store_rebuild(const char *dir, char *how, size_t how_len, char *err);

/* Counts the rows of @cf, adding 8-byte keys to @ids if not NULL. */
int store_count_rows(struct acfs_store *s, enum acfs_cf cf,
		     struct idset *ids, uint64_t *ret);

#endif
