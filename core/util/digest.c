/* SPDX-License-Identifier: MIT */
/* SHA-256 content digests. See acfs/digest.h. */
#include "acfs/digest.h"

#include <stdio.h>

#include <openssl/evp.h>

void acfs_digest(const void *data, size_t len,
		 unsigned char out[ACFS_DIGEST_SIZE])
{
	unsigned int n = ACFS_DIGEST_SIZE;

	/* One-shot EVP: picks the SHA-NI / AVX2 code path at run time. It
	 * fails only on allocation failure inside OpenSSL; an all-zero
	 * digest then means "none" and the entry is not verified. */
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
		for (int i = 0; i < ACFS_DIGEST_SIZE; i++)
			out[i] = 0;
}

void acfs_digest_format(const unsigned char d[ACFS_DIGEST_SIZE], char *out)
{
	static const char hex[] = "0123456789abcdef";
	char *p = out + snprintf(out, ACFS_DIGEST_TEXT_MAX, "sha256:");

	for (int i = 0; i < ACFS_DIGEST_SIZE; i++) {
		*p++ = hex[d[i] >> 4];
		*p++ = hex[d[i] & 15];
	}
	*p = '\0';
}

bool acfs_digest_is_none(const unsigned char d[ACFS_DIGEST_SIZE])
{
	for (int i = 0; i < ACFS_DIGEST_SIZE; i++)
		if (d[i])
			return false;
	return true;
}
