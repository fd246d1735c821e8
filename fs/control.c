/* SPDX-License-Identifier: MIT */
/*
 * The daemon's end of the control socket: runs aria-cache subcommands
 * against the live store, with the hooks that keep the kernel and the
 * inode table right (recorded uses flushed first, removed versions that a
 * reader holds kept as orphans, their dentries invalidated). Requests are
 * served one at a time, in this thread: a bound on what clients can make
 * the daemon do at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "cachefs.h"
#include "control.h"
#include "cmd.h"

static void flush_uses(void *userdata)
{
	fs_lru_flush(userdata);
}

static void remote_report(FILE *out, bool json, void *userdata)
{
	fs_remote_report(userdata, out, json);
}

static int remote_sync(unsigned timeout_ms, FILE *progress, uint64_t *left,
		       void *userdata)
{
	return fs_remote_sync(userdata, timeout_ms, progress, left);
}

static void serve(struct acfs_fs *fs, int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	struct acfs_cmd_ctx ctx = { 0 };
	char **argv = NULL;
	int argc = 0, code;
	bool progress;

	/* A client that stops talking mid-request cannot hold us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (acfs_control_read_request(fd, &argc, &argv, &progress) < 0)
		return;
	ctx.store = fs->store;
	ctx.store_dir = fs->store_dir;
	ctx.out = acfs_control_stream(fd, 'O');
	ctx.err = acfs_control_stream(fd, 'R');
	ctx.progress = progress;
	ctx.daemon_start_ns = fs->start_ns;
	ctx.flush_uses = flush_uses;
	ctx.batch_lock = fs_evict_batch_lock;
	ctx.in_use = inode_in_use;
	ctx.validator = fs->validator;
	ctx.on_removed = fs_evicted;
	ctx.remote_report = remote_report;
	ctx.remote_sync = remote_sync;
	ctx.userdata = fs;
	if (ctx.out && ctx.err) {
		acfs_log(LOG_INFO, "aria-cache %s", argc ? argv[0] : "");
		code = acfs_cmd_run(&ctx, argc, argv);
	} else {
		code = 1;
	}
	if (ctx.out)
		fclose(ctx.out);
	if (ctx.err)
		fclose(ctx.err);
	acfs_control_send_exit(fd, code);
	acfs_control_free_argv(argc, argv);
}

static void *control_main(void *arg)
{
	struct acfs_fs *fs = arg;

	for (;;) {
		int fd = accept4(fs->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* shut down by fs_control_stop */
		}
		serve(fs, fd);
		close(fd);
	}
	return NULL;
}

int fs_control_start(struct acfs_fs *fs)
{
	int r = acfs_control_listen(fs->store_dir, &fs->control_fd);

	if (r < 0) {
		acfs_log(LOG_ERR, "cannot listen on %s/control.sock: %s; "
			 "aria-cache will not reach this daemon",
			 fs->store_dir, strerror(-r));
		fs->control_fd = -1;
		return r;
	}
	r = pthread_create(&fs->control, NULL, control_main, fs);
	if (r) {
		close(fs->control_fd);
		fs->control_fd = -1;
		return -r;
	}
	fs->control_started = true;
	return 0;
}

void fs_control_stop(struct acfs_fs *fs)
{
	char path[4096];

	if (!fs->control_started)
		return;
	shutdown(fs->control_fd, SHUT_RDWR);
	pthread_join(fs->control, NULL);
	close(fs->control_fd);
	fs->control_fd = -1;
	fs->control_started = false;
	if (acfs_control_path(fs->store_dir, path, sizeof(path)) == 0)
		unlink(path);
}
