/* SPDX-License-Identifier: MIT */
/*
 * validate-micro FILE.bc...: microseconds per acfs_bitcode_check at each
 * level for each file (in-process, no FUSE), to see where commit time goes.
 * With ACFS_DAEMON set to the aria-cachefs binary, also "parse" through
 * one of its LLVM helper processes (acfs_validator_check), as commits do:
 * the difference is the cost of handing the bytes over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "acfs/bitcode.h"
#include "acfs/validator.h"
#include "acfs/store.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *exe = getenv("ACFS_DAEMON");
	struct acfs_validator *v = NULL;
	if (exe && acfs_validator_new(exe, 1, &v) < 0)
		return 1;
	printf("%-28s %9s %9s %9s %9s %9s\n", "file (bytes)", "magic", "parse",
	       "verify", "helper", "(us)");
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
		double helper = 0;
		if (v) {
			char err[ACFS_ERR_MAX];
			int reps = 200;
			/* The first starts the helper. */
			acfs_validator_check(v, p, (size_t)n, ACFS_VALIDATE_PARSE,
					     NULL, NULL, NULL, err);
			double t0 = now();
			for (int k = 0; k < reps; k++)
				if (acfs_validator_check(v, p, (size_t)n,
							 ACFS_VALIDATE_PARSE, NULL,
							 NULL, NULL, err) < 0) {
					fprintf(stderr, "%s: %s\n", argv[i], err);
					return 1;
				}
			helper = (now() - t0) * 1e6 / reps;
		}
		printf("%-20s %7ld %9.1f %9.1f %9.1f %9.1f\n", argv[i], n, us[1],
		       us[2], us[3], helper);
		free(p);
	}
	acfs_validator_free(v);
	return 0;
}
