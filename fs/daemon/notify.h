/* SPDX-License-Identifier: MIT */
#ifndef ACFS_FS_DAEMON_NOTIFY_H
#define ACFS_FS_DAEMON_NOTIFY_H

/* Sends @state ("READY=1\nSTATUS=...") to systemd if $NOTIFY_SOCKET is
 * set; nothing otherwise. */
void daemon_notify(const char *state);

#endif
