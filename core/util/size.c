/* SPDX-License-Identifier: MIT */
#include "acfs/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int acfs_size_parse(const char *text, uint64_t *ret_bytes)
{
	uint64_t whole = 0, frac = 0, frac_div = 1, mult = 1;
	const char *p = text;

	if (!text || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++)
			if (frac_div < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_div *= 10;
			}
	}
	switch (toupper((unsigned char)*p)) {
	case 'T': mult <<= 10; /* fall through */
	case 'G': mult <<= 10; /* fall through */
	case 'M': mult <<= 10; /* fall through */
	case 'K': mult <<= 10; p++; break;
	default: break;
	}
	if (strcasecmp(p, "") != 0 && strcasecmp(p, "B") != 0 &&
	    strcasecmp(p, "iB") != 0)
		return -EINVAL;
	if (mult > 1 && whole > (UINT64_MAX >> 1) / mult)
		return -ERANGE;
	uint64_t v = whole * mult + frac * mult / frac_div;
	if (v > (UINT64_MAX >> 1))
		return -ERANGE;
	*ret_bytes = v;
	return 0;
}

void acfs_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

int acfs_duration_parse(const char *text, int64_t *ret_ns)
{
	uint64_t v = 0, mult = 1;
	const char *p = text;

	if (!text || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > 1000000000ULL)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p[0] == 'm' && p[1] == 's' && !p[2]) {
		*ret_ns = (int64_t)v * 1000000LL;
		return 0;
	}
	switch (*p) {
	case '\0': case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (v * mult > (uint64_t)INT64_MAX / 1000000000ULL)
		return -ERANGE;
	*ret_ns = (int64_t)(v * mult) * 1000000000LL;
	return 0;
}
