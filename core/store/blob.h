/* SPDX-License-Identifier: MIT */
/*
 * How an entry's bytes are kept: one format byte, then the payload.
 *   0  raw bytes
 *   1  one zstd frame (used when it is smaller than the raw bytes)
 * Private to core/; unit-tested by tests/unit/test-blob.c.
 */
#ifndef ACFS_CORE_BLOB_H
#define ACFS_CORE_BLOB_H

#include <stddef.h>

/* Largest entry the decoder accepts (a hostile frame cannot ask more). */
#define ACFS_BLOB_MAX ((size_t)4 << 30)

/*
 * Encodes @len bytes at @data with zstd @level (< 0: never compress) into
 * a malloc'd value. Returns 0 or -ENOMEM.
 */
int acfs_blob_encode(const void *data, size_t len, int level, void **ret,
		     size_t *ret_len);

/*
 * Decodes a value into a malloc'd buffer of the original bytes. Returns 0,
 * -EBADMSG (corrupt; the reason in @err, ACFS_ERR_MAX bytes) or -ENOMEM.
 */
int acfs_blob_decode(const void *val, size_t vlen, void **ret, size_t *ret_len,
		     char *err);

/* The decoded size of a value. Returns 0 or -EBADMSG (reason in @err). */
int acfs_blob_size(const void *val, size_t vlen, size_t *ret_size, char *err);

/*
 * Decodes a value into @dst, which holds exactly @size bytes. Returns 0 or
 * -EBADMSG (corrupt, or another size; the reason in @err).
 */
int acfs_blob_decode_into(const void *val, size_t vlen, void *dst,
			  size_t size, char *err);

#endif
