/* SPDX-License-Identifier: MIT */
/* Where a store lives by default. */
#ifndef ACFS_PATHS_H
#define ACFS_PATHS_H

/*
 * The default store directory: $ARIA_CACHE_STORE, else
 * $XDG_CACHE_HOME/aria-cachefs, else $HOME/.cache/aria-cachefs.
 * Returns a malloc'd string, or NULL if none can be named (no HOME).
 */
char *acfs_default_store(void);

/* The default without $ARIA_CACHE_STORE (config.c reads that itself). */
char *acfs_default_store_base(void);

/* The RocksDB directory inside store @dir; malloc'd, NULL on ENOMEM. */
char *acfs_store_db_path(const char *dir);

#endif
