/* SPDX-License-Identifier: MIT */
/*
 * Helpers below every part of the daemon: the clock, the sign rule of
 * replies, and readdir reply buffers. They know FUSE and nothing of the
 * daemon's state, so any file may include this and no cycle can run
 * through it.
 */
#ifndef ACFS_FS_UTIL_H
#define ACFS_FS_UTIL_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Nanoseconds since 1970 (CLOCK_REALTIME): every time the daemon stamps. */
int64_t acfs_now_ns(void);
int fs_timespec_ns(const struct timespec *t, int64_t *ret_ns);
/* @ns as a timespec; times before 1970 are negative and the nanoseconds
 * stay in 0..1e9-1. */
struct timespec fs_timespec(int64_t ns);

/* Replies to @req with 0 or -errno @r: the one place the sign flips. */
static inline void fs_reply_err(fuse_req_t req, int r)
{
	fuse_reply_err(req, -r);
}

/* A readdir reply being filled. */
struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};
/* Adds one name; returns false when the reply buffer is full. */
bool dirbuf_add(struct dirbuf *d, const char *name, fuse_ino_t ino,
		mode_t type, off_t next_off);

#endif
