/* SPDX-License-Identifier: MIT */
/*
 * validate-micro FILE.bc...: microseconds per acfs_bitcode_check at each
 * level for each file (in-process, no FUSE), to see where commit time goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "acfs/bitcode.h"
#include "acfs/store.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	printf("%-28s %9s %9s %9s %9s\n", "file (bytes)", "magic", "parse",
	       "verify", "(us)");
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			return 1;
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		fseek(f, 0, SEEK_SET);
		char *p = malloc((size_t)n);
		if (fread(p, 1, (size_t)n, f) != (size_t)n)
			return 1;
		fclose(f);
		double us[4] = { 0 };
		for (int l = ACFS_VALIDATE_MAGIC; l <= ACFS_VALIDATE_VERIFY; l++) {
			int reps = 20;
			double t0 = now();
			for (int k = 0; k < reps; k++) {
				char err[ACFS_ERR_MAX];
				if (acfs_bitcode_check(p, (size_t)n, l, NULL,
						       NULL, err) < 0) {
					fprintf(stderr, "%s: %s\n", argv[i], err);
					return 1;
				}
			}
			us[l] = (now() - t0) * 1e6 / reps;
		}
		printf("%-20s %7ld %9.1f %9.1f %9.1f\n", argv[i], n, us[1], us[2],
		       us[3]);
		free(p);
	}
	return 0;
}
