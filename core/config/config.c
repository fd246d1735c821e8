/* SPDX-License-Identifier: MIT */
#include "acfs/config.h"

#include <errno.h>
#include <sys/stat.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "acfs/paths.h"
#include "acfs/remote.h"
#include "acfs/size.h"
#include "acfs/store.h" /* ACFS_ERR_MAX */

static const struct acfs_setting_info table[ACFS_SET_COUNT] = {
#define INFO(ID, KEY, CLI, OPT, TYPE, DEF, ARG, HELP) \
	[ACFS_SET_##ID] = { KEY, CLI, OPT, ACFS_SETTING_##TYPE, DEF, ARG, HELP },
	ACFS_SETTINGS(INFO)
#undef INFO
};

const struct acfs_setting_info *acfs_setting_info(enum acfs_setting s)
{
	return &table[s];
}

const char *acfs_config_key(enum acfs_setting s)
{
	return table[s].key;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcasecmp(v, "1") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
		*ret = true;
	else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") ||
		 !strcasecmp(v, "no") || !strcasecmp(v, "off"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* A duration (acfs_duration_parse: "100ms", "2s", "1m"), where a bare
 * number means milliseconds, into *ret; at most @max ms. */
static int parse_ms(const char *v, unsigned max, unsigned *ret)
{
	size_t digits = strspn(v, "0123456789");
	int64_t ns;

	if (digits && !v[digits]) {
		if (digits > 10 || strtoull(v, NULL, 10) > max)
			return -EINVAL;
		*ret = (unsigned)strtoull(v, NULL, 10);
		return 0;
	}
	if (acfs_duration_parse(v, &ns) < 0 || ns / 1000000 > (int64_t)max)
		return -EINVAL;
	*ret = (unsigned)(ns / 1000000);
	return 0;
}

/* Each URL of @v must parse. */
static int check_remotes(const char *v, char *why, size_t len)
{
	struct acfs_remote_url *u;
	char err[ACFS_ERR_MAX];
	size_t n;
	int r = acfs_remote_list_parse(v, &u, &n, err);

	if (r == 0)
		acfs_remote_list_free(u, n);
	else if (r == -EINVAL)
		snprintf(why, len, "%.250s", err);
	return r;
}

/*
 * The parsers, one per setting (named after its ID in acfs/settings.h):
 * each checks @v and stores its parsed form in @c, or says why not in
 * @why and returns -EINVAL.
 */
#define PARSER(name) \
	static int parse_##name(struct acfs_config *c, const char *v, \
				char *why, size_t len)

static int size_into(const char *v, uint64_t *dst, const char *eg, char *why,
		     size_t len)
{
	if (acfs_size_parse(v, dst) < 0) {
		snprintf(why, len, "%s is not a size (e.g. %s)", v, eg);
		return -EINVAL;
	}
	return 0;
}

static int bool_into(const char *v, bool *dst, char *why, size_t len)
{
	if (parse_bool(v, dst) < 0) {
		snprintf(why, len, "%s: use true or false", v);
		return -EINVAL;
	}
	return 0;
}

/* A duration of at most an hour; @positive: above 0 too. */
static int ms_into(const char *v, unsigned *dst, bool positive, char *why,
		   size_t len)
{
	if (parse_ms(v, 3600 * 1000, dst) < 0 || (positive && *dst == 0)) {
		snprintf(why, len, "%s is not a duration (e.g. 100ms, 2s; at "
			 "most 1 hour%s)", v, positive ? ", above 0" : "");
		return -EINVAL;
	}
	return 0;
}

/* A count from 1 to @max. */
static int count_into(const char *v, unsigned long long max,
		      unsigned long long *dst, char *why, size_t len)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (!*v || *end || *v == '-' || n == 0 || n > max) {
		snprintf(why, len, "%s: use a count from 1 to %llu", v, max);
		return -EINVAL;
	}
	*dst = n;
	return 0;
}

PARSER(STORE)
{
	(void)c;
	if (!*v) {
		snprintf(why, len, "the store cannot be empty");
		return -EINVAL;
	}
	return 0;
}

PARSER(MAX_SIZE)
{
	int r = size_into(v, &c->max_size, "10G", why, len);

	/* "--max-size 100" is 100 bytes: no cache holds an entry then. 0
	 * is no limit. */
	if (r == 0 && c->max_size && c->max_size < (1ULL << 20)) {
		snprintf(why, len, "%s is %llu bytes, too small for a cache "
			 "budget (at least 1M); did you mean %sM or %sG? (K, M, "
			 "G, T count powers of 1024: 10G is 10 GiB)", v,
			 (unsigned long long)c->max_size, v, v);
		return -EINVAL;
	}
	return r;
}

PARSER(MAX_ENTRY_SIZE)
{
	return size_into(v, &c->max_entry_size, "256M", why, len);
}

PARSER(MAX_LOADED)
{
	return size_into(v, &c->max_loaded, "256M", why, len);
}

PARSER(VALIDATE)
{
	if (acfs_validate_parse(v, &c->validate) < 0) {
		snprintf(why, len, "%s: use none, magic, parse or verify", v);
		return -EINVAL;
	}
	return 0;
}

PARSER(TARGET)
{
	(void)c;
	(void)v;
	(void)why;
	(void)len;
	return 0; /* any triple; modules for another are refused */
}

PARSER(SYNC)
{
	return bool_into(v, &c->sync, why, len);
}

PARSER(EVICT_GENERAL)
{
	return bool_into(v, &c->evict_general, why, len);
}

PARSER(NONEMPTY)
{
	return bool_into(v, &c->nonempty, why, len);
}

PARSER(GROUP)
{
	struct group *g = getgrnam(v);
	char *end;
	unsigned long id = strtoul(v, &end, 10);

	if (g) {
		c->group_gid = (unsigned)g->gr_gid;
	} else if (*v && !*end && id < 0xffffffffUL) {
		c->group_gid = (unsigned)id;
	} else {
		snprintf(why, len, "%s: no such group", v);
		return -EINVAL;
	}
	c->has_group = true;
	return 0;
}

PARSER(HIT_MODE)
{
	if (strcmp(v, "open") && strcmp(v, "kernel")) {
		snprintf(why, len, "%s: use open or kernel", v);
		return -EINVAL;
	}
	c->kernel_hits = strcmp(v, "kernel") == 0;
	return 0;
}

PARSER(COMPRESS_LEVEL)
{
	char *end;
	long l = strtol(v, &end, 10);

	if (!*v || *end || l < 0 || l > 19) {
		snprintf(why, len, "%s: use 0 (no compression) to 19", v);
		return -EINVAL;
	}
	c->compress_level = (int)l;
	return 0;
}

PARSER(VERIFY_READS)
{
	if (!strcmp(v, "first"))
		c->verify_reads = ACFS_VERIFY_FIRST;
	else if (!strcmp(v, "always"))
		c->verify_reads = ACFS_VERIFY_ALWAYS;
	else if (!strcmp(v, "never"))
		c->verify_reads = ACFS_VERIFY_NEVER;
	else {
		snprintf(why, len, "%s: use first, always or never", v);
		return -EINVAL;
	}
	return 0;
}

PARSER(REMOTE)
{
	(void)c;
	return check_remotes(v, why, len);
}

PARSER(REMOTE_MODE)
{
	if (!strcmp(v, "read-write"))
		c->remote_mode = ACFS_REMOTE_READ_WRITE;
	else if (!strcmp(v, "read-only"))
		c->remote_mode = ACFS_REMOTE_READ_ONLY;
	else if (!strcmp(v, "write-only"))
		c->remote_mode = ACFS_REMOTE_WRITE_ONLY;
	else {
		snprintf(why, len, "%s: use read-write, read-only or "
			 "write-only", v);
		return -EINVAL;
	}
	return 0;
}

PARSER(REMOTE_WAIT)
{
	return ms_into(v, &c->remote_wait_ms, false, why, len);
}

PARSER(REMOTE_TIMEOUT)
{
	return ms_into(v, &c->remote_timeout_ms, true, why, len);
}

PARSER(REMOTE_NEGATIVE_TTL)
{
	return ms_into(v, &c->remote_negative_ttl_ms, false, why, len);
}

PARSER(REMOTE_QUEUE_MAX)
{
	unsigned long long n;
	int r = count_into(v, 1ULL << 40, &n, why, len);

	if (r == 0)
		c->remote_queue_max = n;
	return r;
}

PARSER(REMOTE_UPLOADS)
{
	unsigned long long n;
	int r = count_into(v, 64, &n, why, len);

	if (r == 0)
		c->remote_uploads = (unsigned)n;
	return r;
}

PARSER(REMOTE_CA)
{
	/* HTTPS remotes trust these CA certificates (PEM) instead of the
	 * system's: a company CA. Read now, so a typo fails the start, not
	 * every request. */
	char line[64];
	bool pem = false;
	FILE *f;

	(void)c;
	if (!*v)
		return 0;
	if (!(f = fopen(v, "re"))) {
		snprintf(why, len, "%s: %s", v, strerror(errno));
		return -EINVAL;
	}
	while (!pem && fgets(line, sizeof(line), f))
		pem = strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
	fclose(f);
	if (!pem) {
		snprintf(why, len, "%s holds no PEM certificate", v);
		return -EINVAL;
	}
	return 0;
}

typedef int (*parser_fn)(struct acfs_config *c, const char *v, char *why,
			 size_t len);
static const parser_fn parsers[ACFS_SET_COUNT] = {
#define PARSER_OF(ID, ...) [ACFS_SET_##ID] = parse_##ID,
	ACFS_SETTINGS(PARSER_OF)
#undef PARSER_OF
};

/* Checks @v for @s and stores its parsed form. */
static int check(struct acfs_config *c, enum acfs_setting s, const char *v,
		 char *why, size_t len)
{
	return parsers[s](c, v, why, len);
}

static int set(struct acfs_config *c, enum acfs_setting s, const char *v,
	       const char *source, char *why, size_t len)
{
	char *nv, *ns;
	int r = check(c, s, v, why, len);

	if (r < 0)
		return r;
	nv = strdup(v);
	ns = strdup(source);
	if (!nv || !ns) {
		free(nv);
		free(ns);
		return -ENOMEM;
	}
	free(c->value[s]);
	free(c->source[s]);
	c->value[s] = nv;
	c->source[s] = ns;
	return 0;
}

int acfs_config_add_remote(struct acfs_config *c, const char *url,
			   const char *source, char *err)
{
	const char *old = c->value[ACFS_SET_REMOTE];
	bool keep = old && *old && c->source[ACFS_SET_REMOTE] &&
		    !strcmp(c->source[ACFS_SET_REMOTE], source);
	char *v;
	int r;

	/* Repeated on one command line: a list; from a higher source: it
	 * replaces what a lower one said. */
	if (asprintf(&v, "%s%s%s", keep ? old : "", keep ? " " : "", url) < 0)
		return -ENOMEM;
	r = acfs_config_set(c, ACFS_SET_REMOTE, v, source, err);
	free(v);
	return r;
}

int acfs_config_set(struct acfs_config *c, enum acfs_setting s,
		    const char *value, const char *source, char *err)
{
	char why[256];
	int r = set(c, s, value, source, why, sizeof(why));

	if (r == -EINVAL)
		snprintf(err, ACFS_ERR_MAX, "%s (%s): %s", table[s].key, source, why);
	return r;
}

struct file_ctx {
	struct acfs_config *c;
	const char *path;
	char *err;
	int r;
};

static int on_line(void *u, const char *section, const char *name,
		   const char *value)
{
	struct file_ctx *f = u;
	char why[256];

	(void)section;
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		if (strcmp(name, table[s].key) != 0)
			continue;
		int r = set(f->c, (enum acfs_setting)s, value, f->path, why,
			    sizeof(why));
		if (r < 0 && f->r == 0) {
			snprintf(f->err, ACFS_ERR_MAX, "%s: %s = %s", f->path,
				 name, why);
			f->r = r;
		}
		return 1;
	}
	if (f->r == 0) {
		/* The known keys, from the one table of them. */
		char known[400];
		size_t w = 0;
		for (int s = 0; s < ACFS_SET_COUNT && w < sizeof(known); s++)
			w += (size_t)snprintf(known + w, sizeof(known) - w,
					      "%s%s", s ? ", " : "", table[s].key);
		snprintf(f->err, ACFS_ERR_MAX, "%.100s: unknown setting %.40s "
			 "(known: %.330s)", f->path, name, known);
		f->r = -EINVAL;
	}
	return 1;
}

static int load_file(struct acfs_config *c, const char *path, char *err)
{
	struct file_ctx f = { c, path, err, 0 };
	FILE *fp = fopen(path, "re");
	int r;

	struct stat st;

	if (!fp) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, ACFS_ERR_MAX, "config file %s: cannot read it: %s",
			 path, strerror(-r));
		return r;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		snprintf(err, ACFS_ERR_MAX, "config file %s: cannot read it: %s",
			 path, strerror(EISDIR));
		return -EISDIR;
	}
	r = ini_parse_file(fp, on_line, &f);
	fclose(fp);
	if (f.r < 0)
		return f.r;
	if (r > 0) {
		snprintf(err, ACFS_ERR_MAX, "%s:%d: not a \"key = value\" line",
			 path, r);
		return -EINVAL;
	}
	return 0;
}

int acfs_config_load(struct acfs_config *c, char *err)
{
	char *store = acfs_default_store_base();
	char why[256], *user = NULL, source[96];
	const char *sys = getenv("ARIA_CACHE_SYSTEM_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int r;

	memset(c, 0, sizeof(*c));
	/* The store's default depends on the environment; target has none. */
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		const char *v = s == ACFS_SET_STORE ? store : table[s].def;
		if (v && (r = set(c, (enum acfs_setting)s, v, "default", why,
				  sizeof(why))) < 0) {
			free(store);
			return r;
		}
	}
	free(store);
	r = load_file(c, sys && *sys ? sys : "/etc/aria-cachefs/config", err);
	if (r < 0)
		return r;
	if (xdg && *xdg)
		r = asprintf(&user, "%s/aria-cachefs/config", xdg);
	else if (home && *home)
		r = asprintf(&user, "%s/.config/aria-cachefs/config", home);
	if (user) {
		r = load_file(c, user, err);
		free(user);
		if (r < 0)
			return r;
	}
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		char name[64];
		snprintf(name, sizeof(name), "ARIA_CACHE_%s", table[s].key);
		for (char *p = name; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		const char *v = getenv(name);
		if (!v || !*v)
			continue;
		snprintf(source, sizeof(source), "environment (%s)", name);
		r = set(c, (enum acfs_setting)s, v, source, why, sizeof(why));
		if (r < 0) {
			snprintf(err, ACFS_ERR_MAX, "%s: %s", name, why);
			return r;
		}
	}
	if (!c->value[ACFS_SET_STORE]) {
		snprintf(err, ACFS_ERR_MAX, "no store: set HOME, "
			 "ARIA_CACHE_STORE or store = DIR in a config file");
		return -EINVAL;
	}
	return 0;
}

void acfs_config_release(struct acfs_config *c)
{
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		free(c->value[s]);
		free(c->source[s]);
		c->value[s] = c->source[s] = NULL;
	}
}
