/* SPDX-License-Identifier: MIT */
/* The daemon's command line (options.h). */
#include "daemon/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/settings.h"

#define OPT(t, p, v) { t, offsetof(struct options, p), v }
#define KEY_LIST 1
#define KEY_LIST_NEXT 2

/* Per setting: "--CLI VALUE", "--CLI=VALUE" and "-o OPT=VALUE"; a FLAG is
 * "--CLI" or "-o OPT"; the LIST (--remote) is kept by opt_proc. */
#define SPEC_VALUE(ID, CLI, MOPT) \
	OPT("--" CLI " %s", value[ACFS_SET_##ID], 0), \
	OPT("--" CLI "=%s", value[ACFS_SET_##ID], 0), \
	OPT(MOPT "=%s", value[ACFS_SET_##ID], 0),
#define SPEC_FLAG(ID, CLI, MOPT) \
	OPT("--" CLI, flag[ACFS_SET_##ID], 1), \
	OPT(MOPT, flag[ACFS_SET_##ID], 1),
/* Not "--remote %s": libfuse would match it to --remote-mode too. */
#define SPEC_LIST(ID, CLI, MOPT) \
	FUSE_OPT_KEY("--" CLI "=", KEY_LIST), \
	FUSE_OPT_KEY("--" CLI, KEY_LIST_NEXT), \
	FUSE_OPT_KEY(MOPT "=", KEY_LIST),
#define SPEC(ID, KEY, CLI, MOPT, TYPE, ...) SPEC_##TYPE(ID, CLI, MOPT)

static const struct fuse_opt option_spec[] = {
	ACFS_SETTINGS(SPEC)
	OPT("-h", show_help, 1),
	OPT("--help", show_help, 1),
	OPT("-V", show_version, 1),
	OPT("--version", show_version, 1),
	FUSE_OPT_END
};

/* The one LIST setting's option names, for opt_proc. */
#define LIST_NAMES(ID, KEY, CLI, MOPT, TYPE, ...) LIST_NAMES_##TYPE(CLI, MOPT)
#define LIST_NAMES_VALUE(CLI, MOPT)
#define LIST_NAMES_FLAG(CLI, MOPT)
#define LIST_NAMES_LIST(CLI, MOPT) "--" CLI "=", MOPT "=",
static const char *const list_prefixes[] = { ACFS_SETTINGS(LIST_NAMES) };

/* Keeps the mountpoint for ourselves: libfuse's realpath() of it fails on
 * a stale mount and on a directory that does not exist yet. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key == KEY_LIST_NEXT) {
		o->list_next = true;
		return 0;
	}
	if (key == KEY_LIST || (key == FUSE_OPT_KEY_NONOPT && o->list_next)) {
		/* "--remote=URL", "--remote URL", "-o remote=URL":
		 * repeatable, kept in order. */
		const char *url = arg;
		for (size_t i = 0; key == KEY_LIST &&
		     i < sizeof(list_prefixes) / sizeof(*list_prefixes); i++) {
			size_t n = strlen(list_prefixes[i]);
			if (!strncmp(arg, list_prefixes[i], n)) {
				url = arg + n;
				break;
			}
		}
		o->list_next = false;
		char **n = realloc(o->list, (o->nlist + 1) * sizeof(*n));
		if (!n || !(n[o->nlist] = strdup(url)))
			return -1;
		o->list = n;
		o->nlist++;
		return 0;
	}
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (o->source) {
		fprintf(stderr, "aria-cachefs: unexpected argument %s (usage: "
			"aria-cachefs [STORE] MOUNTPOINT)\n", arg);
		return -1;
	}
	if (o->mountpoint) {
		/* Two: the first was the store (mount.fuse3's "source"). */
		o->source = o->mountpoint;
		o->mountpoint = NULL;
	}
	o->mountpoint = strdup(arg);
	return o->mountpoint ? 0 : -1;
}

int options_parse(struct fuse_args *args, struct options *o)
{
	memset(o, 0, sizeof(*o));
	return fuse_opt_parse(args, o, option_spec, opt_proc);
}

int options_apply(const struct options *o, struct acfs_config *c, char *err)
{
	/* "aria-cachefs STORE MOUNTPOINT" (mount(8)); --store wins. */
	if (o->source && acfs_config_set(c, ACFS_SET_STORE, o->source,
					 "command line", err) < 0)
		return -EINVAL;
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		const struct acfs_setting_info *info = acfs_setting_info(s);
		const char *v = info->type == ACFS_SETTING_FLAG
				? (o->flag[s] ? "true" : NULL)
				: o->value[s];

		if (info->type == ACFS_SETTING_LIST) {
			for (size_t i = 0; i < o->nlist; i++)
				if (acfs_config_add_remote(c, o->list[i],
							   "command line",
							   err) < 0)
					return -EINVAL;
			continue;
		}
		if (v && acfs_config_set(c, (enum acfs_setting)s, v,
					 "command line", err) < 0)
			return -EINVAL;
	}
	return 0;
}

/* One option of --help: the name in a column of 27, then @text wrapped
 * to 72 columns at spaces ('\x01' is a space that does not break). */
static void help_line(const char *name, const char *text)
{
	size_t col = (size_t)printf("    %s", name);
	const char *p = text;

	if (col >= 27) {
		putchar('\n');
		col = 0;
	}
	printf("%*s", (int)(27 - col), "");
	col = 27;
	while (*p) {
		size_t word = strcspn(p, " ");
		if (col > 27 && col + 1 + word > 72) {
			printf("\n%27s", "");
			col = 27;
		} else if (col > 27) {
			putchar(' ');
			col++;
		}
		for (size_t i = 0; i < word; i++)
			putchar(p[i] == '\x01' ? ' ' : p[i]);
		col += word;
		p += word;
		p += strspn(p, " ");
	}
	putchar('\n');
}

void options_usage(const char *prog)
{
	printf("usage: %s [options] [STORE] MOUNTPOINT\n\n"
	       "Mounts the Aria monomorphization cache at MOUNTPOINT (usually\n"
	       "PROJECT/.aria/cache); entries live in a RocksDB store outside it.\n\n"
	       "options:\n", prog);
	for (int s = 0; s < ACFS_SET_COUNT; s++) {
		const struct acfs_setting_info *info = acfs_setting_info(s);
		char name[64], text[700];
		bool flag = info->type == ACFS_SETTING_FLAG;

		snprintf(name, sizeof(name), "--%s%s%s", info->cli,
			 flag ? "" : " ", flag ? "" : info->arg);
		snprintf(text, sizeof(text), "%s%s%s%s; -o\x01%s%s%s", info->help,
			 info->def && *info->def && !flag ? " (default " : "",
			 info->def && *info->def && !flag ? info->def : "",
			 info->def && *info->def && !flag ? ")" : "",
			 info->mount_opt, flag ? "" : "=",
			 flag ? "" : info->arg);
		help_line(name, text);
	}
	help_line("-f", "stay in the foreground, log to stderr");
	help_line("-d", "FUSE debug output (implies -f)");
	help_line("-o OPT[,OPT...]", "FUSE mount options (allow_other, ...)");
	help_line("-h, --help", "this help");
	help_line("-V, --version", "print the version");
	printf("\nSettings also come from ARIA_CACHE_* variables, then\n"
	       "$XDG_CONFIG_HOME/aria-cachefs/config, then /etc/aria-cachefs/config\n"
	       "(key = value; see aria-cache config). mount -t fuse.aria-cachefs\n"
	       "STORE MOUNTPOINT -o max_size=... works too (man aria-cachefs).\n\n");
}

int options_check_fuse(struct fuse_args *args)
{
	static const struct fuse_lowlevel_ops none;
	struct fuse_args probe = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se = NULL;
	bool ok = true;

	for (int k = 0; k < args->argc && ok; k++)
		ok = fuse_opt_add_arg(&probe, args->argv[k]) == 0;
	if (ok)
		se = fuse_session_new(&probe, &none, sizeof(none), NULL);
	fuse_opt_free_args(&probe);
	if (!se) {
		fprintf(stderr, "aria-cachefs: %s (try --help)\n",
			ok ? "bad options" : "out of memory");
		return -1;
	}
	fuse_session_destroy(se);
	return 0;
}

void options_release(struct options *o)
{
	for (int s = 0; s < ACFS_SET_COUNT; s++)
		free(o->value[s]);
	for (size_t i = 0; i < o->nlist; i++)
		free(o->list[i]);
	free(o->list);
	free(o->mountpoint);
	free(o->source);
}

/*
 * With allow_other, other users reach the mount: the kernel must check
 * modes and owners (default_permissions), or anyone could store, replace
 * or delete entries. Added unless given. The arguments are parsed as FUSE
 * parses them (-o lists split at commas, "\\," escaped), so a mountpoint
 * or an fsname= that merely contains the words counts for nothing.
 */
enum { PERM_ALLOW_OTHER = 1, PERM_DEFAULT = 2 };

static const struct fuse_opt perm_spec[] = {
	FUSE_OPT_KEY("allow_other", PERM_ALLOW_OTHER),
	FUSE_OPT_KEY("allow_root", PERM_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", PERM_DEFAULT),
	FUSE_OPT_END
};

static int perm_proc(void *data, const char *arg, int key,
		     struct fuse_args *outargs)
{
	unsigned *seen = data;

	(void)arg;
	(void)outargs;
	if (key == PERM_ALLOW_OTHER || key == PERM_DEFAULT)
		*seen |= (unsigned)key;
	return 1;
}

static int mount_perms(int argc, char **argv, bool *ret_other, bool *ret_dp)
{
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	unsigned seen = 0;
	int r = 0;

	for (int i = 0; i < argc && r == 0; i++)
		r = fuse_opt_add_arg(&copy, argv[i]);
	if (r == 0)
		r = fuse_opt_parse(&copy, &seen, perm_spec, perm_proc);
	fuse_opt_free_args(&copy);
	*ret_other = seen & PERM_ALLOW_OTHER;
	*ret_dp = seen & PERM_DEFAULT;
	return r < 0 ? -EINVAL : 0;
}

int add_default_permissions(struct fuse_args *args)
{
	bool other, dp;

	if (mount_perms(args->argc, args->argv, &other, &dp) < 0)
		return -1;
	if (!other || dp)
		return 0;
	return fuse_opt_add_arg(args, "-odefault_permissions");
}
