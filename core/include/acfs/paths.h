/* SPDX-License-Identifier: MIT */
/* Where a store lives by default. */
#ifndef ACFS_PATHS_H
#define ACFS_PATHS_H

#include <stddef.h>

/*
 * The default store directory: $ARIA_CACHE_STORE, else
 * $XDG_CACHE_HOME/aria-cachefs, else $HOME/.cache/aria-cachefs.
 * Returns a malloc'd string, or NULL if none can be named (no HOME).
 */
char *acfs_default_store(void);

/* The default without $ARIA_CACHE_STORE (config.c reads that itself). */
char *acfs_default_store_base(void);

/* The RocksDB directory inside store @dir ("DIR/db") into @buf; 0, or
 * -ENAMETOOLONG if it does not fit in @len bytes. */
int acfs_store_db_path(const char *dir, char *buf, size_t len);

#endif
