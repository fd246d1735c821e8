/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what a remote tier or its configuration says: remote
 * URLs, and action results (the ActionResult protobuf) a remote returns
 * for a key. Properties: no crash; a decoded action result names a size
 * and digest that encode back to a result decoding to the same; what we
 * encode always decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/remote.h"
#include "acfs/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acfs_key key = { 0xc49a2b7f8e123456ULL, ACFS_KIND_BC };
	unsigned char d[ACFS_DIGEST_SIZE], d2[ACFS_DIGEST_SIZE];
	unsigned char ac[ACFS_REMOTE_AC_MAX];
	char err[ACFS_ERR_MAX];
	uint64_t sz, sz2;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		char *s = malloc(size);
		struct acfs_remote_url u;
		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		if (acfs_remote_url_parse(s, &u, err) == 0) {
			if (!u.display || (u.kind == ACFS_REMOTE_REDIS &&
					   (!u.host || u.port <= 0)))
				abort();
			acfs_remote_url_release(&u);
		}
		free(s);
		return 0;
	}
	key.kind = (data[0] & 2) ? ACFS_KIND_META : ACFS_KIND_BC;
	if (acfs_remote_ac_decode(data + 1, size - 1, &key, d, &sz, err) == 0) {
		size_t n = acfs_remote_ac_encode(&key, d, sz, ac);
		if (n > sizeof(ac) ||
		    acfs_remote_ac_decode(ac, n, &key, d2, &sz2, err) != 0 ||
		    sz2 != sz || memcmp(d, d2, sizeof(d)) != 0)
			abort();
	}
	return 0;
}
