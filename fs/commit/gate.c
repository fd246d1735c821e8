/* SPDX-License-Identifier: MIT */
/*
 * Admission of bytes in flight: each commit (and each remote fetch) holds
 * about twice its size in memory while it is compressed and written; the
 * gate keeps their sum under --max-loaded, so memory stays bounded
 * whatever clients write at once. One commit always passes, whatever its
 * size. Below both the commit pipeline and the remotes.
 */
#include "cachefs.h"

void fs_commit_gate(struct acfs_fs *fs, uint64_t bytes, bool take)
{
	pthread_mutex_lock(&fs->d->commit_lock);
	if (take) {
		while (fs->d->commit_bytes > 0 &&
		       fs->d->commit_bytes + bytes > fs->d->max_loaded)
			pthread_cond_wait(&fs->d->commit_cv, &fs->d->commit_lock);
		fs->d->commit_bytes += bytes;
	} else {
		fs->d->commit_bytes -= bytes;
		pthread_cond_broadcast(&fs->d->commit_cv);
	}
	pthread_mutex_unlock(&fs->d->commit_lock);
}
