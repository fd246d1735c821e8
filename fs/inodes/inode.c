/* SPDX-License-Identifier: MIT */
/* The inode table: which versions and temp files the kernel knows. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "acfs/tree.h"
#include "cachefs.h"

static size_t bucket_of(const struct acfs_fs *fs, uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ULL) >> 20) % fs->nbuckets;
}

int inode_table_init(struct acfs_fs *fs)
{
	fs->nbuckets = 4096;
	fs->buckets = calloc(fs->nbuckets, sizeof(*fs->buckets));
	if (!fs->buckets)
		return -ENOMEM;
	pthread_mutex_init(&fs->itab_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->pending_cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void fs_prepared_free(struct acfs_daemon *d, struct inode *in)
{
	struct fs_prepared *p = in->prep;

	if (!p)
		return;
	__atomic_sub_fetch(&d->stage_mem_bytes, p->charged, __ATOMIC_RELAXED);
	acfs_encoded_free(&p->enc);
	free(p->info);
	free(p);
	in->prep = NULL;
}

/* Gives back a staged inode's bytes: its memory (and its share of the
 * staging budget) or its file. */
void fs_stage_free(struct acfs_daemon *d, struct inode *in)
{
	fs_prepared_free(d, in);
	if (in->stage_mem) {
		free(in->stage_mem);
		__atomic_sub_fetch(&d->stage_mem_bytes, in->stage_cap,
				   __ATOMIC_RELAXED);
		in->stage_mem = NULL;
		in->stage_cap = 0;
	}
	if (in->stage_fd >= 0) {
		close(in->stage_fd);
		in->stage_fd = -1;
	}
	if (in->writer_pidfd >= 0) {
		close(in->writer_pidfd);
		in->writer_pidfd = -1;
	}
}

void inode_free(struct acfs_fs *fs, struct inode *in)
{
	if (!in)
		return;
	fs_stage_free(fs->d, in);
	fs_unload_locked(fs, in);
	free(in->name);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

static void let_go(struct acfs_fs *fs, struct inode *in, bool orphaned);

/* After the mount left d->mounts (or the daemon stops): replaced versions
 * and unlinked files that no other mount holds go now. */
void inode_table_release(struct acfs_fs *fs)
{
	if (!fs->buckets)
		return;
	for (size_t i = 0; i < fs->nbuckets; i++) {
		struct inode *in = fs->buckets[i], *next;
		for (; in; in = next) {
			next = in->hnext;
			if (fs->d->store)
				let_go(fs, in, in->orphaned);
			inode_free(fs, in);
		}
	}
	free(fs->buckets);
	fs->buckets = NULL;
	pthread_cond_destroy(&fs->pending_cv);
	pthread_mutex_destroy(&fs->itab_lock);
}

struct inode *inode_new(uint64_t ino, enum inode_type type)
{
	struct inode *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->ino = ino;
	in->type = type;
	in->stage_fd = -1;
	in->writer_pidfd = -1;
	pthread_mutex_init(&in->lock, NULL);
	return in;
}

/* Doubles the bucket array when the table gets dense. */
static void grow_locked(struct acfs_fs *fs)
{
	size_t n = fs->nbuckets * 2;
	struct inode **nb = calloc(n, sizeof(*nb));
	struct inode **old = fs->buckets;
	size_t oldn = fs->nbuckets;

	if (!nb)
		return; /* keep working with longer chains */
	fs->buckets = nb;
	fs->nbuckets = n;
	for (size_t i = 0; i < oldn; i++) {
		struct inode *in = old[i], *next;
		for (; in; in = next) {
			size_t b = bucket_of(fs, in->ino);
			next = in->hnext;
			in->hnext = nb[b];
			nb[b] = in;
		}
	}
	free(old);
}

static void insert_locked(struct acfs_fs *fs, struct inode *in)
{
	size_t b;

	if (fs->ninodes >= fs->nbuckets * 2)
		grow_locked(fs);
	b = bucket_of(fs, in->ino);
	in->hnext = fs->buckets[b];
	fs->buckets[b] = in;
	fs->ninodes++;
}

static struct inode *find_locked(struct acfs_fs *fs, uint64_t ino)
{
	struct inode *in = fs->buckets[bucket_of(fs, ino)];

	while (in && in->ino != ino)
		in = in->hnext;
	return in;
}

static void pending_remove_locked(struct acfs_fs *fs, struct inode *in)
{
	struct inode **p = &fs->pending_list;

	while (*p && *p != in)
		p = &(*p)->pnext;
	if (*p)
		*p = in->pnext;
	in->pnext = NULL;
	in->in_pending = false;
}

int pending_add(struct acfs_fs *fs, struct inode *in, bool excl)
{
	pthread_mutex_lock(&fs->itab_lock);
	for (struct inode *p = fs->pending_list; excl && p; p = p->pnext)
		if (p->key.hash == in->key.hash && p->key.kind == in->key.kind) {
			pthread_mutex_unlock(&fs->itab_lock);
			return -EEXIST;
		}
	in->pnext = fs->pending_list;
	fs->pending_list = in;
	in->in_pending = true;
	pthread_mutex_unlock(&fs->itab_lock);
	return 0;
}

void pending_remove(struct acfs_fs *fs, struct inode *in)
{
	pthread_mutex_lock(&fs->itab_lock);
	if (in->in_pending)
		pending_remove_locked(fs, in);
	pthread_cond_broadcast(&fs->pending_cv);
	pthread_mutex_unlock(&fs->itab_lock);
}

static bool pending_exists_locked(struct acfs_fs *fs,
				  const struct acfs_key *key)
{
	for (struct inode *in = fs->pending_list; in; in = in->pnext)
		if (in->key.hash == key->hash && in->key.kind == key->kind)
			return true;
	return false;
}

size_t pending_keys(struct acfs_fs *fs, struct acfs_key *keys, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&fs->itab_lock);
	for (struct inode *in = fs->pending_list; in && n < max; in = in->pnext)
		keys[n++] = in->key;
	pthread_mutex_unlock(&fs->itab_lock);
	return n;
}

struct inode *pending_get(struct acfs_fs *fs, const struct acfs_key *key)
{
	struct inode *in;

	pthread_mutex_lock(&fs->itab_lock);
	for (in = fs->pending_list; in; in = in->pnext)
		if (in->key.hash == key->hash && in->key.kind == key->kind)
			break;
	if (in)
		in->nopen++;
	pthread_mutex_unlock(&fs->itab_lock);
	return in;
}

bool pending_wait(struct acfs_fs *fs, const struct acfs_key *key,
		  int64_t ms)
{
	struct timespec until;
	bool found;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fs->itab_lock);
	while ((found = pending_exists_locked(fs, key)) &&
	       pthread_cond_timedwait(&fs->pending_cv, &fs->itab_lock,
				      &until) == 0)
		;
	found = pending_exists_locked(fs, key);
	pthread_mutex_unlock(&fs->itab_lock);
	return found;
}

bool pending_exists(struct acfs_fs *fs, const struct acfs_key *key)
{
	pthread_mutex_lock(&fs->itab_lock);
	bool found = pending_exists_locked(fs, key);
	pthread_mutex_unlock(&fs->itab_lock);
	return found;
}

static void remove_locked(struct acfs_fs *fs, struct inode *in)
{
	struct inode **p = &fs->buckets[bucket_of(fs, in->ino)];

	while (*p && *p != in)
		p = &(*p)->hnext;
	if (*p) {
		*p = in->hnext;
		fs->ninodes--;
	}
	if (in->in_tmp)
		tmp_unlink_locked(fs, in);
	if (in->in_pending)
		pending_remove_locked(fs, in);
}

void inode_insert(struct acfs_fs *fs, struct inode *in)
{
	pthread_mutex_lock(&fs->itab_lock);
	in->nlookup = 1;
	insert_locked(fs, in);
	pthread_mutex_unlock(&fs->itab_lock);
}

struct inode *inode_find(struct acfs_fs *fs, uint64_t ino)
{
	struct inode *in;

	pthread_mutex_lock(&fs->itab_lock);
	in = find_locked(fs, ino);
	pthread_mutex_unlock(&fs->itab_lock);
	return in;
}

struct inode *inode_ref_entry(struct acfs_fs *fs, const struct acfs_key *key,
			      const struct acfs_entry *e)
{
	struct inode *in;

	pthread_mutex_lock(&fs->itab_lock);
	in = find_locked(fs, e->id);
	if (!in) {
		in = inode_new(e->id, INODE_ENTRY);
		if (in) {
			in->key = *key;
			in->size = e->size;
			in->atime_ns = e->atime_ns;
			in->mtime_ns = e->mtime_ns;
			in->ctime_ns = e->ctime_ns;
			in->stored = e->stored;
			memcpy(in->digest, e->digest, sizeof(in->digest));
			in->mode = 0444;
			insert_locked(fs, in);
		}
	}
	if (in)
		in->nlookup++;
	pthread_mutex_unlock(&fs->itab_lock);
	return in;
}

struct inode *inode_ref_general(struct acfs_fs *fs, const struct acfs_gnode *g)
{
	struct inode *in;

	pthread_mutex_lock(&fs->itab_lock);
	in = find_locked(fs, g->ino);
	if (!in) {
		in = inode_new(g->ino, INODE_GENERAL);
		if (in) {
			in->mode = g->mode;
			insert_locked(fs, in);
		}
	}
	if (in)
		in->nlookup++;
	pthread_mutex_unlock(&fs->itab_lock);
	return in;
}

/*
 * Called without locks once @in has left @fs's table. What it held for
 * the store (a replaced version, an unlinked general file) goes unless
 * another mount still holds the same number: the last mount to let go
 * drops it (each checks the others after leaving its own table).
 */
static void let_go(struct acfs_fs *fs, struct inode *in, bool orphaned)
{
	if (!orphaned && !(in->type == INODE_GENERAL && !S_ISDIR(in->mode)))
		return;
	if (inode_in_use(in->ino, fs->d))
		return;
	/* A general file unlinked while the kernel knew it goes now. */
	if (in->type == INODE_GENERAL && !S_ISDIR(in->mode)) {
		int r = acfs_tree_drop(fs->d->store, in->ino);
		if (r < 0)
			acfs_log(LOG_WARNING, "could not drop unlinked file "
				 "%llu (%s); it is dropped at the next mount",
				 (unsigned long long)in->ino, strerror(-r));
	}
	if (orphaned) {
		int r = acfs_store_drop_orphan(fs->d->store, in->ino);
		if (r < 0)
			acfs_log(LOG_WARNING,
				 "could not drop replaced version %llu (%s); "
				 "it is swept at the next mount",
				 (unsigned long long)in->ino, strerror(-r));
	}
}

static void destroy(struct acfs_fs *fs, struct inode *in, bool orphaned)
{
	let_go(fs, in, orphaned);
	inode_free(fs, in);
}

/*
 * Takes @in out of the table if nothing holds it any more (caller holds
 * itab_lock, in the same hold that dropped the last reference, so that
 * exactly one thread sees it go: a READ's pin, a RELEASE and a FORGET
 * race once the kernel has a reply). Returns whether the caller is to
 * destroy it.
 */
static bool unref_locked(struct acfs_fs *fs, struct inode *in, bool *orphaned)
{
	/* A temp file still named in tmp/ stays: the kernel forgets
	 * dentries under memory pressure (or drop_caches), and the next
	 * lookup of its name must find it, bytes and all. Removing its name
	 * takes a lookup first, whose FORGET then ends it. */
	if (in->nlookup || in->nopen || in->in_tmp)
		return false;
	remove_locked(fs, in);
	*orphaned = in->orphaned;
	return true;
}

void inode_forget(struct acfs_fs *fs, struct inode *in, uint64_t nlookup)
{
	bool orphaned = false, gone;

	pthread_mutex_lock(&fs->itab_lock);
	in->nlookup = nlookup > in->nlookup ? 0 : in->nlookup - nlookup;
	gone = unref_locked(fs, in, &orphaned);
	pthread_mutex_unlock(&fs->itab_lock);
	if (gone)
		destroy(fs, in, orphaned);
}

void inode_open(struct acfs_fs *fs, struct inode *in)
{
	pthread_mutex_lock(&fs->itab_lock);
	in->nopen++;
	pthread_mutex_unlock(&fs->itab_lock);
}

void inode_close(struct acfs_fs *fs, struct inode *in)
{
	bool orphaned = false, gone;

	/* Decided under in->lock so a concurrent open+read cannot see the
	 * bytes freed under it (it loads them again). Loaded bytes live only
	 * while it is open. Our open still pins it here: the reference goes
	 * last, below, so a FORGET meanwhile cannot free it under us. */
	pthread_mutex_lock(&in->lock);
	pthread_mutex_lock(&fs->itab_lock);
	bool last = in->nopen == 1;
	pthread_mutex_unlock(&fs->itab_lock);
	/* Kernel hit mode has no RELEASE: bytes loaded (in memory or a
	 * mapped spill file) stay until a read reaches the end of the file,
	 * not one load per READ (a 200 MB entry read 128 KiB at a time
	 * would load it 1600 times). What a partial read left is let go by
	 * fs_unload_idle once no read came for a while. */
	if (last && in->type == INODE_ENTRY &&
	    (!fs->d->kernel_hits || in->drop_data))
		fs_unload_locked(fs, in);
	pthread_mutex_unlock(&in->lock);
	pthread_mutex_lock(&fs->itab_lock);
	in->nopen--;
	gone = unref_locked(fs, in, &orphaned);
	pthread_mutex_unlock(&fs->itab_lock);
	if (gone)
		destroy(fs, in, orphaned);
}

static bool mount_has(struct acfs_fs *fs, uint64_t id)
{
	bool has;

	pthread_mutex_lock(&fs->itab_lock);
	has = find_locked(fs, id) != NULL;
	pthread_mutex_unlock(&fs->itab_lock);
	return has;
}

bool inode_in_use(uint64_t id, void *userdata)
{
	struct acfs_daemon *d = userdata;
	bool used = false;

	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *m = d->mounts; m && !used; m = m->next)
		used = mount_has(m, id);
	pthread_mutex_unlock(&d->mounts_lock);
	return used;
}

void inode_retired(struct acfs_daemon *d, uint64_t old_id, bool kept)
{
	bool found = false;

	if (!old_id || !kept)
		return;
	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *m = d->mounts; m; m = m->next) {
		pthread_mutex_lock(&m->itab_lock);
		struct inode *in = find_locked(m, old_id);
		if (in) {
			in->orphaned = true;
			found = true;
		}
		pthread_mutex_unlock(&m->itab_lock);
	}
	pthread_mutex_unlock(&d->mounts_lock);
	if (!found) {
		/* Left every table between the commit and now: drop it. */
		int r = acfs_store_drop_orphan(d->store, old_id);
		if (r < 0)
			acfs_log(LOG_WARNING,
				 "could not drop replaced version %llu",
				 (unsigned long long)old_id);
	}
}

struct inode *tmp_find_locked(struct acfs_fs *fs, const char *name)
{
	struct inode *in = fs->tmp_list;

	FS_ASSERT_HELD(&fs->itab_lock);
	while (in && strcmp(in->name, name) != 0)
		in = in->tnext;
	return in;
}

void tmp_unlink_locked(struct acfs_fs *fs, struct inode *in)
{
	struct inode **p = &fs->tmp_list;

	FS_ASSERT_HELD(&fs->itab_lock);
	while (*p && *p != in)
		p = &(*p)->tnext;
	if (*p) {
		*p = in->tnext;
		fs->ntmp--;
	}
	in->tnext = NULL;
	in->in_tmp = false;
}

/*
 * Kernel hit mode: bytes loaded for reads that never reached the end of
 * their file, and not read for @idle_ns, go (housekeeping, every few
 * seconds). The kernel's page cache serves what it has; a later READ
 * loads them again. In->lock is tried, never waited for, under
 * itab_lock (inode_close takes them in the other order).
 */
void fs_unload_idle(struct acfs_daemon *d, int64_t idle_ns)
{
	int64_t before = acfs_now_ns() - idle_ns;

	if (!d->kernel_hits)
		return;
	pthread_mutex_lock(&d->mounts_lock);
	for (struct acfs_fs *fs = d->mounts; fs; fs = fs->next) {
		pthread_mutex_lock(&fs->itab_lock);
		for (size_t b = 0; b < fs->nbuckets; b++)
			for (struct inode *in = fs->buckets[b]; in;
			     in = in->hnext) {
				if (in->nopen || !__atomic_load_n(&in->data_at,
						 __ATOMIC_RELAXED) ||
				    pthread_mutex_trylock(&in->lock))
					continue;
				if (in->type == INODE_ENTRY && in->data &&
				    in->data_at < before)
					fs_unload_locked(fs, in);
				pthread_mutex_unlock(&in->lock);
			}
		pthread_mutex_unlock(&fs->itab_lock);
	}
	pthread_mutex_unlock(&d->mounts_lock);
}

/* Drops the bytes fs_load_locked held for reads (caller holds in->lock). */
void fs_unload_locked(struct acfs_fs *fs, struct inode *in)
{
	if (!in->data)
		return;
	if (in->data_mapped) {
		munmap(in->data, in->data_len ? in->data_len : 1);
	} else {
		free(in->data);
		__atomic_sub_fetch(&fs->d->loaded_bytes, in->data_len,
				   __ATOMIC_RELAXED);
	}
	in->data = NULL;
	in->data_len = 0;
	in->data_mapped = false;
	__atomic_store_n(&in->data_at, 0, __ATOMIC_RELAXED);
}
