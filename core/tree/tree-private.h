/* SPDX-License-Identifier: MIT */
/* Internals of the general tree shared by tree.c (the calls) and
 * tree-maint.c (open, eviction, verify). Private to core/. */
#ifndef ACFS_CORE_TREE_PRIVATE_H
#define ACFS_CORE_TREE_PRIVATE_H

#include "store-private.h"

#define DIRENT_KEY_MAX (8 + ACFS_TREE_NAME_MAX)

struct dirent_val {
	uint64_t ino, cookie;
};

struct block {
	unsigned char *buf;
	size_t len;
};

/* acfs_kv_get callbacks: a node into struct acfs_gnode, a block into
 * struct block. */
int tree_decode_node(const void *v, size_t len, void *u);
int tree_copy_block(const void *v, size_t len, void *u);
/* The key of the pair (@a, @b) in gcookies/gorphans rows. */
void tree_pair_key(uint64_t a, uint64_t b, unsigned char *k);
int tree_get_dirent(struct acfs_store *s, uint64_t parent, const char *name,
		    struct dirent_val *d);
int tree_get_node(struct acfs_store *s, uint64_t ino, struct acfs_gnode *g);
/* Adds to @b the deletion of @ino's data blocks from block @first on. */
int tree_delete_blocks(struct acfs_store *s, struct acfs_kv_batch *b,
		       uint64_t ino, uint64_t first);
/* Adds to @b the record of @g (none for the root). */
void tree_put_node(struct acfs_store *s, struct acfs_kv_batch *b,
		   const struct acfs_gnode *g);
/* The second half of an extended attribute's gdata key: after every
 * block number (tree-xattr.c). */
#define XATTR_MARK UINT64_MAX
/* Applies @b, and the counters if it succeeds. Caller holds tree_lock. */
int tree_commit(struct acfs_store *s, struct acfs_kv_batch *b,
		const struct acfs_tree_counters *cnt);

#endif
