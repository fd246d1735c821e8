/* SPDX-License-Identifier: MIT */
/*
 * fsbench: the workloads of the hit-path benchmark, run against any
 * directory laid out like .aria/cache (the mount, a plain directory, or the
 * FUSE floor). Prints one number: nanoseconds per operation, or operations
 * per second for "store".
 *
 *   fsbench populate DIR FILE COUNT PREFIX   store FILE under COUNT keys
 *   fsbench hit DIR PREFIX COUNT OPS         stat + open + read all + close
 *                                            of random keys (warm, or cold
 *                                            when OPS == COUNT: each once)
 *   fsbench miss DIR OPS                     stat of distinct absent keys
 *   fsbench store DIR FILE OPS WRITERS [PREFIX]
 *                                            tmp write + rename, WRITERS
 *                                            processes at once (ops/s),
 *                                            keys PREFIX... (default dd)
 *   fsbench phases DIR FILE OPS              one writer, the compiler's
 *                                            store step by step: mkdir of
 *                                            the shard (EEXIST), create,
 *                                            write, close, rename; prints
 *                                            "PHASE p50_us p99_us" lines
 *
 * A key is PREFIX (2 hex digits) followed by a 14-digit counter. Reads of
 * 16 KiB and more mmap, as LLVM's MemoryBuffer does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void entry_path(char *buf, size_t n, const char *dir, const char *prefix,
		       unsigned long i)
{
	snprintf(buf, n, "%s/monomorph/%s/%014lx.bc", dir, prefix, i);
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	p = malloc((size_t)st.st_size + 1);
	*len = (size_t)read(fd, p, (size_t)st.st_size);
	close(fd);
	return p;
}

static int store_one(const char *dir, const char *dst, const char *data,
		     size_t len, unsigned long nonce)
{
	char tmp[4096];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/b%d_%lu.tmp", dir, getpid(), nonce);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
		return -1;
	if (rename(tmp, dst) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int read_whole(const char *path, volatile unsigned long *sink)
{
	struct stat st;
	int fd;

	if (stat(path, &st) < 0)
		return -1;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (st.st_size >= 16384) {
		unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
					MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			close(fd);
			return -1;
		}
		for (off_t k = 0; k < st.st_size; k += 4096)
			*sink += m[k];
		munmap(m, (size_t)st.st_size);
	} else {
		static char buf[16384];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			*sink += (unsigned char)buf[0];
	}
	close(fd);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The compiler's store, each step timed: "PHASE p50 p99" in microseconds. */
static int phases(const char *dir, const char *data, size_t len,
		  unsigned long ops)
{
	static const char *names[] = { "mkdir", "create", "write", "close",
				       "rename", "total" };
	enum { NPH = 6 };
	double *t[NPH];
	char path[4200], shard[4096], tmp[4096];

	for (int p = 0; p < NPH; p++)
		if (!(t[p] = calloc(ops, sizeof(double))))
			return 1;
	snprintf(shard, sizeof(shard), "%s/monomorph/d7", dir);
	for (unsigned long i = 0; i < ops; i++) {
		double a = now(), b, c, d, e, f;
		if (mkdir(shard, 0755) < 0 && errno != EEXIST)
			return perror(shard), 1;
		b = now();
		snprintf(tmp, sizeof(tmp), "%s/tmp/p%d_%lu.tmp", dir, getpid(),
			 i);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return perror(tmp), 1;
		c = now();
		if (write(fd, data, len) != (ssize_t)len)
			return perror(tmp), 1;
		d = now();
		if (close(fd) < 0)
			return perror(tmp), 1;
		e = now();
		snprintf(path, sizeof(path), "%s/%014lx.bc", shard, i);
		if (rename(tmp, path) < 0)
			return perror(path), 1;
		f = now();
		t[0][i] = b - a; t[1][i] = c - b; t[2][i] = d - c;
		t[3][i] = e - d; t[4][i] = f - e; t[5][i] = f - a;
	}
	for (int p = 0; p < NPH; p++) {
		qsort(t[p], ops, sizeof(double), cmp_double);
		printf("%s %.1f %.1f\n", names[p], t[p][ops / 2] * 1e6,
		       t[p][ops * 99 / 100] * 1e6);
		free(t[p]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	volatile unsigned long sink = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of fsbench.c\n");
		return 2;
	}
	const char *cmd = argv[1], *dir = argv[2];
	if (!strcmp(cmd, "populate") && argc == 6) {
		size_t len;
		char *data = slurp(argv[3], &len);
		unsigned long n = strtoul(argv[4], NULL, 10);
		if (!data)
			return 1;
		snprintf(path, sizeof(path), "%s/monomorph/%s", dir, argv[5]);
		mkdir(path, 0755);
		for (unsigned long i = 0; i < n; i++) {
			entry_path(path, sizeof(path), dir, argv[5], i);
			if (store_one(dir, path, data, len, i) < 0) {
				perror(path);
				return 1;
			}
		}
		return 0;
	}
	if (!strcmp(cmd, "hit") && argc == 6) {
		unsigned long n = strtoul(argv[4], NULL, 10);
		unsigned long ops = strtoul(argv[5], NULL, 10);
		unsigned long x = 88172645463325252UL;
		double t0 = now();
		for (unsigned long i = 0; i < ops; i++) {
			unsigned long k;
			if (ops == n) {
				k = i; /* cold: each once */
			} else {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				k = x % n;
			}
			entry_path(path, sizeof(path), dir, argv[3], k);
			if (read_whole(path, &sink) < 0) {
				perror(path);
				return 1;
			}
		}
		printf("%.0f\n", (now() - t0) * 1e9 / (double)ops);
		return 0;
	}
	if (!strcmp(cmd, "miss") && argc == 4) {
		unsigned long ops = strtoul(argv[3], NULL, 10);
		struct stat st;
		double t0 = now();
		for (unsigned long i = 0; i < ops; i++) {
			entry_path(path, sizeof(path), dir, "ee", 0xabc00000UL + i);
			if (stat(path, &st) == 0 || errno != ENOENT) {
				fprintf(stderr, "%s: expected ENOENT\n", path);
				return 1;
			}
		}
		printf("%.0f\n", (now() - t0) * 1e9 / (double)ops);
		return 0;
	}
	if (!strcmp(cmd, "store") && (argc == 6 || argc == 7)) {
		size_t len;
		char *data = slurp(argv[3], &len);
		unsigned long ops = strtoul(argv[4], NULL, 10);
		int writers = atoi(argv[5]);
		const char *prefix = argc == 7 ? argv[6] : "dd";
		if (!data)
			return 1;
		snprintf(path, sizeof(path), "%s/monomorph/%s", dir, prefix);
		mkdir(path, 0755);
		double t0 = now();
		for (int w = 0; w < writers; w++) {
			if (fork() == 0) {
				for (unsigned long i = (unsigned long)w; i < ops;
				     i += (unsigned long)writers) {
					entry_path(path, sizeof(path), dir,
						   prefix, i);
					if (store_one(dir, path, data, len, i) < 0)
						_exit(1);
				}
				_exit(0);
			}
		}
		int bad = 0;
		for (int w = 0; w < writers; w++) {
			int st;
			wait(&st);
			bad |= !WIFEXITED(st) || WEXITSTATUS(st);
		}
		if (bad)
			return 1;
		printf("%.0f\n", (double)ops / (now() - t0));
		return 0;
	}
	if (!strcmp(cmd, "phases") && argc == 5) {
		size_t len;
		char *data = slurp(argv[3], &len);
		if (!data)
			return 1;
		return phases(dir, data, len, strtoul(argv[4], NULL, 10));
	}
	fprintf(stderr, "fsbench: bad arguments\n");
	return 2;
}
