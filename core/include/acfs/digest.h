/* SPDX-License-Identifier: MIT */
/*
 * Content digests of entries: SHA-256 (OpenSSL's libcrypto). Chosen by
 * measuring on the target machine (tests/bench/digest-micro.c): with the
 * SHA extensions SHA-256 hashes 64 KiB blocks at about 1.8 GB/s, BLAKE2b-512
 * at about 0.95 GB/s.
 */
#ifndef ACFS_DIGEST_H
#define ACFS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define ACFS_DIGEST_SIZE 32
/* "sha256:" + 64 hex digits + NUL */
#define ACFS_DIGEST_TEXT_MAX (7 + 2 * ACFS_DIGEST_SIZE + 1)

/* SHA-256 of @len bytes at @data into @out. */
void acfs_digest(const void *data, size_t len,
		 unsigned char out[ACFS_DIGEST_SIZE]);

/* "sha256:<hex>" into @out (ACFS_DIGEST_TEXT_MAX bytes). */
void acfs_digest_format(const unsigned char d[ACFS_DIGEST_SIZE], char *out);

/* All zero: a record written before digests existed. */
bool acfs_digest_is_none(const unsigned char d[ACFS_DIGEST_SIZE]);

#endif
