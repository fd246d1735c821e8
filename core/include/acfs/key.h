/* SPDX-License-Identifier: MIT */
/*
 * Entry keys and their names in the on-disk contract.
 *
 * An entry is named by a 64-bit key (16 lowercase hex digits) and a kind:
 *   monomorph/<h0h1>/<h2..h15>.bc    ACFS_KIND_BC
 *   monomorph/<h0h1>/<h2..h15>.meta  ACFS_KIND_META
 * The first byte of the key selects one of 256 shard directories.
 *
 * Invariants:
 *   1. Parsing accepts only lowercase hex; "AB", "0x..", "+1" are refused.
 *   2. format(parse(name)) == name for every accepted name.
 * No function here allocates or logs.
 */
#ifndef ACFS_KEY_H
#define ACFS_KEY_H

#include <stddef.h>
#include <stdint.h>

enum acfs_kind {
	ACFS_KIND_BC = 0,
	ACFS_KIND_META = 1,
};

struct acfs_key {
	uint64_t hash;
	enum acfs_kind kind;
};

/* "c4" -> 0xc4. Returns 0, or -EINVAL if not two lowercase hex digits. */
int acfs_key_parse_shard(const char *name, unsigned *ret_shard);

/*
 * Parses "<14 hex>.bc" or "<14 hex>.meta" inside shard @shard.
 * Returns 0, or -EINVAL (with nothing written) for any other name.
 */
int acfs_key_parse_name(unsigned shard, const char *name,
			struct acfs_key *ret_key);

/*
 * Parses a key given as "c49a2b7f8e123456" or "c49a2b7f8e123456.bc|.meta",
 * or a path ending in "monomorph/c4/9a2b7f8e123456.bc". A bare hex key
 * means the .bc entry. Returns 0 or -EINVAL.
 */
int acfs_key_parse_any(const char *text, struct acfs_key *ret_key);

/* Size of a buffer that holds any formatted name or relative path. */
#define ACFS_KEY_PATH_MAX 40

/* Writes "9a2b7f8e123456.bc" into @buf (at least ACFS_KEY_PATH_MAX). */
void acfs_key_format_name(const struct acfs_key *key, char *buf);

/* Writes "monomorph/c4/9a2b7f8e123456.bc" into @buf. */
void acfs_key_format_path(const struct acfs_key *key, char *buf);

static inline unsigned acfs_key_shard(const struct acfs_key *key)
{
	return (unsigned)(key->hash >> 56);
}

#endif
