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
#include <syslog.h>
#include <unistd.h>
#include <dirent.h>
#include <ftw.h>

#include "acfs/config.h"
#include "acfs/paths.h"
#include "acfs/size.h"
#include "acfs/version.h"
#include "cachefs.h"
#include "config.h"
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

/* A daemon killed with -9 leaves "Transport endpoint is not connected". */
/* Files in the bare mountpoint: a compiler that wrote while no daemon
 * served it (between a crash and the restart) left them there, and the
 * mount is about to hide them. */
static unsigned long hidden_files;
static char hidden_first[PATH_MAX];

static int count_hidden(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F || type == FTW_SL) {
		if (!hidden_files++)
			snprintf(hidden_first, sizeof(hidden_first), "%s", path);
	}
	return hidden_files >= 1000000 ? 1 : 0;
}

static void report_hidden(const char *mp)
{
	hidden_files = 0;
	nftw(mp, count_hidden, 16, FTW_PHYS | FTW_MOUNT);
	if (!hidden_files)
		return;
	fprintf(stderr, "aria-cachefs: %lu files were written into the bare "
		"mountpoint %s while no daemon served it (%s, ...); the mount "
		"hides them, nothing was imported: unmount to see them, move "
		"them aside, and store them again through the mount\n",
		hidden_files, mp, hidden_first);
}

static int clear_stale_mount(const char *mp)
{
	struct statfs sfs;

	/* statfs always reaches the filesystem; stat may be answered from
	 * attributes the kernel still caches for a dead daemon's root. */
	if (statfs(mp, &sfs) == 0 || errno != ENOTCONN)
		return 0;
	fprintf(stderr, "aria-cachefs: %s is a stale mount of a daemon that "
		"died; unmounting it first\n", mp);
	if (geteuid() == 0 && umount2(mp, MNT_DETACH) == 0)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", mp,
		       (char *)NULL);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "aria-cachefs: could not clear the stale mount "
			"at %s; run: fusermount3 -u -z %s\n", mp, mp);
		return -EBUSY;
	}
	return 0;
}

/* ---- the store lock ----------------------------------------------------- */

static int lock_store(const char *store, const char *mp, int *ret_fd)
{
	char path[PATH_MAX], info[PATH_MAX + 64] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/daemon.lock", store);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "aria-cachefs: cannot open %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = pread(fd, info, sizeof(info) - 1, 0);
		info[n > 0 ? n : 0] = '\0';
		for (char *c = info; *c; c++)
			if (*c == '\n')
				*c = ' ';
		fprintf(stderr, "aria-cachefs: store %s is in use by another "
			"aria-cachefs (%s); unmount that one first or pass "
			"another --store\n", store,
			info[0] ? info : "pid unknown");
		close(fd);
		return -EBUSY;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "pid %d mountpoint %s\n", (int)getpid(), mp);
	*ret_fd = fd;
	return 0;
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
static void apply_config(struct acfs_fs *fs, const struct acfs_config *cfg)
{
	const char *t = getenv("ARIA_CACHE_TRACE");

	fs->d->max_size = cfg->max_size;
	fs->d->max_entry_size = cfg->max_entry_size;
	fs->d->validate = cfg->validate;
	fs->d->target = cfg->value[ACFS_SET_TARGET];
	fs->d->kernel_hits = cfg->kernel_hits;
	fs->d->verify_reads = cfg->verify_reads;
	fs->d->evict_general = cfg->evict_general;
	fs->d->max_loaded = cfg->max_loaded;
	fs->kernel_entry_timeout = 30.0;
	fs->d->trace = t && *t && strcmp(t, "0") != 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct options opts = { 0 };
	struct acfs_store_options sopts = { 0 };
	struct acfs_daemon daemon = { .staging_dfd = -1 };
	struct acfs_fs fs = { .d = &daemon };
	struct fuse_loop_config *loop = NULL;
	char *store_dir = NULL, *mp = NULL, err[ACFS_ERR_MAX] = "";
	struct acfs_config cfg = { 0 };
	char dbdir[PATH_MAX];
	int lock_fd = -1, notify_fd = -1, ret = 1, r;

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
		printf("aria-cachefs %s (commit %s)\nlibfuse %s, %s\n",
		       ACFS_VERSION, acfs_build_commit(), fuse_pkgversion(),
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
	/* Paths: the mountpoint (made if absent) and the store outside it.
	 * A stale mount stays until the moment we mount (below): while it
	 * is stale a compiler gets ENOTCONN, where a bare directory would
	 * take files the mount then hides. */
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
	/* Settings: command line > environment > user > system > defaults. */
	if (acfs_config_load(&cfg, err) < 0 || options_apply(&opts, &cfg, err) < 0) {
		fprintf(stderr, "aria-cachefs: %s\n", err);
		ret = 2;
		goto out_args;
	}
	apply_config(&fs, &cfg);
	/* One LLVM helper per core; started at the first commit. */
	if (acfs_validator_new(NULL, (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			       &fs.d->validator) < 0) {
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

	if (!cmd.foreground && go_background(&notify_fd) < 0) {
		perror("aria-cachefs: fork");
		goto out_args;
	}
	if (lock_store(store_dir, mp, &lock_fd) < 0)
		goto out_args;
	if ((r = prepare_staging(store_dir, &fs.d->staging_dfd)) < 0) {
		fprintf(stderr, "aria-cachefs: staging directory in %s: %s\n",
			store_dir, strerror(-r));
		goto out_lock;
	}
	if (plan_fds(&sopts.max_open_files, &fs.d->max_tmp_files) < 0)
		goto out_lock;
	if (acfs_store_db_path(store_dir, dbdir, sizeof(dbdir)) < 0) {
		fprintf(stderr, "aria-cachefs: store path too long: %s\n",
			store_dir);
		goto out_lock;
	}
	sopts.sync = cfg.sync;
	sopts.zstd_level = cfg.compress_level ? cfg.compress_level : -1;
	if ((r = acfs_store_open(dbdir, &sopts, &fs.d->store, err)) < 0) {
		fprintf(stderr, "aria-cachefs: cannot open store %s: %s\n",
			dbdir, err);
		goto out_lock;
	}
	fs.d->store_dir = store_dir;
	fs.mountpoint = mp;
	fs.d->config = &cfg;
	fs.d->low_water_pct = 90;
	fs.d->flush_secs = 5;
	fs.d->control_fd = -1;
	pthread_mutex_init(&fs.d->lru_lock, NULL);
	pthread_cond_init(&fs.d->lru_cv, NULL);
	pthread_cond_init(&fs.d->room_cv, NULL);
	pthread_mutex_init(&fs.inval_lock, NULL);
	pthread_cond_init(&fs.inval_cv, NULL);
	if ((r = acfs_store_set_budget(fs.d->store, fs.d->max_size)) < 0)
		fprintf(stderr, "aria-cachefs: cannot record the budget in %s: "
			"%s\n", store_dir, strerror(-r));
	fs.uid = getuid();
	fs.gid = cfg.has_group ? (gid_t)cfg.group_gid : getgid();
	fs.dir_mode = cfg.has_group ? 0775 : 0755;
	fs.d->start_ns = acfs_now_ns();
	fs.entry_timeout = 86400.0;
	fs.neg_timeout = 86400.0;
	pthread_rwlock_init(&fs.d->ns_lock, NULL);
	pthread_mutex_init(&fs.d->verified_lock, NULL);
	pthread_mutex_init(&fs.d->commit_lock, NULL);
	pthread_cond_init(&fs.d->commit_cv, NULL);
	if (inode_table_init(&fs) < 0)
		goto out_store;

	fs.se = fuse_session_new(&args, &acfs_ops, sizeof(acfs_ops), &fs);
	if (!fs.se)
		goto out_itab;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	/* The store is open and the session ready: only now is a stale
	 * mount (of a daemon that died; its lock is ours) cleared, so the
	 * mountpoint is bare for the time of one nftw and one mount(2), not
	 * for the store's recovery. */
	if (clear_stale_mount(mp) < 0)
		goto out_signals;
	report_hidden(mp);
	if (fuse_session_mount(fs.se, mp) != 0) {
		/* A stale mount of another store's daemon that died meanwhile:
		 * clear it and try once more. */
		struct statfs sfs;
		if (statfs(mp, &sfs) < 0 && errno == ENOTCONN &&
		    clear_stale_mount(mp) == 0 &&
		    fuse_session_mount(fs.se, mp) == 0)
			goto mounted;
		fprintf(stderr, "aria-cachefs: cannot mount at %s\n", mp);
		goto out_signals;
	}
mounted:
	acfs_log_init(!cmd.foreground, cmd.debug);
	if (hidden_files)
		acfs_log(LOG_WARNING, "%lu files were written into the bare "
			 "mountpoint %s while no daemon served it (%s, ...); "
			 "the mount hides them", hidden_files, mp,
			 hidden_first);
	if (fs_lru_start(&fs) < 0) {
		fprintf(stderr, "aria-cachefs: cannot start the housekeeping "
			"thread\n");
		goto out_unmount;
	}
	fs.d->commit_fetched = fs_commit_fetched;
	if (fs_remote_start(&fs, &cfg) < 0)
		acfs_log(LOG_ERR, "cannot start the remote tiers (see "
			 "above); serving local data only");
	fs_control_start(&fs);
	acfs_log(LOG_INFO, "mounted %s (store %s)", mp, store_dir);
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

	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(loop, cmd.clone_fd);
	fuse_loop_cfg_set_max_threads(loop, cmd.max_threads > 0 &&
					 cmd.max_threads <= 1024
					 ? cmd.max_threads
					 : 16);
	/* libfuse 3.14 warns about its own "unset" value if passed on. */
	if (cmd.max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(loop, cmd.max_idle_threads);
	/* The loop returns the signal that ended it (libfuse 3.14 keeps it
	 * as the session's error): SIGTERM, SIGINT and SIGHUP are a clean
	 * stop, exit 0. */
	int lr = cmd.singlethread ? fuse_session_loop(fs.se)
				  : fuse_session_loop_mt(fs.se, loop);
	ret = lr == 0 || lr == SIGTERM || lr == SIGINT || lr == SIGHUP ? 0 : 1;
	fuse_loop_cfg_destroy(loop);
	acfs_log(LOG_INFO, "unmounting %s", mp);
	daemon_notify("STOPPING=1");
out_unmount:
	fs_remote_stop(&fs);
	if (!fs_control_stop(&fs)) {
		/* A command still uses the store: leave it open, make every
		 * write so far durable, and go as kill -9 would (the WAL
		 * replays at the next mount). Never hold the store's lock
		 * past an unmount or a SIGTERM. */
		fuse_session_unmount(fs.se);
		acfs_store_sync(fs.d->store);
		_exit(ret);
	}
	fs_remote_free(&fs);
	fs_lru_stop(&fs);
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_itab:
	inode_table_release(&fs);
	fs_verified_release(&fs);
	pthread_rwlock_destroy(&fs.d->ns_lock);
out_store:
	acfs_store_close(fs.d->store);
out_lock:
	if (fs.d->staging_dfd >= 0)
		close(fs.d->staging_dfd);
	if (lock_fd >= 0)
		close(lock_fd);
out_args:
	acfs_validator_free(fs.d->validator);
	free(store_dir);
	free(mp);
	free(cmd.mountpoint);
	options_release(&opts);
	acfs_config_release(&cfg);
	fuse_opt_free_args(&args);
	return ret;
}
