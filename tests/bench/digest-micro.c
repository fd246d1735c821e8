/* SPDX-License-Identifier: MIT */
/*
 * digest-micro: throughput of the digest candidates on this machine, as
 * OpenSSL's libcrypto provides them (SHA-256 uses the SHA extensions where
 * the CPU has them): SHA-256, BLAKE2b-512, BLAKE2s-256, SHA-512, and
 * acfs_digest itself, over 4 KiB, 64 KiB and 1 MiB buffers.
 *
 *   digest-micro [SECONDS_PER_CASE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "acfs/digest.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	const size_t sizes[] = { 4096, 65536, 1 << 20 };
	const char *names[] = { "SHA256", "BLAKE2b512", "BLAKE2s256", "SHA512",
				"acfs_digest" };
	unsigned char *buf = malloc(1 << 20), out[64];
	unsigned int n;

	for (size_t i = 0; i < 1 << 20; i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	printf("%-12s %10s %10s %10s   (MB/s)\n", "digest", "4 KiB", "64 KiB",
	       "1 MiB");
	for (size_t a = 0; a < sizeof(names) / sizeof(names[0]); a++) {
		const EVP_MD *md = a < 4 ? EVP_get_digestbyname(names[a]) : NULL;
		printf("%-12s", names[a]);
		for (size_t s = 0; s < 3; s++) {
			size_t bytes = 0;
			double t0 = now(), t;
			do {
				for (int k = 0; k < 16; k++) {
					if (md)
						EVP_Digest(buf, sizes[s], out, &n,
							   md, NULL);
					else
						acfs_digest(buf, sizes[s], out);
					bytes += sizes[s];
				}
			} while ((t = now() - t0) < secs);
			printf(" %10.0f", (double)bytes / t / 1e6);
		}
		printf("\n");
	}
	free(buf);
	return 0;
}
