/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: option and config values (sizes, durations, levels,
 * every setting through acfs_config_set) and config files through inih.
 * The first byte picks the setting; the rest is the value or the file.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acfs/config.h"
#include "acfs/size.h"
#include "acfs/store.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ACFS_ERR_MAX];
	struct acfs_config c;
	uint64_t bytes;
	int64_t ns;
	enum acfs_validate level;
	char *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (acfs_size_parse(s, &bytes) == 0) {
		char h[32];
		acfs_size_format(bytes, h, sizeof(h)); /* no overflow */
	}
	acfs_duration_parse(s, &ns);
	acfs_validate_parse(s, &level);

	if (data[0] & 0x80) {
		/* A config file: the system one, with nothing else set. */
		if (!path[0]) {
			snprintf(path, sizeof(path), "/tmp/acfs-fuzz-config.%d",
				 (int)getpid());
			setenv("ARIA_CACHE_SYSTEM_CONFIG", path, 1);
			setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
			setenv("ARIA_CACHE_STORE", "/tmp/store", 1);
		}
		FILE *f = fopen(path, "w");
		if (f) {
			fwrite(data + 1, 1, size - 1, f);
			fclose(f);
			memset(&c, 0, sizeof(c));
			int r = acfs_config_load(&c, err);
			if (r != 0 && r != -EINVAL && r != -ENOMEM)
				abort();
			acfs_config_release(&c);
		}
	} else {
		memset(&c, 0, sizeof(c));
		acfs_config_set(&c, (enum acfs_setting)(data[0] %
							ACFS_SET_COUNT),
				s, "fuzz", err);
		acfs_config_release(&c);
	}
	free(s);
	return 0;
}
