/* SPDX-License-Identifier: MIT */
/*
 * Shared by the store unit tests: a real RocksDB store in a fresh
 * temporary directory, and the invariant check every test ends with.
 * Include after <cmocka.h>.
 */
#ifndef ACFS_TESTS_TMPSTORE_H
#define ACFS_TESTS_TMPSTORE_H

#include <stdio.h>
#include <stdlib.h>

#include "acfs/store.h"

struct tmpstore {
	char dir[64];
	struct acfs_store *s;
};

/* Opens (or reopens) the store in t->dir. */
static inline int tmpstore_open(struct tmpstore *t)
{
	char err[ACFS_ERR_MAX] = "";
	int r = acfs_store_open(t->dir, NULL, &t->s, err);

	if (r < 0)
		fprintf(stderr, "open %s: %s\n", t->dir, err);
	return r;
}

static inline int tmpstore_create(struct tmpstore *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/acfs-unit.XXXXXX");
	return mkdtemp(t->dir) ? tmpstore_open(t) : -1;
}

static inline int tmpstore_destroy(struct tmpstore *t)
{
	char cmd[128];

	acfs_store_close(t->s);
	t->s = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * cmocka setup and teardown for a fixture of @size bytes whose first
 * member is a struct tmpstore.
 */
static inline int tmpstore_setup(void **state, size_t size)
{
	struct tmpstore *t = calloc(1, size);

	if (!t || tmpstore_create(t) < 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int tmpstore_teardown(void **state)
{
	struct tmpstore *t = *state;
	int r = tmpstore_destroy(t);

	free(t);
	return r;
}

static inline void assert_invariants(struct acfs_store *s)
{
	char err[ACFS_ERR_MAX] = "";
	if (acfs_store_check(s, err) < 0)
		fail_msg("invariants broken: %s", err);
}

#endif
