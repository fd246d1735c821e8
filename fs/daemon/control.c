/* SPDX-License-Identifier: MIT */
/*
 * The daemon's end of the control socket: runs aria-cache subcommands
 * against the live store, with the hooks that keep the kernel and the
 * inode table right (recorded uses flushed first, removed versions that a
 * reader holds kept as orphans, their dentries invalidated).
 *
 * Each client is served in a thread of its own, at most
 * ACFS_CONTROL_CLIENTS_MAX at once (more are told to retry): a client that
 * stops reading (`aria-cache ls | sleep 300`) holds only its own thread,
 * and only until a send times out; its stream is then dropped and the
 * command runs to its end. At shutdown every client's socket is shut, and
 * the daemon waits a bounded time for their commands.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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

static bool stopping(void *userdata)
{
	struct acfs_fs *fs = userdata;

	pthread_mutex_lock(&fs->d->control_lock);
	bool s = fs->d->control_stopping;
	pthread_mutex_unlock(&fs->d->control_lock);
	return s;
}

static void remote_totals(uint64_t *down, uint64_t *up, uint64_t *queued,
			  void *userdata)
{
	fs_remote_totals(userdata, down, up, queued);
}

static void remote_metrics(FILE *out, const char *labels, void *userdata)
{
	fs_remote_metrics(userdata, out, labels);
}

static void remote_report(FILE *out, bool json, void *userdata)
{
	fs_remote_report(userdata, out, json);
}

static int remote_sync(unsigned timeout_ms, FILE *progress,
		       struct acfs_sync_result *res, void *userdata)
{
	return fs_remote_sync(userdata, timeout_ms, progress, res);
}

/* A send that waits longer than this for a client gives up on it. */
#define CLIENT_SEND_TIMEOUT_S 5

struct client {
	struct acfs_fs *fs;
	int fd;
	struct client *next;       /* fs->d->clients; control_lock */
};

static void serve(struct acfs_fs *fs, int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	struct timeval stv = { .tv_sec = CLIENT_SEND_TIMEOUT_S };
	struct acfs_cmd_ctx ctx = { 0 };
	char **argv = NULL;
	int argc = 0, code;
	bool progress;

	/* A client that stops talking mid-request cannot hold us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Nor one that stops reading our output. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
	if (acfs_control_read_request(fd, &argc, &argv, &progress) < 0)
		return;
	ctx.store = fs->d->store;
	ctx.store_dir = fs->d->store_dir;
	ctx.out = acfs_control_stream(fd, 'O');
	ctx.err = acfs_control_stream(fd, 'R');
	ctx.progress = progress;
	ctx.daemon_start_ns = fs->d->start_ns;
	ctx.config = fs->d->config;
	ctx.flush_uses = flush_uses;
	ctx.batch_lock = fs_evict_batch_lock;
	ctx.in_use = inode_in_use;
	ctx.validator = fs->d->validator;
	ctx.on_removed = fs_evicted;
	ctx.remote_report = remote_report;
	ctx.remote_sync = remote_sync;
	ctx.mountpoint = fs->mountpoint;
	ctx.latency = fs->d->latency;
	ctx.remote_metrics = remote_metrics;
	ctx.remote_totals = remote_totals;
	ctx.stopping = stopping;
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

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct acfs_fs *fs = c->fs;

	serve(fs, c->fd);
	pthread_mutex_lock(&fs->d->control_lock);
	for (struct client **p = &fs->d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	fs->d->nclients--;
	close(c->fd);
	pthread_cond_broadcast(&fs->d->control_cv);
	pthread_mutex_unlock(&fs->d->control_lock);
	free(c);
	return NULL;
}

static void refuse_busy(int fd)
{
	FILE *err = acfs_control_stream(fd, 'R');

	if (err) {
		fprintf(err, "aria-cache: the daemon serves %d commands "
			"already; try again when one has finished\n",
			ACFS_CONTROL_CLIENTS_MAX);
		fclose(err);
	}
	acfs_control_send_exit(fd, 1);
}

static void *control_main(void *arg)
{
	struct acfs_fs *fs = arg;
	struct timeval stv = { .tv_sec = 1 };

	for (;;) {
		int fd = accept4(fs->d->control_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			break; /* shut down by fs_control_stop */
		}
		struct client *c = calloc(1, sizeof(*c));
		pthread_attr_t attr;
		pthread_t t;
		bool started = false;

		pthread_mutex_lock(&fs->d->control_lock);
		if (c && fs->d->nclients < ACFS_CONTROL_CLIENTS_MAX &&
		    !fs->d->control_stopping) {
			c->fs = fs;
			c->fd = fd;
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr,
						    PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &attr, client_main, c) == 0) {
				c->next = fs->d->clients;
				fs->d->clients = c;
				fs->d->nclients++;
				started = true;
			}
			pthread_attr_destroy(&attr);
		}
		pthread_mutex_unlock(&fs->d->control_lock);
		if (!started) {
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stv,
				   sizeof(stv));
			refuse_busy(fd);
			close(fd);
			free(c);
		}
	}
	return NULL;
}

int fs_control_start(struct acfs_fs *fs)
{
	int r = acfs_control_listen(fs->d->store_dir, &fs->d->control_fd);

	if (r < 0) {
		acfs_log(LOG_ERR, "cannot listen on %s/control.sock: %s; "
			 "aria-cache will not reach this daemon",
			 fs->d->store_dir, strerror(-r));
		fs->d->control_fd = -1;
		return r;
	}
	pthread_mutex_init(&fs->d->control_lock, NULL);
	pthread_cond_init(&fs->d->control_cv, NULL);
	r = pthread_create(&fs->d->control, NULL, control_main, fs);
	if (r) {
		close(fs->d->control_fd);
		fs->d->control_fd = -1;
		return -r;
	}
	fs->d->control_started = true;
	return 0;
}

bool fs_control_stop(struct acfs_fs *fs)
{
	char path[4096];
	struct timespec until;
	bool done;

	if (!fs->d->control_started)
		return true;
	shutdown(fs->d->control_fd, SHUT_RDWR);
	pthread_join(fs->d->control, NULL);
	close(fs->d->control_fd);
	fs->d->control_fd = -1;
	if (acfs_control_path(fs->d->store_dir, path, sizeof(path)) == 0)
		unlink(path);
	/* Clients' sockets shut: their reads and sends fail at once, and
	 * their commands end (or keep running without output). */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ACFS_CONTROL_STOP_WAIT_S;
	pthread_mutex_lock(&fs->d->control_lock);
	fs->d->control_stopping = true;
	for (struct client *c = fs->d->clients; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (fs->d->nclients > 0 &&
	       pthread_cond_timedwait(&fs->d->control_cv, &fs->d->control_lock,
				      &until) != ETIMEDOUT)
		;
	done = fs->d->nclients == 0;
	pthread_mutex_unlock(&fs->d->control_lock);
	if (!done) {
		acfs_log(LOG_WARNING, "%u aria-cache commands still running "
			 "after %d s; exiting without them (the store is "
			 "crash-safe)", fs->d->nclients, ACFS_CONTROL_STOP_WAIT_S);
		return false;
	}
	fs->d->control_started = false;
	return true;
}
