/* SPDX-License-Identifier: MIT */
#include "acfs/key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parses exactly @n lowercase hex digits. */
static int parse_hex(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return -EINVAL;
		v = (v << 4) | (uint64_t)d;
	}
	*ret = v;
	return 0;
}

int acfs_key_parse_shard(const char *name, unsigned *ret_shard)
{
	uint64_t v;

	if (strlen(name) != 2 || parse_hex(name, 2, &v) < 0)
		return -EINVAL;
	*ret_shard = (unsigned)v;
	return 0;
}

static int parse_suffix(const char *s, enum acfs_kind *ret)
{
	if (strcmp(s, ".bc") == 0)
		*ret = ACFS_KIND_BC;
	else if (strcmp(s, ".meta") == 0)
		*ret = ACFS_KIND_META;
	else
		return -EINVAL;
	return 0;
}

int acfs_key_parse_name(unsigned shard, const char *name,
			struct acfs_key *ret_key)
{
	uint64_t low;
	enum acfs_kind kind;

	if (shard > 0xff || strnlen(name, 20) < 15)
		return -EINVAL;
	if (parse_hex(name, 14, &low) < 0 || parse_suffix(name + 14, &kind) < 0)
		return -EINVAL;
	ret_key->hash = ((uint64_t)shard << 56) | low;
	ret_key->kind = kind;
	return 0;
}

int acfs_key_parse_any(const char *text, struct acfs_key *ret_key)
{
	size_t len = strnlen(text, 4096);
	const char *base, *slash;
	unsigned shard;
	uint64_t v;
	enum acfs_kind kind = ACFS_KIND_BC;
	char sh[3];

	if (len >= 16 && parse_hex(text, 16, &v) == 0 &&
	    (len == 16 || parse_suffix(text + 16, &kind) == 0)) {
		ret_key->hash = v;
		ret_key->kind = kind;
		return 0;
	}
	/* A path: take the last two components "<shard>/<name>". */
	base = strrchr(text, '/');
	if (!base || base == text)
		return -EINVAL;
	slash = base - 1;
	while (slash > text && *slash != '/')
		slash--;
	if (*slash == '/')
		slash++;
	if (base - slash != 2)
		return -EINVAL;
	sh[0] = slash[0];
	sh[1] = slash[1];
	sh[2] = '\0';
	if (acfs_key_parse_shard(sh, &shard) < 0)
		return -EINVAL;
	return acfs_key_parse_name(shard, base + 1, ret_key);
}

static const char *suffix(enum acfs_kind kind)
{
	return kind == ACFS_KIND_META ? ".meta" : ".bc";
}

void acfs_key_format_name(const struct acfs_key *key, char *buf)
{
	snprintf(buf, ACFS_KEY_PATH_MAX, "%014llx%s",
		 (unsigned long long)(key->hash & 0x00ffffffffffffffULL),
		 suffix(key->kind));
}

void acfs_key_format_path(const struct acfs_key *key, char *buf)
{
	snprintf(buf, ACFS_KEY_PATH_MAX, "monomorph/%02x/%014llx%s",
		 acfs_key_shard(key),
		 (unsigned long long)(key->hash & 0x00ffffffffffffffULL),
		 suffix(key->kind));
}
