/* SPDX-License-Identifier: MIT */
/*
 * An entry's bytes for reads: loaded from the store once per open period
 * into memory, or, once the daemon holds --max-loaded bytes in memory
 * already, into an unlinked file in the staging directory that is mapped
 * (page cache the kernel can write back and drop, not daemon memory).
 * Each load may be checked against the entry's SHA-256 (--verify-reads);
 * a mismatch quarantines the version: it leaves the namespace, its bytes
 * stay for `aria-cache verify` to report, and the read fails with EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "cachefs.h"

/* ---- versions verified since the daemon started --------------------------- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Open addressing; 0 is "empty" (version ids start at 1024). */
static bool set_has_locked(struct acfs_fs *fs, uint64_t id)
{
	if (!fs->d->verified_cap)
		return false;
	for (size_t i = mix(id) & (fs->d->verified_cap - 1);;
	     i = (i + 1) & (fs->d->verified_cap - 1)) {
		if (fs->d->verified[i] == id)
			return true;
		if (fs->d->verified[i] == 0)
			return false;
	}
}

static void set_put_locked(uint64_t *tab, size_t cap, uint64_t id)
{
	size_t i = mix(id) & (cap - 1);

	while (tab[i] && tab[i] != id)
		i = (i + 1) & (cap - 1);
	tab[i] = id;
}

static void set_add_locked(struct acfs_fs *fs, uint64_t id)
{
	if ((fs->d->verified_n + 1) * 2 > fs->d->verified_cap) {
		size_t cap = fs->d->verified_cap ? fs->d->verified_cap * 2 : 4096;
		uint64_t *tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return; /* verified again next time: safe */
		for (size_t i = 0; i < fs->d->verified_cap; i++)
			if (fs->d->verified[i])
				set_put_locked(tab, cap, fs->d->verified[i]);
		free(fs->d->verified);
		fs->d->verified = tab;
		fs->d->verified_cap = cap;
	}
	set_put_locked(fs->d->verified, fs->d->verified_cap, id);
	fs->d->verified_n++;
}

static bool wants_check(struct acfs_fs *fs, struct inode *in)
{
	bool seen;

	if (fs->d->verify_reads == ACFS_VERIFY_NEVER ||
	    acfs_digest_is_none(in->digest))
		return false;
	if (fs->d->verify_reads == ACFS_VERIFY_ALWAYS)
		return true;
	pthread_mutex_lock(&fs->d->verified_lock);
	seen = set_has_locked(fs, in->ino);
	pthread_mutex_unlock(&fs->d->verified_lock);
	return !seen;
}

static void mark_checked(struct acfs_fs *fs, uint64_t id)
{
	if (fs->d->verify_reads != ACFS_VERIFY_FIRST)
		return;
	pthread_mutex_lock(&fs->d->verified_lock);
	if (!set_has_locked(fs, id))
		set_add_locked(fs, id);
	pthread_mutex_unlock(&fs->d->verified_lock);
}

void fs_verified_release(struct acfs_daemon *d)
{
	free(d->verified);
	d->verified = NULL;
	d->verified_cap = d->verified_n = 0;
}

/* ---- quarantine ----------------------------------------------------------- */

/* Bytes of @in failed their digest, a checksum or their decoding, or are
 * gone: out of the namespace. Caller holds in->lock. */
static void quarantine_locked(struct acfs_fs *fs, struct inode *in,
			      const char *path, const char *reason)
{
	char err[ACFS_ERR_MAX] = "";
	int r;

	in->quarantined = true;
	pthread_rwlock_wrlock(&fs->d->ns_lock);
	r = acfs_store_quarantine(fs->d->store, &in->key, in->ino,
				  acfs_now_ns(), reason, err);
	pthread_rwlock_unlock(&fs->d->ns_lock);
	if (r == 0) {
		acfs_log(LOG_ERR, "quarantined %s (version %llu): %s; "
			 "`aria-cache verify` lists it, --repair deletes it",
			 path, (unsigned long long)in->ino, reason);
		fs_invalidate(fs, &in->key);
	} else if (r != -ENOENT) {
		acfs_log(LOG_ERR, "could not quarantine %s (version %llu): "
			 "%s", path, (unsigned long long)in->ino, err);
	}
}

/* ---- loading -------------------------------------------------------------- */

/*
 * A spill file's blocks are reserved (fallocate) before the mapping is
 * written: a MAP_SHARED page with no block behind it on a full disk is a
 * SIGBUS that would take the daemon and every client with it. The spill
 * also leaves RocksDB its reserve, so a read never makes the next commit
 * fail. Returns the mapping, or NULL and -ENOSPC / -errno.
 */
static void *map_spill(struct acfs_fs *fs, size_t size, int *ret_err)
{
	struct statvfs sv;
	void *p;
	int fd, r;

	if (fstatvfs(fs->d->staging_dfd, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < size + ACFS_SPACE_RESERVE) {
		*ret_err = -ENOSPC;
		return NULL;
	}
	fd = openat(fs->d->staging_dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		*ret_err = -errno;
		return NULL;
	}
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r != 0) {
		*ret_err = -r;
		close(fd);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	*ret_err = p == MAP_FAILED ? -errno : 0;
	close(fd); /* the mapping keeps the file */
	return p == MAP_FAILED ? NULL : p;
}

int fs_load_locked(struct acfs_fs *fs, struct inode *in)
{
	char path[ACFS_KEY_PATH_MAX], err[ACFS_ERR_MAX] = "";
	size_t size = in->size;
	bool mapped = false;
	void *buf;
	int r;

	FS_ASSERT_HELD(&in->lock);
	if (in->data)
		return 0;
	acfs_key_format_path(&in->key, path);
	if (in->quarantined) {
		acfs_log(LOG_ERR, "read of %s refused: version %llu is "
			 "quarantined", path, (unsigned long long)in->ino);
		return -EIO;
	}
	uint64_t held = __atomic_add_fetch(&fs->d->loaded_bytes, size,
					   __ATOMIC_RELAXED);
	if (size >= ACFS_SPILL_MIN && held > fs->d->max_loaded) {
		__atomic_sub_fetch(&fs->d->loaded_bytes, size, __ATOMIC_RELAXED);
		buf = map_spill(fs, size ? size : 1, &r);
		if (!buf) {
			acfs_log(LOG_ERR, "read of %s failed: %zu bytes do not "
				 "fit in memory (--max-loaded) and cannot be "
				 "spilled to the staging directory of %s: %s%s",
				 path, size, fs->d->store_dir, strerror(-r),
				 r == -ENOSPC ? " (the disk is full; the entry "
				 "is intact and reads again once there is "
				 "room)" : "");
			return -EIO;
		}
		mapped = true;
	} else {
		buf = malloc(size ? size : 1);
		if (!buf) {
			__atomic_sub_fetch(&fs->d->loaded_bytes, size,
					   __ATOMIC_RELAXED);
			return -ENOMEM;
		}
	}
	in->data = buf;
	in->data_len = size;
	in->data_mapped = mapped;

	r = acfs_store_read_into(fs->d->store, in->ino, buf, size, err);
	if (r < 0) {
		acfs_log(LOG_ERR, "%s: reading version %llu: %s", path,
			 (unsigned long long)in->ino,
			 err[0] ? err : strerror(-r));
		fs_unload_locked(fs, in);
		/* Only proven damage quarantines: a checksum or an encoding
		 * that fails, or bytes gone. An error of the moment (no fd,
		 * no memory, the disk) fails this read alone. */
		if (r == -EBADMSG || r == -ENOENT)
			quarantine_locked(fs, in, path, err[0] ? err
						: "bytes unreadable");
		else
			acfs_log(LOG_WARNING, "%s: version %llu not "
				 "quarantined: %s is no sign of damage; the "
				 "next read tries again", path,
				 (unsigned long long)in->ino, strerror(-r));
		return r == -ENOMEM || r == -EMFILE || r == -ENFILE ? r
								    : -EIO;
	}
	if (wants_check(fs, in)) {
		unsigned char d[ACFS_DIGEST_SIZE];
		acfs_digest(buf, size, d);
		acfs_store_count(fs->d->store, ACFS_STAT_VERIFIED, 1);
		if (memcmp(d, in->digest, sizeof(d)) != 0) {
			char want[ACFS_DIGEST_TEXT_MAX];
			char got[ACFS_DIGEST_TEXT_MAX], why[ACFS_ERR_MAX];
			acfs_digest_format(in->digest, want);
			acfs_digest_format(d, got);
			snprintf(why, sizeof(why), "digest mismatch: recorded "
				 "%s, bytes read have %s", want, got);
			fs_unload_locked(fs, in);
			quarantine_locked(fs, in, path, why);
			return -EIO;
		}
		mark_checked(fs, in->ino);
	}
	return 0;
}
