/* SPDX-License-Identifier: MIT */
/*
 * Staging: files being written before they become entries. A temp file in
 * tmp/ (TMP) or a direct create in a shard (PENDING) keeps its bytes in the
 * daemon's memory while it is at most ACFS_STAGE_MEM_MAX bytes and the
 * daemon's staging budget (a quarter of --max-loaded) has room, and
 * otherwise in an unnamed O_TMPFILE in the staging directory, on the
 * store's filesystem; nothing here touches the store's entries. The commit pipeline
 * (commit/commit.c) turns a staged inode into an entry.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cachefs.h"

static int open_staging(struct acfs_fs *fs)
{
	int fd = openat(fs->d->staging_dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
			0600);
	return fd < 0 ? -errno : fd;
}

/* Room in memory for @len staged bytes of @in, if it is staged in memory
 * and the file and the daemon's budget allow; false: stage in a file. */
static bool mem_reserve(struct acfs_daemon *d, struct inode *in, uint64_t len)
{
	size_t cap;
	char *p;

	if (in->stage_fd >= 0 || len > ACFS_STAGE_MEM_MAX)
		return false;
	if (len <= in->stage_cap)
		return true;
	for (cap = in->stage_cap ? in->stage_cap : 4096; cap < len; cap *= 2)
		;
	if (cap > ACFS_STAGE_MEM_MAX)
		cap = ACFS_STAGE_MEM_MAX;
	uint64_t grow = cap - in->stage_cap;
	if (__atomic_add_fetch(&d->stage_mem_bytes, grow, __ATOMIC_RELAXED) >
	    d->stage_mem_max ||
	    !(p = realloc(in->stage_mem, cap))) {
		__atomic_sub_fetch(&d->stage_mem_bytes, grow, __ATOMIC_RELAXED);
		return false;
	}
	in->stage_mem = p;
	in->stage_cap = cap;
	return true;
}

/* Moves memory-staged bytes into a staging file: the file outgrew
 * memory, or the budget is spent. */
static int spill(struct acfs_fs *fs, struct inode *in)
{
	uint64_t done = 0;
	int fd;

	if (in->stage_fd >= 0)
		return 0;
	fd = open_staging(fs);
	if (fd < 0)
		return fd;
	while (done < in->size) {
		ssize_t n = pwrite(fd, in->stage_mem + done, in->size - done,
				   (off_t)done);
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;
			close(fd);
			return r;
		}
		done += (uint64_t)n;
	}
	fs_stage_free(fs->d, in);
	in->stage_fd = fd;
	return 0;
}

/* Extends memory-staged bytes to @size with zeros (the caller reserved). */
static void mem_zero_to(struct inode *in, uint64_t size)
{
	if (size > in->size)
		memset(in->stage_mem + in->size, 0, size - in->size);
}

ssize_t fs_read_staged_locked(struct inode *in, void *buf, size_t size,
			      off_t off)
{
	FS_ASSERT_HELD(&in->lock);
	if (in->stage_fd >= 0)
		return pread(in->stage_fd, buf, size, off);
	if ((uint64_t)off >= in->size)
		return 0;
	if (size > in->size - (uint64_t)off)
		size = (size_t)(in->size - (uint64_t)off);
	memcpy(buf, in->stage_mem + off, size);
	return (ssize_t)size;
}

static ssize_t stage_write(struct acfs_fs *fs, struct inode *in,
			   const char *buf, size_t size, off_t off)
{
	uint64_t end = (uint64_t)off + size;

	if (in->stage_fd < 0) {
		if (mem_reserve(fs->d, in, end > in->size ? end : in->size)) {
			mem_zero_to(in, (uint64_t)off);
			memcpy(in->stage_mem + off, buf, size);
			return (ssize_t)size;
		}
		int r = spill(fs, in);
		if (r < 0) {
			errno = -r;
			return -1;
		}
	}
	return pwrite(in->stage_fd, buf, size, off);
}

static int stage_truncate(struct acfs_fs *fs, struct inode *in, off_t size)
{
	if (in->stage_fd < 0) {
		if (mem_reserve(fs->d, in, (uint64_t)size)) {
			mem_zero_to(in, (uint64_t)size);
			return 0;
		}
		int r = spill(fs, in);
		if (r < 0)
			return r;
	}
	return ftruncate(in->stage_fd, size) < 0 ? -errno : 0;
}

/* Sets a staged file's size; refuses past --max-entry-size. */
int fs_truncate_staged(struct acfs_fs *fs, struct inode *in, off_t size)
{
	char what[300];
	int r = 0;

	FS_ASSERT_HELD(&in->lock);
	if ((uint64_t)size > fs->d->max_entry_size)
		r = -EFBIG;
	else
		r = stage_truncate(fs, in, size);
	in->wgen++;
	fs_prepared_free(fs->d, in);
	if (r < 0) {
		fs_describe_locked(fs, in, what, sizeof(what));
		acfs_log(LOG_WARNING, "truncate of %s to %lld bytes failed: %s",
			 what, (long long)size, r == -EFBIG
			 ? "past --max-entry-size" : strerror(-r));
		return r;
	}
	in->size = (uint64_t)size;
	return 0;
}

/* The process (thread group) of thread @tid, or 0 if it is gone. */
pid_t fs_tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/*
 * Whether thread @tid is exiting because a signal killed its process
 * (SIGKILL, SIGSEGV, an unhandled SIGTERM...): the kernel closes a dying
 * process's files, FLUSH included, as if it had called close(2). While
 * FLUSH waits for our answer the thread is still there: /proc/TID/stat
 * shows PF_EXITING in its flags (field 9) and the status its parent will
 * get (field 52, exit_code, as waitpid(2) reports it: a signal in its low
 * seven bits). A normal exit, even without close, has no signal there.
 */
/* Field 9 (flags) and 52 (exit_code) of /proc/@pid/stat and its state;
 * false if the process is gone. */
static bool proc_stat(pid_t pid, char *state, unsigned long *flags,
		      long *code)
{
	char path[64], buf[1024], *save = NULL;
	int fd, field = 2;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	*code = -1;
	for (char *t = strtok_r(p + 1, " \n", &save); t;
	     t = strtok_r(NULL, " \n", &save)) {
		field++;
		if (field == 3)
			*state = *t;
		else if (field == 9)
			*flags = strtoul(t, NULL, 10);
		else if (field == 52)
			*code = strtol(t, NULL, 10);
	}
	return field >= 52;
}

bool fs_killed_by_signal(pid_t tid)
{
	unsigned long flags = 0;
	long code = 0;
	char state = 0;

	return proc_stat(tid, &state, &flags, &code) &&
	       (flags & 0x4 /* PF_EXITING */) && (code & 0x7f) != 0;
}

/*
 * Whether any process still has the direct create @in open: a file
 * descriptor whose link in /proc names its path under our mountpoint
 * (reading the links never reaches the mount). The closing process's
 * own descriptor is gone from its table by the time FLUSH arrives. Only
 * direct creates pay this scan; the compiler stores by rename.
 */

bool fs_held_elsewhere(struct acfs_fs *fs, struct inode *in)
{
	return fs_key_held(fs, &in->key);
}

bool fs_key_held(struct acfs_fs *fs, const struct acfs_key *key)
{
	char want[PATH_MAX], path[600], link[PATH_MAX];
	char rel[ACFS_KEY_PATH_MAX];
	struct dirent *p, *f;
	bool found = false;
	DIR *procs, *fds;

	if (!fs->mountpoint)
		return false;
	acfs_key_format_path(key, rel);
	snprintf(want, sizeof(want), "%s/%s", fs->mountpoint, rel);
	procs = opendir("/proc");
	if (!procs)
		return false;
	while (!found && (p = readdir(procs))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    strtol(p->d_name, NULL, 10) == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while (!found && (f = readdir(fds))) {
			ssize_t n;
			if (f->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
		closedir(fds);
	}
	closedir(procs);
	return found;
}

/* Caller holds in->lock. */
static void note_writer(struct acfs_fs *fs, struct inode *in, pid_t tid)
{
	if (in->type != INODE_PENDING || tid == in->writer_tid)
		return;
	pid_t tgid = fs_tgid_of(tid);
	if (fs->d->kernel_hits && (tgid != in->writer_tgid ||
				   in->writer_pidfd < 0)) {
		/* No FLUSH comes in kernel mode: at the close event this
		 * pidfd tells how the writer ended. */
		if (in->writer_pidfd >= 0)
			close(in->writer_pidfd);
		in->writer_pidfd = tgid > 0
			? (int)syscall(SYS_pidfd_open, tgid, 0) : -1;
	}
	in->writer_tid = tid;
	in->writer_tgid = tgid;
}

/* struct pidfd_info of <linux/pidfd.h> (Linux 6.13; the exit status since
 * 6.15), its first version: the headers of Debian bookworm predate it. */
struct pidfd_exit_info {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid;
	uint32_t fsuid, fsgid;
	int32_t exit_code;
};
#define ACFS_PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_exit_info)
#define ACFS_PIDFD_INFO_EXIT (1ULL << 3)

/*
 * Kernel mode, at the last close of a direct create (fs_commit_closed):
 * how did its last writer end? 1: it is alive (it closed the file) or
 * exited normally: commit. 0: a signal killed it, perhaps mid-write:
 * drop. -1: cannot be told (no pidfd, an old kernel and the process
 * reaped): never commit what may be half a file. @why says which.
 *
 * The close event is read after close(2) returned, and a killed writer's
 * files are closed while it exits: if it is exiting, wait (bounded) until it is
 * dead, then read its status: as a zombie from /proc, once reaped from
 * the pidfd (Linux 6.15 keeps the status of a reaped process for pidfds
 * opened before, here at its first write).
 */
int fs_writer_fate(struct inode *in, char *why, size_t len)
{
	pid_t pid = in->writer_tgid;
	struct pollfd p = { .fd = in->writer_pidfd, .events = POLLIN };
	unsigned long flags = 0;
	char state = 0;
	long code = -1;

	if (pid <= 0 || p.fd < 0) {
		snprintf(why, len, "its writer could not be followed");
		return -1;
	}
	if (poll(&p, 1, 0) == 0 && proc_stat(pid, &state, &flags, &code) &&
	    !(flags & 0x4 /* PF_EXITING */))
		return 1; /* alive, not exiting: it closed the file */
	/* Exiting: dead (readable pidfd) within moments. */
	if (poll(&p, 1, 10000) <= 0) {
		snprintf(why, len, "its writer (pid %d) took over 10 s to "
			 "exit", (int)pid);
		return -1;
	}
	for (int tries = 0; tries < 3; tries++) {
		struct pidfd_exit_info info;
		memset(&info, 0, sizeof(info));
		info.mask = ACFS_PIDFD_INFO_EXIT;
		if (ioctl(p.fd, ACFS_PIDFD_GET_INFO, &info) == 0 &&
		    (info.mask & ACFS_PIDFD_INFO_EXIT))
			code = info.exit_code;
		else if (!proc_stat(pid, &state, &flags, &code) ||
			 state != 'Z')
			code = -1; /* reaped between the two: ask again */
		if (code >= 0)
			break;
	}
	if (code < 0) {
		snprintf(why, len, "how its writer (pid %d) ended cannot be "
			 "read", (int)pid);
		return -1;
	}
	if (WIFSIGNALED((int)code)) {
		snprintf(why, len, "its writer (pid %d) was killed by a signal "
			 "before it closed the file (signal %d)", (int)pid,
			 WTERMSIG((int)code));
		return 0;
	}
	return 1;
}

/*
 * A new staged inode: a fresh version id, its bytes in memory until they
 * outgrow it.
 * @path names it in the log if that fails.
 */
static int new_staged(struct acfs_fs *fs, enum inode_type type, mode_t mode,
		      const struct fuse_ctx *who, const char *path,
		      struct inode **ret)
{
	uint64_t id = acfs_store_alloc_id(fs->d->store);
	struct inode *in;

	if (!id) {
		acfs_log(LOG_ERR, "cannot create %s: no inode number: the "
			 "store could not record its id counter", path);
		return -EIO;
	}
	in = inode_new(id, type);
	if (!in)
		return -ENOMEM;
	in->mode = mode & 07777;
	in->uid = who->uid;
	in->gid = who->gid;
	in->atime_ns = in->mtime_ns = in->ctime_ns = acfs_now_ns();
	*ret = in;
	return 0;
}

static int create_in_tmp(struct acfs_fs *fs, const char *name, mode_t mode,
			 const struct fuse_ctx *who, struct inode **ret)
{
	char path[300];
	struct inode *in;
	int r;

	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&fs->itab_lock);
	bool exists = tmp_find_locked(fs, name) != NULL;
	bool full = fs->ntmp >= fs->d->max_tmp_files;
	pthread_mutex_unlock(&fs->itab_lock);
	if (exists)
		return -EEXIST;
	if (full) {
		acfs_log(LOG_WARNING, "refused tmp/%s: %u temp files exist "
			 "already (the limit)", name, fs->d->max_tmp_files);
		return -ENOSPC;
	}
	snprintf(path, sizeof(path), "tmp/%s", name);
	r = new_staged(fs, INODE_TMP, mode, who, path, &in);
	if (r < 0)
		return r;
	if (!(in->name = strdup(name))) {
		inode_free(fs, in);
		return -ENOMEM;
	}

	pthread_mutex_lock(&fs->itab_lock);
	if (tmp_find_locked(fs, name)) {
		/* Lost a race with another create of the same name. */
		pthread_mutex_unlock(&fs->itab_lock);
		inode_free(fs, in);
		return -EEXIST;
	}
	in->tnext = fs->tmp_list;
	fs->tmp_list = in;
	fs->ntmp++;
	in->in_tmp = true;
	pthread_mutex_unlock(&fs->itab_lock);
	inode_insert(fs, in);
	*ret = in;
	return 0;
}

static int create_in_shard(struct acfs_fs *fs, unsigned shard,
			   const char *name, const struct fuse_ctx *who,
			   bool excl, struct inode **ret)
{
	char path[ACFS_KEY_PATH_MAX];
	struct acfs_key key;
	struct acfs_entry e;
	struct inode *in;
	int r;

	if (acfs_key_parse_name(shard, name, &key) < 0) {
		acfs_log(LOG_WARNING,
			 "refused create of monomorph/%02x/%s: entries are "
			 "named <14 lowercase hex>.bc or .meta", shard, name);
		return -EINVAL;
	}
	if (acfs_store_get(fs->d->store, &key, &e) == 0) {
		if (excl)
			return -EEXIST;
		acfs_log(LOG_WARNING,
			 "refused writable open of monomorph/%02x/%s: entries "
			 "are immutable; replace them by rename", shard, name);
		return -EACCES;
	}
	acfs_key_format_path(&key, path);
	r = new_staged(fs, INODE_PENDING, 0444, who, path, &in);
	if (r < 0)
		return r;
	in->key = key;
	/* O_EXCL: one creator of a key wins while its create is in
	 * flight, as on a plain filesystem. */
	if ((r = pending_add(fs, in, excl)) < 0) {
		inode_free(fs, in);
		return r;
	}
	inode_insert(fs, in);
	*ret = in;
	return 0;
}

int fs_create_staged(struct acfs_fs *fs, fuse_ino_t parent, const char *name,
		     mode_t mode, const struct fuse_ctx *who, bool excl,
		     struct inode **ret)
{
	if (parent == INO_TMP)
		return create_in_tmp(fs, name, mode, who, ret);
	if (fs_is_shard(parent))
		return create_in_shard(fs, (unsigned)(parent - INO_SHARD0),
				       name, who, excl, ret);
	if (parent == INO_MONOMORPH) {
		acfs_log(LOG_WARNING, "refused create of monomorph/%s: only "
			 "shard directories 00..ff live there", name);
		return -EINVAL;
	}
	acfs_log(LOG_WARNING, "refused create of %s: only monomorph/ "
		 "and tmp/ are supported at the top of the cache", name);
	return -EPERM;
}

void fs_lookup_tmp(fuse_req_t req, const char *name)
{
	struct acfs_fs *fs = FS(req);
	struct fuse_entry_param e = { 0 };
	struct inode *in;

	pthread_mutex_lock(&fs->itab_lock);
	in = tmp_find_locked(fs, name);
	if (in)
		in->nlookup++;
	pthread_mutex_unlock(&fs->itab_lock);
	if (!in) {
		fs_reply_negative(req, fs->entry_timeout);
		return;
	}
	e.ino = in->ino;
	e.entry_timeout = fs->entry_timeout;
	pthread_mutex_lock(&in->lock);
	e.attr_timeout = fs_attr_timeout(fs, in);
	fs_file_attr_locked(fs, in, &e.attr);
	pthread_mutex_unlock(&in->lock);
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(fs, in, 1);
}

static int cmp_ino(const void *a, const void *b)
{
	const struct inode *x = *(struct inode *const *)a;
	const struct inode *y = *(struct inode *const *)b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* tmp/ offsets are inode numbers (>= 1024), stable while files come and go. */
int fs_fill_tmp(struct acfs_fs *fs, struct dirbuf *d, off_t off)
{
	struct inode **v;
	unsigned n = 0;

	pthread_mutex_lock(&fs->itab_lock);
	v = malloc((fs->ntmp + 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&fs->itab_lock);
		return -ENOMEM;
	}
	for (struct inode *in = fs->tmp_list; in; in = in->tnext)
		if ((off_t)in->ino > off)
			v[n++] = in;
	qsort(v, n, sizeof(*v), cmp_ino);
	for (unsigned i = 0; i < n; i++)
		if (!dirbuf_add(d, v[i]->name, v[i]->ino, S_IFREG,
				(off_t)v[i]->ino))
			break;
	pthread_mutex_unlock(&fs->itab_lock);
	free(v);
	return 0;
}

int fs_rename_in_tmp(struct acfs_fs *fs, const char *name,
			 const char *newname, unsigned flags)
{
	struct inode *src, *dst;
	int r = 0;

	if (strlen(newname) > 255)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&fs->itab_lock);
	src = tmp_find_locked(fs, name);
	dst = tmp_find_locked(fs, newname);
	if (!src) {
		r = -ENOENT;
	} else if (src == dst) {
		r = 0;
	} else if (dst && (flags & RENAME_NOREPLACE)) {
		r = -EEXIST;
	} else {
		char *copy = strdup(newname);
		if (!copy) {
			r = -ENOMEM;
		} else {
			if (dst)
				tmp_unlink_locked(fs, dst);
			free(src->name);
			src->name = copy;
		}
	}
	pthread_mutex_unlock(&fs->itab_lock);
	return r;
}

int fs_write_staged_locked(struct acfs_fs *fs, struct inode *in,
			   const char *buf, size_t size, off_t off, pid_t tid,
			   size_t *written)
{
	char err[ACFS_ERR_MAX];
	ssize_t n;
	int r = 0;

	FS_ASSERT_HELD(&in->lock);
	if (in->type == INODE_ENTRY) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&in->key, path);
		acfs_log(LOG_WARNING, "refused write to %s: it is committed "
			 "and immutable", path);
		r = -EACCES;
	} else if ((uint64_t)off + size > fs->d->max_entry_size) {
		char what[300];
		fs_describe_locked(fs, in, what, sizeof(what));
		acfs_log(LOG_WARNING, "refused write to %s past %llu bytes "
			 "(the --max-entry-size)", what,
			 (unsigned long long)fs->d->max_entry_size);
		acfs_store_count(fs->d->store, ACFS_STAT_REJECTED, 1);
		r = -EFBIG;
	} else if ((uint64_t)off + size > in->size &&
		   (r = acfs_store_room(fs->d->store, size, 1, true, err)) < 0) {
		/* The staging directory is on the store's filesystem: its
		 * reserve is RocksDB's, not the writers'. */
		char what[300];
		fs_describe_locked(fs, in, what, sizeof(what));
		acfs_log(LOG_ERR, "write to %s refused: %s", what, err);
		acfs_store_count(fs->d->store, ACFS_STAT_REJECTED, 1);
	} else {
		n = stage_write(fs, in, buf, size, off);
		if (n < 0) {
			char what[300];
			r = -errno;
			fs_describe_locked(fs, in, what, sizeof(what));
			acfs_log(LOG_ERR, "write to %s: staging file in %s: %s",
				 what, fs->d->store_dir, strerror(-r));
		} else {
			if ((uint64_t)off + (uint64_t)n > in->size)
				in->size = (uint64_t)off + (uint64_t)n;
			in->written = true;
			in->wgen++;
			fs_prepared_free(fs->d, in);
			note_writer(fs, in, tid);
			in->mtime_ns = in->ctime_ns = acfs_now_ns();
			*written = (size_t)n;
		}
	}
	return r;
}
