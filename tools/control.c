/* SPDX-License-Identifier: MIT */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int acfs_control_path(const char *store_dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/control.sock", store_dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int make_addr(const char *store_dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	return acfs_control_path(store_dir, sa->sun_path, sizeof(sa->sun_path));
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static int send_frame(int fd, char type, const void *p, size_t n)
{
	unsigned char h[5] = { (unsigned char)type, (unsigned char)n,
			       (unsigned char)(n >> 8), (unsigned char)(n >> 16),
			       (unsigned char)(n >> 24) };
	int r = write_all(fd, h, 5);

	return r < 0 ? r : write_all(fd, p, n);
}

/* Reads a frame header; payload length into *ret_len. */
static int read_header(int fd, char *ret_type, uint32_t *ret_len)
{
	unsigned char h[5];
	int r = read_all(fd, h, 5);

	if (r < 0)
		return r;
	*ret_type = (char)h[0];
	*ret_len = h[1] | (uint32_t)h[2] << 8 | (uint32_t)h[3] << 16 |
		   (uint32_t)h[4] << 24;
	return *ret_len > ACFS_CONTROL_MAX_FRAME ? -EMSGSIZE : 0;
}

int acfs_control_connect(const char *store_dir, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd, r = make_addr(store_dir, &sa);

	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* `top` on a terminal ends on q: the terminal reads keys unbuffered and
 * unechoed meanwhile, and gets its settings back whatever ends us. */
static struct termios saved_tty;
static bool tty_raw;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(0, TCSANOW, &saved_tty);
	tty_raw = false;
}

static void tty_restore_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tty_keys(void)
{
	struct termios t;

	if (tcgetattr(0, &saved_tty) < 0)
		return;
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(0, TCSANOW, &t) < 0)
		return;
	tty_raw = true;
	atexit(tty_restore);
	signal(SIGINT, tty_restore_signal);
	signal(SIGTERM, tty_restore_signal);
	signal(SIGHUP, tty_restore_signal);
}

/* Waits for @fd; 1 if q was typed on the terminal meanwhile. */
static int wait_or_quit(int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			       { .fd = 0, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (p[1].revents & POLLIN) {
			char c;
			if (read(0, &c, 1) == 1 && (c == 'q' || c == 'Q'))
				return 1;
		}
		if (p[0].revents)
			return 0;
	}
}

int acfs_control_call(int fd, int argc, char **argv, bool progress,
		      FILE *out, FILE *err)
{
	unsigned char p = progress;
	char *buf = NULL;
	int r = send_frame(fd, 'P', &p, 1);
	bool keys = progress && argc > 0 && strcmp(argv[0], "top") == 0 &&
		    isatty(0);

	for (int i = 0; i < argc && r == 0; i++)
		r = send_frame(fd, 'A', argv[i], strlen(argv[i]));
	if (r == 0)
		r = send_frame(fd, 'E', "", 0);
	if (r == 0 && keys)
		tty_keys();
	while (r == 0) {
		char type;
		uint32_t len;

		if (tty_raw && wait_or_quit(fd)) {
			tty_restore();
			free(buf);
			fflush(out);
			return 0; /* the daemon sees the reader go */
		}
		r = read_header(fd, &type, &len);
		if (r < 0)
			break;
		char *nb = realloc(buf, len ? len : 1);
		if (!nb) {
			r = -ENOMEM;
			break;
		}
		buf = nb;
		r = read_all(fd, buf, len);
		if (r < 0)
			break;
		if (type == 'O') {
			fwrite(buf, 1, len, out);
		} else if (type == 'R') {
			fwrite(buf, 1, len, err);
			fflush(err);
		} else if (type == 'X' && len == 4) {
			int code = (unsigned char)buf[0];
			tty_restore();
			free(buf);
			return code;
		} else {
			r = -EPROTO;
		}
	}
	tty_restore();
	free(buf);
	fprintf(err, "aria-cache: lost the daemon while it ran the command "
		"(%s)\n", strerror(-r));
	return 1;
}

int acfs_control_listen(const char *store_dir, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd, r = make_addr(store_dir, &sa);

	if (r < 0)
		return r;
	unlink(sa.sun_path); /* stale: the caller holds the store's lock */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 8) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

void acfs_control_free_argv(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

int acfs_control_read_request(int fd, int *ret_argc, char ***ret_argv,
			      bool *ret_progress)
{
	char **argv = calloc(ACFS_CONTROL_MAX_ARGS + 1, sizeof(*argv));
	int argc = 0, r;
	bool progress = false;

	if (!argv)
		return -ENOMEM;
	for (;;) {
		char type;
		uint32_t len;

		r = read_header(fd, &type, &len);
		if (r < 0)
			break;
		if (type == 'E' && len == 0) {
			*ret_argc = argc;
			*ret_argv = argv;
			*ret_progress = progress;
			return 0;
		}
		if (type == 'P' && len == 1) {
			unsigned char p;
			r = read_all(fd, &p, 1);
			progress = p != 0;
			if (r < 0)
				break;
			continue;
		}
		if (type != 'A' || len > ACFS_CONTROL_MAX_ARG ||
		    argc == ACFS_CONTROL_MAX_ARGS) {
			r = -EPROTO;
			break;
		}
		argv[argc] = malloc(len + 1);
		if (!argv[argc]) {
			r = -ENOMEM;
			break;
		}
		r = read_all(fd, argv[argc], len);
		argv[argc][len] = '\0';
		argc++;
		if (r < 0)
			break;
	}
	acfs_control_free_argv(argc, argv);
	return r;
}

struct stream {
	int fd;
	char type;
};

static ssize_t stream_write(void *cookie, const char *buf, size_t size)
{
	struct stream *s = cookie;

	/* A client that went away must not stop the command half-way; one
	 * that stopped reading (the send timed out) is given up: later
	 * sends on the shut socket fail at once instead of waiting again. */
	if (send_frame(s->fd, s->type, buf, size) < 0)
		shutdown(s->fd, SHUT_WR);
	return (ssize_t)size;
}

static int stream_close(void *cookie)
{
	free(cookie);
	return 0;
}

FILE *acfs_control_stream(int fd, char type)
{
	cookie_io_functions_t io = { .write = stream_write,
				     .close = stream_close };
	struct stream *s = malloc(sizeof(*s));
	FILE *f;

	if (!s)
		return NULL;
	s->fd = fd;
	s->type = type;
	f = fopencookie(s, "w", io);
	if (!f)
		free(s);
	return f;
}

int acfs_control_send_exit(int fd, int code)
{
	unsigned char c[4] = { (unsigned char)code, 0, 0, 0 };

	return send_frame(fd, 'X', c, 4);
}
