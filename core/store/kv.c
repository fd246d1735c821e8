/* SPDX-License-Identifier: MIT */
/* RocksDB behind kv.h. See kv.h for the rules of this boundary. */
#include "kv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */

static const char *const cf_names[ACFS_CF_COUNT] = {
	"default", "entries", "blobs", "orphans", "lru", "info", "quarantine",
	"gnodes", "gdirents", "gcookies", "gdata", "gorphans",
	"uploads",
};

struct acfs_kv {
	rocksdb_t *db;
	rocksdb_options_t *db_opts;
	rocksdb_options_t *cf_opts[ACFS_CF_COUNT];
	rocksdb_block_based_table_options_t *table_opts;
	rocksdb_cache_t *block_cache;
	rocksdb_column_family_handle_t *cf[ACFS_CF_COUNT];
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
	bool read_only;
	/* A reopen after a failure could not open the database for
	 * writing (the disk still full): it is open read-only, so committed
	 * entries stay readable, and the next write tries again. */
	bool fallback_ro;
	/* A write or flush failed (a full disk, an I/O error): RocksDB may
	 * have stopped writes until resumed (kv-resume.cc), and a write must
	 * never go to a WAL writer that failed (Debian's RocksDB asserts:
	 * WritableFileWriter::AssertFalseAndGetStatusForPrevError). 0 fine,
	 * STOP_RESUME a failed flush, STOP_REOPEN a failed write. */
	int stopped;                /* atomic */
	/* Held shared, briefly, by every use of db and cf; exclusive by the
	 * reopen after a failure, which never waits long for it (a timed
	 * lock) and gives up while iterators are open. */
	pthread_rwlock_t lock;
	unsigned iters;             /* open iterators; atomic */
	char *dir;
	/* Files RocksDB deleted while it opened the database, kept in
	 * dir/unreferenced/ (kv_guard_*, kv-history.c): how many. */
	unsigned kept;
};

int acfs_kv_rocksdb_resume(rocksdb_t *db, char **errptr);
int acfs_kv_rocksdb_repair(const char *dir, const rocksdb_options_t *db_opts,
			   int n, const char *const *names,
			   const rocksdb_options_t *const *cf_opts,
			   char **errptr);
void acfs_kv_rocksdb_no_fallocate(rocksdb_options_t *opts);
static int take_error(char *rerr, const char *what, char *err);

enum { STOP_RESUME = 1, STOP_REOPEN = 2 };

/* Remembers a full disk or an I/O error that RocksDB met (@how: what it
 * takes to write again). */
static int note_failure(struct acfs_kv *kv, int r, int how)
{
	if (r == -ENOSPC || r == -EIO)
		__atomic_store_n(&kv->stopped, how, __ATOMIC_RELAXED);
	return r;
}

/*
 * Bytes a flush of every memtable would write: what the live WAL files
 * hold (memtables' own size counts their arenas, megabytes more than the
 * data on a quiet store). A little more than the truth right after a
 * flush, until RocksDB deletes the old WAL.
 */
static uint64_t unflushed_locked(struct acfs_kv *kv)
{
	char path[4096 + 300];
	struct dirent *d;
	struct stat st;
	uint64_t sum = 0;
	DIR *dh = opendir(kv->dir);

	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		size_t l = strlen(d->d_name);
		if (l < 5 || strcmp(d->d_name + l - 4, ".log") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", kv->dir, d->d_name);
		if (stat(path, &st) == 0)
			sum += (uint64_t)st.st_blocks * 512;
	}
	closedir(dh);
	return sum;
}

static int open_db(struct acfs_kv *kv, bool read_only, char **rerr);

/* Closes and opens the database again (caller holds lock exclusive):
 * what a restart does, without one. */
static int reopen_locked(struct acfs_kv *kv, char *err)
{
	char *rerr = NULL;

	for (int i = 0; i < ACFS_CF_COUNT; i++) {
		if (kv->cf[i])
			rocksdb_column_family_handle_destroy(kv->cf[i]);
		kv->cf[i] = NULL;
	}
	if (kv->db)
		rocksdb_close(kv->db);
	kv->db = NULL;
	kv->fallback_ro = false;
	if (open_db(kv, false, &rerr) < 0) {
		int r = take_error(rerr, "reopening after a failed write", err);
		char *roerr = NULL;

		/* Reads go on: opening read-only writes nothing. */
		if (open_db(kv, true, &roerr) == 0)
			kv->fallback_ro = true;
		else
			rocksdb_free(roerr);
		return r;
	}
	return 0;
}

/*
 * After a full disk RocksDB refuses every write until it is resumed; a
 * short disk-full must not need a restart. Once there is room for what
 * memtables hold, asks RocksDB to resume (it may be retrying on its own:
 * Busy), and if it does not within a second and a half, closes and opens
 * the database again, as a restart would. Called without kv->lock.
 * Returns 0 if writes may go on, else -ENOSPC / -EIO.
 */
static int recover_if_stopped(struct acfs_kv *kv, char *err)
{
	struct statvfs sv;
	struct timespec until;
	char *rerr = NULL;
	int r = -ENOSPC;

	int how = __atomic_load_n(&kv->stopped, __ATOMIC_RELAXED);

	if (!how)
		return 0;
	pthread_rwlock_rdlock(&kv->lock);
	if (statvfs(kv->dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize <
			unflushed_locked(kv) + ACFS_SPACE_RESERVE) {
		/* Neither a resume nor a reopen can write yet; a reopen
		 * would fail and leave the database read-only at best. */
		pthread_rwlock_unlock(&kv->lock);
		if (err)
			snprintf(err, ACFS_ERR_MAX, "no space: RocksDB stopped "
				 "writing when the disk filled, and there is "
				 "not yet room to resume");
		return -ENOSPC;
	}
	if (how == STOP_REOPEN || !kv->db || kv->fallback_ro) {
		/* A failed WAL writer is never written again: reopen. */
		pthread_rwlock_unlock(&kv->lock);
	} else {
		for (int i = 0; i < 30; i++) {
			if (acfs_kv_rocksdb_resume(kv->db, &rerr) == 0) {
				r = 0;
				break;
			}
			bool busy = strstr(rerr, "busy") || strstr(rerr, "Busy");
			rocksdb_free(rerr);
			rerr = NULL;
			if (!busy)
				break;
			usleep(50 * 1000);
		}
		pthread_rwlock_unlock(&kv->lock);
		if (r == 0) {
			__atomic_store_n(&kv->stopped, 0, __ATOMIC_RELAXED);
			return 0;
		}
	}
	/* Exclusive, but never waiting long: a thread holding an iterator
	 * may be waiting for a lock our caller holds. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	if (pthread_rwlock_timedwrlock(&kv->lock, &until) != 0) {
		if (err)
			snprintf(err, ACFS_ERR_MAX, "RocksDB stopped writing "
				 "after a failed write (%s) and is being "
				 "reopened", how == STOP_REOPEN ? "I/O error"
								: "full disk");
		return how == STOP_REOPEN ? -EIO : -ENOSPC;
	}
	r = 0;
	if (__atomic_load_n(&kv->iters, __ATOMIC_RELAXED) > 0) {
		/* An iterator still reads this database: next time. */
		pthread_rwlock_unlock(&kv->lock);
		if (err)
			snprintf(err, ACFS_ERR_MAX, "RocksDB stopped writing "
				 "after a failed write and is reopened once "
				 "no scan of the store runs");
		return how == STOP_REOPEN ? -EIO : -ENOSPC;
	}
	if (__atomic_load_n(&kv->stopped, __ATOMIC_RELAXED))
		r = reopen_locked(kv, err);
	if (r == 0)
		__atomic_store_n(&kv->stopped, 0, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&kv->lock);
	return r;
}

struct acfs_kv_iter {
	rocksdb_iterator_t *it;
	struct acfs_kv *kv;        /* counted in kv->iters until the free */
};

/*
 * Turns a RocksDB error string into -errno and a reason; frees it.
 * Damage RocksDB proved (a checksum, a block or a record that does not
 * decode: "Corruption") is -EBADMSG; errors the OS gave RocksDB keep their
 * errno (RocksDB puts strerror's text in the status), so callers can tell
 * a transient EMFILE or ENOMEM from damage. Anything else is -EIO.
 */
static int take_error(char *rerr, const char *what, char *err)
{
	static const struct {
		const char *text;
		int err;
	} os[] = {
		{ "No space left", -ENOSPC }, { "NoSpace", -ENOSPC },
		{ "Too many open files", -EMFILE },
		{ "Too many open files in system", -ENFILE },
		{ "Cannot allocate memory", -ENOMEM },
		{ "Interrupted system call", -EINTR },
		{ "Resource temporarily unavailable", -EAGAIN },
		{ "Input/output error", -EIO },
		{ "Permission denied", -EACCES },
		{ "Read-only file system", -EROFS },
	};
	int r = -EIO;

	if (!rerr)
		return 0;
	if (strstr(rerr, "Corruption"))
		r = -EBADMSG;
	for (size_t i = 0; i < sizeof(os) / sizeof(os[0]); i++)
		if (strstr(rerr, os[i].text))
			r = os[i].err;
	if (err)
		snprintf(err, ACFS_ERR_MAX, "%s: %s", what, rerr);
	rocksdb_free(rerr);
	return r;
}

/*
 * What memtables may hold in all, from the size of the store's disk: a
 * flush needs free space for what they hold, so on a small disk they stay
 * small (a 16th of it), or a short disk-full would leave more in them than
 * could ever be flushed. 64 MiB on disks of 1 GiB and more.
 */
static uint64_t memtable_budget(const char *dir)
{
	struct statvfs sv;
	uint64_t b = 64 << 20;

	if (dir && statvfs(dir, &sv) == 0) {
		uint64_t disk = (uint64_t)sv.f_blocks * sv.f_frsize;
		if (disk / 16 < b)
			b = disk / 16;
	}
	return b < (1 << 20) ? (1 << 20) : b;
}

static void configure(struct acfs_kv *kv, bool sync)
{
	uint64_t memtables = memtable_budget(kv->dir);

	kv->block_cache = rocksdb_cache_create_lru(32 << 20);
	kv->table_opts = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(kv->table_opts,
						    kv->block_cache);
	rocksdb_block_based_options_set_filter_policy(
		kv->table_opts, rocksdb_filterpolicy_create_bloom_full(10));
	/* Index and filter blocks stay in the table readers' memory (about
	 * 1.3 bytes per key): in a sharded block cache, the filter of a big
	 * table is larger than a shard and would be read from disk on every
	 * lookup. */
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(
		kv->table_opts, 0);

	kv->db_opts = rocksdb_options_create();
	acfs_kv_rocksdb_no_fallocate(kv->db_opts);
	rocksdb_options_set_max_background_jobs(kv->db_opts, 2);
	rocksdb_options_set_db_write_buffer_size(kv->db_opts, memtables);
	rocksdb_options_set_keep_log_file_num(kv->db_opts, 4);
	/* Bounds what a restart after kill -9 replays. */
	rocksdb_options_set_max_total_wal_size(kv->db_opts, 64 << 20);
	/* RocksDB's own LOG file: fatal messages only. Its writer fails an
	 * assertion (in Debian's build) when it writes again after a write
	 * failed on a full disk, and RocksDB logs every background error;
	 * what goes wrong reaches our log through the status strings. */
	rocksdb_options_set_info_log_level(kv->db_opts, 4 /* FATAL */);

	for (int i = 0; i < ACFS_CF_COUNT; i++) {
		rocksdb_options_t *o = rocksdb_options_create();
		rocksdb_options_set_compression(o, rocksdb_lz4_compression);
		if (i == ACFS_CF_BLOBS) {
			/* Entry bytes (already zstd-compressed by the store) go
			 * to blob files: written once, never rewritten when
			 * the small index rows are compacted. */
			rocksdb_options_set_enable_blob_files(o, 1);
			rocksdb_options_set_min_blob_size(o, 512);
			rocksdb_options_set_blob_compression_type(
				o, rocksdb_no_compression);
			rocksdb_options_set_enable_blob_gc(o, 1);
			/* Space comes back a blob file at a time: once all
			 * its entries are gone (LRU eviction empties the
			 * oldest files first), or when a compaction moves
			 * the live entries out of the older half of the
			 * files (blob GC). */
			rocksdb_options_set_blob_file_size(o, 8 << 20);
			rocksdb_options_set_blob_gc_age_cutoff(o, 0.5);
			rocksdb_options_set_write_buffer_size(o, memtables);
		} else {
			rocksdb_options_optimize_for_point_lookup(o, 16);
		}
		rocksdb_options_set_block_based_table_factory(o,
							      kv->table_opts);
		kv->cf_opts[i] = o;
	}
	kv->ropts = rocksdb_readoptions_create();
	kv->wopts = rocksdb_writeoptions_create();
	if (sync)
		rocksdb_writeoptions_set_sync(kv->wopts, 1);
}

/*
 * What @dir holds: nothing of RocksDB's (a new store may be created
 * there), a database (CURRENT names its MANIFEST), or RocksDB's data
 * files without a CURRENT. In the last case create_if_missing would make a
 * new, empty database and RocksDB would delete the old files as obsolete:
 * the store must be refused instead, with nothing touched.
 */
enum db_state { DB_NONE, DB_PRESENT, DB_DAMAGED };

static bool is_data_file(const char *n)
{
	size_t l = strlen(n);

	if (strncmp(n, "MANIFEST-", 9) == 0)
		return true;
	return (l > 4 && (strcmp(n + l - 4, ".sst") == 0 ||
			  strcmp(n + l - 4, ".log") == 0)) ||
	       (l > 5 && strcmp(n + l - 5, ".blob") == 0);
}

static enum db_state db_state(const char *dir, char *what, size_t len)
{
	char path[4096];
	struct stat st;
	struct dirent *d;
	DIR *dh;
	enum db_state r = DB_NONE;

	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	if (stat(path, &st) == 0 && st.st_size > 0)
		return DB_PRESENT;
	dh = opendir(dir);
	if (!dh)
		return DB_NONE;
	while ((d = readdir(dh))) {
		if (is_data_file(d->d_name)) {
			snprintf(what, len, "it holds RocksDB files (%s, ...) "
				 "but %s", d->d_name,
				 stat(path, &st) == 0 ? "its CURRENT file is empty"
						      : "no CURRENT file");
			r = DB_DAMAGED;
			break;
		}
	}
	closedir(dh);
	return r;
}

static void explain_damage(const char *dir, const char *what, char *err)
{
	if (err)
		snprintf(err, ACFS_ERR_MAX, "the database in %s is damaged: %s; "
			 "nothing was opened, created or deleted; run "
			 "`aria-cache --store STORE repair` to recover what "
			 "can be (it keeps a copy of the damaged files)",
			 dir, what);
}

/* RocksDB's own words for damage: the files are there but wrong. An I/O
 * error while opening (EIO, ENOSPC, EMFILE) is not damage. */
static bool is_damage(const char *rerr)
{
	return strstr(rerr, "Corruption") || strstr(rerr, "checksum mismatch");
}

/* Opens kv->dir with the options made by configure(). */
static void open_present_cfs(struct acfs_kv *kv, const rocksdb_options_t **cfo,
			     char **rerr)
{
	const char *names[ACFS_CF_COUNT];
	const rocksdb_options_t *opts[ACFS_CF_COUNT];
	rocksdb_column_family_handle_t *h[ACFS_CF_COUNT];
	int idx[ACFS_CF_COUNT], n = 0;
	size_t have = 0;
	char *lerr = NULL;
	char **list = rocksdb_list_column_families(kv->db_opts, kv->dir, &have,
						   &lerr);

	if (lerr) {
		rocksdb_free(lerr);
		return;
	}
	for (int i = 0; i < ACFS_CF_COUNT; i++)
		for (size_t j = 0; j < have; j++)
			if (strcmp(list[j], cf_names[i]) == 0) {
				names[n] = cf_names[i];
				opts[n] = cfo[i];
				idx[n++] = i;
				break;
			}
	rocksdb_list_column_families_destroy(list, have);
	rocksdb_free(*rerr);
	*rerr = NULL;
	kv->db = rocksdb_open_for_read_only_column_families(
		kv->db_opts, kv->dir, n, names, opts, h, 0, rerr);
	for (int i = 0; i < ACFS_CF_COUNT; i++)
		kv->cf[i] = NULL;
	if (!*rerr)
		for (int k = 0; k < n; k++)
			kv->cf[idx[k]] = h[k];
}

bool acfs_kv_has_cf(struct acfs_kv *kv, enum acfs_cf cf)
{
	return kv->cf[cf] != NULL;
}

static int open_db(struct acfs_kv *kv, bool read_only, char **rerr)
{
	const rocksdb_options_t *cfo[ACFS_CF_COUNT];

	for (int i = 0; i < ACFS_CF_COUNT; i++)
		cfo[i] = kv->cf_opts[i];
	if (read_only) {
		kv->db = rocksdb_open_for_read_only_column_families(
			kv->db_opts, kv->dir, ACFS_CF_COUNT, cf_names, cfo,
			kv->cf, 0, rerr);
		/* A history written by RocksDB's repair names only the
		 * families that had table files: open those (the others
		 * read as empty: acfs_kv_has_cf). */
		if (*rerr && strstr(*rerr, "Column family not found"))
			open_present_cfs(kv, cfo, rerr);
	}
	else {
		int g = kv_guard_raise(kv->dir);
		kv->db = rocksdb_open_column_families(kv->db_opts, kv->dir,
						      ACFS_CF_COUNT, cf_names,
						      cfo, kv->cf, rerr);
		if (g == 0)
			kv->kept += kv_guard_lower(kv->dir);
	}
	if (*rerr) {
		kv->db = NULL;
		return -1;
	}
	/* Every open for writing starts a new MANIFEST: copy it now. */
	if (!read_only)
		kv_history_keep(kv->dir);
	return 0;
}

int acfs_kv_largest_key(struct acfs_kv *kv, enum acfs_cf cf, void *buf,
			size_t cap, size_t *ret_len)
{
	const rocksdb_livefiles_t *lf;
	size_t best = 0;
	bool found = false;

	pthread_rwlock_rdlock(&kv->lock);
	lf = kv->db ? rocksdb_livefiles(kv->db) : NULL;
	for (int i = 0; lf && i < rocksdb_livefiles_count(lf); i++) {
		size_t len;
		const char *k;
		if (strcmp(rocksdb_livefiles_column_family_name(lf, i),
			   cf_names[cf]) != 0)
			continue;
		k = rocksdb_livefiles_largestkey(lf, i, &len);
		if (!k || len > cap)
			continue;
		size_t m = len < best ? len : best;
		int c = found ? memcmp(k, buf, m) : 1;
		if (c > 0 || (c == 0 && len > best)) {
			memcpy(buf, k, len);
			best = len;
			found = true;
		}
	}
	if (lf)
		rocksdb_livefiles_destroy(lf);
	pthread_rwlock_unlock(&kv->lock);
	*ret_len = best;
	return found ? 0 : -ENOENT;
}

unsigned acfs_kv_kept(struct acfs_kv *kv)
{
	return kv->kept;
}

int acfs_kv_open(const char *dir, bool read_only, bool sync,
		 int max_open_files, struct acfs_kv **ret, char *err)
{
	char what[512] = "";
	enum db_state st = db_state(dir, what, sizeof(what));
	struct acfs_kv *kv = calloc(1, sizeof(*kv));
	char *rerr = NULL;

	if (!kv)
		return -ENOMEM;
	kv->read_only = read_only;
	kv->dir = strdup(dir);
	if (!kv->dir) {
		free(kv);
		return -ENOMEM;
	}
	if (st == DB_PRESENT && kv_history_check(dir, what, sizeof(what)) == 1)
		st = DB_DAMAGED;
	if (st == DB_DAMAGED) {
		explain_damage(dir, what, err);
		free(kv->dir);
		free(kv);
		return -EUCLEAN;
	}
	configure(kv, sync);
	/* Table and blob files RocksDB keeps open, within the daemon's fd
	 * budget (fs/daemon/main.c); beyond it RocksDB closes the least recently
	 * used and reopens on demand. */
	if (max_open_files > 0)
		rocksdb_options_set_max_open_files(kv->db_opts, max_open_files);
	/* Only an empty place becomes a new database. */
	rocksdb_options_set_create_if_missing(kv->db_opts, st == DB_NONE);
	/* Column families added by a newer version are created in an
	 * older store: that adds, never drops. */
	rocksdb_options_set_create_missing_column_families(kv->db_opts, 1);
	pthread_rwlock_init(&kv->lock, NULL);
	if (open_db(kv, read_only, &rerr) < 0) {
		int r;
		if (is_damage(rerr)) {
			snprintf(what, sizeof(what), "RocksDB says: %s", rerr);
			rocksdb_free(rerr);
			explain_damage(dir, what, err);
			r = -EUCLEAN;
		} else {
			r = take_error(rerr, "opening RocksDB", err);
		}
		kv->db = NULL;
		acfs_kv_close(kv);
		return r;
	}
	*ret = kv;
	return 0;
}

static void release_options(struct acfs_kv *kv)
{
	for (int i = 0; i < ACFS_CF_COUNT; i++)
		if (kv->cf_opts[i])
			rocksdb_options_destroy(kv->cf_opts[i]);
	if (kv->db_opts)
		rocksdb_options_destroy(kv->db_opts);
	if (kv->table_opts)
		rocksdb_block_based_options_destroy(kv->table_opts);
	if (kv->block_cache)
		rocksdb_cache_destroy(kv->block_cache);
	if (kv->ropts)
		rocksdb_readoptions_destroy(kv->ropts);
	if (kv->wopts)
		rocksdb_writeoptions_destroy(kv->wopts);
}

static int by_number_desc(const void *a, const void *b)
{
	unsigned long long x = strtoull(*(char *const *)a + 9, NULL, 10);
	unsigned long long y = strtoull(*(char *const *)b + 9, NULL, 10);

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Writes CURRENT naming @manifest (tmp + rename, as RocksDB does). */
static int write_current(const char *dir, const char *manifest)
{
	char tmp[4096], cur[4096];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s/CURRENT.acfs-repair", dir);
	snprintf(cur, sizeof(cur), "%s/CURRENT", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%s\n", manifest) < 0 || fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, cur) < 0)
		r = -errno;
	return r;
}

/*
 * The lossless way back when CURRENT is lost: name the newest MANIFEST
 * that RocksDB reads whole (a read-only open checks it and every file it
 * lists, and deletes nothing). Returns 0 with *ret_found, or -errno.
 */
static int restore_current(const char *dir, bool *ret_found,
			   char *used, size_t used_len)
{
	char *names[64];
	size_t n = 0;
	struct dirent *d;
	DIR *dh = opendir(dir);

	*ret_found = false;
	if (!dh)
		return -errno;
	while ((d = readdir(dh)) && n < 64)
		if (strncmp(d->d_name, "MANIFEST-", 9) == 0)
			names[n++] = strdup(d->d_name);
	closedir(dh);
	qsort(names, n, sizeof(*names), by_number_desc);
	for (size_t i = 0; i < n && !*ret_found; i++) {
		struct acfs_kv *kv;
		if (!names[i] || write_current(dir, names[i]) < 0)
			continue;
		if (acfs_kv_open(dir, true, false, 0, &kv, NULL) == 0) {
			acfs_kv_close(kv);
			snprintf(used, used_len, "%s", names[i]);
			*ret_found = true;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	if (!*ret_found) {
		char cur[4096];
		snprintf(cur, sizeof(cur), "%s/CURRENT", dir);
		unlink(cur); /* ours: it named a MANIFEST that does not open */
	}
	return 0;
}

/* Removes the MANIFEST copies of @dir (a repair's working copy). */
static void drop_history_copies(const char *dir)
{
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((d = readdir(dh)))
		if (strncmp(d->d_name, "acfs-manifest-copy-", 19) == 0)
			unlinkat(dirfd(dh), d->d_name, 0);
	closedir(dh);
}

/* Moves the .blob files of @dir into @dir/unreferenced/. */
static int set_blobs_aside(const char *dir)
{
	char aside[4096 + 32], from[4096 + 300], to[4096 + 332];
	struct dirent *d;
	DIR *dh;
	int r = 0;

	snprintf(aside, sizeof(aside), "%s/unreferenced", dir);
	if (mkdir(aside, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!(dh = opendir(dir)))
		return -errno;
	while (r == 0 && (d = readdir(dh))) {
		size_t l = strlen(d->d_name);
		if (l < 6 || strcmp(d->d_name + l - 5, ".blob") != 0)
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, d->d_name);
		snprintf(to, sizeof(to), "%s/%s", aside, d->d_name);
		if (rename(from, to) < 0)
			r = -errno;
	}
	closedir(dh);
	return r;
}

int acfs_kv_repair(const char *dir, char *how, size_t how_len, char *err)
{
	struct acfs_kv tmp = { 0 };
	char used[256] = "", *rerr = NULL;
	bool found;
	int r;

	/* A MANIFEST cut short or damaged: the copy kept beside it. */
	r = kv_history_restore(dir, how, how_len);
	if (r == 1) {
		struct acfs_kv *kv;
		if (acfs_kv_open(dir, true, false, 0, &kv, NULL) == 0) {
			acfs_kv_close(kv);
			return 0;
		}
		snprintf(how, how_len, "%s", "");
	}
	r = restore_current(dir, &found, used, sizeof(used));
	if (r < 0) {
		if (err)
			snprintf(err, ACFS_ERR_MAX, "reading %s: %s", dir,
				 strerror(-r));
		return r;
	}
	if (found) {
		snprintf(how, how_len, "CURRENT restored to name %s, which "
			 "RocksDB reads whole: nothing lost", used);
		return 0;
	}
	/* RocksDB's repairer rebuilds a MANIFEST from the table and log
	 * files it can read and moves the others into lost/. It applies one
	 * set of options to every column family. It does not know blob
	 * files (7.8): entries whose bytes are in blob files may be lost. */
	/* The copy of a history RocksDB's repair replaces means nothing
	 * now (and would call the new one older). */
	drop_history_copies(dir);
	/* RocksDB's repair numbers new files after the table and log files
	 * it found, not after the blob files: a new file could take a blob
	 * file's number, and a purge of the old one delete the new. So
	 * the blob files wait in unreferenced/ (whence their entries are
	 * read back) while it runs. */
	if ((r = set_blobs_aside(dir)) < 0) {
		if (err)
			snprintf(err, ACFS_ERR_MAX, "setting the blob files of "
				 "%s aside: %s", dir, strerror(-r));
		return r;
	}
	configure(&tmp, false);
	rocksdb_options_set_create_if_missing(tmp.db_opts, 0);
	acfs_kv_rocksdb_repair(dir, tmp.db_opts, ACFS_CF_COUNT, cf_names,
			       (const rocksdb_options_t *const *)tmp.cf_opts,
			       &rerr);
	r = take_error(rerr, "RocksDB repair", err);
	release_options(&tmp);
	if (r < 0)
		return r;
	snprintf(how, how_len, "no MANIFEST reads whole: RocksDB's repair "
		 "rebuilt one from the table and log files");
	/* Its history leaves the blob files out: the caller puts the
	 * entries' bytes back from them (acfs_kv_salvage_blobs). */
	return 1;
}

void acfs_kv_close(struct acfs_kv *kv)
{
	if (!kv)
		return;
	if (kv->db) {
		/* After a failed write nothing more is written (the WAL
		 * replays at the next open). */
		if (!kv->read_only &&
		    __atomic_load_n(&kv->stopped, __ATOMIC_RELAXED) == 0) {
			/* Flushing memtables now means the next open has no
			 * log to replay: a mount is ready at once. */
			rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
			char *rerr = NULL;
			rocksdb_flushoptions_set_wait(fo, 1);
			for (int i = 0; i < ACFS_CF_COUNT && !rerr; i++)
				rocksdb_flush_cf(kv->db, fo, kv->cf[i], &rerr);
			rocksdb_flushoptions_destroy(fo);
			rocksdb_free(rerr);
			rerr = NULL;
			rocksdb_flush_wal(kv->db, 1, &rerr);
			rocksdb_free(rerr);
			kv_history_keep(kv->dir);
		}
		for (int i = 0; i < ACFS_CF_COUNT; i++)
			if (kv->cf[i])
				rocksdb_column_family_handle_destroy(kv->cf[i]);
		rocksdb_close(kv->db);
	}
	release_options(kv);
	if (kv->dir)
		pthread_rwlock_destroy(&kv->lock);
	free(kv->dir);
	free(kv);
}

int acfs_kv_get(struct acfs_kv *kv, enum acfs_cf cf, const void *key,
		size_t klen, acfs_kv_value_fn fn, void *userdata, char *err)
{
	rocksdb_pinnableslice_t *ps;
	char *rerr = NULL;
	const char *v;
	size_t len;
	int r;

	pthread_rwlock_rdlock(&kv->lock);
	if (!kv->db) {
		pthread_rwlock_unlock(&kv->lock);
		return -EIO;
	}
	ps = rocksdb_get_pinned_cf(kv->db, kv->ropts, kv->cf[cf], key, klen,
				   &rerr);
	if (rerr) {
		pthread_rwlock_unlock(&kv->lock);
		return take_error(rerr, "read", err);
	}
	if (!ps) {
		pthread_rwlock_unlock(&kv->lock);
		return -ENOENT;
	}
	v = rocksdb_pinnableslice_value(ps, &len);
	r = fn(v, len, userdata);
	rocksdb_pinnableslice_destroy(ps);
	pthread_rwlock_unlock(&kv->lock);
	return r;
}

/* A write batch. RocksDB's batch names a family by a handle that only
 * an open database has: with none open (a reopen failed) an operation
 * cannot be recorded, and the batch is refused when written. */
struct acfs_kv_batch {
	rocksdb_writebatch_t *wb;
	bool incomplete;
};

struct acfs_kv_batch *acfs_kv_batch_new(void)
{
	struct acfs_kv_batch *b = calloc(1, sizeof(*b));

	if (b && !(b->wb = rocksdb_writebatch_create())) {
		free(b);
		b = NULL;
	}
	return b;
}

void acfs_kv_batch_put(struct acfs_kv_batch *b, struct acfs_kv *kv,
		       enum acfs_cf cf, const void *key, size_t klen,
		       const void *val, size_t vlen)
{
	/* The batch keeps the family's id, which a reopen keeps too. */
	pthread_rwlock_rdlock(&kv->lock);
	if (kv->cf[cf])
		rocksdb_writebatch_put_cf(b->wb, kv->cf[cf], key, klen, val,
					  vlen);
	else
		b->incomplete = true;
	pthread_rwlock_unlock(&kv->lock);
}

void acfs_kv_batch_delete(struct acfs_kv_batch *b, struct acfs_kv *kv,
			  enum acfs_cf cf, const void *key, size_t klen)
{
	pthread_rwlock_rdlock(&kv->lock);
	if (kv->cf[cf])
		rocksdb_writebatch_delete_cf(b->wb, kv->cf[cf], key, klen);
	else
		b->incomplete = true;
	pthread_rwlock_unlock(&kv->lock);
}

int acfs_kv_batch_count(struct acfs_kv_batch *b)
{
	return rocksdb_writebatch_count(b->wb);
}

void acfs_kv_batch_free(struct acfs_kv_batch *b)
{
	if (b) {
		rocksdb_writebatch_destroy(b->wb);
		free(b);
	}
}

int acfs_kv_write(struct acfs_kv *kv, struct acfs_kv_batch *b, char *err)
{
	char *rerr = NULL;

	int r;

	if (kv->read_only)
		return -EROFS;
	if (b->incomplete) {
		if (err)
			snprintf(err, ACFS_ERR_MAX, "the database in %s was "
				 "closed while this write was prepared; "
				 "nothing of it was written", kv->dir);
		return -EIO;
	}
	if ((r = recover_if_stopped(kv, err)) < 0)
		return r;
	pthread_rwlock_rdlock(&kv->lock);
	if (kv->db && !kv->fallback_ro) {
		rocksdb_write(kv->db, kv->wopts, b->wb, &rerr);
	} else {
		r = -EIO;
		if (err)
			snprintf(err, ACFS_ERR_MAX, "the database in %s could "
				 "not be reopened after a failed write; the "
				 "next write tries again", kv->dir);
	}
	pthread_rwlock_unlock(&kv->lock);
	return r < 0 ? r : note_failure(kv, take_error(rerr, "write", err), STOP_REOPEN);
}

struct acfs_kv_iter *acfs_kv_iter_new(struct acfs_kv *kv, enum acfs_cf cf)
{
	struct acfs_kv_iter *it = malloc(sizeof(*it));

	if (!it)
		return NULL;
	pthread_rwlock_rdlock(&kv->lock);
	if (!kv->db) {
		pthread_rwlock_unlock(&kv->lock);
		free(it);
		return NULL;
	}
	it->kv = kv;
	it->it = rocksdb_create_iterator_cf(kv->db, kv->ropts, kv->cf[cf]);
	__atomic_add_fetch(&kv->iters, 1, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&kv->lock);
	return it;
}

void acfs_kv_iter_seek(struct acfs_kv_iter *it, const void *key, size_t klen)
{
	rocksdb_iter_seek(it->it, key, klen);
}

void acfs_kv_iter_first(struct acfs_kv_iter *it)
{
	rocksdb_iter_seek_to_first(it->it);
}

void acfs_kv_iter_last(struct acfs_kv_iter *it)
{
	rocksdb_iter_seek_to_last(it->it);
}

bool acfs_kv_iter_valid(struct acfs_kv_iter *it)
{
	return rocksdb_iter_valid(it->it);
}

void acfs_kv_iter_next(struct acfs_kv_iter *it)
{
	rocksdb_iter_next(it->it);
}

const void *acfs_kv_iter_key(struct acfs_kv_iter *it, size_t *len)
{
	return rocksdb_iter_key(it->it, len);
}

const void *acfs_kv_iter_value(struct acfs_kv_iter *it, size_t *len)
{
	return rocksdb_iter_value(it->it, len);
}

int acfs_kv_iter_free(struct acfs_kv_iter *it, char *err)
{
	char *rerr = NULL;

	if (!it)
		return 0;
	rocksdb_iter_get_error(it->it, &rerr);
	rocksdb_iter_destroy(it->it);
	__atomic_sub_fetch(&it->kv->iters, 1, __ATOMIC_RELAXED);
	free(it);
	return take_error(rerr, "iterate", err);
}

int acfs_kv_sync(struct acfs_kv *kv, char *err)
{
	char *rerr = NULL;

	int r;

	if (kv->read_only)
		return 0;
	if ((r = recover_if_stopped(kv, err)) < 0)
		return r;
	pthread_rwlock_rdlock(&kv->lock);
	if (kv->db)
		rocksdb_flush_wal(kv->db, 1, &rerr);
	pthread_rwlock_unlock(&kv->lock);
	/* The copy of the history follows what flushes and compactions
	 * added to the MANIFEST since. */
	kv_history_keep(kv->dir);
	return take_error(rerr, "sync", err);
}

void acfs_kv_compact(struct acfs_kv *kv)
{
	pthread_rwlock_rdlock(&kv->lock);
	for (int i = 0; i < ACFS_CF_COUNT && kv->db; i++)
		rocksdb_compact_range_cf(kv->db, kv->cf[i], NULL, 0, NULL, 0);
	pthread_rwlock_unlock(&kv->lock);
}

int acfs_kv_avail(struct acfs_kv *kv, uint64_t *ret)
{
	struct statvfs sv;

	if (statvfs(kv->dir, &sv) < 0)
		return -errno;
	*ret = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

uint64_t acfs_kv_unflushed(struct acfs_kv *kv)
{
	uint64_t sum = 0;

	pthread_rwlock_rdlock(&kv->lock);
	if (kv->db)
		sum = unflushed_locked(kv);
	pthread_rwlock_unlock(&kv->lock);
	return sum;
}

int acfs_kv_flush(struct acfs_kv *kv, char *err)
{
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	char *rerr = NULL;

	int r = 0;

	if (kv->read_only || (r = recover_if_stopped(kv, err)) < 0) {
		rocksdb_flushoptions_destroy(fo);
		return kv->read_only ? 0 : r;
	}
	rocksdb_flushoptions_set_wait(fo, 1);
	pthread_rwlock_rdlock(&kv->lock);
	for (int i = 0; i < ACFS_CF_COUNT && !rerr && kv->db; i++)
		rocksdb_flush_cf(kv->db, fo, kv->cf[i], &rerr);
	pthread_rwlock_unlock(&kv->lock);
	rocksdb_flushoptions_destroy(fo);
	return note_failure(kv, take_error(rerr, "flush", err), STOP_RESUME);
}

void acfs_kv_compact_cf(struct acfs_kv *kv, enum acfs_cf cf)
{
	pthread_rwlock_rdlock(&kv->lock);
	if (kv->db)
		rocksdb_compact_range_cf(kv->db, kv->cf[cf], NULL, 0, NULL, 0);
	pthread_rwlock_unlock(&kv->lock);
}
