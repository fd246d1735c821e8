/* SPDX-License-Identifier: MIT */
/*
 * aria-cachefs: mounts a monomorphization cache backed by a RocksDB store.
 *
 * Start-up order matters: RocksDB's lock and threads do not survive fork,
 * so the background fork happens first and the parent only waits for the
 * child to report "mounted" (or its exit status) through a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>
#include <ctype.h>
#include <dirent.h>
#include <ftw.h>

#include "acfs/config.h"
#include "acfs/paths.h"
#include "acfs/size.h"
#include "acfs/version.h"
#include "cachefs.h"
#include "config.h"
#include "control.h"
#include "daemon/mounts.h"
#include "daemon/notify.h"
#include "daemon/options.h"

/* ---- paths -------------------------------------------------------------- */

/* Lexically absolute and normalized ("a/../b" -> "b"); caller frees. */
static char *absolute_path(const char *path)
{
	char cwd[PATH_MAX], *joined, *out;
	size_t used = 0;

	if (path[0] == '/') {
		joined = strdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		if (asprintf(&joined, "%s/%s", cwd, path) < 0)
			joined = NULL;
	}
	if (!joined)
		return NULL;
	out = calloc(1, strlen(joined) + 2);
	if (!out) {
		free(joined);
		return NULL;
	}
	for (const char *c = joined; *c;) {
		size_t n;

		while (*c == '/')
			c++;
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.')) {
			/* nothing */
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (used > 0 && out[used] != '/')
				used--;
			out[used] = '\0';
		} else {
			out[used++] = '/';
			memcpy(out + used, c, n);
			used += n;
			out[used] = '\0';
		}
		c += n;
	}
	if (used == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	free(joined);
	return out;
}

static bool path_inside(const char *child, const char *parent)
{
	size_t n = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return true;
	return strncmp(child, parent, n) == 0 &&
	       (child[n] == '/' || child[n] == '\0');
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return r;
}

/* Files in the bare mountpoint: a plain cache from before the mount
 * existed, or what a compiler wrote while no daemon served it. A mount
 * would hide them. */
static unsigned long hidden_files, hidden_entries;
static char hidden_first[PATH_MAX];
static size_t hidden_root_len;

/* monomorph/<xx>/<name>.bc|.meta under the mountpoint: the compiler's
 * layout. */
static bool entry_layout(const char *rel)
{
	const char *name, *dot;

	if (strncmp(rel, "/monomorph/", 11) != 0)
		return false;
	rel += 11;
	if (!isxdigit((unsigned char)rel[0]) ||
	    !isxdigit((unsigned char)rel[1]) || rel[2] != '/')
		return false;
	name = rel + 3;
	if (strchr(name, '/'))
		return false;
	dot = strrchr(name, '.');
	return dot && (strcmp(dot, ".bc") == 0 || strcmp(dot, ".meta") == 0);
}

static int count_hidden(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F || type == FTW_SL) {
		if (!hidden_files++)
			snprintf(hidden_first, sizeof(hidden_first), "%s", path);
		if (entry_layout(path + hidden_root_len))
			hidden_entries++;
	}
	return hidden_files >= 1000000 ? 1 : 0;
}

/*
 * The bare mountpoint @mp must be empty unless --nonempty: a mount over
 * files hides them, and a plain cache there is worth importing first.
 * Returns 0 to go on, or -1 (refused, said why).
 */
static int check_bare(const char *mp, const char *store, bool nonempty)
{
	hidden_files = hidden_entries = 0;
	hidden_root_len = strlen(mp);
	nftw(mp, count_hidden, 16, FTW_PHYS | FTW_MOUNT);
	if (!hidden_files)
		return 0;
	if (nonempty) {
		fprintf(stderr, "aria-cachefs: %lu files were in the bare "
			"mountpoint %s (%s, ...); --nonempty: the mount hides "
			"them, untouched (unmount to see them)\n",
			hidden_files, mp, hidden_first);
		return 0;
	}
	if (hidden_entries)
		fprintf(stderr, "aria-cachefs: %s holds a plain cache: %lu "
			"entries in the compiler's layout (%s, ...), %lu files "
			"in all. A mount would hide them; keep what was built:\n"
			"  aria-cache --store %s import %s\n"
			"then move the directory's contents aside and mount "
			"again (or mount over them with --nonempty)\n", mp,
			hidden_entries, hidden_first, hidden_files, store, mp);
	else
		fprintf(stderr, "aria-cachefs: %s is not empty (%lu files, "
			"%s, ...): a mount would hide them. Move them aside, "
			"or mount over them with --nonempty\n", mp,
			hidden_files, hidden_first);
	return -1;
}

/* ---- the store lock ----------------------------------------------------- */

/* The daemon's lock on @store: 0 (held in *ret_fd), -EBUSY when another
 * daemon holds it (its "pid N mountpoint M" line in @info), or -errno. */
static int lock_store(const char *store, int *ret_fd, char *info,
		      size_t infolen)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/daemon.lock", store);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "aria-cachefs: cannot open %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, info, infolen - 1, 0);
		info[n > 0 ? n : 0] = '\0';
		for (char *c = info; *c; c++)
			if (*c == '\n')
				*c = ' ';
		close(fd);
		return -EBUSY;
	}
	*ret_fd = fd;
	return 0;
}

/* The "pid N mountpoint M" line of @store's daemon, without locking. */
static void read_lock_info(const char *store, char *info, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/daemon.lock", store);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = pread(fd, info, len - 1, 0);
	info[n > 0 ? n : 0] = '\0';
	info[strcspn(info, "\n")] = '\0';
	close(fd);
}

static void lock_info(int fd, const char *mp)
{
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "pid %d version %s+%s mountpoint %s", (int)getpid(),
			ACFS_VERSION, acfs_build_commit(), mp);
}

/* ---- another daemon serves the store -------------------------------------- */

/* Is @mp a live aria-cachefs mount? Its store in @store. */
static bool live_mount(const char *mp, char *store, size_t len)
{
	ssize_t n = getxattr(mp, "user.aria.store", store, len - 1);

	if (n < 0)
		return false;
	store[n] = '\0';
	return true;
}

/* Runs @argv in the daemon serving @store_dir: its exit code, or -errno
 * when no daemon answers. */
static int ask_daemon(const char *store_dir, int argc, char **argv)
{
	int fd, r = acfs_control_connect(store_dir, &fd);

	if (r < 0)
		return r;
	r = acfs_control_call(fd, argc, argv, false, stdout, stderr);
	close(fd);
	return r;
}

/* In the foreground: until the mount at @mp is gone (0), or its daemon
 * went away (1: a unit restarts us, and we serve it anew). */
static int wait_mount(const char *store_dir, const char *mp)
{
	char *argv[] = { ACFS_MOUNT_REQUEST, "wait", (char *)mp };
	char state[PATH_MAX + 64];

	snprintf(state, sizeof(state), "READY=1\nSTATUS=%s served by the "
		 "store's daemon", mp);
	daemon_notify(state);
	int r = ask_daemon(store_dir, 3, argv);
	if (r == 0)
		return 0;
	fprintf(stderr, "aria-cachefs: the daemon serving %s stopped\n", mp);
	return 1;
}

/*
 * The store's daemon runs: asks it to serve @mp too (FUSE options @fargv).
 * Returns the exit status for main, or -EAGAIN when the daemon went away
 * (the caller then starts one). In the foreground, stays until the mount
 * is gone, so that a unit (Type=notify) has a process for it.
 */
static int join_daemon(const char *store_dir, const char *mp, int fargc,
		       char **fargv, bool foreground, const char *info)
{
	char *argv[ACFS_CONTROL_MAX_ARGS];
	int argc = 0, r;

	argv[argc++] = ACFS_MOUNT_REQUEST;
	argv[argc++] = "add";
	argv[argc++] = (char *)mp;
	for (int i = 0; i < fargc && argc < ACFS_CONTROL_MAX_ARGS; i++)
		argv[argc++] = fargv[i];
	r = ask_daemon(store_dir, argc, argv);
	if (r == -ENOENT || r == -ECONNREFUSED || r == ACFS_MOUNT_STOPPING)
		return -EAGAIN;
	if (r < 0) {
		fprintf(stderr, "aria-cachefs: the daemon serving %s (%s) does "
			"not answer: %s\n", store_dir, info, strerror(-r));
		return 1;
	}
	if (r != 0)
		return r;
	fprintf(stderr, "aria-cachefs: mounted %s (store %s, served by the "
		"daemon already running: %s)\n", mp, store_dir, info);
	/* A newer (or older) binary joining: the running daemon's code
	 * serves the mount until the last mount of the store is gone. */
	char mine[128];
	snprintf(mine, sizeof(mine), " version %s+%s ", ACFS_VERSION,
		 acfs_build_commit());
	if (!strstr(info, mine))
		fprintf(stderr, "aria-cachefs: note: this is aria-cachefs %s+%s; "
			"the daemon serving the store runs another build (%s): "
			"it serves this mount too, with its own code and store "
			"format, until every mount of the store is unmounted; "
			"mount again then to run this one\n",
			ACFS_VERSION, acfs_build_commit(), info);
	if (!foreground)
		return 0;
	return wait_mount(store_dir, mp);
}

/* Staged bytes do not outlive a mount (the SPEC: discarded at mount). */
static int prepare_staging(const char *store, int *ret_dfd)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int dfd;

	snprintf(path, sizeof(path), "%s/staging", store);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dup(dfd));
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dfd, de->d_name, 0);
		closedir(d);
	}
	*ret_dfd = dfd;
	return 0;
}

/* ---- background start --------------------------------------------------- */

/* In the parent: waits for the child's verdict and exits with it. */
static int go_background(int *ret_notify_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		int status = 0;
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		waitpid(pid, &status, 0);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	}
	close(p[0]);
	setsid();
	*ret_notify_fd = p[1];
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}


/*
 * Every temp file a client holds open is a staging file here: allow as
 * many as the hard limit permits (max_tmp_files caps them below that).
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The fd budget, planned as a whole from RLIMIT_NOFILE so that no one
 * user of descriptors can starve another: a client holding the most temp
 * files it may must leave RocksDB its table and blob files, and reads of
 * committed entries keep working.
 *   fixed      64: stdio, /dev/fuse, the lock, the staging directory, the
 *              control socket, eventfds, log, spill files being mapped
 *   helpers    2 per core (LLVM helpers' sockets, one being started)
 *   control    ACFS_CONTROL_CLIENTS_MAX clients at once
 *   remotes    64 connections
 *   RocksDB    a quarter of what is left, at least 64, at most 4096
 *              (max_open_files; WAL and MANIFEST within the margin)
 *   margin     32
 *   temp files the rest, at most 16384.
 */
#define FD_FIXED 64
#define FD_REMOTES 64
#define FD_MARGIN 32

static int plan_fds(int *ret_rocksdb, unsigned *ret_tmp)
{
	struct rlimit rl;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long limit, left, db, tmp;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 1 << 20;
	limit = (long)rl.rlim_cur;
	left = limit - FD_FIXED - 2 * (ncpu > 0 ? ncpu : 1) -
	       ACFS_CONTROL_CLIENTS_MAX - FD_REMOTES - FD_MARGIN;
	db = left / 4;
	db = db < 64 ? 64 : db > 4096 ? 4096 : db;
	tmp = left - db;
	if (tmp > 16384)
		tmp = 16384;
	if (tmp < 16) {
		fprintf(stderr, "aria-cachefs: the open-file limit (ulimit -n "
			"%ld) is too low: the daemon needs at least %ld "
			"(RocksDB, helpers, control clients, 16 temp files); "
			"raise it (LimitNOFILE= in a unit)\n", limit,
			limit - tmp + 16);
		return -1;
	}
	*ret_rocksdb = (int)db;
	*ret_tmp = (unsigned)tmp;
	return 0;
}

/* The settings the requests read, from @cfg (parsed and checked). */
static void apply_config(struct acfs_daemon *d, const struct acfs_config *cfg)
{
	const char *t = getenv("ARIA_CACHE_TRACE");

	d->max_size = cfg->max_size;
	d->max_entry_size = cfg->max_entry_size;
	d->validate = cfg->validate;
	d->target = cfg->value[ACFS_SET_TARGET];
	d->kernel_hits = cfg->kernel_hits;
	d->verify_reads = cfg->verify_reads;
	d->evict_general = cfg->evict_general;
	d->max_loaded = cfg->max_loaded;
	d->stage_mem_max = cfg->max_loaded / 4;
	d->trace = t && *t && strcmp(t, "0") != 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct options opts = { 0 };
	struct acfs_store_options sopts = { 0 };
	struct acfs_daemon daemon = { .staging_dfd = -1, .wake_fd = -1,
				      .signal_fd = -1, .use_fd = -1,
				      .use_stop_fd = -1 };
	char *store_dir = NULL, *mp = NULL, err[ACFS_ERR_MAX] = "";
	struct acfs_config cfg = { 0 };
	char dbdir[PATH_MAX], *recorded = NULL;
	int lock_fd = -1, notify_fd = -1, ret = 1, r;
	bool made_mp = false;

	/* A bitcode helper process of ours (acfs/validator.h). */
	if (argc == 2 && strcmp(argv[1], ACFS_VALIDATOR_ARG) == 0)
		return acfs_validator_main();
	raise_fd_limit();
	/* Entry-sized buffers (blob values, decompressed bytes) go back to
	 * the system when freed: glibc otherwise raises its mmap threshold
	 * after the first large free and keeps later ones in its heap, so
	 * the daemon's memory would follow its largest past reads, not
	 * --max-loaded. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (options_parse(&args, &opts) < 0)
		return 2;
	if (opts.show_help) {
		options_usage(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		char libs[256];
		acfs_library_versions(libs, sizeof(libs));
		printf("aria-cachefs %s (commit %s; store format %u)\n"
		       "libfuse %s, %s\n",
		       ACFS_VERSION, acfs_build_commit(), ACFS_STORE_FORMAT,
		       fuse_pkgversion(),
		       libs);
		ret = 0;
		goto out_args;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "usage: %s [options] MOUNTPOINT (try --help)\n",
			argv[0]);
		ret = 2;
		goto out_args;
	}
	/* Settings: command line > environment > user > system > defaults.
	 * Checked before anything is made: a usage error leaves no trace. */
	if (acfs_config_load(&cfg, err) < 0 || options_apply(&opts, &cfg, err) < 0) {
		fprintf(stderr, "aria-cachefs: %s\n", err);
		ret = 2;
		goto out_args;
	}
	{
		struct stat st;
		if (stat(opts.mountpoint, &st) == 0 && !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "aria-cachefs: mountpoint %s is not a "
				"directory\n", opts.mountpoint);
			ret = 2;
			goto out_args;
		}
	}
	/* Paths: the mountpoint (made if absent) and the store outside it.
	 * A stale mount stays until the moment we mount (below): while it
	 * is stale a compiler gets ENOTCONN, where a bare directory would
	 * take files the mount then hides. */
	made_mp = access(opts.mountpoint, F_OK) < 0;
	if (mkdir_p(opts.mountpoint, 0755) < 0 ||
	    !(mp = realpath(opts.mountpoint, NULL))) {
		fprintf(stderr, "aria-cachefs: mountpoint %s: %s\n",
			opts.mountpoint, strerror(errno));
		goto out_args;
	}
	/* Device nodes of the ordinary tree are kept, never opened. */
	if (fuse_opt_add_arg(&args, mp) != 0 ||
	    fuse_opt_add_arg(&args, "-onodev") != 0 ||
	    add_default_permissions(&args) != 0 ||
	    fuse_parse_cmdline(&args, &cmd) != 0) {
		ret = 2;
		goto out_args;
	}
	if (options_check_fuse(&args) < 0) {
		ret = 2;
		goto out_args;
	}
	apply_config(&daemon, &cfg);
	/* One LLVM helper per core; started at the first commit. */
	if (acfs_validator_new(NULL, (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			       &daemon.validator) < 0) {
		fprintf(stderr, "aria-cachefs: out of memory\n");
		goto out_args;
	}
	store_dir = absolute_path(cfg.value[ACFS_SET_STORE]);
	if (!store_dir) {
		fprintf(stderr, "aria-cachefs: no store directory: pass --store "
			"DIR or set ARIA_CACHE_STORE or HOME\n");
		goto out_args;
	}
	if (path_inside(store_dir, mp)) {
		fprintf(stderr, "aria-cachefs: the store %s is inside the "
			"mountpoint %s; the daemon must never use its own "
			"mount: choose a store elsewhere (--store DIR)\n",
			store_dir, mp);
		ret = 2;
		goto out_args;
	}
	{
		/* A store inside any aria-cachefs mount (another project's
		 * cache) would be served through FUSE by a daemon: refused. */
		char up[PATH_MAX], owner[PATH_MAX];
		snprintf(up, sizeof(up), "%s", store_dir);
		for (char *slash; (slash = strrchr(up, '/')) && slash != up;) {
			*slash = '\0';
			if (live_mount(up, owner, sizeof(owner))) {
				fprintf(stderr, "aria-cachefs: the store %s is "
					"inside the aria-cachefs mount %s (store "
					"%s): choose a store outside every "
					"cache mount (--store DIR)\n", store_dir,
					up, owner);
				ret = 2;
				goto out_args;
			}
		}
	}
	if ((r = mkdir_p(store_dir, 0700)) < 0) {
		fprintf(stderr, "aria-cachefs: cannot create store %s: %s\n",
			store_dir, strerror(-r));
		goto out_args;
	}
	char *real_store = realpath(store_dir, NULL);
	if (real_store && path_inside(real_store, mp)) {
		fprintf(stderr, "aria-cachefs: the store %s resolves to %s, "
			"inside the mountpoint %s; choose a store elsewhere\n",
			store_dir, real_store, mp);
		free(real_store);
		ret = 2;
		goto out_args;
	}
	free(real_store);

	/* A live aria-cachefs mount here already: stacking a second one on
	 * it would switch compilers to another cache without a word. */
	char info[PATH_MAX + 64] = "", other[PATH_MAX] = "";
	if (live_mount(mp, other, sizeof(other))) {
		char *real_other = realpath(other, NULL);
		char *real_mine = realpath(store_dir, NULL);
		bool same = real_other && real_mine &&
			    strcmp(real_other, real_mine) == 0;
		free(real_other);
		free(real_mine);
		if (same && lock_store(store_dir, &lock_fd, info,
				       sizeof(info)) == -EBUSY &&
		    cmd.foreground) {
			/* A unit restarted while its mount lives on (its
			 * daemon brought it back): stay for it. */
			ret = wait_mount(store_dir, mp);
			goto out_args;
		}
		if (!info[0])
			read_lock_info(other, info, sizeof(info));
		fprintf(stderr, "aria-cachefs: %s is already a live "
			"aria-cachefs mount (store %s%s%s); unmount it first: "
			"fusermount3 -u %s\n", mp, other,
			info[0] ? ", daemon " : "", info, mp);
		goto out_lock;
	}
	/* One daemon serves every mount of a store: if one runs, it adds
	 * this mount. */
	for (int tries = 0;; tries++) {
		info[0] = '\0';
		r = lock_store(store_dir, &lock_fd, info, sizeof(info));
		if (r != -EBUSY)
			break;
		if (tries == 0 && check_bare(mp, store_dir, cfg.nonempty) < 0)
			goto out_args;
		r = join_daemon(store_dir, mp, args.argc - 1, args.argv + 1,
				cmd.foreground, info);
		if (r != -EAGAIN) {
			ret = r;
			goto out_args;
		}
		/* The daemon is starting (no control socket yet) or
		 * stopping (its lock goes with it): ask again shortly. */
		if (tries == 300) {
			fprintf(stderr, "aria-cachefs: store %s is locked by "
				"a daemon that does not answer (%s)\n",
				store_dir, info);
			goto out_args;
		}
		usleep(100 * 1000);
	}
	if (r < 0)
		goto out_args;
	if (!cmd.foreground && go_background(&notify_fd) < 0) {
		perror("aria-cachefs: fork");
		goto out_lock;
	}
	lock_info(lock_fd, mp);
	/* Before RocksDB starts threads: they inherit the signal mask. */
	if ((r = fs_mounts_signals(&daemon)) < 0) {
		fprintf(stderr, "aria-cachefs: signals: %s\n", strerror(-r));
		goto out_lock;
	}
	if ((r = prepare_staging(store_dir, &daemon.staging_dfd)) < 0) {
		fprintf(stderr, "aria-cachefs: staging directory in %s: %s\n",
			store_dir, strerror(-r));
		goto out_lock;
	}
	if (plan_fds(&sopts.max_open_files, &daemon.max_tmp_files) < 0)
		goto out_lock;
	if (acfs_store_db_path(store_dir, dbdir, sizeof(dbdir)) < 0) {
		fprintf(stderr, "aria-cachefs: store path too long: %s\n",
			store_dir);
		goto out_lock;
	}
	sopts.sync = cfg.sync;
	sopts.zstd_level = cfg.compress_level ? cfg.compress_level : -1;
	if ((r = acfs_store_open(dbdir, &sopts, &daemon.store, err)) < 0) {
		fprintf(stderr, "aria-cachefs: cannot open store %s: %s\n",
			dbdir, err);
		goto out_lock;
	}
	if (acfs_store_kept_unreferenced(daemon.store) > 0)
		fprintf(stderr, "aria-cachefs: %u data files that the store's history "
			"does not name were kept in %s/unreferenced/, not "
			"deleted (left by an interrupted compaction, or lost "
			"from a damaged history: aria-cache verify checks "
			"every entry)\n", acfs_store_kept_unreferenced(daemon.store), dbdir);
	daemon.store_dir = store_dir;
	daemon.config = &cfg;
	daemon.low_water_pct = 90;
	daemon.flush_secs = 5;
	daemon.control_fd = -1;
	if ((r = acfs_store_set_budget(daemon.store, daemon.max_size)) < 0)
		fprintf(stderr, "aria-cachefs: cannot record the budget in %s: "
			"%s\n", store_dir, strerror(-r));
	daemon.mount_uid = getuid();
	daemon.mount_gid = cfg.has_group ? (gid_t)cfg.group_gid : getgid();
	daemon.mount_dir_mode = cfg.has_group ? 0775 : 0755;
	daemon.singlethread = cmd.singlethread;
	daemon.clone_fd = cmd.clone_fd;
	daemon.max_threads = cmd.max_threads > 0 && cmd.max_threads <= 1024
			     ? cmd.max_threads : 16;
	daemon.max_idle_threads = cmd.max_idle_threads;
	daemon.start_ns = acfs_now_ns();
	pthread_rwlock_init(&daemon.ns_lock, NULL);
	pthread_mutex_init(&daemon.verified_lock, NULL);
	pthread_mutex_init(&daemon.commit_lock, NULL);
	pthread_cond_init(&daemon.commit_cv, NULL);
	pthread_mutex_init(&daemon.mounts_lock, NULL);
	pthread_mutex_init(&daemon.deliver_lock, NULL);
	acfs_log_init(!cmd.foreground, cmd.debug);
	if (fs_lru_start(&daemon) < 0) {
		fprintf(stderr, "aria-cachefs: cannot start the housekeeping "
			"thread\n");
		goto out_store;
	}
	if ((r = fs_uses_start(&daemon)) < 0)
		acfs_log_say(LOG_ERR, "cannot watch for opens (inotify: %s): "
			     "lookups count as uses instead", strerror(-r));
	daemon.commit_fetched = fs_commit_fetched;
	daemon.commit_closed = fs_commit_closed;
	if (fs_remote_start(&daemon, &cfg) < 0)
		acfs_log(LOG_ERR, "cannot start the remote tiers (see "
			 "above); serving local data only");
	/* The store is open: only now is a stale mount (of a daemon that
	 * died; its lock is ours) cleared, so the mountpoint is bare for the
	 * time of one nftw and one mount(2), not for the store's recovery. */
	if (fs_clear_stale_mount(mp) < 0)
		goto out_threads;
	if (check_bare(mp, store_dir, cfg.nonempty) < 0)
		goto out_threads;
	recorded = fs_mounts_recorded(&daemon);
	if (fs_mount_add(&daemon, mp, args.argc - 1, args.argv + 1, err,
			 sizeof(err)) < 0) {
		fprintf(stderr, "aria-cachefs: %s\n", err);
		goto out_threads;
	}
	if (hidden_files)
		acfs_log(LOG_WARNING, "%lu files were in the bare mountpoint "
			 "%s (%s, ...); --nonempty: the mount hides them",
			 hidden_files, mp, hidden_first);
	/* The other mounts this store's daemon served when it died. */
	fs_mounts_recover(&daemon, recorded, mp);
	free(recorded);
	recorded = NULL;
	if (fs_control_start(&daemon) < 0)
		acfs_log_say(LOG_ERR, "aria-cache cannot reach this daemon (see "
			     "above): the mount serves, but stats, gc and sync "
			     "work only once it is remounted");
	{
		char state[PATH_MAX * 2 + 100];
		snprintf(state, sizeof(state), "READY=1\nMAINPID=%d\n"
			 "STATUS=serving %s (store %s)", (int)getpid(), mp,
			 store_dir);
		daemon_notify(state);
	}
	if (notify_fd >= 0) {
		/* Whoever started us in the background learns where and
		 * with which store (the log may go to the journal). */
		fprintf(stderr, "aria-cachefs: mounted %s (store %s, pid %d)\n",
			mp, store_dir, (int)getpid());
		if (write(notify_fd, "", 1) != 1)
			acfs_log(LOG_WARNING, "could not notify the parent");
		close(notify_fd);
		notify_fd = -1;
		detach_stdio();
		if (chdir("/") < 0)
			acfs_log(LOG_WARNING, "chdir /: %s", strerror(errno));
	}
	/* Until the last mount is gone; a stop signal unmounts them all
	 * (exit 0, as an unmount). */
	ret = fs_mounts_run(&daemon) == 0 ? 0 : 1;
	acfs_log(LOG_INFO, "the last mount is gone: stopping");
	daemon_notify("STOPPING=1");
out_threads:
	free(recorded);
	fs_remote_stop(&daemon);
	if (!fs_control_stop(&daemon)) {
		/* A command still uses the store: leave it open, make every
		 * write so far durable, and go as kill -9 would (the WAL
		 * replays at the next mount). Never hold the store's lock
		 * past an unmount or a SIGTERM. */
		acfs_store_sync(daemon.store);
		_exit(ret);
	}
	fs_remote_free(&daemon);
	fs_uses_stop(&daemon);  /* the reader thread ends */
	fs_lru_stop(&daemon);   /* the keeper ends; its last flush drains */
	fs_uses_free(&daemon);
	fs_verified_release(&daemon);
	pthread_rwlock_destroy(&daemon.ns_lock);
out_store:
	acfs_store_close(daemon.store);
out_lock:
	if (daemon.staging_dfd >= 0)
		close(daemon.staging_dfd);
	if (lock_fd >= 0)
		close(lock_fd);
out_args:
	/* A usage error leaves no trace: the mountpoint made for it goes. */
	if (ret == 2 && made_mp && mp)
		rmdir(mp);
	acfs_validator_free(daemon.validator);
	free(store_dir);
	free(mp);
	free(cmd.mountpoint);
	options_release(&opts);
	acfs_config_release(&cfg);
	fuse_opt_free_args(&args);
	return ret;
}
