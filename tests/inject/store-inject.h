/* SPDX-License-Identifier: MIT */
/*
 * Test-only store helpers. Fault injection: damage a store the way bit rot, a bug or a
 * torn tool would, so that verify, quarantine and repair can be shown to
 * find and fix it. Neither the daemon nor aria-cache calls these.
 * Each returns 0, -ENOENT (no such entry) or -EIO.
 */
#ifndef ACFS_INJECT_H
#define ACFS_INJECT_H

#include "acfs/store.h"

enum acfs_injection {
	ACFS_INJECT_FLIP_BYTE,     /* @key's bytes: one byte flipped, same
				      size, record (and digest) unchanged */
	ACFS_INJECT_DROP_BLOB,     /* @key's blob deleted */
	ACFS_INJECT_COUNTERS,      /* counters off by one entry and 1000 B */
	ACFS_INJECT_DANGLING_LRU,  /* an lru row for @key, which is absent */
	ACFS_INJECT_DANGLING_INFO, /* an info row for @key, which is absent */
	ACFS_INJECT_DROP_LRU,      /* @key's lru row deleted */
	ACFS_INJECT_STRAY_BLOB,    /* a blob no row owns */
	ACFS_INJECT_TREE_NAME,     /* ordinary tree: a name with no inode */
	ACFS_INJECT_TREE_COUNTERS, /* ordinary tree: counters off */
};

int acfs_inject(struct acfs_store *store, enum acfs_injection what,
		const struct acfs_key *key);

/* Compacts the store fully (benchmarks: blocks while it runs). */
void acfs_store_compact(struct acfs_store *store);

#endif
