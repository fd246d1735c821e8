/* SPDX-License-Identifier: MIT */
/*
 * FUSE low-level requests translated into store calls. Errors inside are
 * -errno; reply_err() is the one place the sign flips for libfuse.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "acfs/tree.h"
#include "cachefs.h"


int64_t acfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reply_err(fuse_req_t req, int neg_errno)
{
	fuse_reply_err(req, -neg_errno);
}

static bool is_shard(fuse_ino_t ino)
{
	return ino >= INO_SHARD0 && ino <= INO_SHARD_LAST;
}

static bool is_dir(fuse_ino_t ino)
{
	return ino == INO_ROOT || ino == INO_MONOMORPH || ino == INO_TMP ||
	       is_shard(ino);
}

/* Times before 1970 are negative: the nanoseconds stay in 0..1e9-1. */
static struct timespec ts_of(int64_t ns)
{
	int64_t s = ns / 1000000000LL, n = ns % 1000000000LL;

	if (n < 0) {
		s--;
		n += 1000000000LL;
	}
	return (struct timespec){ .tv_sec = s, .tv_nsec = n };
}

static void dir_attr(struct acfs_fs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | fs->dir_mode;
	/* Exact link counts: find(1) relies on them. */
	st->st_nlink = ino == INO_ROOT ? 4 : ino == INO_MONOMORPH ? 258 : 2;
	if (ino == INO_ROOT) {
		/* Directories of the general tree beside monomorph and tmp. */
		struct acfs_tree_counters tc;
		acfs_tree_get_counters(fs->store, &tc);
		st->st_nlink += (nlink_t)tc.root_dirs;
	}
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = ts_of(fs->start_ns);
}

/* Caller holds in->lock. */
static void file_attr_locked(struct acfs_fs *fs, struct inode *in,
			     struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = S_IFREG | in->mode;
	st->st_nlink = 1;
	/* Entries belong to the mount's owner; a temp file (or a direct
	 * create) to whoever made it, so default_permissions lets its maker
	 * write it and keeps others out. */
	st->st_uid = in->type == INODE_ENTRY ? fs->uid : in->uid;
	st->st_gid = in->type == INODE_ENTRY ? fs->gid : in->gid;
	st->st_size = (off_t)in->size;
	st->st_blksize = 4096;
	/* du(1) tells the truth: entries count the bytes the store keeps. */
	st->st_blocks = (blkcnt_t)(((in->type == INODE_ENTRY ? in->stored
							      : in->size) +
				    511) / 512);
	st->st_atim = ts_of(in->atime_ns);
	st->st_mtim = ts_of(in->mtime_ns);
	st->st_ctim = ts_of(in->ctime_ns);
}

static void file_attr(struct acfs_fs *fs, struct inode *in, struct stat *st)
{
	pthread_mutex_lock(&in->lock);
	file_attr_locked(fs, in, st);
	pthread_mutex_unlock(&in->lock);
}

/* Entries: atime moves with use, and ls -lu should show it within 1 s. */
#define ENTRY_ATTR_TIMEOUT 1.0

static double attr_timeout_of(struct acfs_fs *fs, struct inode *in)
{
	(void)fs;
	/* Temp files change size as they are written; entries only atime. */
	return in->type == INODE_ENTRY ? ENTRY_ATTR_TIMEOUT : 0.0;
}

static void reply_dir_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { 0 };

	e.ino = ino;
	e.attr_timeout = e.entry_timeout = FS(req)->entry_timeout;
	dir_attr(FS(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void reply_negative(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e = { 0 };

	e.entry_timeout = timeout;
	fuse_reply_entry(req, &e);
}

/* ---- lookup / forget / getattr ------------------------------------------ */

static void lookup_entry(fuse_req_t req, unsigned shard, const char *name)
{
	struct acfs_fs *fs = FS(req);
	struct fuse_entry_param e = { 0 };
	struct acfs_entry ent;
	struct acfs_key key;
	struct inode *in;
	int r;

	int64_t t0 = fs->trace ? acfs_now_ns() : 0;

	if (acfs_key_parse_name(shard, name, &key) < 0) {
		reply_negative(req, fs->neg_timeout);
		return;
	}
	pthread_rwlock_rdlock(&fs->ns_lock);
	r = acfs_store_get(fs->store, &key, &ent);
	double neg_t = fs->neg_timeout;
	if (r == -ENOENT && fs->remote && !pending_exists(fs, &key)) {
		/* Read-through: the remotes get a bounded wait. */
		pthread_rwlock_unlock(&fs->ns_lock);
		r = fs_remote_fetch(fs, &key, &neg_t);
		pthread_rwlock_rdlock(&fs->ns_lock);
		r = r == 0 ? acfs_store_get(fs->store, &key, &ent) : -ENOENT;
	}
	if (r == -ENOENT) {
		/* A direct create of this name is being written: do not let
		 * the kernel remember "absent" past its commit. */
		double t = pending_exists(fs, &key) ? 0.0 : neg_t;
		pthread_rwlock_unlock(&fs->ns_lock);
		acfs_store_count(fs->store, ACFS_STAT_MISSES, 1);
		reply_negative(req, t);
		acfs_trace(fs, "miss", &key, 0, t0);
		return;
	}
	if (r < 0) {
		pthread_rwlock_unlock(&fs->ns_lock);
		acfs_log(LOG_ERR, "lookup of monomorph/%02x/%s failed: %s",
			 shard, name, strerror(-r));
		reply_err(req, r);
		return;
	}
	in = inode_ref_entry(fs, &key, &ent);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (!in) {
		reply_err(req, -ENOMEM);
		return;
	}
	e.ino = in->ino;
	e.entry_timeout = fs->kernel_hits ? fs->kernel_entry_timeout
					  : fs->entry_timeout;
	e.attr_timeout = ENTRY_ATTR_TIMEOUT;
	pthread_mutex_lock(&in->lock);
	fs_lru_note(fs, in);
	file_attr_locked(fs, in, &e.attr);
	pthread_mutex_unlock(&in->lock);
	if (fs->kernel_hits) {
		/* No OPEN reaches us in this mode: a found entry is the hit. */
		acfs_store_count(fs->store, ACFS_STAT_HITS, 1);
		acfs_trace(fs, "hit", &key, ent.size, t0);
	}
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(fs, in, 1);
}

static void lookup_tmp(fuse_req_t req, const char *name)
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
		reply_negative(req, fs->entry_timeout);
		return;
	}
	e.ino = in->ino;
	e.entry_timeout = fs->entry_timeout;
	pthread_mutex_lock(&in->lock);
	e.attr_timeout = attr_timeout_of(fs, in);
	file_attr_locked(fs, in, &e.attr);
	pthread_mutex_unlock(&in->lock);
	if (fuse_reply_entry(req, &e) != 0)
		inode_forget(fs, in, 1);
}

static void acfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct acfs_fs *fs = FS(req);
	unsigned shard;

	if (parent == INO_ROOT) {
		if (strcmp(name, "monomorph") == 0)
			reply_dir_entry(req, INO_MONOMORPH);
		else if (strcmp(name, "tmp") == 0)
			reply_dir_entry(req, INO_TMP);
		else
			gen_lookup(req, parent, name);
	} else if (gen_is_dir(fs, parent)) {
		gen_lookup(req, parent, name);
	} else if (parent == INO_MONOMORPH) {
		if (acfs_key_parse_shard(name, &shard) == 0)
			reply_dir_entry(req, INO_SHARD0 + shard);
		else
			reply_negative(req, fs->neg_timeout);
	} else if (is_shard(parent)) {
		lookup_entry(req, (unsigned)(parent - INO_SHARD0), name);
	} else if (parent == INO_TMP) {
		lookup_tmp(req, name);
	} else {
		reply_err(req, -ENOTDIR);
	}
}

static void acfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (!is_dir(ino)) {
		struct inode *in = inode_find(FS(req), ino);
		if (in)
			inode_forget(FS(req), in, nlookup);
	}
	fuse_reply_none(req);
}

static void acfs_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		if (is_dir(forgets[i].ino))
			continue;
		struct inode *in = inode_find(FS(req), forgets[i].ino);
		if (in)
			inode_forget(FS(req), in, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void acfs_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct stat st;
	struct inode *in;

	(void)fi;
	if (is_dir(ino)) {
		dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, fs->entry_timeout);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		reply_err(req, -ENOENT);
		return;
	}
	if (in->type == INODE_GENERAL) {
		gen_getattr(req, ino);
		return;
	}
	pthread_mutex_lock(&in->lock);
	file_attr_locked(fs, in, &st);
	double t = attr_timeout_of(fs, in);
	pthread_mutex_unlock(&in->lock);
	fuse_reply_attr(req, &st, t);
}

/*
 * Names @in for a log line: "tmp/NAME" or the entry's path. Caller holds
 * in->lock (type and key are stable); a tmp name is copied under itab_lock.
 */
static void describe_locked(struct acfs_fs *fs, struct inode *in, char *buf,
			    size_t len)
{
	if (in->type == INODE_TMP) {
		pthread_mutex_lock(&fs->itab_lock);
		snprintf(buf, len, "tmp/%s", in->name ? in->name : "?");
		pthread_mutex_unlock(&fs->itab_lock);
	} else {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&in->key, path);
		snprintf(buf, len, "%s", path);
	}
}

/* Sets a staged file's size; refuses past --max-entry-size. */
static int truncate_staged(struct acfs_fs *fs, struct inode *in, off_t size)
{
	char what[300];
	int r = 0;

	if ((uint64_t)size > fs->max_entry_size)
		r = -EFBIG;
	else if (ftruncate(in->stage_fd, size) < 0)
		r = -errno;
	if (r < 0) {
		describe_locked(fs, in, what, sizeof(what));
		acfs_log(LOG_WARNING, "truncate of %s to %lld bytes failed: %s",
			 what, (long long)size, r == -EFBIG
			 ? "past --max-entry-size" : strerror(-r));
		return r;
	}
	in->size = (uint64_t)size;
	return 0;
}

/* ---- setattr ------------------------------------------------------------ */

static int64_t time_to_set(const struct stat *attr, int to_set, int bit,
			   int now_bit, bool atime, int64_t now)
{
	if (to_set & now_bit)
		return now;
	if (to_set & bit) {
		const struct timespec *t = atime ? &attr->st_atim : &attr->st_mtim;
		return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
	}
	return ACFS_TIME_KEEP;
}

static int setattr_file(struct acfs_fs *fs, struct inode *in,
			struct stat *attr, int to_set)
{
	int64_t now = acfs_now_ns();
	int64_t at = time_to_set(attr, to_set, FUSE_SET_ATTR_ATIME,
				 FUSE_SET_ATTR_ATIME_NOW, true, now);
	int64_t mt = time_to_set(attr, to_set, FUSE_SET_ATTR_MTIME,
				 FUSE_SET_ATTR_MTIME_NOW, false, now);
	char path[ACFS_KEY_PATH_MAX];
	int r = 0;

	if (in->type == INODE_ENTRY) {
		acfs_key_format_path(&in->key, path);
		if (to_set & FUSE_SET_ATTR_SIZE) {
			acfs_log(LOG_WARNING,
				 "refused truncate of %s: committed entries "
				 "are immutable; replace them by rename",
				 path);
			return -EACCES;
		}
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID)) {
			acfs_log(LOG_WARNING,
				 "refused chmod/chown of %s: entries have "
				 "fixed modes", path);
			return -EPERM;
		}
		if (at != ACFS_TIME_KEEP || mt != ACFS_TIME_KEEP) {
			r = acfs_store_set_times(fs->store, &in->key, in->ino,
						 at, mt);
			/* -ENOENT: replaced or removed meanwhile; the old
			 * version's times live only in memory now. */
			if (r < 0 && r != -ENOENT) {
				acfs_log(LOG_ERR, "setting times of %s: %s",
					 path, strerror(-r));
				return r;
			}
		}
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		r = truncate_staged(fs, in, attr->st_size);
		if (r < 0)
			return r;
		in->mtime_ns = in->ctime_ns = now;
	}
	if (in->type != INODE_ENTRY && (to_set & FUSE_SET_ATTR_MODE))
		in->mode = attr->st_mode & 07777;
	if (at != ACFS_TIME_KEEP)
		in->atime_ns = at;
	if (mt != ACFS_TIME_KEEP)
		in->mtime_ns = mt;
	return 0;
}

static void acfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;
	struct stat st;
	int r;

	(void)fi;
	if (is_dir(ino)) {
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE)) {
			reply_err(req, -EPERM);
			return;
		}
		dir_attr(fs, ino, &st);
		fuse_reply_attr(req, &st, fs->entry_timeout);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		reply_err(req, -ENOENT);
		return;
	}
	if (in->type == INODE_GENERAL) {
		gen_setattr(req, ino, attr, to_set);
		return;
	}
	pthread_mutex_lock(&in->lock);
	r = setattr_file(fs, in, attr, to_set);
	file_attr_locked(fs, in, &st);
	double t = attr_timeout_of(fs, in);
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_attr(req, &st, t);
}

/* ---- directories -------------------------------------------------------- */

static void acfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	unsigned shard;

	if (parent == INO_ROOT &&
	    (strcmp(name, "monomorph") == 0 || strcmp(name, "tmp") == 0)) {
		reply_err(req, -EEXIST);
	} else if (parent == INO_MONOMORPH &&
		   acfs_key_parse_shard(name, &shard) == 0) {
		reply_err(req, -EEXIST);
	} else if (gen_is_dir(FS(req), parent)) {
		gen_mkdir(req, parent, name, mode);
	} else {
		acfs_log(LOG_WARNING,
			 "refused mkdir of %s: the cache's directories are "
			 "fixed (monomorph/00..ff, tmp)", name);
		reply_err(req, parent == INO_TMP ? -EPERM : -EINVAL);
	}
}

static void acfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (gen_is_dir(FS(req), parent)) {
		gen_remove(req, parent, name, true);
		return;
	}
	acfs_log(LOG_WARNING, "refused rmdir of %s: the cache's directories "
		 "are fixed", name);
	reply_err(req, -EPERM);
}


bool dirbuf_add(struct dirbuf *d, const char *name, fuse_ino_t ino,
		       mode_t type, off_t next_off)
{
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t need = fuse_add_direntry(d->req, NULL, 0, name, NULL, 0);

	if (d->used + need > d->size)
		return false;
	fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name,
			  &st, next_off);
	d->used += need;
	return true;
}

/* Shard offsets: 1 ".", 2 "..", then 3 + (low 56 key bits << 1 | kind). */
static off_t shard_off(const struct acfs_key *key)
{
	return (off_t)(3 + (((key->hash & 0x00ffffffffffffffULL) << 1) |
			    (uint64_t)key->kind));
}

static int shard_fill_one(const struct acfs_key *key,
			  const struct acfs_entry *e, void *userdata)
{
	struct dirbuf *d = userdata;
	char name[ACFS_KEY_PATH_MAX];

	acfs_key_format_name(key, name);
	return dirbuf_add(d, name, e->id, S_IFREG, shard_off(key)) ? 0 : 1;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct inode *x = *(struct inode *const *)a;
	const struct inode *y = *(struct inode *const *)b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* tmp/ offsets are inode numbers (>= 1024), stable while files come and go. */
static int fill_tmp(struct acfs_fs *fs, struct dirbuf *d, off_t off)
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

static void acfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct dirbuf d = { .req = req, .size = size };
	int r = 0;

	(void)fi;
	bool general_dir = ino != INO_ROOT && gen_is_dir(fs, ino);
	if (!is_dir(ino) && !general_dir) {
		reply_err(req, -ENOTDIR);
		return;
	}
	d.buf = malloc(size);
	if (!d.buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	if (off < 1 && !dirbuf_add(&d, ".", ino, S_IFDIR, 1))
		goto out;
	if (off < 2 && !dirbuf_add(&d, "..", INO_ROOT, S_IFDIR, 2))
		goto out;
	if (ino == INO_ROOT) {
		if (off < 3 && !dirbuf_add(&d, "monomorph", INO_MONOMORPH,
					   S_IFDIR, 3))
			goto out;
		if (off < 4 && !dirbuf_add(&d, "tmp", INO_TMP, S_IFDIR, 4))
			goto out;
		r = gen_fill_dir(fs, &d, INO_ROOT, off);
	} else if (general_dir) {
		r = gen_fill_dir(fs, &d, ino, off);
	} else if (ino == INO_MONOMORPH) {
		for (unsigned s = off < 2 ? 0 : (unsigned)(off - 2); s < 256;
		     s++) {
			char name[3];
			snprintf(name, sizeof(name), "%02x", s);
			if (!dirbuf_add(&d, name, INO_SHARD0 + s, S_IFDIR,
					(off_t)s + 3))
				break;
		}
	} else if (ino == INO_TMP) {
		r = fill_tmp(fs, &d, off < 2 ? 2 : off);
	} else {
		unsigned shard = (unsigned)(ino - INO_SHARD0);
		struct acfs_key after = { 0 };
		bool from_start = off < 3;

		if (!from_start) {
			uint64_t v = (uint64_t)(off - 3);
			after.hash = ((uint64_t)shard << 56) | (v >> 1);
			after.kind = (enum acfs_kind)(v & 1);
		}
		r = acfs_store_foreach_in_shard(fs->store, shard, from_start,
						&after, shard_fill_one, &d);
		if (r > 0)
			r = 0;
	}
out:
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

/* The process (thread group) of thread @tid, or 0 if it is gone. */
static pid_t tgid_of(pid_t tid)
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
 * Whether any process still has the direct create @in open: a file
 * descriptor whose link in /proc names its path under our mountpoint
 * (reading the links never reaches the mount). The closing process's
 * own descriptor is gone from its table by the time FLUSH arrives. Only
 * direct creates pay this scan; the compiler stores by rename.
 */
static bool held_elsewhere(struct acfs_fs *fs, struct inode *in)
{
	char want[PATH_MAX], path[600], link[PATH_MAX];
	char rel[ACFS_KEY_PATH_MAX];
	struct dirent *p, *f;
	bool found = false;
	DIR *procs, *fds;

	if (!fs->mountpoint)
		return false;
	acfs_key_format_path(&in->key, rel);
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
static void note_writer(struct inode *in, pid_t tid)
{
	if (in->type != INODE_PENDING || tid == in->writer_tid)
		return;
	in->writer_tid = tid;
	in->writer_tgid = tgid_of(tid);
}

/* ---- files: create / open / read / write -------------------------------- */

static int open_staging(struct acfs_fs *fs)
{
	int fd = openat(fs->staging_dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
			0600);
	return fd < 0 ? -errno : fd;
}

/*
 * A new staged inode: a fresh version id and an unnamed staging file.
 * @path names it in the log if that fails.
 */
static int new_staged(struct acfs_fs *fs, enum inode_type type, mode_t mode,
		      const struct fuse_ctx *who, const char *path,
		      struct inode **ret)
{
	uint64_t id = acfs_store_alloc_id(fs->store);
	struct inode *in;
	int fd;

	if (!id) {
		acfs_log(LOG_ERR, "cannot create %s: no inode number: the "
			 "store could not record its id counter", path);
		return -EIO;
	}
	fd = open_staging(fs);
	if (fd < 0) {
		acfs_log(LOG_ERR, "cannot create %s: staging file in the "
			 "store: %s", path, strerror(-fd));
		return fd;
	}
	in = inode_new(id, type);
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	in->stage_fd = fd;
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
	bool full = fs->ntmp >= fs->max_tmp_files;
	pthread_mutex_unlock(&fs->itab_lock);
	if (exists)
		return -EEXIST;
	if (full) {
		acfs_log(LOG_WARNING, "refused tmp/%s: %u temp files exist "
			 "already (the limit)", name, fs->max_tmp_files);
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
	if (acfs_store_get(fs->store, &key, &e) == 0) {
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

static void acfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct fuse_entry_param e = { 0 };
	struct inode *in = NULL;
	int r;

	if (gen_is_dir(fs, parent)) {
		gen_create(req, parent, name, mode, fi);
		return;
	}
	if (parent == INO_TMP) {
		r = create_in_tmp(fs, name, mode, fuse_req_ctx(req), &in);
	} else if (is_shard(parent) && fs->kernel_hits) {
		acfs_log(LOG_WARNING, "refused direct create of monomorph/%02x/%s: "
			 "with --hit-mode=kernel entries are stored by writing "
			 "tmp/ and renaming", (unsigned)(parent - INO_SHARD0),
			 name);
		r = -EPERM;
	} else if (is_shard(parent)) {
		r = create_in_shard(fs, (unsigned)(parent - INO_SHARD0), name,
				    fuse_req_ctx(req), fi->flags & O_EXCL,
				    &in);
	} else if (parent == INO_MONOMORPH) {
		acfs_log(LOG_WARNING, "refused create of monomorph/%s: only "
			 "shard directories 00..ff live there", name);
		r = -EINVAL;
	} else {
		acfs_log(LOG_WARNING, "refused create of %s: only monomorph/ "
			 "and tmp/ are supported at the top of the cache",
			 name);
		r = -EPERM;
	}
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	if (!fs->kernel_hits)
		inode_open(fs, in);
	e.ino = in->ino;
	/* A direct create stays invisible to other lookups until committed:
	 * the kernel must ask again instead of caching this dentry. */
	e.entry_timeout = in->type == INODE_PENDING ? 0.0 : fs->entry_timeout;
	e.attr_timeout = 0.0;
	file_attr(fs, in, &e.attr);
	fi->fh = 0;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		if (!fs->kernel_hits)
			inode_close(fs, in);
		inode_forget(fs, in, 1);
	}
}

static void acfs_open(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY ||
		       (fi->flags & O_TRUNC);
	int64_t t0 = fs->trace ? acfs_now_ns() : 0;
	struct inode *in;
	int r = 0;

	if (is_dir(ino)) {
		reply_err(req, -EISDIR);
		return;
	}
	if (fs->kernel_hits) {
		/* The kernel stops sending OPEN (and RELEASE) for good. */
		reply_err(req, -ENOSYS);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		reply_err(req, -ENOENT);
		return;
	}
	if (in->type == INODE_GENERAL) {
		gen_open(req, in, fi);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (in->type == INODE_ENTRY) {
		if (writing) {
			char path[ACFS_KEY_PATH_MAX];
			acfs_key_format_path(&in->key, path);
			acfs_log(LOG_WARNING,
				 "refused writable open of %s: entries are "
				 "immutable; replace them by rename", path);
			r = -EACCES;
		}
		/* This version's bytes never change: keep the page cache, and
		 * a read-only close has nothing to flush. */
		fi->keep_cache = 1;
		fi->noflush = 1;
		if (!writing) {
			fs_lru_note(fs, in);
			acfs_store_count(fs->store, ACFS_STAT_HITS, 1);
			acfs_trace(fs, "hit", &in->key, in->size, t0);
		}
	} else if (fi->flags & O_TRUNC) {
		r = truncate_staged(fs, in, 0);
	}
	pthread_mutex_unlock(&in->lock);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	inode_open(fs, in);
	if (fuse_reply_open(req, fi) != 0)
		inode_close(fs, in);
}

/* Caller holds in->lock; it is released here before the reply. */
static void read_entry(fuse_req_t req, struct acfs_fs *fs, struct inode *in,
		       size_t size, off_t off)
{
	int r = fs_load_locked(fs, in);
	const char *data = in->data;
	size_t len = in->data_len;

	if (r == 0)
		in->drop_data = (uint64_t)off + size >= len;

	/* The kernel may send RELEASE (and FORGET) as soon as it has the
	 * reply, before fuse_reply_buf returns here: hold the inode open so
	 * its bytes outlive the reply. */
	if (r == 0)
		inode_open(fs, in);
	pthread_mutex_unlock(&in->lock);
	if (r < 0) {
		reply_err(req, r);
		return;
	}
	if ((uint64_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, data + off,
			       size < len - (size_t)off ? size
							: len - (size_t)off);
	inode_close(fs, in);
}

static void acfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in = inode_find(fs, ino);
	int r;

	(void)fi;
	if (!in) {
		reply_err(req, -EBADF);
		return;
	}
	if (in->type == INODE_GENERAL) {
		gen_read(req, ino, size, off);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (in->type == INODE_ENTRY) {
		read_entry(req, fs, in, size, off);
		return;
	}
	char *buf = malloc(size ? size : 1);
	ssize_t n = buf ? pread(in->stage_fd, buf, size, off) : -1;
	r = n < 0 ? (buf ? -errno : -ENOMEM) : 0;
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void acfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	char err[ACFS_ERR_MAX];
	struct acfs_fs *fs = FS(req);
	struct inode *in = inode_find(fs, ino);
	ssize_t n;
	int r = 0;

	(void)fi;
	if (!in) {
		reply_err(req, -EBADF);
		return;
	}
	if (in->type == INODE_GENERAL) {
		gen_write(req, ino, buf, size, off);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (in->type == INODE_ENTRY) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&in->key, path);
		acfs_log(LOG_WARNING, "refused write to %s: it is committed "
			 "and immutable", path);
		r = -EACCES;
	} else if ((uint64_t)off + size > fs->max_entry_size) {
		char what[300];
		describe_locked(fs, in, what, sizeof(what));
		acfs_log(LOG_WARNING, "refused write to %s past %llu bytes "
			 "(the --max-entry-size)", what,
			 (unsigned long long)fs->max_entry_size);
		acfs_store_count(fs->store, ACFS_STAT_REJECTED, 1);
		r = -EFBIG;
	} else if ((uint64_t)off + size > in->size &&
		   (r = acfs_store_room(fs->store, size, 1, true, err)) < 0) {
		/* The staging directory is on the store's filesystem: its
		 * reserve is RocksDB's, not the writers'. */
		char what[300];
		describe_locked(fs, in, what, sizeof(what));
		acfs_log(LOG_ERR, "write to %s refused: %s", what, err);
		acfs_store_count(fs->store, ACFS_STAT_REJECTED, 1);
	} else {
		n = pwrite(in->stage_fd, buf, size, off);
		if (n < 0) {
			char what[300];
			r = -errno;
			describe_locked(fs, in, what, sizeof(what));
			acfs_log(LOG_ERR, "write to %s: staging file in %s: %s",
				 what, fs->store_dir, strerror(-r));
		} else {
			if ((uint64_t)off + (uint64_t)n > in->size)
				in->size = (uint64_t)off + (uint64_t)n;
			in->written = true;
			note_writer(in, fuse_req_ctx(req)->pid);
			in->mtime_ns = in->ctime_ns = acfs_now_ns();
		}
	}
	pthread_mutex_unlock(&in->lock);
	if (r < 0)
		reply_err(req, r);
	else
		fuse_reply_write(req, (size_t)n);
}

/* ---- commit ------------------------------------------------------------- */

/*
 * Checks what is about to become entry @key: bitcode to --validate depth
 * (and --target), .meta as JSON. On success *ret_info is what the store
 * keeps beside the entry (malloc'd, or NULL). A refusal is -EINVAL for the
 * caller, with the key and LLVM's reason in the log.
 */
static int validate(struct acfs_fs *fs, const struct acfs_key *key,
		    const void *buf, size_t len, const char *origin,
		    const void **ret_info, size_t *ret_len)
{
	char err[ACFS_ERR_MAX] = "", path[ACFS_KEY_PATH_MAX];
	void *enc = NULL;
	int r = 0;

	*ret_info = NULL;
	*ret_len = 0;
	if (fs->validate == ACFS_VALIDATE_NONE)
		return 0;
	if (key->kind == ACFS_KIND_META) {
		r = acfs_json_check(buf, len, err);
	} else {
		/* LLVM runs in a helper process: it aborts on some inputs. */
		r = acfs_validator_check(fs->validator, buf, len, fs->validate,
					 fs->target, &enc, ret_len, err);
		*ret_info = enc;
	}
	if (r < 0) {
		acfs_key_format_path(key, path);
		acfs_log(LOG_WARNING, "refused commit of %s (%zu bytes%s%s): %s",
			 path, len, origin ? " from remote " : "",
			 origin ? origin : "", err[0] ? err : strerror(-r));
		acfs_store_count(fs->store, ACFS_STAT_REJECTED, 1);
		return r == -ENOMEM ? r : -EINVAL;
	}
	return 0;
}

void fs_commit_gate(struct acfs_fs *fs, uint64_t bytes, bool take)
{
	pthread_mutex_lock(&fs->commit_lock);
	if (take) {
		while (fs->commit_bytes > 0 &&
		       fs->commit_bytes + bytes > fs->max_loaded)
			pthread_cond_wait(&fs->commit_cv, &fs->commit_lock);
		fs->commit_bytes += bytes;
	} else {
		fs->commit_bytes -= bytes;
		pthread_cond_broadcast(&fs->commit_cv);
	}
	pthread_mutex_unlock(&fs->commit_lock);
}

static void unmap_staged(struct acfs_fs *fs, char *buf, uint64_t size)
{
	if (size)
		munmap(buf, size);
	fs_commit_gate(fs, size, false);
}

/* acfs_store_commit, waiting for eviction while the store is over budget. */
static int store_commit(struct acfs_fs *fs, const struct acfs_commit *c,
			struct acfs_entry *ent, struct acfs_entry *old,
			bool *kept, char *err)
{
	int r;

	for (int tries = 0;; tries++) {
		pthread_rwlock_wrlock(&fs->ns_lock);
		r = acfs_store_commit(fs->store, c, ent, old, kept, err);
		pthread_rwlock_unlock(&fs->ns_lock);
		if (r != -EAGAIN)
			return r;
		if (tries == 3) {
			/* Eviction ran and could not make room: what is
			 * left is pinned. */
			snprintf(err, ACFS_ERR_MAX, "the store is over its "
				 "%llu-byte budget and eviction cannot free "
				 "space (pinned entries?); unpin or raise "
				 "--max-size", (unsigned long long)fs->max_size);
			return -ENOSPC;
		}
		fs_lru_wait_room(fs);
	}
}

int fs_commit_fetched(struct acfs_fs *fs, const struct acfs_key *key,
		      const void *data, size_t len, const char *origin)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	struct acfs_commit c = { 0 };
	struct acfs_entry ent, old;
	bool kept = false;
	int r;

	acfs_key_format_path(key, path);
	if (len > fs->max_entry_size) {
		acfs_log(LOG_WARNING, "refused %s from remote %s: %zu bytes, "
			 "over --max-entry-size", path, origin, len);
		return -EFBIG;
	}
	r = validate(fs, key, data, len, origin, &c.info, &c.info_len);
	if (r < 0)
		return r;
	c.key = *key;
	c.id = acfs_store_alloc_id(fs->store);
	c.data = data;
	c.size = len;
	c.now_ns = acfs_now_ns();
	c.noreplace = true; /* a local commit meanwhile wins */
	c.in_use = inode_in_use;
	c.userdata = fs;
	if (!c.id) {
		free((void *)c.info);
		return -EIO;
	}
	r = store_commit(fs, &c, &ent, &old, &kept, err);
	free((void *)c.info);
	if (r == -EEXIST)
		return 0;
	if (r < 0) {
		acfs_log(LOG_ERR, "commit of %s from remote %s failed: %s",
			 path, origin, err);
		return r;
	}
	if (fs_over_budget(fs))
		fs_lru_kick(fs);
	return 0;
}

/*
 * Turns staged inode @in (locked by the caller) into the committed version
 * of @key. @what names the operation for logs.
 */
static int commit_locked(struct acfs_fs *fs, struct inode *in,
			 const struct acfs_key *key, bool noreplace)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	struct acfs_entry old, ent;
	bool kept = false;
	struct acfs_commit c = { 0 };
	char *buf;
	int r;
	int64_t t0 = fs->trace ? acfs_now_ns() : 0;

	acfs_key_format_path(key, path);
	/* The staged bytes are read through a mapping (page cache, not
	 * daemon memory); the in->lock held keeps the file from changing. */
	fs_commit_gate(fs, in->size, true);
	buf = in->size ? mmap(NULL, in->size, PROT_READ, MAP_SHARED,
			      in->stage_fd, 0)
		       : (void *)"";
	if (buf == MAP_FAILED) {
		r = -errno;
		acfs_log(LOG_ERR, "commit of %s: mapping %llu staged bytes: %s",
			 path, (unsigned long long)in->size, strerror(-r));
		fs_commit_gate(fs, in->size, false);
		return r;
	}
	r = validate(fs, key, buf, in->size, NULL, &c.info, &c.info_len);
	if (r < 0) {
		unmap_staged(fs, buf, in->size);
		return r;
	}
	c.key = *key;
	c.id = in->ino;
	c.data = buf;
	c.size = in->size;
	c.now_ns = acfs_now_ns();
	c.noreplace = noreplace;
	c.in_use = inode_in_use;
	c.userdata = fs;
	uint64_t upload_to[fs_remote_count(fs) + 1];
	c.upload_to = upload_to;
	c.nupload = fs_remote_upload_targets(fs, key, upload_to);

	r = store_commit(fs, &c, &ent, &old, &kept, err);
	if (r == 0)
		fs_remote_queued(fs, upload_to, c.nupload);
	unmap_staged(fs, buf, in->size);
	free((void *)c.info);
	if (r == -EEXIST)
		return r;
	if (r < 0) {
		acfs_log(LOG_ERR, "commit of %s failed: %s", path, err);
		acfs_store_count(fs->store, ACFS_STAT_REJECTED, 1);
		return r;
	}
	if (fs_over_budget(fs))
		fs_lru_kick(fs);
	inode_retired(fs, old.id, kept);
	close(in->stage_fd);
	in->stage_fd = -1;
	in->type = INODE_ENTRY;
	in->key = *key;
	in->mode = 0444;
	in->atime_ns = in->mtime_ns = in->ctime_ns = c.now_ns;
	in->stored = ent.stored;
	memcpy(in->digest, ent.digest, sizeof(in->digest));
	acfs_trace(fs, "store", key, in->size, t0);
	acfs_log(LOG_DEBUG, "committed %s (%llu bytes, version %llu)", path,
		 (unsigned long long)in->size, (unsigned long long)in->ino);
	return 0;
}

static void acfs_flush(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;
	int r = 0;

	(void)fi;
	if (fs->kernel_hits) {
		/* The kernel stops sending FLUSH for good: closes are free. */
		reply_err(req, -ENOSYS);
		return;
	}
	in = inode_find(fs, ino);
	if (!in) {
		reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&in->lock);
	/* Shells open, dup2 and close the original fd before writing: a
	 * flush with nothing written yet must not commit an empty entry.
	 * What no flush committed is committed at the last release. */
	/* A child that inherited the fd and exits also flushes: only the
	 * process that wrote commits before its close returns, and only if
	 * no other process still holds the file: in `{ head; tail; } > f`
	 * head's close is not the end of the writing. */
	if (in->type == INODE_PENDING && in->written &&
	    in->writer_tgid != 0 &&
	    tgid_of(fuse_req_ctx(req)->pid) == in->writer_tgid &&
	    !held_elsewhere(fs, in)) {
		r = commit_locked(fs, in, &in->key, false);
		if (r == 0)
			pending_remove(fs, in);
		else
			in->failed = true;
	}
	pthread_mutex_unlock(&in->lock);
	reply_err(req, r);
}

static void acfs_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in = fs->kernel_hits ? NULL : inode_find(fs, ino);

	(void)fi;
	if (in) {
		pthread_mutex_lock(&fs->itab_lock);
		bool last = in->nopen == 1;
		pthread_mutex_unlock(&fs->itab_lock);
		pthread_mutex_lock(&in->lock);
		if (last && in->type == INODE_PENDING) {
			/* Errors here reach nobody; commit_locked logs them. */
			if (!in->failed)
				commit_locked(fs, in, &in->key, false);
			pending_remove(fs, in);
		}
		pthread_mutex_unlock(&in->lock);
		inode_close(fs, in);
	}
	reply_err(req, 0);
}

static void acfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	int r;

	(void)ino;
	(void)datasync;
	(void)fi;
	/* Staged bytes die with the mount anyway; committed ones are made
	 * durable by syncing the store's write-ahead log. */
	r = acfs_store_sync(fs->store);
	if (r < 0)
		acfs_log(LOG_ERR, "fsync: syncing the store %s failed: %s",
			 fs->store_dir, strerror(-r));
	reply_err(req, r);
}

static void acfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	acfs_fsync(req, ino, datasync, fi);
}

/* ---- unlink / rename ---------------------------------------------------- */

static void acfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct acfs_fs *fs = FS(req);
	char err[ACFS_ERR_MAX] = "";
	struct acfs_entry old;
	struct acfs_key key;
	bool kept = false;
	int r;

	if (parent == INO_TMP) {
		pthread_mutex_lock(&fs->itab_lock);
		struct inode *in = tmp_find_locked(fs, name);
		if (in)
			tmp_unlink_locked(fs, in);
		pthread_mutex_unlock(&fs->itab_lock);
		reply_err(req, in ? 0 : -ENOENT);
		return;
	}
	if (gen_is_dir(fs, parent)) {
		gen_remove(req, parent, name, false);
		return;
	}
	if (!is_shard(parent)) {
		reply_err(req, parent == INO_MONOMORPH ? -EPERM : -ENOTDIR);
		return;
	}
	if (acfs_key_parse_name((unsigned)(parent - INO_SHARD0), name,
				&key) < 0) {
		reply_err(req, -ENOENT);
		return;
	}
	pthread_rwlock_wrlock(&fs->ns_lock);
	r = acfs_store_remove(fs->store, &key, 0, inode_in_use, fs, &old, &kept,
			      err);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (r == 0) {
		inode_retired(fs, old.id, kept);
	} else if (r != -ENOENT) {
		char path[ACFS_KEY_PATH_MAX];
		acfs_key_format_path(&key, path);
		acfs_log(LOG_ERR, "unlink of %s failed: %s", path, err);
	}
	reply_err(req, r);
}

static int rename_in_tmp(struct acfs_fs *fs, const char *name,
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

static int rename_to_entry(struct acfs_fs *fs, const char *name,
			   unsigned shard, const char *newname, unsigned flags)
{
	struct acfs_key key;
	struct inode *src;
	int r;

	if (acfs_key_parse_name(shard, newname, &key) < 0) {
		acfs_log(LOG_WARNING,
			 "refused rename of tmp/%s to monomorph/%02x/%s: "
			 "entries are named <14 lowercase hex>.bc or .meta",
			 name, shard, newname);
		return -EINVAL;
	}
	pthread_mutex_lock(&fs->itab_lock);
	src = tmp_find_locked(fs, name);
	pthread_mutex_unlock(&fs->itab_lock);
	if (!src)
		return -ENOENT;

	pthread_mutex_lock(&src->lock);
	if (src->type != INODE_TMP) {
		r = -ENOENT;
	} else {
		r = commit_locked(fs, src, &key,
				  (flags & RENAME_NOREPLACE) != 0);
	}
	pthread_mutex_unlock(&src->lock);
	if (r == 0) {
		pthread_mutex_lock(&fs->itab_lock);
		if (src->in_tmp)
			tmp_unlink_locked(fs, src);
		pthread_mutex_unlock(&fs->itab_lock);
	}
	return r;
}

static void acfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	struct acfs_fs *fs = FS(req);
	int r;

	bool from_gen = gen_is_dir(fs, parent) &&
			!(parent == INO_ROOT && (!strcmp(name, "monomorph") ||
						 !strcmp(name, "tmp")));
	bool to_gen = gen_is_dir(fs, newparent);

	if (from_gen && to_gen) {
		gen_rename(req, parent, name, newparent, newname, flags);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		r = -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	} else if (from_gen || to_gen) {
		/* Entries and ordinary files are different worlds: mv(1)
		 * copies, which validates what enters monomorph/. */
		r = -EXDEV;
	} else if (parent == INO_TMP && newparent == INO_TMP) {
		r = rename_in_tmp(fs, name, newname, flags);
	} else if (parent == INO_TMP && is_shard(newparent)) {
		r = rename_to_entry(fs, name,
				    (unsigned)(newparent - INO_SHARD0),
				    newname, flags);
	} else if (parent == INO_TMP && newparent == INO_MONOMORPH) {
		acfs_log(LOG_WARNING, "refused rename of tmp/%s to "
			 "monomorph/%s: entries live in shards 00..ff",
			 name, newname);
		r = -EINVAL;
	} else if (is_shard(parent)) {
		/* Entries are immutable in place; mv(1) falls back to copy. */
		r = -EXDEV;
	} else {
		acfs_log(LOG_WARNING, "refused rename of %s to %s: only "
			 "tmp/ files can be renamed into monomorph/", name,
			 newname);
		r = -EPERM;
	}
	reply_err(req, r);
}

/* ---- misc --------------------------------------------------------------- */

static void acfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct acfs_fs *fs = FS(req);
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs->staging_dfd, &sv) < 0) {
		reply_err(req, -errno);
		return;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void acfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;
	int r = 0;

	if (!is_dir(ino) && (mask & W_OK)) {
		in = inode_find(fs, ino);
		if (!in) {
			r = -ENOENT;
		} else {
			pthread_mutex_lock(&in->lock);
			if (in->type == INODE_ENTRY)
				r = -EACCES;
			pthread_mutex_unlock(&in->lock);
		}
	}
	reply_err(req, r);
}

static void acfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Every write must reach the daemon before close returns. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void acfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	if (gen_is_dir(FS(req), parent) &&
	    !(parent == INO_ROOT && (!strcmp(name, "monomorph") ||
				     !strcmp(name, "tmp"))))
		gen_mknod(req, parent, name, mode, rdev);
	else
		reply_err(req, -EPERM);
}

static void acfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	if (gen_is_dir(FS(req), parent)) {
		gen_symlink(req, link, parent, name);
		return;
	}
	acfs_log(LOG_WARNING, "refused symlink %s: monomorph/ and tmp/ hold "
		 "regular files only", name);
	reply_err(req, -EPERM);
}

static void acfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	if (gen_is_node(FS(req), ino))
		gen_readlink(req, ino);
	else
		reply_err(req, -EINVAL);
}

static void acfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	struct acfs_fs *fs = FS(req);

	if (gen_is_node(fs, ino) && gen_is_dir(fs, newparent))
		gen_link(req, ino, newparent, newname);
	else
		reply_err(req, gen_is_node(fs, ino) || gen_is_dir(fs, newparent)
				       ? -EXDEV
				       : -EPERM);
}

const struct fuse_lowlevel_ops acfs_ops = {
	.init = acfs_init,
	.lookup = acfs_lookup,
	.forget = acfs_forget,
	.forget_multi = acfs_forget_multi,
	.getattr = acfs_getattr,
	.setattr = acfs_setattr,
	.mkdir = acfs_mkdir,
	.mknod = acfs_mknod,
	.symlink = acfs_symlink,
	.readlink = acfs_readlink,
	.link = acfs_link,
	.rmdir = acfs_rmdir,
	.unlink = acfs_unlink,
	.rename = acfs_rename,
	.create = acfs_create,
	.open = acfs_open,
	.read = acfs_read,
	.write = acfs_write,
	.flush = acfs_flush,
	.release = acfs_release,
	.fsync = acfs_fsync,
	.fsyncdir = acfs_fsyncdir,
	.readdir = acfs_readdir,
	.statfs = acfs_statfs,
	.access = acfs_access,
	.setxattr = acfs_setxattr,
	.getxattr = acfs_getxattr,
	.listxattr = acfs_listxattr,
	.removexattr = acfs_removexattr,
};
