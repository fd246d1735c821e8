/* SPDX-License-Identifier: MIT */
/* The mounts one daemon serves (daemon/mounts.c). */
#ifndef ACFS_FS_DAEMON_MOUNTS_H
#define ACFS_FS_DAEMON_MOUNTS_H

#include <stdbool.h>
#include <stdio.h>

struct acfs_daemon;

/* The control request another aria-cachefs of the same store sends. */
#define ACFS_MOUNT_REQUEST "__mount"
/* Its exit status when the daemon is stopping: the caller starts anew. */
#define ACFS_MOUNT_STOPPING 75

/* Unmounts a stale mount (of a daemon that died) at @mp; 0 if there was
 * none or it is gone, -EBUSY (with a message) if it stays. */
int fs_clear_stale_mount(const char *mp);
/* Blocks the stop signals into a signalfd and makes the wake eventfd;
 * before any thread starts. */
int fs_mounts_signals(struct acfs_daemon *d);
/* Mounts @mp with FUSE options @argv and serves it; a message in @err on
 * failure. */
int fs_mount_add(struct acfs_daemon *d, const char *mp, int argc,
		 char *const *argv, char *err, size_t errlen);
/* What STORE/mounts records (malloc'd text, or NULL): read before the
 * first mount rewrites it. */
char *fs_mounts_recorded(struct acfs_daemon *d);
/* Brings back the mounts @recorded names that are stale now (the daemon
 * that served them died), but @own; @recorded is consumed (strtok). */
void fs_mounts_recover(struct acfs_daemon *d, char *recorded, const char *own);
/* Serves until the last mount is gone (or a stop signal ended them all). */
int fs_mounts_run(struct acfs_daemon *d);
/* The oldest mount's path (malloc'd), or NULL. */
char *fs_mounts_first(struct acfs_daemon *d);
/* Each mount's hits, misses and stores: lines, or a JSON array. */
void fs_mounts_report(struct acfs_daemon *d, FILE *out, bool json);
/* A control client's ACFS_MOUNT_REQUEST. */
void fs_mount_request(struct acfs_daemon *d, int fd, int argc, char **argv);

#endif
