/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: names and paths from clients and the command line
 * (shard names, entry names, keys and paths given to aria-cache).
 * Properties: no crash; whatever parses formats back to a name that
 * parses to the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct acfs_key k, k2;
	char buf[ACFS_KEY_PATH_MAX];
	unsigned shard;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (acfs_key_parse_shard(s, &shard) == 0 && shard > 255)
		abort();
	for (unsigned sh = 0; sh < 256; sh += 85) {
		if (acfs_key_parse_name(sh, s, &k) == 0) {
			if (acfs_key_shard(&k) != sh)
				abort();
			acfs_key_format_name(&k, buf);
			if (strcmp(buf, s) != 0)
				abort(); /* only the canonical name parses */
		}
	}
	if (acfs_key_parse_any(s, &k) == 0) {
		acfs_key_format_path(&k, buf);
		if (acfs_key_parse_any(buf, &k2) != 0 || k.hash != k2.hash ||
		    k.kind != k2.kind)
			abort();
	}
	free(s);
	return 0;
}
