/* SPDX-License-Identifier: MIT */
/*
 * A fault injector for the mount tests, loaded into the daemon with
 * LD_PRELOAD (never linked into a shipped binary). It counts the calls of
 * three classes that touch files under ACFS_FAULT_PATH (the store) and
 * fails one of them, in the style of SQLite's fault-injection tests:
 *
 *   ACFS_FAULT=CLASS:ERRNO:N   the N-th call of CLASS fails with ERRNO
 *                              (once); CLASS is write (write, pwrite,
 *                              writev, pwritev, ftruncate), sync (fsync,
 *                              fdatasync) or open (open, openat with
 *                              O_CREAT or O_TMPFILE); ERRNO is EIO, ENOSPC,
 *                              EMFILE, ENFILE or ENOMEM
 *   ACFS_FAULT_COUNTS=FILE     at exit, writes "write N\nsync N\nopen N"
 *                              (how many calls each class saw)
 *
 * Calls on other files (the FUSE device, logs, sockets) pass untouched.
 */
/* Both names of each call are defined here (pwrite and pwrite64, ...):
 * no header may turn one into the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

enum { C_WRITE, C_SYNC, C_OPEN, C_COUNT };
static const char *const class_names[C_COUNT] = { "write", "sync", "open" };

static const char *prefix;
static size_t prefix_len;
static int fault_class = -1, fault_errno;
static unsigned long fault_nth;
static unsigned long counts[C_COUNT];

__attribute__((constructor)) static void setup(void)
{
	const char *f = getenv("ACFS_FAULT");
	char cls[16], err[16];

	prefix = getenv("ACFS_FAULT_PATH");
	prefix_len = prefix ? strlen(prefix) : 0;
	if (!f || sscanf(f, "%15[a-z]:%15[A-Z]:%lu", cls, err, &fault_nth) != 3)
		return;
	for (int i = 0; i < C_COUNT; i++)
		if (strcmp(cls, class_names[i]) == 0)
			fault_class = i;
	fault_errno = !strcmp(err, "EIO") ? EIO : !strcmp(err, "ENOSPC") ? ENOSPC
		      : !strcmp(err, "EMFILE") ? EMFILE
		      : !strcmp(err, "ENFILE") ? ENFILE
		      : !strcmp(err, "ENOMEM") ? ENOMEM : EIO;
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("ACFS_FAULT_COUNTS");
	FILE *f;

	unsigned long sum = 0;

	for (int i = 0; i < C_COUNT; i++)
		sum += counts[i];
	/* LLVM helpers (the daemon re-executed) touch no store file. */
	if (!path || sum == 0 || !(f = fopen(path, "w")))
		return;
	for (int i = 0; i < C_COUNT; i++)
		fprintf(f, "%s %lu\n", class_names[i],
			__atomic_load_n(&counts[i], __ATOMIC_RELAXED));
	fclose(f);
}

static bool under_prefix(const char *path)
{
	return prefix_len && path && strncmp(path, prefix, prefix_len) == 0;
}

static bool fd_under_prefix(int fd)
{
	char link[64], path[4096];
	ssize_t n;

	if (!prefix_len || fd < 0)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return false;
	path[n] = '\0';
	return under_prefix(path);
}

/* Counts a call of @cls; true if this one is to fail (errno set). */
static bool fault(int cls)
{
	unsigned long n = __atomic_add_fetch(&counts[cls], 1, __ATOMIC_RELAXED);

	if (cls == fault_class && n == fault_nth) {
		errno = fault_errno;
		return true;
	}
	return false;
}

#define REAL(name, ret, ...)                                                 \
	static ret (*real_##name)(__VA_ARGS__);                              \
	if (!real_##name)                                                    \
		real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write, ssize_t, int, const void *, size_t);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite, ssize_t, int, const void *, size_t, off_t);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite64, ssize_t, int, const void *, size_t, off_t);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_pwrite64(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev, ssize_t, int, const struct iovec *, int);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev, ssize_t, int, const struct iovec *, int, off_t);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_pwritev(fd, iov, cnt, off);
}

int ftruncate(int fd, off_t len)
{
	REAL(ftruncate, int, int, off_t);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
	REAL(ftruncate64, int, int, off_t);
	if (fd_under_prefix(fd) && fault(C_WRITE))
		return -1;
	return real_ftruncate64(fd, len);
}

int fsync(int fd)
{
	REAL(fsync, int, int);
	if (fd_under_prefix(fd) && fault(C_SYNC))
		return -1;
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync, int, int);
	if (fd_under_prefix(fd) && fault(C_SYNC))
		return -1;
	return real_fdatasync(fd);
}

/* An open that creates under the prefix (by path, or in a directory fd
 * under it, as the daemon's O_TMPFILE staging files are). */
static bool open_faults(int dirfd, const char *path, int flags)
{
	if (!(flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE)
		return false;
	if (path[0] == '/' ? !under_prefix(path)
			   : !(dirfd == AT_FDCWD ? false : fd_under_prefix(dirfd)))
		return false;
	return fault(C_OPEN);
}

/* The mode argument of an open that creates; 0 otherwise. */
#define MODE_OF(flags)                                                       \
	({                                                                   \
		mode_t m_ = 0;                                               \
		va_list ap_;                                                 \
		va_start(ap_, flags);                                        \
		if ((flags) & (O_CREAT | O_TMPFILE))                         \
			m_ = va_arg(ap_, mode_t);                            \
		va_end(ap_);                                                 \
		m_;                                                          \
	})

int open(const char *path, int flags, ...)
{
	REAL(open, int, const char *, int, ...);
	mode_t mode = MODE_OF(flags);

	return open_faults(AT_FDCWD, path, flags) ? -1
						   : real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	REAL(open64, int, const char *, int, ...);
	mode_t mode = MODE_OF(flags);

	return open_faults(AT_FDCWD, path, flags) ? -1
						   : real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	REAL(openat, int, int, const char *, int, ...);
	mode_t mode = MODE_OF(flags);

	return open_faults(dirfd, path, flags)
		       ? -1 : real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	REAL(openat64, int, int, const char *, int, ...);
	mode_t mode = MODE_OF(flags);

	return open_faults(dirfd, path, flags)
		       ? -1 : real_openat64(dirfd, path, flags, mode);
}
