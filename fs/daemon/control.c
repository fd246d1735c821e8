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
#include "daemon/mounts.h"
#include "cmd.h"

static void flush_uses(void *userdata)
{
	fs_lru_flush(userdata);
}

static int remote_publish(const char *ref, uint64_t *ret_keys, char *why,
			  size_t whylen, void *userdata)
{
	return fs_remote_publish(userdata, ref, ret_keys, why, whylen);
}

static int remote_prefetch(const char *ref, unsigned jobs, FILE *progress,
			   struct acfs_prefetch_result *res, void *userdata)
{
	return fs_remote_prefetch(userdata, ref, jobs, progress, res);
}

static void stored(const struct acfs_key *key, void *userdata)
{
	fs_invalidate_mounts_now(userdata, NULL, key);
}

static void mounts_report(FILE *out, bool json, void *userdata)
{
	fs_mounts_report(userdata, out, json);
}

static bool stopping(void *userdata)
{
	struct acfs_daemon *d = userdata;

	pthread_mutex_lock(&d->control_lock);
	bool s = d->control_stopping;
	pthread_mutex_unlock(&d->control_lock);
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
	struct acfs_daemon *d;
	int fd;
	struct client *next;       /* d->clients; control_lock */
};

static void serve(struct acfs_daemon *d, int fd)
{
	/* A client sends its whole request as it connects: one that sends
	 * nothing within a second holds its slot no longer (idle
	 * connections could fill every slot). */
	struct timeval tv = { .tv_sec = 1 };
	struct timeval stv = { .tv_sec = CLIENT_SEND_TIMEOUT_S };
	struct acfs_cmd_ctx ctx = { 0 };
	char **argv = NULL, *mp = NULL;
	int argc = 0, code;
	bool progress;

	/* A client that stops talking mid-request cannot hold us. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Nor one that stops reading our output. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv));
	if (acfs_control_read_request(fd, &argc, &argv, &progress) < 0)
		return;
	tv.tv_sec = 10; /* as before, for what the command reads */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* aria-cachefs MOUNTPOINT, run while this daemon serves the store:
	 * the mount joins this daemon (daemon/mounts.c). */
	if (argc >= 1 && strcmp(argv[0], ACFS_MOUNT_REQUEST) == 0) {
		fs_mount_request(d, fd, argc, argv);
		acfs_control_free_argv(argc, argv);
		return;
	}
	ctx.store = d->store;
	ctx.store_dir = d->store_dir;
	ctx.out = acfs_control_stream(fd, 'O');
	ctx.err = acfs_control_stream(fd, 'R');
	ctx.progress = progress;
	ctx.daemon_start_ns = d->start_ns;
	ctx.config = d->config;
	ctx.flush_uses = flush_uses;
	ctx.batch_lock = fs_evict_batch_lock;
	ctx.in_use = inode_in_use;
	ctx.validator = d->validator;
	ctx.on_removed = fs_evicted;
	ctx.remote_report = remote_report;
	ctx.remote_sync = remote_sync;
	ctx.mountpoint = mp = fs_mounts_first(d);
	ctx.latency = d->latency;
	ctx.remote_metrics = remote_metrics;
	ctx.remote_totals = remote_totals;
	ctx.stopping = stopping;
	ctx.mounts_report = mounts_report;
	ctx.on_stored = stored;
	ctx.remote_publish = remote_publish;
	ctx.remote_prefetch = remote_prefetch;
	ctx.userdata = d;
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
	free(mp);
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct acfs_daemon *d = c->d;

	serve(d, c->fd);
	pthread_mutex_lock(&d->control_lock);
	for (struct client **p = &d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	d->nclients--;
	close(c->fd);
	pthread_cond_broadcast(&d->control_cv);
	pthread_mutex_unlock(&d->control_lock);
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
	struct acfs_daemon *d = arg;
	struct timeval stv = { .tv_sec = 1 };

	for (;;) {
		int fd = accept4(d->control_fd, NULL, NULL, SOCK_CLOEXEC);
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

		pthread_mutex_lock(&d->control_lock);
		if (c && d->nclients < ACFS_CONTROL_CLIENTS_MAX &&
		    !d->control_stopping) {
			c->d = d;
			c->fd = fd;
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr,
						    PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &attr, client_main, c) == 0) {
				c->next = d->clients;
				d->clients = c;
				d->nclients++;
				started = true;
			}
			pthread_attr_destroy(&attr);
		}
		pthread_mutex_unlock(&d->control_lock);
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

int fs_control_start(struct acfs_daemon *d)
{
	int r = acfs_control_listen(d->store_dir, &d->control_fd);

	if (r < 0) {
		acfs_log(LOG_ERR, "cannot listen on %s/control.sock: %s; "
			 "aria-cache will not reach this daemon",
			 d->store_dir, strerror(-r));
		d->control_fd = -1;
		return r;
	}
	pthread_mutex_init(&d->control_lock, NULL);
	pthread_cond_init(&d->control_cv, NULL);
	r = pthread_create(&d->control, NULL, control_main, d);
	if (r) {
		acfs_log(LOG_ERR, "cannot start the thread of %s/control.sock: "
			 "%s; aria-cache will not reach this daemon",
			 d->store_dir, strerror(r));
		close(d->control_fd);
		d->control_fd = -1;
		return -r;
	}
	d->control_started = true;
	return 0;
}

bool fs_control_stop(struct acfs_daemon *d)
{
	char path[4096];
	struct timespec until;
	bool done;

	if (!d->control_started)
		return true;
	shutdown(d->control_fd, SHUT_RDWR);
	pthread_join(d->control, NULL);
	close(d->control_fd);
	d->control_fd = -1;
	if (acfs_control_path(d->store_dir, path, sizeof(path)) == 0)
		unlink(path);
	/* Clients' sockets shut: their reads and sends fail at once, and
	 * their commands end (or keep running without output). */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ACFS_CONTROL_STOP_WAIT_S;
	pthread_mutex_lock(&d->control_lock);
	d->control_stopping = true;
	pthread_cond_broadcast(&d->control_cv); /* mount waiters */
	for (struct client *c = d->clients; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (d->nclients > 0 &&
	       pthread_cond_timedwait(&d->control_cv, &d->control_lock,
				      &until) != ETIMEDOUT)
		;
	done = d->nclients == 0;
	pthread_mutex_unlock(&d->control_lock);
	if (!done) {
		acfs_log(LOG_WARNING, "%u aria-cache commands still running "
			 "after %d s; exiting without them (the store is "
			 "crash-safe)", d->nclients, ACFS_CONTROL_STOP_WAIT_S);
		return false;
	}
	d->control_started = false;
	return true;
}
