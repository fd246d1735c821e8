/* SPDX-License-Identifier: MIT */
/*
 * The mounts one daemon serves: every mountpoint of its store, each a FUSE
 * session of its own with its own inode table and notifier, run by a
 * thread of its own; the store, budget, LRU, validator and remotes are
 * the daemon's (struct acfs_daemon), shared by all.
 *
 * Life of a mount: fs_mount_add mounts it, puts it on d->mounts and starts
 * its session; when the session ends (fusermount3 -u, or the daemon
 * stops) its thread marks it ended and wakes the main thread, which takes
 * it off the list, unmounts it and frees it (fs_mounts_run). The daemon
 * returns from fs_mounts_run when its last mount is gone.
 *
 * Which mounts a daemon serves is recorded in STORE/mounts (a line per
 * mount: its path and FUSE options, each escaped), rewritten atomically
 * at each change: after a crash, the daemon started next brings back
 * every mount recorded there that is a stale mount now.
 *
 * Another `aria-cachefs MOUNTPOINT` of the same store asks this daemon,
 * over the control socket, to add its mount (fs_mount_request), and in
 * the foreground waits until that mount is gone.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <poll.h>
#include <syslog.h>
#include <unistd.h>

#include "cachefs.h"
#include "cmd.h"
#include "control.h"
#include "daemon/mounts.h"
#include "daemon/options.h"

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- stale mounts -------------------------------------------------------- */

int fs_clear_stale_mount(const char *mp)
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
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
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

/* ---- the record of mounts ------------------------------------------------ */

static void record_path(struct acfs_daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s/mounts", d->store_dir);
}

/*
 * The record's format (version 2): a first line "aria-cachefs mounts 2",
 * then a line per mount, its fields separated by TABs: the mountpoint, then
 * each FUSE argument exactly as the mount got it. Every byte of a field
 * outside [A-Za-z0-9/._,=+:@-] is written %XX, so a TAB, newline, '%' or
 * any other byte a path may hold never splits a field or a line: each
 * argument comes back as the one argument it was, never parsed out of a
 * string a path could reach. Version 1 (no first line, raw fields) is not
 * read back: its fields cannot be told apart from a path's TABs.
 */
#define RECORD_HEADER "aria-cachefs mounts 2"

static void put_field(FILE *m, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/._,=+:@-", *p))
			fputc(*p, m);
		else
			fprintf(m, "%%%02X", *p);
	}
}

/* Decodes a field in place; -1 if it holds a byte put_field never writes
 * raw, or a bad escape. */
static int decode_field(char *s)
{
	char *out = s;

	for (const char *p = s; *p; p++) {
		unsigned v;
		if (*p == '%') {
			if (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]) ||
			    sscanf(p + 1, "%2x", &v) != 1 || v == 0)
				return -1;
			*out++ = (char)v;
			p += 2;
		} else if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			return -1;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
	return 0;
}

/* Rewrites STORE/mounts from the list (empty: removed). */
static void record_mounts(struct acfs_daemon *d)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	char *text = NULL;
	size_t len = 0, header;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return;
	pthread_mutex_lock(&record_lock);
	fputs(RECORD_HEADER "\n", m);
	fflush(m);
	header = len;
	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next) {
		if (fs->ended)
			continue;
		put_field(m, fs->mountpoint);
		for (int i = 0; i < fs->fuse_argc; i++) {
			fputc('\t', m);
			put_field(m, fs->fuse_argv[i]);
		}
		fputc('\n', m);
	}
	pthread_mutex_unlock(&d->mounts_lock);
	fclose(m);
	record_path(d, path, sizeof(path));
	if (len == header) {
		unlink(path);
	} else {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0600);
		if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
		    fsync(fd) < 0 || rename(tmp, path) < 0)
			acfs_log(LOG_WARNING, "could not record the mounts in "
				 "%s: %s; a restart after a crash brings back "
				 "only the mount it is started for", path,
				 strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	pthread_mutex_unlock(&record_lock);
	free(text);
}

char *fs_mounts_recorded(struct acfs_daemon *d)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	FILE *f, *m;
	int c;

	record_path(d, path, sizeof(path));
	if (!(f = fopen(path, "re")))
		return NULL;
	if ((m = open_memstream(&text, &len))) {
		while ((c = getc(f)) != EOF)
			putc(c, m);
		fclose(m);
	}
	fclose(f);
	return text;
}

void fs_mounts_recover(struct acfs_daemon *d, char *recorded, const char *own)
{
	char *save = NULL, *line;

	if (!recorded)
		return;
	line = strtok_r(recorded, "\n", &save);
	if (!line || strcmp(line, RECORD_HEADER) != 0) {
		acfs_log_say(LOG_WARNING, "%s/mounts is not a record of version "
			     "2 (written by an older aria-cachefs, or damaged): "
			     "the mounts it names are not brought back; mount "
			     "them again", d->store_dir);
		return;
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *argv[64], err[PATH_MAX + 256] = "", *as = NULL;
		struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
		int argc = 0;
		bool bad = false;
		struct statfs sfs;

		char *mp = strtok_r(line, "\t", &as);
		for (char *a; argc < 64 && (a = strtok_r(NULL, "\t", &as));) {
			bad |= decode_field(a) < 0;
			argv[argc++] = a;
		}
		if (!mp || decode_field(mp) < 0 || bad ||
		    mp[0] != '/' || argc == 64) {
			acfs_log_say(LOG_WARNING, "%s/mounts: a damaged line "
				     "is skipped", d->store_dir);
			continue;
		}
		if (strcmp(mp, own) == 0)
			continue;
		/* Only a stale mount is ours to bring back: a live one is
		 * another daemon's, a bare directory was unmounted. */
		if (statfs(mp, &sfs) == 0 || errno != ENOTCONN)
			continue;
		/* Each argument as it was recorded, and default_permissions
		 * added again wherever allow_other is there. */
		bool okargs = fuse_opt_add_arg(&args, "aria-cachefs") == 0;
		for (int i = 0; okargs && i < argc; i++)
			okargs = fuse_opt_add_arg(&args, argv[i]) == 0;
		if (okargs && add_default_permissions(&args) == 0 &&
		    fs_mount_add(d, mp, args.argc - 1, args.argv + 1, err,
				 sizeof(err)) == 0)
			acfs_log_say(LOG_NOTICE, "brought back the mount at %s, "
				     "served by the daemon that died", mp);
		else
			acfs_log_say(LOG_ERR, "could not bring back the mount "
				     "at %s: %s", mp, err[0] ? err : "bad options");
		fuse_opt_free_args(&args);
	}
}

/* ---- one mount ----------------------------------------------------------- */

static void wake_main(struct acfs_daemon *d)
{
	uint64_t one = 1;

	if (write(d->wake_fd, &one, sizeof(one)) != sizeof(one))
		acfs_log(LOG_WARNING, "could not wake the main thread: %s",
			 strerror(errno));
}

static void *mount_main(void *arg)
{
	struct acfs_fs *fs = arg;
	struct fuse_loop_config *loop = fuse_loop_cfg_create();

	if (loop) {
		fuse_loop_cfg_set_clone_fd(loop, fs->d->clone_fd);
		fuse_loop_cfg_set_max_threads(loop, fs->d->max_threads);
		if (fs->d->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop,
						       fs->d->max_idle_threads);
		if (fs->d->singlethread)
			fuse_session_loop(fs->se);
		else
			fuse_session_loop_mt(fs->se, loop);
		fuse_loop_cfg_destroy(loop);
	}
	pthread_mutex_lock(&fs->d->mounts_lock);
	fs->ended = true;
	pthread_mutex_unlock(&fs->d->mounts_lock);
	wake_main(fs->d);
	return NULL;
}

static void mount_free(struct acfs_fs *fs)
{
	if (!fs)
		return;
	if (fs->se)
		fuse_session_destroy(fs->se);
	inode_table_release(fs);
	for (int i = 0; i < fs->fuse_argc; i++)
		free(fs->fuse_argv[i]);
	free(fs->fuse_argv);
	free(fs->mountpoint);
	free(fs);
}

int fs_mount_add(struct acfs_daemon *d, const char *mp, int argc,
		 char *const *argv, char *err, size_t errlen)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct acfs_fs *fs = calloc(1, sizeof(*fs));
	int r = -ENOMEM;

	if (!fs)
		goto fail;
	fs->d = d;
	fs->uid = d->mount_uid;
	fs->gid = d->mount_gid;
	fs->dir_mode = d->mount_dir_mode;
	fs->entry_timeout = 86400.0;
	fs->neg_timeout = 86400.0;
	fs->mountpoint = strdup(mp);
	fs->fuse_argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!fs->mountpoint || !fs->fuse_argv)
		goto fail;
	if (fuse_opt_add_arg(&args, "aria-cachefs") != 0)
		goto fail;
	for (int i = 0; i < argc; i++) {
		if (!(fs->fuse_argv[i] = strdup(argv[i])))
			goto fail;
		fs->fuse_argc++;
		if (fuse_opt_add_arg(&args, argv[i]) != 0)
			goto fail;
	}
	if (inode_table_init(fs) < 0)
		goto fail;
	r = -EINVAL;
	fs->se = fuse_session_new(&args, &acfs_ops, sizeof(acfs_ops), fs);
	if (!fs->se) {
		snprintf(err, errlen, "FUSE refused the options of %s", mp);
		goto fail;
	}
	pthread_mutex_lock(&d->mounts_lock);
	bool closed = d->mounts_closed;
	pthread_mutex_unlock(&d->mounts_lock);
	if (closed) {
		snprintf(err, errlen, "the daemon is stopping");
		r = -ESHUTDOWN;
		goto fail;
	}
	r = -EBUSY;
	if (fs_clear_stale_mount(mp) < 0) {
		snprintf(err, errlen, "%s is a stale mount that could not be "
			 "cleared; run: fusermount3 -u -z %s", mp, mp);
		goto fail;
	}
	if (fuse_session_mount(fs->se, mp) != 0) {
		snprintf(err, errlen, "cannot mount at %s", mp);
		goto fail;
	}
	if ((r = fs_notifier_start(fs)) < 0) {
		snprintf(err, errlen, "cannot start a thread: %s",
			 strerror(-r));
		fuse_session_unmount(fs->se);
		goto fail;
	}
	/* On the list before the first request can arrive. */
	pthread_mutex_lock(&d->mounts_lock);
	fs->next = d->mounts;
	d->mounts = fs;
	__atomic_add_fetch(&d->nmounts, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&d->mounts_lock);
	r = pthread_create(&fs->loop, NULL, mount_main, fs);
	if (r) {
		/* Marked ended: the main thread takes it off and frees it. */
		pthread_mutex_lock(&d->mounts_lock);
		fs->ended = true;
		pthread_mutex_unlock(&d->mounts_lock);
		wake_main(d);
		snprintf(err, errlen, "cannot start a thread: %s",
			 strerror(r));
		fuse_opt_free_args(&args);
		return -r;
	}
	pthread_mutex_lock(&d->mounts_lock);
	fs->loop_started = true;
	pthread_mutex_unlock(&d->mounts_lock);
	fuse_opt_free_args(&args);
	/* Kernel-served hits: their opens are seen by watching, before
	 * the mount is announced (the kernel knows no entry yet: every
	 * open until then costs a LOOKUP first). */
	char werr[PATH_MAX + 256] = "";
	if (fs_uses_watch(fs, werr, sizeof(werr)) < 0) {
		__atomic_store_n(&fs->uses_unwatched, true, __ATOMIC_RELAXED);
		acfs_log_say(LOG_ERR, "%s; %s counts lookups as uses instead "
			     "(within %.0f s, and a stat counts)", werr, mp,
			     UNWATCHED_ENTRY_TIMEOUT);
	}
	record_mounts(d);
	acfs_log(LOG_INFO, "mounted %s (store %s)", mp, d->store_dir);
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "%s", strerror(-r));
	fuse_opt_free_args(&args);
	mount_free(fs);
	return r;
}

/* Takes ended mounts off the list and frees them; the number left. */
static unsigned reap(struct acfs_daemon *d)
{
	struct acfs_fs *gone = NULL;
	unsigned left;

	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs **p = &d->mounts; *p;) {
		struct acfs_fs *fs = *p;
		if (fs->ended) {
			*p = fs->next;
			fs->next = gone;
			gone = fs;
			__atomic_sub_fetch(&d->nmounts, 1, __ATOMIC_RELAXED);
		} else {
			p = &fs->next;
		}
	}
	left = d->nmounts;
	pthread_mutex_unlock(&d->mounts_lock);
	while (gone) {
		struct acfs_fs *fs = gone;
		gone = fs->next;
		if (fs->loop_started)
			pthread_join(fs->loop, NULL);
		acfs_log(LOG_INFO, "unmounting %s", fs->mountpoint);
		fuse_session_unmount(fs->se);
		fs_uses_forget(fs);
		fs_notifier_stop(fs);
		/* No request is telling its kernel anything now. */
		pthread_mutex_lock(&d->deliver_lock);
		pthread_mutex_unlock(&d->deliver_lock);
		mount_free(fs);
		/* Control clients waiting for a mount's end look again. */
		if (d->control_started) {
			pthread_mutex_lock(&d->control_lock);
			d->mounts_gen++;
			pthread_cond_broadcast(&d->control_cv);
			pthread_mutex_unlock(&d->control_lock);
		}
	}
	return left;
}

/* ---- the main thread ----------------------------------------------------- */

static void on_usr1(int sig)
{
	(void)sig;
}

int fs_mounts_signals(struct acfs_daemon *d)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigset_t set;

	/* SIGUSR1 interrupts a session's loop after fuse_session_exit
	 * (no SA_RESTART: its wait returns EINTR). */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	/* The stop signals reach the main thread only, through a signalfd;
	 * every thread started later inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (d->signal_fd < 0 || d->wake_fd < 0)
		return -errno;
	return 0;
}

/* Ends every session: no new mounts join. */
static void stop_all(struct acfs_daemon *d)
{
	pthread_mutex_lock(&d->mounts_lock);
	d->mounts_closed = true;
	d->signalled = true;
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next) {
		fuse_session_exit(fs->se);
		if (fs->loop_started && !fs->ended)
			pthread_kill(fs->loop, SIGUSR1);
	}
	pthread_mutex_unlock(&d->mounts_lock);
}

int fs_mounts_run(struct acfs_daemon *d)
{
	bool stopping = false;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = d->wake_fd, .events = POLLIN },
			{ .fd = d->signal_fd, .events = POLLIN },
		};
		if (poll(p, 2, stopping ? 1000 : -1) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				acfs_log(LOG_INFO, "signal %u: unmounting "
					 "every mount", si.ssi_signo);
				stopping = true;
			}
		}
		if (p[0].revents & POLLIN) {
			uint64_t n;
			if (read(d->wake_fd, &n, sizeof(n)) < 0)
				acfs_log(LOG_WARNING, "wake: %s",
					 strerror(errno));
		}
		if (stopping)
			stop_all(d); /* again: a loop may have missed it */
		unsigned before = __atomic_load_n(&d->nmounts, __ATOMIC_RELAXED);
		unsigned left = reap(d);
		if (left != before)
			record_mounts(d);
		if (left == 0) {
			pthread_mutex_lock(&d->mounts_lock);
			d->mounts_closed = true;
			pthread_mutex_unlock(&d->mounts_lock);
			/* A mount added between reap and closing. */
			if (reap(d) == 0)
				return 0;
		}
	}
}

/* ---- what the other mounts' commands see --------------------------------- */

char *fs_mounts_first(struct acfs_daemon *d)
{
	char *mp = NULL;

	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next)
		if (!fs->next)
			mp = strdup(fs->mountpoint); /* the oldest */
	pthread_mutex_unlock(&d->mounts_lock);
	return mp;
}

void fs_mounts_report(struct acfs_daemon *d, FILE *out, bool json)
{
	bool first = true;

	pthread_mutex_lock(&d->mounts_lock);
	if (json)
		fputc('[', out);
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next) {
		unsigned long long h, m, s;
		h = __atomic_load_n(&fs->hits, __ATOMIC_RELAXED);
		m = __atomic_load_n(&fs->misses, __ATOMIC_RELAXED);
		s = __atomic_load_n(&fs->stores, __ATOMIC_RELAXED);
		if (json) {
			fprintf(out, "%s{\"mountpoint\": ", first ? "" : ", ");
			acfs_cmd_json_string(out, fs->mountpoint);
			fprintf(out, ", \"hits\": %llu, \"misses\": %llu, "
				"\"stores\": %llu}", h, m, s);
		} else {
			fprintf(out, "mount              %s: %llu hits, %llu "
				"misses, %llu stores\n", fs->mountpoint, h, m,
				s);
		}
		first = false;
	}
	if (json)
		fputc(']', out);
	pthread_mutex_unlock(&d->mounts_lock);
}

/* ---- requests from another aria-cachefs ---------------------------------- */

static bool serves(struct acfs_daemon *d, const char *mp)
{
	bool found = false;

	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *fs = d->mounts; fs && !found; fs = fs->next)
		found = !fs->ended && strcmp(fs->mountpoint, mp) == 0;
	pthread_mutex_unlock(&d->mounts_lock);
	return found;
}

/*
 * argv: ACFS_MOUNT_REQUEST, "add" or "wait", MOUNTPOINT, FUSE options...
 * "add" mounts it and answers once it serves; "wait" returns when the
 * mount at MOUNTPOINT is gone (or the daemon stops).
 */
void fs_mount_request(struct acfs_daemon *d, int fd, int argc, char **argv)
{
	FILE *err = acfs_control_stream(fd, 'R');
	char msg[PATH_MAX + 256] = "";
	int code = 0, r;

	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (argc < 3 || !err) {
		code = 2;
	} else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		   cred.uid != getuid()) {
		/* The socket is the owner's alone (0600); a mount of another
		 * user's store through it is refused all the same. */
		fprintf(err, "aria-cachefs: store %s belongs to uid %d; mount "
			"your own store\n", d->store_dir, (int)getuid());
		acfs_log(LOG_WARNING, "refused a mount of %s asked by uid %d",
			 argv[2], (int)cred.uid);
		code = 1;
	} else if (strcmp(argv[1], "add") == 0) {
		if (serves(d, argv[2])) {
			fprintf(err, "aria-cachefs: %s is served already "
				"(store %s, pid %d)\n", argv[2], d->store_dir,
				(int)getpid());
			code = 1;
		} else if ((r = fs_mount_add(d, argv[2], argc - 3, argv + 3, msg,
					     sizeof(msg))) < 0) {
			/* Stopping: the caller waits for our lock and serves
			 * the store itself, so say nothing. */
			if (r == -ESHUTDOWN)
				code = ACFS_MOUNT_STOPPING;
			else
				fprintf(err, "aria-cachefs: %s\n", msg);
			code = code ? code : 1;
		}
	} else if (strcmp(argv[1], "wait") == 0) {
		struct timeval tv = { 0 };
		/* The caller waits as long as the mount lives. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		pthread_mutex_lock(&d->control_lock);
		while (!d->control_stopping) {
			unsigned gen = d->mounts_gen;
			pthread_mutex_unlock(&d->control_lock);
			bool live = serves(d, argv[2]);
			pthread_mutex_lock(&d->control_lock);
			if (!live)
				break;
			while (gen == d->mounts_gen && !d->control_stopping)
				pthread_cond_wait(&d->control_cv,
						  &d->control_lock);
		}
		bool stopped = d->control_stopping;
		pthread_mutex_unlock(&d->control_lock);
		pthread_mutex_lock(&d->mounts_lock);
		stopped |= d->signalled;
		pthread_mutex_unlock(&d->mounts_lock);
		/* 3: the daemon stopped (a unit restarts the caller, which
		 * then serves the mount anew); 0: the mount was unmounted. */
		code = stopped ? 3 : 0;
	} else {
		code = 2;
	}
	if (err)
		fclose(err);
	acfs_control_send_exit(fd, code);
}
