/* SPDX-License-Identifier: MIT */
/*
 * The control protocol between aria-cache and a running daemon, over the
 * Unix socket STORE/control.sock (mode 0600: only the store's owner may
 * control it). Messages are frames: type (1 byte), length (4 bytes,
 * little endian), payload.
 *   request:  'P' progress wanted (1 byte: 0/1), 'A' one argument
 *             (at most ACFS_CONTROL_MAX_ARG bytes, at most
 *             ACFS_CONTROL_MAX_ARGS of them), 'E' end
 *   response: 'O' bytes for stdout, 'R' bytes for stderr, 'X' exit code
 *             (4 bytes), last
 * Functions return 0 or -errno unless they say otherwise.
 */
#ifndef ACFS_TOOLS_CONTROL_H
#define ACFS_TOOLS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ACFS_CONTROL_MAX_ARGS 64
#define ACFS_CONTROL_MAX_ARG 4096
#define ACFS_CONTROL_MAX_FRAME (1u << 20)

/* STORE/control.sock into @buf; -ENAMETOOLONG if it does not fit. */
int acfs_control_path(const char *store_dir, char *buf, size_t len);

/* Client: connects; -ENOENT / -ECONNREFUSED when no daemon listens. */
int acfs_control_connect(const char *store_dir, int *ret_fd);
/*
 * Client: runs argv in the daemon, copying its output to @out and @err.
 * Returns the command's exit code, or 1 (with a message on @err) if the
 * daemon went away.
 */
int acfs_control_call(int fd, int argc, char **argv, bool progress,
		      FILE *out, FILE *err);

/* Server: binds and listens (replacing a stale socket file). */
int acfs_control_listen(const char *store_dir, int *ret_fd);
/* Server: reads one request; *ret_argv is malloc'd (free_argv). */
int acfs_control_read_request(int fd, int *ret_argc, char ***ret_argv,
			      bool *ret_progress);
void acfs_control_free_argv(int argc, char **argv);
/* Server: a stream whose writes become frames of @type ('O' or 'R'). */
FILE *acfs_control_stream(int fd, char type);
int acfs_control_send_exit(int fd, int code);

#endif
