/* SPDX-License-Identifier: MIT */
/*
 * store-check STORE_DB_DIR: opens a store read-only and checks the
 * invariants of core/include/acfs/store.h. Exit 0 if they hold, 1 if not.
 */
#include <stdio.h>

#include "acfs/store.h"

int main(int argc, char **argv)
{
	struct acfs_store_options o = { .read_only = true };
	struct acfs_store *s;
	struct acfs_store_counters c;
	char err[ACFS_ERR_MAX] = "";

	if (argc != 2) {
		fprintf(stderr, "usage: store-check STORE/db\n");
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
