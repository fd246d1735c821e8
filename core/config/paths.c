/* SPDX-License-Identifier: MIT */
#include "acfs/paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *join(const char *a, const char *b)
{
	char *out;

	if (asprintf(&out, "%s/%s", a, b) < 0)
		return NULL;
	return out;
}

char *acfs_default_store(void)
{
	const char *env = getenv("ARIA_CACHE_STORE");

	if (env && *env)
		return strdup(env);
	return acfs_default_store_base();
}

char *acfs_default_store_base(void)
{
	const char *env = getenv("XDG_CACHE_HOME");
	if (env && *env)
		return join(env, "aria-cachefs");
	env = getenv("HOME");
	if (env && *env)
		return join(env, ".cache/aria-cachefs");
	return NULL;
}

int acfs_store_db_path(const char *dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/db", dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
