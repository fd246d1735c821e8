/* SPDX-License-Identifier: MIT */
/*
 * Entries read back from RocksDB's blob files themselves, for repair.
 * Part of kv.c's boundary.
 *
 * RocksDB's repairer (7.8) rebuilds a MANIFEST from the table and log
 * files and does not know blob files: the entries' bytes stay in .blob
 * files that no history names, and their rows point at nothing. Each
 * record of a blob file carries its key, so they can be put back. The
 * blob log format (RocksDB's wiki, "BlobDB"; db/blob/blob_log_format.h):
 *
 *   header  30 bytes: magic (fixed32 2395959), version, column family
 *           (fixed32 each), flags, compression (a byte each), the
 *           expiration range (two fixed64)
 *   record  key size, value size, expiration (fixed64 each), header CRC
 *           (masked CRC32C of those 24 bytes), blob CRC (masked CRC32C of
 *           key then value), then the key and the value
 *   footer  32 bytes (magic, count, range, CRC): ends the records
 *
 * A record whose CRCs do not match is skipped (the scan looks for the next
 * header whose CRC matches), so one damaged record costs only itself.
 * What is put back is checked again above (store_rebuild, then verify:
 * each entry's digest).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv.h"

#define BLOB_MAGIC 2395959u
#define HEADER_SIZE 30
#define RECORD_HEADER 32

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c_extend(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint32_t crc_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int kv_blob_scan(const char *path, kv_blob_fn fn, void *userdata,
		 unsigned *ret_bad)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	const unsigned char *m;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size < HEADER_SIZE) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	if (le32(m) != BLOB_MAGIC)
		goto out;
	size_t size = (size_t)st.st_size, off = HEADER_SIZE;
	bool in_sync = true;
	while (off + RECORD_HEADER <= size && r == 0) {
		const unsigned char *h = m + off;
		uint64_t klen = le64(h), vlen = le64(h + 8);
		if (crc_mask(crc32c_extend(0, h, 24)) != le32(h + 24) ||
		    klen > size || vlen > size ||
		    off + RECORD_HEADER + klen + vlen > size) {
			/* A footer, or damage: look for the next record. */
			if (in_sync && ret_bad && le32(h) != BLOB_MAGIC)
				(*ret_bad)++;
			in_sync = false;
			off++;
			continue;
		}
		const unsigned char *k = h + RECORD_HEADER, *v = k + klen;
		uint32_t crc = crc32c_extend(crc32c_extend(0, k, klen), v, vlen);
		if (crc_mask(crc) == le32(h + 28)) {
			r = fn(k, klen, v, vlen, userdata);
		} else if (ret_bad) {
			(*ret_bad)++;
		}
		in_sync = true;
		off += RECORD_HEADER + klen + vlen;
	}
out:
	munmap((void *)m, (size_t)st.st_size);
	return r;
}

int kv_blob_scan_dir(const char *dir, kv_blob_fn fn, void *userdata,
		     unsigned *ret_bad)
{
	DIR *dh = opendir(dir);
	struct dirent *d;
	int r = 0;

	crc_init();
	if (!dh)
		return 0;
	while (r == 0 && (d = readdir(dh))) {
		char path[4096 + 256];
		size_t l = strlen(d->d_name);
		if (l < 6 || strcmp(d->d_name + l - 5, ".blob") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		r = kv_blob_scan(path, fn, userdata, ret_bad);
	}
	closedir(dh);
	return r;
}
