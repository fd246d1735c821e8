/* SPDX-License-Identifier: MIT */
/*
 * Admission of bytes in flight: each commit (and each remote fetch) holds
 * about twice its size in memory while it is compressed and written; the
 * gate keeps their sum under --max-loaded, so memory stays bounded
 * whatever clients write at once. One commit always passes, whatever its
 * size. Below both the commit pipeline and the remotes.
 */
#include "cachefs.h"

void fs_commit_gate(struct acfs_daemon *d, uint64_t bytes, bool take)
{
	pthread_mutex_lock(&d->commit_lock);
	if (take) {
		while (d->commit_bytes > 0 &&
		       d->commit_bytes + bytes > d->max_loaded)
			pthread_cond_wait(&d->commit_cv, &d->commit_lock);
		d->commit_bytes += bytes;
	} else {
		d->commit_bytes -= bytes;
		pthread_cond_broadcast(&d->commit_cv);
	}
	pthread_mutex_unlock(&d->commit_lock);
}
