/* SPDX-License-Identifier: MIT */
/*
 * Per-mount state of the aria-cachefs daemon and its inode table.
 *
 * Inode numbers:
 *   1               the mount root
 *   2               monomorph/
 *   3               tmp/
 *   16 .. 271       monomorph/00 .. monomorph/ff
 *   >= 1024         files: the store's version ids. A temp file gets a fresh
 *                   id at create; when its rename commits, that id becomes
 *                   the committed version's id, so the kernel's dentry (moved
 *                   by rename) keeps naming the right inode. Every version
 *                   has its own number and its bytes never change, which is
 *                   what makes long kernel timeouts and keep_cache safe.
 *
 * Inode states and moves:
 *   TMP      a file in tmp/; bytes in a staging file outside the mount
 *   PENDING  a direct create in a shard, invisible to lookups until flush
 *   ENTRY    a committed version; immutable bytes in the store
 *   TMP -> ENTRY by rename, PENDING -> ENTRY by a successful flush.
 *
 * Invariants:
 *   1. An inode is in the table while nlookup > 0 or nopen > 0, or while
 *      it is a temp file named in tmp/.
 *   2. An ENTRY inode that an entry no longer names is `orphaned` (in
 *      every mount's table that holds it); its blob is dropped from the
 *      store when it has left the last of them.
 *   3. Lookups hold ns_lock shared from reading the store until the inode
 *      is in the table and the reply is sent; commits and removes hold it
 *      exclusive, so a version's "in use" answer cannot go stale during a
 *      commit, and the kernel invalidations a commit sends to the other
 *      mounts (daemon/mounts.c) come after any answer those mounts gave
 *      from the store as it was before (the kernel serialises them on the
 *      directory's lock).
 *
 * Locks, what each protects, and the order they nest in (a thread holding
 * one may take only those below it; leaves take nothing); d-> locks are
 * the daemon's (struct acfs_daemon), fs-> ones a mount's. Functions named
 * *_locked require the named lock held; debug builds assert it
 * (FS_ASSERT_HELD).
 *
 *   lock               protects                              taken by
 *   inode->lock        an inode's type, key, size, times,     every request
 *                      staging fd, loaded bytes (fields         on an inode
 *                      marked "lock" in struct inode)
 *   d->commit_lock     commit_bytes (commit/gate.c)           commits, fetches
 *   d->ns_lock (rw)    the namespace: store reads that pin    lookups (shared),
 *                      a version vs commits/removes/evictions  commits (excl.)
 *   store->tree_lock   the general tree (core/tree.c)         tree requests
 *   store->lock        entries, lru rows, counters, ids       core/store.c
 *   kv->lock (rw)      RocksDB handles vs a reopen after a     core/kv.c
 *                      failed write
 *   d->mounts_lock     the list of mounts; a mount's struct    daemon/mounts.c,
 *                      stays while the lock is held           inodes/inode.c
 *   d->deliver_lock    telling other mounts' kernels now;      housekeeping/
 *                      taken with no daemon lock held but      lru.c
 *                      in->lock, and by mount removal
 *   fs->itab_lock      the inode table, tmp/ names, pending   inodes/inode.c
 *                      list, nlookup/nopen (fields marked
 *                      "itab_lock")
 *   d->verified_lock   versions checked since start           entries/load.c
 *   d->lru_lock        recorded uses, evict_wanted, stopping  housekeeping/
 *   fs->inval_lock     queued kernel invalidations (after      housekeeping/
 *                      lru_lock when both)
 *   remote locks       per remote: breaker, counters (r->lock); remote/
 *                      fetches and negative cache (rs->lock);
 *                      upload queues (rs->up_lock): leaves
 *   validator lock     helper processes (core/validator.c)    commits
 *   d->control_lock    control clients                        daemon/control.c
 *
 *   Order: inode->lock > commit_lock > ns_lock > tree_lock > store->lock >
 *   kv->lock > mounts_lock > itab_lock > verified_lock > lru_lock >
 *   inval_lock; the
 *   remote, validator and control locks are leaves. Commits hold
 *   inode->lock across the whole pipeline (validate, encode, apply) and
 *   take the others inside it; eviction takes ns_lock, then the store's,
 *   then itab_lock (inode_retired) and inval_lock (fs_invalidate).
 */
#ifndef ACFS_FS_CACHEFS_H
#define ACFS_FS_CACHEFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "acfs/bitcode.h"
#include "acfs/config.h"
#include "acfs/histogram.h"
#include "acfs/key.h"
#include "acfs/store.h"
#include "acfs/validator.h"
#include "util/util.h"

#define INO_ROOT 1
#define INO_MONOMORPH 2
#define INO_TMP 3
#define INO_SHARD0 16
#define INO_SHARD_LAST (INO_SHARD0 + 255)

static inline bool fs_is_shard(fuse_ino_t ino)
{
	return ino >= INO_SHARD0 && ino <= INO_SHARD_LAST;
}

/* The fixed directories: root, monomorph/, tmp/ and the shards. */
static inline bool fs_is_dir(fuse_ino_t ino)
{
	return ino == INO_ROOT || ino == INO_MONOMORPH || ino == INO_TMP ||
	       fs_is_shard(ino);
}

/* Is @name in @parent one of the fixed names (monomorph, tmp at the root)? */
static inline bool fs_fixed_name(fuse_ino_t parent, const char *name)
{
	return parent == INO_ROOT && (__builtin_strcmp(name, "monomorph") == 0 ||
				      __builtin_strcmp(name, "tmp") == 0);
}

/* Entries' dentries in a kernel-hit mount whose opens cannot be watched. */
#define UNWATCHED_ENTRY_TIMEOUT 30.0

/* Entries in --hit-mode=open: atime moves with use, and ls -lu should show
 * it within 1 s. */
#define ENTRY_ATTR_TIMEOUT 1.0

/* Staged files up to this size keep their bytes in the daemon's memory:
 * no staging file to create, write and map for a typical entry. */
#define ACFS_STAGE_MEM_MAX (1024 * 1024)

/* Entries smaller than this are always loaded into memory. */
#define ACFS_SPILL_MIN (256 * 1024)

/* GENERAL: a file, directory or symlink of the general tree (tree/general.c);
 * its mode keeps the file type. */
enum inode_type { INODE_TMP, INODE_PENDING, INODE_ENTRY, INODE_GENERAL };

struct inode {
	uint64_t ino;
	struct inode *hnext;        /* protected by fs->itab_lock */
	struct inode *tnext;        /* tmp/ listing, protected by itab_lock */
	uint64_t nlookup;           /* protected by fs->itab_lock */
	uint64_t nopen;             /* protected by fs->itab_lock */
	bool orphaned;              /* protected by fs->itab_lock */
	bool in_tmp;                /* linked in fs->tmp_list; itab_lock */
	char *name;                 /* tmp name; protected by itab_lock */
	struct inode *pnext;        /* fs->pending_list; itab_lock */
	bool in_pending;            /* protected by itab_lock */

	pthread_mutex_t lock;
	enum inode_type type;       /* written under lock (atomic stores);
				       read under lock, or by inode_type()
				       without it: GENERAL never changes,
				       TMP/PENDING only become ENTRY */
	struct acfs_key key;        /* ENTRY/PENDING target; lock */
	uint64_t size;              /* protected by lock */
	int64_t atime_ns, mtime_ns, ctime_ns; /* protected by lock */
	uint64_t stored;            /* ENTRY: bytes in the store; lock */
	mode_t mode;                /* permission bits; lock */
	uid_t uid;                  /* TMP/PENDING: the creator; lock */
	gid_t gid;                  /* (entries belong to the mount's owner) */
	int stage_fd;               /* TMP/PENDING: staging file, or -1
				       while the bytes fit in stage_mem;
				       lock */
	char *stage_mem;            /* TMP/PENDING: staged bytes in memory
				       (stage_cap counted in
				       d->stage_mem_bytes); lock */
	size_t stage_cap;           /* protected by lock */
	uint64_t wgen;              /* TMP/PENDING: bumped by each write and
				       truncate; lock */
	struct fs_prepared *prep;   /* TMP: its commit prepared at close;
				       lock */
	bool written;               /* PENDING: a write arrived; lock */
	bool rw_opened;             /* TMP/PENDING: opened O_RDWR (a shared
				       writable mapping is possible: its
				       dirty pages are written back before
				       a rename commits); atomic */
	bool drop_data;             /* kernel mode: a read reached EOF; lock */
	bool failed;                /* PENDING: its commit was refused */
	pid_t writer_tid, writer_tgid; /* PENDING: last writer; lock */
	bool close_pin;             /* kernel mode, PENDING: pinned by its
				       create until its close event; lock */
	int writer_pidfd;           /* kernel mode, PENDING: a pidfd of
				       writer_tgid, to learn how it ended
				       (staging.c); -1 if none; lock */
	void *data;                 /* ENTRY: loaded bytes while open; lock */
	size_t data_len;            /* protected by lock */
	bool data_mapped;           /* data is a mapped spill file; lock */
	int64_t data_at;            /* kernel mode: last read of data, 0 if
				       none is loaded; lock (atomic read) */
	bool quarantined;           /* failed its digest: reads fail; lock */
	unsigned char digest[ACFS_DIGEST_SIZE]; /* ENTRY: from its record */
};

/* A temp file's commit prepared at its close (commit/commit.c). */
struct fs_prepared {
	uint64_t wgen;
	struct acfs_encoded enc;
	void *info;             /* from the bitcode check at --validate */
	size_t info_len;
	uint64_t charged;       /* counted in d->stage_mem_bytes */
};

struct acfs_fs;

/*
 * Daemon-wide state: one per daemon, whatever it serves. The store and
 * its namespace lock, the settings, the LLVM helpers, the memory gates,
 * the LRU keeper, the remote tiers and the control socket.
 */
struct acfs_daemon {
	/* The settings the daemon runs with and where each came from
	 * (aria-cache config through a mount shows them). Read-only. */
	const struct acfs_config *config;
	struct acfs_store *store;
	char *store_dir;
	int staging_dfd;            /* directory of staging files */
	int64_t start_ns;
	uint64_t max_entry_size;
	enum acfs_validate validate; /* depth of the check at commit */
	const char *target;         /* refuse other triples; may be NULL */
	bool trace;                 /* ARIA_CACHE_TRACE=1: a line per event */
	/* How long hits, stores, validations and remote fetches take
	 * (aria-cache metrics); atomic. */
	struct acfs_histogram latency[ACFS_LAT_COUNT];
	/*
	 * --hit-mode=kernel: OPEN and FLUSH answer ENOSYS once, so the
	 * kernel serves hits from its caches without asking the daemon; uses
	 * and hits are then the inotify open events of housekeeping/uses.c;
	 * no RELEASE arrives then, not even for created files (Linux 6.18),
	 * so inodes live by lookup count alone; a direct create in a shard
	 * commits at its IN_CLOSE_WRITE event (fs_commit_closed), after a
	 * check of how its writer ended (fs_writer_fate).
	 */
	bool kernel_hits;
	bool sync_failing;          /* the keeper's periodic sync failed last
				       time (said once); keeper thread only */
	unsigned max_tmp_files;     /* staging files the fd budget allows */
	/* Bytes staged in memory, daemon-wide (atomic); files beyond
	 * ACFS_STAGE_MEM_MAX each, or past stage_mem_max in all, are staged
	 * in a file instead. */
	uint64_t stage_mem_bytes;
	uint64_t stage_mem_max;
	enum acfs_verify_reads verify_reads;
	bool evict_general;         /* general files count in the budget */
	struct acfs_validator *validator; /* LLVM in helper processes */
	/* entries/load.c: bytes of entries held in memory for reads; past
	 * max_loaded, entries of ACFS_SPILL_MIN bytes or more are loaded
	 * into mapped files in the staging directory instead. */
	uint64_t loaded_bytes;      /* atomic */
	uint64_t max_loaded;
	/* Bytes of commits in flight (each holds about twice its size in
	 * memory while it is compressed and written): a commit waits while
	 * others hold max_loaded, so memory stays bounded whatever clients
	 * write at once. */
	pthread_mutex_t commit_lock;
	pthread_cond_t commit_cv;
	uint64_t commit_bytes;      /* protected by commit_lock */
	pthread_mutex_t verified_lock;
	uint64_t *verified;         /* versions checked since start */
	size_t verified_cap, verified_n; /* protected by verified_lock */

	pthread_rwlock_t ns_lock;   /* see invariant 3 */
	uint64_t max_size;          /* the budget, stored bytes */
	unsigned low_water_pct;     /* eviction stops at this % of it */
	unsigned flush_secs;        /* uses reach the store this often */

	/* housekeeping/: recorded uses (uses.c), the housekeeping thread
	 * (lru.c) */
	pthread_mutex_t lru_lock;
	pthread_cond_t lru_cv;      /* wakes the housekeeper */
	pthread_cond_t room_cv;     /* an eviction pass ended */
	struct acfs_touch *touches; /* protected by lru_lock */
	size_t ntouches, touch_cap; /* protected by lru_lock */
	bool evict_wanted;          /* protected by lru_lock */
	bool stopping;              /* the housekeeper stops; lru_lock */
	uint64_t evict_passes;      /* protected by lru_lock */
	pthread_t keeper;
	bool keeper_started;

	/* housekeeping/uses.c: with kernel_hits, opens of entries seen
	 * through inotify on every mount's shard directories */
	int use_fd;                 /* inotify instance, or -1 */
	int use_stop_fd;            /* eventfd: its reader stops */
	pthread_t use_thread;
	bool use_started;
	pthread_mutex_t use_lock;   /* one reader of the queue at a time;
				       before ns_lock, mounts_lock and
				       lru_lock */
	struct use_watch *watches;  /* by watch descriptor; use_lock */
	size_t nwatches;            /* protected by use_lock */
	/* Close events of direct creates read from the queue, applied by
	 * fs_uses_apply under close_lock (taken before use_lock), never by
	 * the keeper: a commit may wait for its eviction pass. */
	pthread_mutex_t close_lock;
	struct use_close *closes;   /* protected by use_lock */
	size_t ncloses, close_cap;  /* protected by use_lock */
	uint64_t use_overflows;     /* queue overflows seen; atomic */

	/* remote/: remote tiers (--remote); NULL without */
	struct fs_remotes *remote;
	/* A direct create's close event: fs_commit_closed (set at start;
	 * housekeeping/uses.c sits below commit/). */
	void (*commit_closed)(struct acfs_fs *fs, const struct acfs_key *key);
	/* Where fetched bytes go: fs_commit_fetched (set at start; a
	 * pointer so that remote/ does not call up into commit/). */
	int (*commit_fetched)(struct acfs_daemon *d, const struct acfs_key *key,
			      const void *data, size_t len,
			      const char *origin);

	/* daemon/mounts.c: the mounts this daemon serves. A mount joins
	 * the list once mounted and leaves it when its session ends; its
	 * struct is freed only after it left, under mounts_lock, so code
	 * walking the list under the lock never meets a freed mount. */
	pthread_mutex_t mounts_lock;
	struct acfs_fs *mounts;     /* protected by mounts_lock */
	unsigned nmounts;           /* protected by mounts_lock */
	bool mounts_closed;         /* no more mounts join; mounts_lock */
	bool signalled;             /* a stop signal ended them; mounts_lock */
	unsigned mounts_gen;        /* a mount left; control_lock */
	/* One request at a time tells other mounts' kernels of a change
	 * (fs_invalidate_mounts_now); a mount is freed only holding it. */
	pthread_mutex_t deliver_lock;
	/* Changes to the namespace seen by fs_invalidate_mounts (entries
	 * committed, replaced, removed); atomic. */
	uint64_t ns_seq;
	int wake_fd;                /* eventfd: a mount ended */
	int signal_fd;              /* SIGTERM, SIGINT, SIGHUP */
	/* What every mount gets: its owner, group and directory mode, and
	 * how its session loop runs (FUSE's -s, clone_fd, max_threads). */
	uid_t mount_uid;
	gid_t mount_gid;
	mode_t mount_dir_mode;
	bool singlethread;
	int clone_fd;
	unsigned max_threads, max_idle_threads;

	/* daemon/control.c */
	int control_fd;
	pthread_t control;
	bool control_started;
	pthread_mutex_t control_lock;
	pthread_cond_t control_cv;  /* a client's thread ended */
	struct client *clients;     /* protected by control_lock */
	unsigned nclients;          /* protected by control_lock */
	bool control_stopping;      /* protected by control_lock */
};

/*
 * Per-mount state: a FUSE session, what the kernel knows of it (its
 * inode table, tmp/ names, direct creates) and its kernel invalidations.
 * Everything shared goes through d; a daemon serves any number of mounts
 * of its store (daemon/mounts.c).
 */
struct acfs_fs {
	struct acfs_daemon *d;
	struct acfs_fs *next;       /* d->mounts; d->mounts_lock */
	struct fuse_session *se;
	char *mountpoint;           /* absolute; never accessed, only named */
	char **fuse_argv;           /* the FUSE options it was mounted with
				       (recorded for a restart) */
	int fuse_argc;
	pthread_t loop;             /* runs the session (daemon/mounts.c) */
	bool loop_started;          /* d->mounts_lock */
	bool ended;                 /* the session ended; d->mounts_lock */
	bool stopping;              /* the notifier stops; inval_lock */
	/* This mount's share of the store's counters (aria-cache stats);
	 * atomic. */
	uint64_t hits, misses, stores;
	uid_t uid;                  /* owner of the tree and of entries */
	gid_t gid;                  /* its group (--group) */
	mode_t dir_mode;            /* 0755, or 0775 with --group */
	double entry_timeout;       /* committed entries and dirs */
	double neg_timeout;         /* absent entries */
	/* --hit-mode=kernel and its shard directories could not be watched
	 * for opens (housekeeping/uses.c): lookups count as uses, and
	 * entries' dentries expire after UNWATCHED_ENTRY_TIMEOUT; atomic */
	bool uses_unwatched;

	/* kernel dentry invalidations, sent from their own thread */
	pthread_mutex_t inval_lock;
	pthread_cond_t inval_cv;
	struct inval *inval_head;   /* protected by inval_lock */
	pthread_t notifier;
	bool notifier_started;

	pthread_mutex_t itab_lock;
	struct inode **buckets;     /* protected by itab_lock */
	size_t nbuckets;            /* protected by itab_lock */
	size_t ninodes;             /* protected by itab_lock */
	struct inode *tmp_list;     /* protected by itab_lock */
	unsigned ntmp;              /* protected by itab_lock */
	struct inode *pending_list; /* direct creates not yet committed;
				       protected by itab_lock */
	pthread_cond_t pending_cv;  /* one left pending_list; itab_lock */
};

/* Debug builds: the calling thread holds mutex @m (glibc records the
 * owner's thread id). */
#ifdef NDEBUG
#define FS_ASSERT_HELD(m) ((void)0)
#else
#include <assert.h>
#include <unistd.h>
#define FS_ASSERT_HELD(m) assert((m)->__data.__owner == gettid())
#endif

/* @in's type without its lock (requests routing to the general tree ask
 * this: an inode is GENERAL from birth or never). */
static inline enum inode_type inode_type(const struct inode *in)
{
	return __atomic_load_n(&in->type, __ATOMIC_RELAXED);
}

/* The mount's state, from a request. */
#define FS(req) ((struct acfs_fs *)fuse_req_userdata(req))

/* inodes/inode.c */
int inode_table_init(struct acfs_fs *fs);
void inode_table_release(struct acfs_fs *fs);
struct inode *inode_new(uint64_t ino, enum inode_type type);
/* Frees an inode that is in no table; accepts NULL. */
void inode_free(struct acfs_fs *fs, struct inode *in);
/* Inserts @in with nlookup 1 (caller holds no lock). */
void inode_insert(struct acfs_fs *fs, struct inode *in);
/* Finds @ino; the pointer is valid while the kernel holds a reference. */
struct inode *inode_find(struct acfs_fs *fs, uint64_t ino);
/*
 * Finds or creates the ENTRY inode of committed @e and adds one lookup.
 * Returns NULL on allocation failure.
 */
struct inode *inode_ref_entry(struct acfs_fs *fs, const struct acfs_key *key,
			      const struct acfs_entry *e);
/* Finds or creates the GENERAL inode of @g and adds one lookup. */
struct acfs_gnode;
struct inode *inode_ref_general(struct acfs_fs *fs, const struct acfs_gnode *g);
/* Drops @nlookup lookups / one open; frees the inode at zero. */
void inode_forget(struct acfs_fs *fs, struct inode *in, uint64_t nlookup);
void inode_open(struct acfs_fs *fs, struct inode *in);
/* Drops the bytes fs_load_locked held for reads (caller holds in->lock). */
void fs_unload_locked(struct acfs_fs *fs, struct inode *in);
void fs_unload_idle(struct acfs_daemon *d, int64_t idle_ns);
/*
 * Per-open state: an open file's fi->fh is its inode, pinned by the open
 * (nopen > 0, invariant 1) until its RELEASE, so READ, WRITE, FLUSH and
 * RELEASE never search the table. Opens that pinned nothing (creates
 * with --hit-mode=kernel) keep fh 0 and are found by number.
 */
static inline void fs_open_set(struct fuse_file_info *fi, struct inode *in)
{
	fi->fh = (uint64_t)(uintptr_t)in;
}

static inline struct inode *fs_open_inode(struct acfs_fs *fs, fuse_ino_t ino,
					  const struct fuse_file_info *fi)
{
	if (fi && fi->fh)
		return (struct inode *)(uintptr_t)fi->fh;
	return inode_find(fs, ino);
}
void inode_close(struct acfs_fs *fs, struct inode *in);
/* Is version @id known to the kernel or open through any mount of
 * daemon @d? (acfs_in_use_fn; userdata is the daemon) */
bool inode_in_use(uint64_t id, void *d);
/* After a commit/remove retired version @old_id: orphan it in every mount
 * that holds it, or drop it. */
void inode_retired(struct acfs_daemon *d, uint64_t old_id, bool kept);
/*
 * Direct creates being written: a lookup that finds no entry for such a
 * key must not let the kernel cache "absent" past the commit.
 */
/* Lists a direct create; with @excl (O_EXCL), -EEXIST if another direct
 * create of the same key is in flight. */
int pending_add(struct acfs_fs *fs, struct inode *in, bool excl);
void pending_remove(struct acfs_fs *fs, struct inode *in);
bool pending_exists(struct acfs_fs *fs, const struct acfs_key *key);
/* Waits up to @ms for no direct create of @key to be pending; whether one
 * still is. */
bool pending_wait(struct acfs_fs *fs, const struct acfs_key *key,
		  int64_t ms);
/* The pending direct create of @key, pinned (inode_close), or NULL. */
struct inode *pending_get(struct acfs_fs *fs, const struct acfs_key *key);
/* Up to @max keys of pending direct creates of @fs. */
size_t pending_keys(struct acfs_fs *fs, struct acfs_key *keys, size_t max);
/* tmp/ names, all under itab_lock. */
struct inode *tmp_find_locked(struct acfs_fs *fs, const char *name);
void tmp_unlink_locked(struct acfs_fs *fs, struct inode *in);

/* housekeeping/lru.c */
/* The daemon's housekeeper (uses, eviction) */
int fs_lru_start(struct acfs_daemon *d);
void fs_lru_stop(struct acfs_daemon *d);
/* A mount's notifier thread (its kernel invalidations) */
int fs_notifier_start(struct acfs_fs *fs);
void fs_notifier_stop(struct acfs_fs *fs);
/* housekeeping/uses.c: records a use of ENTRY @in (caller holds
 * in->lock). */
void fs_lru_note(struct acfs_fs *fs, struct inode *in);
/* Records use @t (the version's key, id and time). */
void fs_lru_note_touch(struct acfs_daemon *d, const struct acfs_touch *t);

/* housekeeping/uses.c: uses of kernel-served hits, from inotify */
int fs_uses_start(struct acfs_daemon *d);
void fs_uses_stop(struct acfs_daemon *d);
void fs_uses_free(struct acfs_daemon *d);
/* Watches @fs's shard directories for opens (after its loop started;
 * from no request handler). */
int fs_uses_watch(struct acfs_fs *fs, char *err, size_t errlen);
/* @fs ended: its last opens count, its watches are forgotten. */
void fs_uses_forget(struct acfs_fs *fs);
/* Applies every open queued so far (its closes wait: fs_uses_apply). */
void fs_uses_drain(struct acfs_daemon *d);
/* The same, and commits the direct creates whose close was queued (not
 * from the keeper, nor under any lock a commit takes). */
void fs_uses_apply(struct acfs_daemon *d);
/* Drops the kernel's dentry of @key (from the notifier thread). */
void fs_invalidate(struct acfs_fs *fs, const struct acfs_key *key);
/* housekeeping/uses.c: persists recorded uses now (opens queued by the
 * kernel first). */
void fs_lru_flush(struct acfs_daemon *d);
/* Are entries (and general files with --evict-general) over --max-size? */
bool fs_over_budget(struct acfs_daemon *d);
/* A commit went over budget: evict in the background. */
void fs_lru_kick(struct acfs_daemon *d);
/* Blocks until one eviction pass has run (after a -EAGAIN commit). */
void fs_lru_wait_room(struct acfs_daemon *d);
/* acfs_evict_opts hooks: the namespace lock, and what was evicted. */
void fs_evict_batch_lock(bool lock, void *d);
void fs_evicted(const struct acfs_key *key, const struct acfs_entry *e,
		bool kept, void *d);
/* Drops every mount's dentry of @key but @except's (NULL: every mount's):
 * what one mount committed, replaced or removed, the others' kernels must
 * not answer from their caches. Queued to each mount's notifier. */
void fs_invalidate_mounts(struct acfs_daemon *d, struct acfs_fs *except,
			  const struct acfs_key *key);
/*
 * The same, told to the kernels before it returns, so that the request
 * that committed answers only once every other mount sees the change.
 * One request at a time does so (d->deliver_lock): the kernel takes the
 * other mount's directory lock, which that mount's own commit may hold
 * while it waits for its turn here; a request that does not get its turn
 * within 50 ms queues to the notifiers instead, so two commits never wait
 * on each other. Call holding none of the daemon's locks but in->lock.
 */
void fs_invalidate_mounts_now(struct acfs_daemon *d, struct acfs_fs *except,
			      const struct acfs_key *key);

/* inodes/attr.c: what stat(2) shows, and the replies carrying it */
void fs_dir_attr(struct acfs_fs *fs, fuse_ino_t ino, struct stat *st);
/* Caller holds in->lock. */
void fs_file_attr_locked(struct acfs_fs *fs, struct inode *in,
			 struct stat *st);
void fs_file_attr(struct acfs_fs *fs, struct inode *in, struct stat *st);
/* How long the kernel may cache @in's attributes (caller holds in->lock). */
double fs_attr_timeout(struct acfs_fs *fs, struct inode *in);
void fs_reply_dir_entry(fuse_req_t req, fuse_ino_t ino);
void fs_reply_negative(fuse_req_t req, double timeout);
/* Names @in for a log line: "tmp/NAME" or the entry's path (caller holds
 * in->lock). */
void fs_describe_locked(struct acfs_fs *fs, struct inode *in, char *buf,
			size_t len);

/* entries/entries.c: monomorph/XX/NAME */
void fs_lookup_entry(fuse_req_t req, unsigned shard, const char *name);
/* OPEN of ENTRY @in (caller holds in->lock): refuses writing, counts a
 * hit. */
int fs_open_entry_locked(struct acfs_fs *fs, struct inode *in,
			 struct fuse_file_info *fi, bool writing, int64_t t0);
/* READ of ENTRY @in; caller holds in->lock, released here before the
 * reply. */
void fs_read_entry(fuse_req_t req, struct acfs_fs *fs, struct inode *in,
		   size_t size, off_t off);

/* staging/staging.c: files in tmp/ and direct creates being written */
/* Creates @name in @parent (tmp/ or a shard) for @who; with @excl
 * (O_EXCL) one creator of a key wins. */
int fs_create_staged(struct acfs_fs *fs, fuse_ino_t parent, const char *name,
		     mode_t mode, const struct fuse_ctx *who, bool excl,
		     struct inode **ret);
/* WRITE to staged @in (caller holds in->lock): bytes written in *written. */
int fs_write_staged_locked(struct acfs_fs *fs, struct inode *in,
			   const char *buf, size_t size, off_t off, pid_t tid,
			   size_t *written);
/* Sets a staged file's size; refuses past --max-entry-size. */
int fs_truncate_staged(struct acfs_fs *fs, struct inode *in, off_t size);
ssize_t fs_read_staged_locked(struct inode *in, void *buf, size_t size,
			      off_t off);
void fs_stage_free(struct acfs_daemon *d, struct inode *in);
void fs_lookup_tmp(fuse_req_t req, const char *name);
int fs_fill_tmp(struct acfs_fs *fs, struct dirbuf *d, off_t off);
int fs_rename_in_tmp(struct acfs_fs *fs, const char *name,
		     const char *newname, unsigned flags);
/* The process (thread group) of thread @tid, or 0 if it is gone. */
pid_t fs_tgid_of(pid_t tid);
bool fs_killed_by_signal(pid_t tid);
int fs_writer_fate(struct inode *in, char *why, size_t len);
/* Does a process other than the daemon hold direct create @in open? */
bool fs_held_elsewhere(struct acfs_fs *fs, struct inode *in);
bool fs_key_held(struct acfs_fs *fs, const struct acfs_key *key);

/* commit/commit.c: staged files become entries */
/* rename(2) of tmp/@name to monomorph/@shard/@newname. */
int fs_rename_to_entry(struct acfs_fs *fs, const char *name, unsigned shard,
		       const char *newname, unsigned flags);
/* FLUSH of direct create @in by thread @tid: commits if the writer is
 * closing it and nobody else holds it. */
int fs_commit_at_flush(struct acfs_fs *fs, struct inode *in, pid_t tid);
void fs_prepare_at_close(struct acfs_fs *fs, struct inode *in);
void fs_prepared_free(struct acfs_daemon *d, struct inode *in);
/* RELEASE: the last close commits a direct create no flush committed. */
void fs_commit_at_release(struct acfs_fs *fs, struct inode *in);
void fs_commit_closed(struct acfs_fs *fs, const struct acfs_key *key);
/* unlink(2) of monomorph/@shard/@name. */
int fs_remove_entry(struct acfs_fs *fs, unsigned shard, const char *name);

/* dispatch/: the FUSE operations */
void acfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void acfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		  int to_set, struct fuse_file_info *fi);
void acfs_access(fuse_req_t req, fuse_ino_t ino, int mask);
void acfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);

/* tree/general.c: the general tree beside monomorph/ and tmp/ */
bool gen_is_dir(struct acfs_fs *fs, fuse_ino_t ino);
bool gen_is_node(struct acfs_fs *fs, fuse_ino_t ino);
void gen_attr(const struct acfs_gnode *g, struct stat *st);
void gen_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void gen_getattr(fuse_req_t req, fuse_ino_t ino);
/* user.* extended attributes of ordinary files and directories. */
void gen_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  size_t size);
void gen_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags);
void gen_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void gen_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void gen_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		 int to_set);
void gen_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode);
void gen_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, dev_t rdev);
void gen_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi);
void gen_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name);
void gen_readlink(fuse_req_t req, fuse_ino_t ino);
void gen_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname);
void gen_remove(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir);
void gen_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned flags);
void gen_open(fuse_req_t req, struct inode *in, struct fuse_file_info *fi);
void gen_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off);
void gen_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
	       off_t off);
int gen_fill_dir(struct acfs_fs *fs, struct dirbuf *d, fuse_ino_t dir,
		 off_t off);

/* entries/load.c: an entry's bytes for reads (caller holds in->lock) */
int fs_load_locked(struct acfs_fs *fs, struct inode *in);
void fs_verified_release(struct acfs_daemon *d);

/* remote/remote.c: the remote tiers */
int fs_remote_start(struct acfs_daemon *d, const struct acfs_config *cfg);
/* Stops the remotes' threads; fs_remote_free, after the control thread
 * stopped, frees them. */
void fs_remote_stop(struct acfs_daemon *d);
void fs_remote_free(struct acfs_daemon *d);
/*
 * A lookup found no entry for @key: asks the remotes, waiting at most
 * --remote-wait. 0 if the entry is now committed locally; else -ENOENT
 * with how long the kernel may remember the absence in *neg_timeout (which
 * comes in holding the mount's own negative timeout).
 * Call without fs->ns_lock.
 */
int fs_remote_fetch(struct acfs_daemon *d, const struct acfs_key *key,
		    double *neg_timeout);
/* The remotes a commit of @key is to be queued for (ids into @ids, room
 * for every remote), and those whose queues are full (into @full, their
 * number in *@nfull: the commit records it dropped for them); counts and
 * logs full queues. */
size_t fs_remote_upload_targets(struct acfs_daemon *d, const struct acfs_key *key,
				uint64_t *ids, uint64_t *full, size_t *nfull);
/* A commit queued uploads for @ids: wakes the uploaders. */
void fs_remote_queued(struct acfs_daemon *d, const uint64_t *ids, size_t n);
/* Waits until every upload queue is empty, at most @timeout_ms, and
 * collects the uploads dropped since the last sync. 0 when every upload
 * reached its remote; -ETIMEDOUT (still queued) or -EIO (dropped), with
 * counts and reasons in *res. */
struct acfs_sync_result;
int fs_remote_sync(struct acfs_daemon *d, unsigned timeout_ms, FILE *progress,
		   struct acfs_sync_result *res);
/* The remotes' counters: lines, or a JSON value. */
void fs_remote_report(struct acfs_daemon *d, FILE *out, bool json);
/* The remotes' counters in Prometheus text format, each sample with
 * @labels (name="value",...) and remote="URL". */
void fs_remote_metrics(struct acfs_daemon *d, FILE *out, const char *labels);
/* Bytes down and up and uploads queued, summed over the remotes. */
void fs_remote_totals(struct acfs_daemon *d, uint64_t *down, uint64_t *up,
		      uint64_t *queued);
/* remote/prefetch.c: a manifest of every key in the store published as
 * @ref on the writable remotes (0, or -errno with why); a manifest's
 * entries fetched and committed, @jobs at once, within the budget. */
int fs_remote_publish(struct acfs_daemon *d, const char *ref,
		      uint64_t *ret_keys, char *why, size_t whylen);
struct acfs_prefetch_result;
int fs_remote_prefetch(struct acfs_daemon *d, const char *ref, unsigned jobs,
		       FILE *progress, struct acfs_prefetch_result *res);
/* Number of remotes (for sizing fs_remote_upload_targets' array). */
size_t fs_remote_count(struct acfs_daemon *d);

/* commit/gate.c: waits for room for @bytes more of commits (and fetches) in
 * flight under --max-loaded, or gives it back. */
void fs_commit_gate(struct acfs_daemon *d, uint64_t bytes, bool take);
/* commit/commit.c (the remotes reach it through fs->commit_fetched,
 * set by the daemon: remote/ sits below commit/, which queues uploads):
 * commits @data fetched from remote @origin (its URL, for logs)
 * as entry @key, validated as a local commit is; an entry committed
 * meanwhile wins. 0 or -errno. */
int fs_commit_fetched(struct acfs_daemon *d, const struct acfs_key *key,
		      const void *data, size_t len, const char *origin);

/* dispatch/xattr.c */
void acfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags);
void acfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size);
void acfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void acfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* daemon/control.c: the aria-cache command's socket, STORE/control.sock */
#define ACFS_CONTROL_CLIENTS_MAX 16
#define ACFS_CONTROL_STOP_WAIT_S 3
int fs_control_start(struct acfs_daemon *d);
/* Stops accepting, shuts every client's socket and waits up to
 * ACFS_CONTROL_STOP_WAIT_S for their commands; false if one still runs
 * (the store must then stay open: exit without closing it). */
bool fs_control_stop(struct acfs_daemon *d);

/* daemon/log.c */
void acfs_log_init(bool use_syslog, bool debug);
void acfs_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool acfs_log_debug_enabled(void);
/* acfs_log, and on stderr too when the log goes elsewhere: for what the
 * user starting the daemon must see (a remote that does not answer). */
void acfs_log_say(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One trace line (hit, miss, store, evict) with the time since @t0. */
void acfs_trace(struct acfs_daemon *d, const char *event,
		const struct acfs_key *key, uint64_t bytes, int64_t t0_ns);

/* dispatch/ops.c */
extern const struct fuse_lowlevel_ops acfs_ops;

#endif
