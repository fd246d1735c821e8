/* SPDX-License-Identifier: MIT */
/*
 * aria-cache [-C DIR | --store DIR] COMMAND [ARGS]
 *
 * Finds the store (from the mount's user.aria.store attribute, --store,
 * or the default), then runs COMMAND through the daemon that serves it or,
 * when none does, on the store itself (holding the store's lock so that no
 * daemon starts meanwhile).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "acfs/paths.h"
#include "acfs/size.h"
#include "acfs/version.h"
#include "cmd.h"
#include "config.h"
#include "control.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: aria-cache [-C DIR | --store DIR] COMMAND [ARGS]\n\n"
		"Manages an aria-cachefs monomorphization cache, through its\n"
		"daemon when one runs, or on the store directly when none does.\n\n"
		"    -C DIR          the cache mounted there, or the mount of the\n"
		"                    project DIR is in (as git -C)\n"
		"    --store DIR     the store directory\n"
		"With neither: the mount of the current project (the first\n"
		"directory from here up that is a mount, or holds one at\n"
		".aria/cache), else the default store ($ARIA_CACHE_STORE, else\n"
		"$XDG_CACHE_HOME/aria-cachefs, else ~/.cache/aria-cachefs).\n\n"
		"    -h, --help      this help; COMMAND --help for a command's\n"
		"    -V, --version   the version\n\n"
		"commands:\n");
	acfs_cmd_list(f);
	fprintf(f, "\nSizes are human (500M, 10G; K, M, G, T count powers of 1024); machine output is --json.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/*
 * The mount serving a project, as git -C finds its repository: walking up
 * from @from (NULL: the current directory), a directory that is an
 * aria-cachefs mount root (we are inside the cache) or holds one at
 * .aria/cache. Returns its store (malloc'd) and the mount in @found, or
 * NULL; then @unmounted (if not NULL) names the first .aria/cache met on
 * the way that is a plain directory (a project not mounted), or is "".
 */
static char *discover_mount_from(const char *from, char *found, size_t len,
				 char *unmounted, size_t ulen)
{
	char buf[PATH_MAX], *dir = from ? realpath(from, NULL) : getcwd(NULL, 0);

	if (unmounted)
		*unmounted = '\0';
	if (!dir)
		return NULL;
	for (;;) {
		static const char *const tails[] = { "", "/.aria/cache" };
		for (size_t t = 0; t < 2; t++) {
			char path[PATH_MAX + 16];
			ssize_t n;
			snprintf(path, sizeof(path), "%s%s",
				 strcmp(dir, "/") || !*tails[t] ? dir : "",
				 tails[t]);
			n = getxattr(path, "user.aria.store", buf,
				     sizeof(buf) - 1);
			struct stat st;
			if (n <= 0 && *tails[t] && unmounted && !*unmounted &&
			    stat(path, &st) == 0 && S_ISDIR(st.st_mode))
				snprintf(unmounted, ulen, "%s", path);
			if (n > 0) {
				buf[n] = '\0';
				snprintf(found, len, "%s", path);
				free(dir);
				return strdup(buf);
			}
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			if (strcmp(dir, "/") == 0)
				break;
			dir[1] = '\0'; /* "/" last */
			continue;
		}
		*slash = '\0';
	}
	free(dir);
	return NULL;
}

static char *discover_mount(char *found, size_t len)
{
	char unmounted[PATH_MAX + 16];
	char *s = discover_mount_from(NULL, found, len, unmounted,
				      sizeof(unmounted));

	if (!s && *unmounted)
		fprintf(stderr, "aria-cache: note: this project's cache %s is "
			"not mounted (mount it with: aria-cachefs %s); using "
			"the default store\n", unmounted, unmounted);
	return s;
}

/* -C DIR: the mount DIR is, or the one of the project DIR is in. */
static char *store_of_dir(const char *dir)
{
	char found[PATH_MAX + 16], unmounted[PATH_MAX + 16];
	char *s = discover_mount_from(dir, found, sizeof(found), unmounted,
				      sizeof(unmounted));
	struct stat st;

	if (s)
		return s;
	if (stat(dir, &st) < 0)
		fprintf(stderr, "aria-cache: -C %s: %s\n", dir, strerror(errno));
	else if (*unmounted)
		fprintf(stderr, "aria-cache: the project of %s is not mounted: "
			"mount its cache with: aria-cachefs %s\n", dir,
			unmounted);
	else
		fprintf(stderr, "aria-cache: no aria-cachefs mount at or above "
			"%s (neither a mount nor a project with .aria/cache)\n",
			dir);
	return NULL;
}

/* gc through a daemon: 0 to go on (*args may gain --yes), else the exit
 * code. Asks only when the gc would remove more than half the entries. */
static int ask_gc(int fd, const char *store, int *nargs, char ***args,
		  char **with_yes)
{
	char *out = NULL, q[PATH_MAX + 160], hb[32];
	size_t outlen = 0;
	unsigned long long n = 0, total = 0, bytes = 0;
	char *probe[ACFS_CONTROL_MAX_ARGS + 1];
	FILE *f;
	int code;

	for (int k = 1; k < *nargs; k++)
		if (!strcmp((*args)[k], "--yes") || !strcmp((*args)[k], "-y") ||
		    !strcmp((*args)[k], "--dry-run") ||
		    !strcmp((*args)[k], "--help"))
			return 0;
	if (*nargs >= ACFS_CONTROL_MAX_ARGS)
		return 0; /* the call fails on its own */
	for (int k = 0; k < *nargs; k++)
		probe[k] = (*args)[k];
	probe[*nargs] = "--would-remove";
	if (!(f = open_memstream(&out, &outlen)))
		return 1;
	code = acfs_control_call(fd, *nargs + 1, probe, false, f, stderr);
	fclose(f);
	if (code == 0 && sscanf(out, "%llu %llu %llu", &n, &total, &bytes) != 3)
		code = 1;
	free(out);
	if (code)
		return code;
	if (n == 0 || 2 * n <= total)
		return 0;
	acfs_size_format(bytes, hb, sizeof(hb));
	snprintf(q, sizeof(q), "gc would remove %llu of %llu entries (%s) of "
		 "the cache in %s. Go on?", n, total, hb, store);
	if (!acfs_cmd_confirm("gc", q))
		return 2;
	for (int k = 0; k < *nargs; k++)
		with_yes[k] = (*args)[k];
	with_yes[(*nargs)++] = "--yes";
	*args = with_yes;
	return 0;
}

static bool ask_clear(const char *store)
{
	char q[PATH_MAX + 80];

	snprintf(q, sizeof(q), "Remove every entry of the cache in %s, pinned "
		 "ones too?", store);
	return acfs_cmd_confirm("clear", q);
}

/*
 * Takes the store's lock, as a daemon would; prints who holds it if
 * another does. Returns the locked fd, or -1. A store this user cannot
 * write (a read-only file system, another user's files) returns -2
 * without a word if @may_read: its reading commands open it read-only.
 */
static int lock_store(const char *store_dir, bool may_read)
{
	char path[PATH_MAX], info[PATH_MAX + 64] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/daemon.lock", store_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
		int e = errno;
		if (may_read)
			return -2;
		fprintf(stderr, "aria-cache: the store %s cannot be written "
			"(%s: %s): only reading commands (stats, ls, inspect, "
			"metrics, verify without --repair) work on it\n",
			store_dir, path, strerror(e));
		return -1;
	}
	ssize_t n = fd >= 0 ? pread(fd, info, sizeof(info) - 1, 0) : 0;
	info[n > 0 ? n - 1 : 0] = '\0';
	fprintf(stderr, "aria-cache: the store %s is in use (%s) but its "
		"daemon does not answer on %s/control.sock\n", store_dir,
		info[0] ? info : "by another program", store_dir);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* repair: never through a daemon (one that runs opened the store). */
static int repair_local(const char *store_dir, int argc, char **argv)
{
	char path[PATH_MAX];
	int fd, code;

	if (acfs_control_connect(store_dir, &fd) == 0) {
		close(fd);
		fprintf(stderr, "aria-cache repair: a daemon serves %s, so the "
			"store opened: nothing to repair (aria-cache verify "
			"checks every entry)\n", store_dir);
		return 1;
	}
	acfs_store_db_path(store_dir, path, sizeof(path));
	if (access(path, F_OK) < 0) {
		fprintf(stderr, "aria-cache repair: no store at %s\n",
			store_dir);
		return 1;
	}
	fd = lock_store(store_dir, false);
	if (fd < 0)
		return 1;
	code = acfs_repair_run(store_dir, argc, argv);
	close(fd);
	return code;
}

/* Commands that only read the store: they work on one this user cannot
 * write, opened read-only. */
static bool reading_command(int argc, char **argv)
{
	static const char *const readers[] = { "stats", "ls", "inspect",
					       "metrics", "verify" };
	bool reads = false;

	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
		reads |= strcmp(argv[0], readers[i]) == 0;
	for (int i = 1; i < argc && reads; i++)
		reads = strcmp(argv[i], "--repair") != 0;
	return reads;
}

/* Runs the command on the store itself; no daemon serves it. */
static int run_local(const char *store_dir, int argc, char **argv)
{
	char path[PATH_MAX], err[ACFS_ERR_MAX] = "";
	struct acfs_cmd_ctx ctx = { 0 };
	struct acfs_store_options ro = { .read_only = true };
	struct acfs_store *s;
	int fd, r, code;

	acfs_store_db_path(store_dir, path, sizeof(path));
	/* import fills a new store as well as an existing one (as a first
	 * mount would make it); every other command needs one. */
	if (access(path, F_OK) < 0 && strcmp(argv[0], "import") == 0 &&
	    mkdir(path, 0700) == 0)
		fprintf(stderr, "aria-cache: a new store in %s\n", store_dir);
	if (access(path, F_OK) < 0) {
		fprintf(stderr, "aria-cache: no store at %s (mount one with "
			"aria-cachefs --store %s MOUNTPOINT)\n", store_dir,
			store_dir);
		return 1;
	}
	fd = lock_store(store_dir, reading_command(argc, argv));
	if (fd == -1)
		return 1;
	acfs_store_db_path(store_dir, path, sizeof(path));
	r = acfs_store_open(path, fd == -2 ? &ro : NULL, &s, err);
	if (r < 0) {
		fprintf(stderr, "aria-cache: cannot open the store %s: %s\n",
			store_dir, err);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (acfs_store_kept_unreferenced(s) > 0)
		fprintf(stderr, "aria-cache: %u data files that the store's history "
			"does not name were kept in %s/unreferenced/, not "
			"deleted (left by an interrupted compaction, or lost "
			"from a damaged history: aria-cache verify checks "
			"every entry)\n", acfs_store_kept_unreferenced(s), path);
	ctx.store = s;
	ctx.store_dir = store_dir;
	ctx.out = stdout;
	ctx.err = stderr;
	ctx.progress = isatty(2);
	if (acfs_validator_new(NULL, 2, &ctx.validator) < 0) {
		fprintf(stderr, "aria-cache: out of memory\n");
		acfs_store_close(s);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	code = acfs_cmd_run(&ctx, argc, argv);
	acfs_validator_free(ctx.validator);
	acfs_store_close(s);
	if (fd >= 0)
		close(fd);
	return code;
}

int main(int argc, char **argv)
{
	const char *mnt = NULL, *store_arg = NULL;
	char *store_dir = NULL;
	int i, fd, code;
	/* A bitcode helper process of ours (acfs/validator.h). */
	if (argc == 2 && strcmp(argv[1], ACFS_VALIDATOR_ARG) == 0)
		return acfs_validator_main();

	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "directory", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	/* "+": options end at the command (its own options follow it). */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:C:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			mnt = optarg;
			break;
		case 's':
			store_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
		{
			char libs[256];
			acfs_library_versions(libs, sizeof(libs));
			printf("aria-cache %s (commit %s; store format %u)\n%s\n",
			       ACFS_VERSION, acfs_build_commit(),
			       ACFS_STORE_FORMAT, libs);
		}
			return 0;
		case ':':
			fprintf(stderr, "aria-cache: %s needs an argument (try "
				"aria-cache --help)\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "aria-cache: unknown option %s (try "
				"aria-cache --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	i = optind;
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	/* git's habit: `aria-cache help [COMMAND]`. */
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 == argc) {
			usage(stdout);
			return 0;
		}
		const struct acfs_cmd *h = acfs_cmd_find(argv[i + 1]);
		if (!h || i + 2 != argc) {
			fprintf(stderr, "aria-cache: help takes one command "
				"(try aria-cache --help)\n");
			return 2;
		}
		printf("usage: aria-cache %s %s\n\n%s\n", h->name, h->usage,
		       h->help);
		return 0;
	}
	const struct acfs_cmd *cmd = acfs_cmd_find(argv[i]);
	if (!cmd) {
		const char *near = acfs_cmd_suggest(argv[i]);
		if (near)
			fprintf(stderr, "aria-cache: unknown command %s; did "
				"you mean %s?\n", argv[i], near);
		else
			fprintf(stderr, "aria-cache: unknown command %s (try "
				"aria-cache --help)\n", argv[i]);
		return 2;
	}
	for (int k = i + 1; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
			printf("usage: aria-cache %s %s\n\n%s\n", cmd->name,
			       cmd->usage, cmd->help);
			return 0;
		}
	if (mnt && store_arg) {
		fprintf(stderr, "aria-cache: pass -C or --store, not both\n");
		return 2;
	}
	char found[PATH_MAX + 16];
	if (cmd->no_store) {
		/* config through a mount (-C, --store, or the project's):
		 * the settings its daemon runs with. */
		char *s = NULL;
		if (strcmp(cmd->name, "config") == 0)
			s = mnt ? store_of_dir(mnt)
			    : store_arg ? realpath(store_arg, NULL)
					: discover_mount(found, sizeof(found));
		if (s && acfs_control_connect(s, &fd) == 0) {
			code = acfs_control_call(fd, argc - i, argv + i, false,
						 stdout, stderr);
			close(fd);
			free(s);
			return code;
		}
		free(s);
		if (mnt)
			return 1; /* store_of_dir said why */
		struct acfs_cmd_ctx ctx = { .out = stdout, .err = stderr };
		return acfs_cmd_run(&ctx, argc - i, argv + i);
	}
	if (mnt)
		store_dir = store_of_dir(mnt);
	else if (store_arg) {
		if (strcmp(cmd->name, "import") == 0 &&
		    mkdir(store_arg, 0700) < 0 && errno != EEXIST)
			fprintf(stderr, "aria-cache: cannot make the store %s: "
				"%s\n", store_arg, strerror(errno));
		store_dir = realpath(store_arg, NULL);
	}
	else if (!(store_dir = discover_mount(found, sizeof(found))))
		/* No mount from here up: the default store. */
		store_dir = acfs_default_store();
	if (!store_dir) {
		if (store_arg)
			fprintf(stderr, "aria-cache: store %s: %s\n", store_arg,
				strerror(errno));
		else if (!mnt)
			fprintf(stderr, "aria-cache: no store: pass -C or "
				"--store\n");
		return 1;
	}

	/* clear asks here, where the terminal is, before doing anything. */
	char **args = argv + i;
	int nargs = argc - i;
	char *with_yes[ACFS_CONTROL_MAX_ARGS + 1];
	if (strcmp(cmd->name, "clear") == 0) {
		bool yes = false;
		for (int k = 1; k < nargs; k++)
			yes |= strcmp(args[k], "--yes") == 0 ||
			       strcmp(args[k], "-y") == 0;
		if (!yes) {
			if (!ask_clear(store_dir)) {
				free(store_dir);
				return 2;
			}
			if (nargs >= ACFS_CONTROL_MAX_ARGS) {
				free(store_dir);
				return 2;
			}
			for (int k = 0; k < nargs; k++)
				with_yes[k] = args[k];
			with_yes[nargs++] = "--yes";
			args = with_yes;
		}
	}
	if (nargs > ACFS_CONTROL_MAX_ARGS) {
		fprintf(stderr, "aria-cache: too many arguments (at most %d)\n",
			ACFS_CONTROL_MAX_ARGS);
		free(store_dir);
		return 2;
	}
	/* import reads DIR where the daemon runs (not in our cwd). */
	char *import_dir = NULL;
	if (strcmp(cmd->name, "import") == 0) {
		for (int k = 1; k < nargs; k++)
			if (args[k][0] != '-') {
				if (!(import_dir = realpath(args[k], NULL))) {
					fprintf(stderr, "aria-cache import: %s: "
						"%s\n", args[k], strerror(errno));
					free(store_dir);
					return 1;
				}
				if (args != with_yes) {
					for (int j = 0; j < nargs; j++)
						with_yes[j] = args[j];
					args = with_yes;
				}
				args[k] = import_dir;
				break;
			}
	}
	if (strcmp(cmd->name, "repair") == 0) {
		code = repair_local(store_dir, nargs, args);
		free(store_dir);
		return code;
	}
	if (strcmp(cmd->name, "gc") == 0 && acfs_control_connect(store_dir, &fd) == 0) {
		/* The daemon has no terminal: a gc that would remove most of
		 * the cache is asked here, then sent with --yes. */
		code = ask_gc(fd, store_dir, &nargs, &args, with_yes);
		close(fd);
		if (code) {
			free(store_dir);
			return code;
		}
	}
	int cr = acfs_control_connect(store_dir, &fd);
	if (cr == 0) {
		code = acfs_control_call(fd, nargs, args, isatty(2), stdout,
					 stderr);
		close(fd);
	} else if (cr == -EACCES || cr == -EPERM) {
		/* The daemon is there; its socket is its user's alone. */
		struct stat st;
		char sock[PATH_MAX + 32], owner[48] = "another user";
		snprintf(sock, sizeof(sock), "%s/control.sock", store_dir);
		if (stat(sock, &st) == 0)
			snprintf(owner, sizeof(owner), "uid %d", (int)st.st_uid);
		fprintf(stderr, "aria-cache: the daemon serving %s refused "
			"this user (%s on %s, which is %s's): run aria-cache "
			"as that user\n", store_dir, strerror(-cr), sock, owner);
		code = 1;
	} else {
		code = run_local(store_dir, nargs, args);
	}
	free(import_dir);
	free(store_dir);
	return code;
}
