/* SPDX-License-Identifier: MIT */
/* Bitcode validation in helper processes. See acfs/validator.h. */
#include "acfs/validator.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/ErrorHandling.h>

#include "acfs/size.h"
#include "acfs/store.h" /* ACFS_ERR_MAX */

#define HELPER_FD 3
#define REQ_MAGIC 0x61637631u /* "acv1" */

struct helper {
	pthread_mutex_t lock;
	pid_t pid;            /* 0: not running */
	int fd;
};

struct acfs_validator {
	char *exe;
	unsigned n;
	unsigned next;        /* atomic: round robin when all are busy */
	struct helper h[];
};

/* ---- byte I/O with a deadline ------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for @events on @fd until @deadline; -ETIMEDOUT past it. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	if (deadline < 0)
		return 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const void *p, size_t n, int64_t deadline)
{
	const char *c = p;

	while (n > 0) {
		int r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int recv_all(int fd, void *p, size_t n, int64_t deadline)
{
	char *c = p;

	while (n > 0) {
		int r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
		ssize_t got = read(fd, c, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -ECONNRESET;
		c += got;
		n -= (size_t)got;
	}
	return 0;
}

/* ---- the helper ----------------------------------------------------------- */

/*
 * Request: magic u32, level u8, want_info u8, target length u16, data
 * length u64, target, data. Response: status i32, reason length u32, info
 * length u32, reason, info. All little endian (same machine).
 */
struct req_head {
	uint32_t magic;
	uint8_t level, want_info;
	uint16_t target_len;
	uint64_t len;
};

struct resp_head {
	int32_t status;
	uint32_t err_len, info_len;
};

static void respond(int status, const char *err, const void *info,
		    size_t info_len)
{
	struct resp_head h = { status, (uint32_t)strlen(err),
			       (uint32_t)info_len };

	if (send_all(HELPER_FD, &h, sizeof(h), -1) == 0 &&
	    send_all(HELPER_FD, err, h.err_len, -1) == 0)
		send_all(HELPER_FD, info, info_len, -1);
}

/* LLVM is about to abort: its reason is the answer, then exit. */
static void on_fatal(const char *reason)
{
	char err[ACFS_ERR_MAX];

	snprintf(err, sizeof(err), "LLVM gave up on it (fatal error: %s)",
		 reason);
	respond(-EINVAL, err, NULL, 0);
	_exit(70);
}

/*
 * A helper's memory is bounded (RLIMIT_DATA: heap and private mappings):
 * a module built to make LLVM allocate without end costs one helper, which
 * dies and is replaced, never the machine. ARIA_CACHE_HELPER_MEMORY
 * (a size) overrides the default. Not under AddressSanitizer or ThreadSanitizer, whose
 * shadow memory is such a mapping.
 */
static void limit_memory(void)
{
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	const char *v = getenv("ARIA_CACHE_HELPER_MEMORY");
	uint64_t bytes = ACFS_VALIDATOR_MEMORY;
	struct rlimit rl;

	if (v && *v && acfs_size_parse(v, &bytes) < 0)
		bytes = ACFS_VALIDATOR_MEMORY;
	rl.rlim_cur = rl.rlim_max = (rlim_t)bytes;
	setrlimit(RLIMIT_DATA, &rl);
#endif
}

int acfs_validator_main(void)
{
	limit_memory();
	LLVMInstallFatalErrorHandler(on_fatal);
	for (;;) {
		struct req_head h;
		char target[256] = "", err[ACFS_ERR_MAX] = "";
		struct acfs_bitcode_info info;
		void *data, *enc = NULL;
		size_t enc_len = 0;
		int r;

		if (recv_all(HELPER_FD, &h, sizeof(h), -1) < 0)
			return 0; /* the daemon closed: done */
		if (h.magic != REQ_MAGIC || h.target_len >= sizeof(target) ||
		    h.level > ACFS_VALIDATE_VERIFY)
			return 2;
		data = malloc(h.len ? h.len : 1);
		if (!data ||
		    recv_all(HELPER_FD, target, h.target_len, -1) < 0 ||
		    recv_all(HELPER_FD, data, h.len, -1) < 0) {
			/* The daemon went away mid-request (or no memory). */
			free(data);
			return 2;
		}
		r = acfs_bitcode_check(data, h.len, (enum acfs_validate)h.level,
				       h.target_len ? target : NULL,
				       h.want_info ? &info : NULL, err);
		if (r == 0 && h.want_info && h.level >= ACFS_VALIDATE_PARSE) {
			acfs_bitcode_info_encode(&info, &enc, &enc_len);
			acfs_bitcode_info_release(&info);
		}
		free(data);
		respond(r, err, enc, enc_len);
		free(enc);
	}
}

/* ---- the pool --------------------------------------------------------------- */

int acfs_validator_new(const char *exe, unsigned n,
		       struct acfs_validator **ret)
{
	struct acfs_validator *v;

	if (n == 0)
		n = 1;
	v = calloc(1, sizeof(*v) + n * sizeof(struct helper));
	if (!v)
		return -ENOMEM;
	v->exe = strdup(exe ? exe : "/proc/self/exe");
	if (!v->exe) {
		free(v);
		return -ENOMEM;
	}
	v->n = n;
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_init(&v->h[i].lock, NULL);
		v->h[i].fd = -1;
	}
	*ret = v;
	return 0;
}

static void stop_helper(struct helper *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	h->pid = 0;
}

void acfs_validator_free(struct acfs_validator *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->n; i++) {
		stop_helper(&v->h[i]);
		pthread_mutex_destroy(&v->h[i].lock);
	}
	free(v->exe);
	free(v);
}

static int start_helper(struct acfs_validator *v, struct helper *h,
			char *err)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until exec. */
		char *argv[] = { v->exe, (char *)ACFS_VALIDATOR_ARG, NULL };
		sigset_t none;
		/* The daemon blocks its stop signals (a signalfd takes
		 * them): a helper gets the default. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(sv[1], HELPER_FD) < 0)
			_exit(127);
		execv(v->exe, argv);
		_exit(127);
	}
	close(sv[1]);
	h->pid = pid;
	h->fd = sv[0];
	return 0;
fail:
	snprintf(err, ACFS_ERR_MAX, "cannot start a bitcode helper (%s): %s",
		 v->exe, strerror(errno));
	return -EIO;
}

static struct helper *take(struct acfs_validator *v)
{
	for (unsigned i = 0; i < v->n; i++)
		if (pthread_mutex_trylock(&v->h[i].lock) == 0)
			return &v->h[i];
	struct helper *h = &v->h[__atomic_fetch_add(&v->next, 1,
						      __ATOMIC_RELAXED) % v->n];
	pthread_mutex_lock(&h->lock);
	return h;
}

/* One request to helper @h (locked, running): 0 and the helper's verdict
 * in *ret_status, or a transport error (it died, hung, or talks nonsense). */
static int ask(struct helper *h, const void *data, size_t len,
	       enum acfs_validate level, const char *target, bool want_info,
	       void **ret_info, size_t *ret_info_len, char *err,
	       int *ret_status)
{
	size_t tlen = target ? strlen(target) : 0;
	struct req_head q = { REQ_MAGIC, (uint8_t)level, want_info,
			      (uint16_t)tlen, len };
	struct resp_head a;
	int64_t deadline = now_ms() + ACFS_VALIDATOR_TIMEOUT_MS;
	int r;

	if ((r = send_all(h->fd, &q, sizeof(q), deadline)) < 0 ||
	    (r = send_all(h->fd, target, tlen, deadline)) < 0 ||
	    (r = send_all(h->fd, data, len, deadline)) < 0 ||
	    (r = recv_all(h->fd, &a, sizeof(a), deadline)) < 0)
		return r;
	if (a.err_len >= ACFS_ERR_MAX || a.info_len > (64u << 20))
		return -EPROTO;
	if ((r = recv_all(h->fd, err, a.err_len, deadline)) < 0)
		return r;
	err[a.err_len] = '\0';
	if (a.info_len && ret_info) {
		void *info = malloc(a.info_len);
		if (!info)
			return -ENOMEM;
		if ((r = recv_all(h->fd, info, a.info_len, deadline)) < 0) {
			free(info);
			return r;
		}
		*ret_info = info;
		*ret_info_len = a.info_len;
	} else if (a.info_len) {
		char sink[4096];
		for (uint32_t left = a.info_len; left > 0;) {
			uint32_t n = left < sizeof(sink) ? left : sizeof(sink);
			if ((r = recv_all(h->fd, sink, n, deadline)) < 0)
				return r;
			left -= n;
		}
	}
	*ret_status = a.status;
	return 0;
}

int acfs_validator_check(struct acfs_validator *v, const void *data,
			 size_t len, enum acfs_validate level,
			 const char *target, void **ret_info,
			 size_t *ret_info_len, char *err)
{
	struct helper *h;
	int r = 0;

	if (ret_info) {
		*ret_info = NULL;
		*ret_info_len = 0;
	}
	if (target && strlen(target) >= 256) {
		snprintf(err, ACFS_ERR_MAX, "target triple too long");
		return -EINVAL;
	}
	if (level < ACFS_VALIDATE_PARSE)
		return acfs_bitcode_check(data, len, level, target, NULL, err);
	h = take(v);
	/* A helper found dead (it died after its last answer) is replaced
	 * once and the request retried. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int status;
		if (h->pid == 0 && (r = start_helper(v, h, err)) < 0)
			break;
		r = ask(h, data, len, level, target, ret_info != NULL,
			ret_info, ret_info_len, err, &status);
		if (r == 0) {
			/* An answer. After a fatal error the helper exits:
			 * reap it now. */
			if (status < 0 && strstr(err, "LLVM gave up"))
				stop_helper(h);
			r = status == 0 ? 1 : status == -ENOMEM ? -ENOMEM
							        : -EINVAL;
			break;
		}
		/* No answer: it died (or hung) on this input, or was dead
		 * already. */
		int why = r;
		stop_helper(h);
		if (why == -ETIMEDOUT) {
			snprintf(err, ACFS_ERR_MAX, "LLVM took longer than "
				 "%d s on it", ACFS_VALIDATOR_TIMEOUT_MS / 1000);
			r = -EINVAL;
			break;
		}
		if (attempt == 1) {
			snprintf(err, ACFS_ERR_MAX, "the bitcode reader died "
				 "on it (%s)", strerror(-why));
			r = -EINVAL;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (r == 1)
		return 0;
	if (r < 0 && ret_info && *ret_info) {
		free(*ret_info);
		*ret_info = NULL;
	}
	return r;
}

void acfs_validator_warm(struct acfs_validator *v)
{
	/* A bitcode header and nothing else: each helper starts, loads
	 * LLVM and refuses it at once. */
	static const unsigned char stub[] = { 'B', 'C', 0xc0, 0xde, 0x35, 0x14,
					      0x00, 0x00 };
	char err[ACFS_ERR_MAX];

	for (unsigned i = 0; i < v->n; i++) {
		struct helper *h = &v->h[i];
		int status;
		pthread_mutex_lock(&h->lock);
		if (h->pid == 0 && start_helper(v, h, err) < 0) {
			pthread_mutex_unlock(&h->lock);
			return;
		}
		if (ask(h, stub, sizeof(stub), ACFS_VALIDATE_PARSE, NULL, false,
			NULL, NULL, err, &status) < 0)
			stop_helper(h); /* started again when needed */
		pthread_mutex_unlock(&h->lock);
	}
}
