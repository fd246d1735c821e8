/* SPDX-License-Identifier: MIT */
/*
 * validator-replay HELPER FILE...: runs each file through the bitcode
 * helper processes (acfs/validator.h) at --validate=parse, as a commit
 * would, with HELPER (the daemon binary) as the helper. Prints one line
 * per file and a summary; exits 1 if any answer is neither acceptance nor
 * a refusal (this process crashing would fail the caller too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/store.h"
#include "acfs/validator.h"

static int slurp(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -errno;
	do {
		if (len == cap) {
			char *p = realloc(buf, cap = cap ? 2 * cap : 65536);
			if (!p) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*ret = buf;
	*ret_len = len;
	return 0;
}

int main(int argc, char **argv)
{
	struct acfs_validator *v;
	unsigned accepted = 0, refused = 0, gave_up = 0, died = 0, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: validator-replay HELPER FILE...\n");
		return 2;
	}
	if (acfs_validator_new(argv[1], 2, &v) < 0)
		return 1;
	for (int i = 2; i < argc; i++) {
		char err[ACFS_ERR_MAX] = "", *data = NULL;
		size_t len = 0;
		void *info = NULL;
		size_t info_len;

		if (slurp(argv[i], &data, &len) < 0) {
			fprintf(stderr, "validator-replay: cannot read %s\n",
				argv[i]);
			bad++;
			continue;
		}
		int r = acfs_validator_check(v, data, len, ACFS_VALIDATE_PARSE,
					     NULL, &info, &info_len, err);
		free(info);
		free(data);
		if (r == 0) {
			accepted++;
		} else if (r == -EINVAL) {
			refused++;
			gave_up += strstr(err, "LLVM gave up") != NULL;
			died += strstr(err, "died") != NULL;
		} else {
			bad++;
		}
		printf("%s: %s\n", argv[i], r == 0 ? "accepted" : err);
	}
	acfs_validator_free(v);
	printf("validator-replay: %d files: %u accepted, %u refused (%u on "
	       "an LLVM fatal error, %u on a helper crash), %u unexpected\n",
	       argc - 2, accepted, refused, gave_up, died, bad);
	return bad ? 1 : 0;
}
