/* SPDX-License-Identifier: MIT */
/*
 * Room on the store's filesystem for a write: what RocksDB will write for
 * it (the WAL now, a blob file at the flush) plus what memtables hold and
 * a reserve for RocksDB itself. Below the entry store and the general
 * tree, which both ask before writing.
 */
#include <errno.h>
#include <stdio.h>

#include "acfs/size.h"
#include "store-private.h"

/* ---- space ------------------------------------------------------------------ */

/* More than memtables hold in practice (the WAL is kept to 64 MiB, and
 * reaching it flushes them): with this much to spare, a write asks the
 * filesystem only, not RocksDB. */
#define UNFLUSHED_BOUND ((uint64_t)256 << 20)

int acfs_store_room(struct acfs_store *s, uint64_t bytes, unsigned copies,
		    bool flush_ok, char *err)
{
	uint64_t avail, unflushed = 0, need;
	char a[32], n[32];

	for (int pass = 0;; pass++) {
		if (acfs_kv_avail(s->kv, &avail) < 0)
			return 0; /* cannot tell: let the write find out */
		/* Written to the WAL now and to a blob file at the flush,
		 * while the WAL still holds it; same for what memtables
		 * hold already. */
		need = copies * bytes + ACFS_SPACE_RESERVE;
		if (avail >= need + UNFLUSHED_BOUND)
			return 0;
		unflushed = acfs_kv_unflushed(s->kv);
		need += unflushed;
		/* A flush turns WAL bytes into table and blob files; the old
		 * WAL is then deleted. On a tight disk memtables are flushed
		 * early, while they hold less than a third of the free space:
		 * a flush needs room of its own, and memtables are what a
		 * short disk-full (another program filling the disk) leaves
		 * behind, so this keeps stores possible once space returns. */
		if (pass == 0 && flush_ok && unflushed > 0 &&
		    avail >= unflushed + ACFS_SPACE_RESERVE &&
		    (avail < need || avail < 3 * unflushed + ACFS_SPACE_RESERVE)) {
			acfs_kv_flush(s->kv, NULL);
			continue;
		}
		if (avail >= need)
			return 0;
		if (err) {
			acfs_size_format(avail, a, sizeof(a));
			acfs_size_format(need, n, sizeof(n));
			snprintf(err, ACFS_ERR_MAX, "no space: the store's "
				 "filesystem has %s free, this write needs %s "
				 "(it keeps %d MiB free for RocksDB); free "
				 "space with aria-cache gc or a lower "
				 "--max-size", a, n,
				 ACFS_SPACE_RESERVE >> 20);
		}
		return -ENOSPC;
	}
}

void acfs_store_reclaim(struct acfs_store *s)
{
	if (s->read_only)
		return;
	acfs_kv_flush(s->kv, NULL);
	acfs_kv_compact_cf(s->kv, ACFS_CF_BLOBS);
}

