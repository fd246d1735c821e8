/* SPDX-License-Identifier: MIT */
/* Human sizes: "10G" <-> 10737418240. Powers of 1024; no allocation. */
#ifndef ACFS_SIZE_H
#define ACFS_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses "123", "64K", "10G", "1.5T" (suffixes K M G T, case-insensitive,
 * optional trailing "B" or "iB"). Returns 0, -EINVAL (not a size) or
 * -ERANGE (over 2^63).
 */
int acfs_size_parse(const char *text, uint64_t *ret_bytes);

/* Writes e.g. "9.8G" or "512B" into @buf of @len bytes. */
void acfs_size_format(uint64_t bytes, char *buf, size_t len);

/*
 * Parses a duration: "100ms", "90" or "90s", "10m", "2h", "7d", "1w"
 * into nanoseconds. Returns 0, -EINVAL or -ERANGE.
 */
int acfs_duration_parse(const char *text, int64_t *ret_ns);

#endif
