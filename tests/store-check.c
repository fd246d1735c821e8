/* SPDX-License-Identifier: MIT */
/*
 * store-check STORE/db
 *   Opens a store read-only and checks the invariants of
 *   core/include/acfs/store.h. Exit 0 if they hold, 1 if not.
 * store-check --inject WHAT KEY STORE/db
 *   Damages a store (no daemon may hold it) for the integrity tests; WHAT
 *   is flip-byte, drop-blob, counters, dangling-lru, dangling-info,
 *   drop-lru, stray-blob, tree-name or tree-counters (acfs/inject.h); KEY
 *   is an entry's key or path.
 */
#include <stdio.h>
#include <string.h>

#include "store-inject.h"
#include "acfs/store.h"

static const char *const names[] = {
	[ACFS_INJECT_FLIP_BYTE] = "flip-byte",
	[ACFS_INJECT_DROP_BLOB] = "drop-blob",
	[ACFS_INJECT_COUNTERS] = "counters",
	[ACFS_INJECT_DANGLING_LRU] = "dangling-lru",
	[ACFS_INJECT_DANGLING_INFO] = "dangling-info",
	[ACFS_INJECT_DROP_LRU] = "drop-lru",
	[ACFS_INJECT_STRAY_BLOB] = "stray-blob",
	[ACFS_INJECT_TREE_NAME] = "tree-name",
	[ACFS_INJECT_TREE_COUNTERS] = "tree-counters",
};

static int inject(const char *what, const char *keytext, const char *db)
{
	struct acfs_store *s;
	struct acfs_key key;
	char err[ACFS_ERR_MAX] = "";
	int w = -1, r;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], what) == 0)
			w = (int)i;
	if (w < 0 || acfs_key_parse_any(keytext, &key) < 0) {
		fprintf(stderr, "store-check: bad injection %s %s\n", what,
			keytext);
		return 2;
	}
	if (acfs_store_open(db, NULL, &s, err) < 0) {
		fprintf(stderr, "store-check: %s: %s\n", db, err);
		return 1;
	}
	r = acfs_inject(s, (enum acfs_injection)w, &key);
	acfs_store_close(s);
	if (r < 0) {
		fprintf(stderr, "store-check: %s %s: %s\n", what, keytext,
			strerror(-r));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct acfs_store_options o = { .read_only = true };
	struct acfs_store *s;
	struct acfs_store_counters c;
	char err[ACFS_ERR_MAX] = "";

	if (argc == 5 && strcmp(argv[1], "--inject") == 0)
		return inject(argv[2], argv[3], argv[4]);
	if (argc != 2) {
		fprintf(stderr, "usage: store-check STORE/db\n"
			"       store-check --inject WHAT KEY STORE/db\n");
		return 2;
	}
	if (acfs_store_open(argv[1], &o, &s, err) < 0) {
		fprintf(stderr, "store-check: %s: %s\n", argv[1], err);
		return 1;
	}
	int r = acfs_store_check(s, err);
	acfs_store_get_counters(s, &c);
	acfs_store_close(s);
	if (r < 0) {
		fprintf(stderr, "store-check: %s: %s\n", argv[1], err);
		return 1;
	}
	printf("store-check: %llu entries, %llu bytes, invariants hold\n",
	       (unsigned long long)c.entries, (unsigned long long)c.bytes);
	return 0;
}
