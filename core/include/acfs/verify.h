/* SPDX-License-Identifier: MIT */
/*
 * acfs_store_verify: reads every entry back and checks it, and checks the
 * store's indexes; with repair, removes what is bad and fixes the rest.
 *
 * Problems found, each reported once with its key where it has one:
 *   entry        blob missing or undecodable, wrong size, bytes that do
 *                not match the digest, bitcode the validator refuses or a
 *                .meta that is not JSON. Repair: the entry is removed.
 *   quarantined  a version the daemon took out of the namespace when a
 *                read failed its digest. Repair: it and its blob go.
 *   index        an lru row with no entry or a stale time, an unpinned
 *                entry with no lru row, an info row with no entry, an
 *                orphans row with no blob, a blob nobody owns. Repair:
 *                the row is deleted or written.
 *   counters     entries / bytes / stored differ from the sums of the
 *                entries rows. Repair: set to the sums.
 *   the ordinary tree (acfs/tree.h): a name pointing at no inode (index;
 *                repair deletes it), counters that differ from the inodes
 *                (counters; repair sets them).
 * Index and counter checks run under the store's lock, so a daemon's
 * commits meanwhile are neither reported nor undone.
 */
#ifndef ACFS_VERIFY_H
#define ACFS_VERIFY_H

#include "acfs/bitcode.h"
#include "acfs/store.h"
#include "acfs/validator.h"

enum acfs_problem_kind {
	ACFS_PROBLEM_ENTRY,
	ACFS_PROBLEM_QUARANTINED,
	ACFS_PROBLEM_INDEX,
	ACFS_PROBLEM_COUNTERS,
};

struct acfs_problem {
	enum acfs_problem_kind kind;
	bool has_key;
	struct acfs_key key;
	uint64_t id;           /* version, where one is concerned */
	const char *reason;
	bool repaired;
};

struct acfs_verify_opts {
	enum acfs_validate validate;  /* bitcode depth; NONE: digests only */
	const char *target;           /* refuse other triples; may be NULL */
	/* Where LLVM runs; NULL: in this process (tests only: LLVM may
	 * abort on a malformed module). */
	struct acfs_validator *validator;
	bool repair;
	/* As for acfs_evict_opts, with @userdata; all may be NULL. */
	void (*batch_lock)(bool lock, void *userdata);
	acfs_in_use_fn in_use;
	acfs_evicted_fn removed;      /* an entry was removed by repair */
	void *userdata;
	/* Reports, with @report_data; may be NULL. */
	void (*problem)(const struct acfs_problem *p, void *report_data);
	void (*progress)(uint64_t done, uint64_t total, uint64_t bytes,
			 void *report_data);
	void *report_data;
};

struct acfs_verify_result {
	uint64_t entries;      /* entries read back */
	uint64_t bytes;        /* their logical bytes */
	uint64_t no_digest;    /* records older than digests: not compared */
	uint64_t problems;
	uint64_t repaired;
};

/* Returns 0 (whatever was found; see @ret) or -errno if it could not run. */
int acfs_store_verify(struct acfs_store *store,
		      const struct acfs_verify_opts *opts,
		      struct acfs_verify_result *ret, char *err);

#endif
