/* SPDX-License-Identifier: MIT */
/*
 * A damaged history never costs the store its entries (issue 24.1): a real
 * RocksDB store of 60 entries, then, on a scratch copy each time (data
 * files hard-linked, the rest copied), its MANIFEST cut to every length
 * from 0 to its full size, CURRENT pointed elsewhere or garbled, OPTIONS
 * cut. Every open is refused or sees every entry; no .sst or .blob file
 * is ever deleted; repair brings every entry back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpstore.h"

#define N 60
#define SIZE 3000

static char data[N][SIZE];

static void make_data(void)
{
	uint64_t x = 88172645463325252ULL;

	for (int i = 0; i < N; i++)
		for (int j = 0; j < SIZE; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			data[i][j] = (char)x;
		}
}

static void commit_range(struct acfs_store *s, int from, int to)
{
	char err[ACFS_ERR_MAX] = "";

	for (int i = from; i < to; i++) {
		struct acfs_commit c = { 0 };
		c.key.hash = 0x1000 + (uint64_t)i;
		c.key.kind = ACFS_KIND_BC;
		c.id = acfs_store_alloc_id(s);
		c.data = data[i];
		c.size = SIZE;
		c.now_ns = 1000 + i;
		assert_int_equal(acfs_store_commit(s, &c, NULL, NULL, NULL, err), 0);
	}
}

/* How many of the N entries @s serves with their bytes. */
static int entries_intact(struct acfs_store *s)
{
	int good = 0;

	for (int i = 0; i < N; i++) {
		struct acfs_key k = { .hash = 0x1000 + (uint64_t)i,
				      .kind = ACFS_KIND_BC };
		struct acfs_entry e;
		void *b = NULL;
		size_t len = 0;
		if (acfs_store_get(s, &k, &e) == 0 &&
		    acfs_store_read_blob(s, e.id, &b, &len, NULL) == 0 &&
		    len == SIZE && memcmp(b, data[i], SIZE) == 0)
			good++;
		free(b);
	}
	return good;
}

static bool is_data(const char *n)
{
	size_t l = strlen(n);
	return (l > 4 && strcmp(n + l - 4, ".sst") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".blob") == 0);
}

static void copy_file(const char *a, const char *b)
{
	char buf[65536];
	int in = open(a, O_RDONLY), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* Empties @dir (and its unreferenced/) and removes it. */
static void remove_dir(const char *dir)
{
	char p[600];
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		if (unlink(p) < 0 && errno == EISDIR)
			remove_dir(p);
	}
	closedir(dh);
	rmdir(dir);
}

/* Makes @dst a scratch copy of @src: data files linked, others copied. */
static void scratch(const char *src, const char *dst)
{
	char a[512], b[512];
	struct dirent *d;
	DIR *dh;

	remove_dir(dst);
	assert_int_equal(mkdir(dst, 0700), 0);
	assert_non_null(dh = opendir(src));
	while ((d = readdir(dh))) {
		struct stat st;
		snprintf(a, sizeof(a), "%s/%s", src, d->d_name);
		snprintf(b, sizeof(b), "%s/%s", dst, d->d_name);
		if (stat(a, &st) < 0 || !S_ISREG(st.st_mode) ||
		    strcmp(d->d_name, "LOCK") == 0 ||
		    strncmp(d->d_name, "LOG", 3) == 0)
			continue;
		if (is_data(d->d_name))
			assert_int_equal(link(a, b), 0);
		else
			copy_file(a, b);
	}
	closedir(dh);
}

/* Every data file of @orig is in @dir, or in @dir/unreferenced/. */
static int data_files_missing(const char *orig, const char *dir)
{
	char a[512], b[512];
	struct dirent *d;
	int missing = 0;
	DIR *dh = opendir(orig);

	assert_non_null(dh);
	while ((d = readdir(dh))) {
		struct stat st;
		if (!is_data(d->d_name))
			continue;
		snprintf(a, sizeof(a), "%s/%s", dir, d->d_name);
		snprintf(b, sizeof(b), "%s/unreferenced/%s", dir, d->d_name);
		if (stat(a, &st) < 0 && stat(b, &st) < 0) {
			fprintf(stderr, "deleted: %s\n", d->d_name);
			missing++;
		}
	}
	closedir(dh);
	return missing;
}

static int count_files(const char *dir, const char *sub)
{
	char p[600];
	struct dirent *d;
	int n = 0;
	DIR *dh;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if (!(dh = opendir(p)))
		return 0;
	while ((d = readdir(dh)))
		n += is_data(d->d_name);
	closedir(dh);
	return n;
}

static void manifest_of(const char *dir, char *path, size_t len)
{
	char cur[256] = "", p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/CURRENT", dir);
	assert_non_null(f = fopen(p, "r"));
	assert_non_null(fgets(cur, sizeof(cur), f));
	fclose(f);
	cur[strcspn(cur, "\n")] = '\0';
	snprintf(path, len, "%s/%s", dir, cur);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Repairs @dir and checks that every entry is back. */
static void repair_and_count(const char *dir, const char *orig)
{
	char err[ACFS_ERR_MAX] = "", how[1024] = "";
	struct acfs_store *s = NULL;

	if (acfs_store_repair(dir, how, sizeof(how), err) < 0)
		fail_msg("repair: %s", err);
	if (acfs_store_open(dir, NULL, &s, err) < 0)
		fail_msg("after repair (%s): %s", how, err);
	if (entries_intact(s) != N)
		fail_msg("after repair (%s): %d of %d entries", how,
			 entries_intact(s), N);
	acfs_store_close(s);
	(void)orig;
}

struct fixture {
	struct tmpstore t;
	char scr[80];
};

static int setup(void **state)
{
	struct fixture *f;

	if (tmpstore_setup(state, sizeof(struct fixture)) < 0)
		return -1;
	f = *state;
	make_data();
	/* Three opens, so the history holds several flushes. */
	commit_range(f->t.s, 0, 20);
	acfs_store_close(f->t.s);
	assert_int_equal(tmpstore_open(&f->t), 0);
	commit_range(f->t.s, 20, 40);
	acfs_store_close(f->t.s);
	assert_int_equal(tmpstore_open(&f->t), 0);
	commit_range(f->t.s, 40, N);
	acfs_store_close(f->t.s);
	f->t.s = NULL;
	snprintf(f->scr, sizeof(f->scr), "%s.scratch", f->t.dir);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[200];

	/* What a repair by RocksDB's repairer left beside the scratch copy. */
	for (int n = 1; n < 20; n++) {
		snprintf(p, sizeof(p), "%s.repaired-by-rocksdb.%d", f->scr, n);
		remove_dir(p);
		snprintf(p, sizeof(p), "%s.rebuilt.%d", f->scr, n);
		remove_dir(p);
	}
	remove_dir(f->scr);
	return tmpstore_teardown(state);
}

static void manifest_every_length(void **state)
{
	struct fixture *f = *state;
	char m[512], err[ACFS_ERR_MAX];
	struct acfs_store *s = NULL;
	struct stat st;
	int repaired = 0;

	manifest_of(f->t.dir, m, sizeof(m));
	assert_int_equal(stat(m, &st), 0);
	fprintf(stderr, "# MANIFEST of %lld bytes: every length\n",
		(long long)st.st_size);
	bool fresh = false;
	for (off_t len = 0; len < st.st_size; len++) {
		char sm[600];
		/* A refused open changes nothing (checked below): the same
		 * scratch copy serves the next length, its MANIFEST copied
		 * again; after a repair a fresh one. */
		if (!fresh)
			scratch(f->t.dir, f->scr);
		manifest_of(f->scr, sm, sizeof(sm));
		copy_file(m, sm);
		assert_int_equal(truncate(sm, len), 0);
		fresh = true;
		err[0] = '\0';
		int r = acfs_store_open(f->scr, NULL, &s, err);
		if (r == 0) {
			fail_msg("MANIFEST cut to %lld of %lld bytes opened",
				 (long long)len, (long long)st.st_size);
		}
		assert_int_equal(r, -EUCLEAN);
		assert_non_null(strstr(err, "damaged"));
		assert_non_null(strstr(err, "repair"));
		assert_int_equal(data_files_missing(f->t.dir, f->scr), 0);
		/* Repair (a RocksDB open and 60 reads) at every 64th length
		 * and the last ones: the refusal above is the same code at
		 * every length, and the copy written back the same bytes. */
		if (len % 64 == 0 || len + 4 > st.st_size) {
			repair_and_count(f->scr, f->t.dir);
			repaired++;
			fresh = false;
		}
	}
	fprintf(stderr, "# refused at each of %lld lengths, no file deleted; "
		"repaired %d of them: every entry back\n",
		(long long)st.st_size, repaired);
	/* Whole: it opens, every entry there. */
	scratch(f->t.dir, f->scr);
	assert_int_equal(acfs_store_open(f->scr, NULL, &s, err), 0);
	assert_int_equal(entries_intact(s), N);
	acfs_store_close(s);
}

/* Without the copy (a store of an older version), a cut MANIFEST opens
 * a shorter history; the files it no longer names are kept aside. */
static void manifest_cut_without_copy(void **state)
{
	struct fixture *f = *state;
	char m[600], err[ACFS_ERR_MAX];
	struct acfs_store *s = NULL;
	struct stat st;

	int opened = 0;

	manifest_of(f->t.dir, m, sizeof(m));
	assert_int_equal(stat(m, &st), 0);
	for (off_t len = 0; len < st.st_size; len += 97) {
		scratch(f->t.dir, f->scr);
		DIR *dh = opendir(f->scr);
		struct dirent *d;
		assert_non_null(dh);
		while ((d = readdir(dh)))
			if (strncmp(d->d_name, "acfs-manifest-copy-", 19) == 0)
				assert_int_equal(unlinkat(dirfd(dh), d->d_name, 0), 0);
		closedir(dh);
		manifest_of(f->scr, m, sizeof(m));
		assert_int_equal(truncate(m, len), 0);
		/* Refused (RocksDB finds it corrupt), or opened: then
		 * whatever RocksDB would delete at the open (the files the
		 * shorter history no longer names) was kept aside. Files
		 * deleted after the open are inputs of compactions. */
		if (acfs_store_open(f->scr, NULL, &s, err) < 0) {
			assert_int_equal(data_files_missing(f->t.dir, f->scr), 0);
			continue;
		}
		int served = entries_intact(s);
		unsigned kept = acfs_store_kept_unreferenced(s);
		acfs_store_close(s);
		if (served < N)
			assert_true(kept > 0);
		assert_int_equal(count_files(f->scr, "unreferenced"), kept);
		opened++;
	}
	assert_true(opened > 0);
}

/* No copy and no MANIFEST that reads: RocksDB's repair rebuilds the
 * history from the table files, and the entries' bytes come back from
 * the blob files themselves (their records carry their keys). */
static void repair_from_blob_files(void **state)
{
	struct fixture *f = *state;
	char m[600], err[ACFS_ERR_MAX];
	struct acfs_store *s = NULL;
	const off_t lens[] = { 0, 100, 400 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
		scratch(f->t.dir, f->scr);
		DIR *dh = opendir(f->scr);
		struct dirent *d;
		assert_non_null(dh);
		while ((d = readdir(dh)))
			if (strncmp(d->d_name, "acfs-manifest-copy-", 19) == 0)
				assert_int_equal(unlinkat(dirfd(dh), d->d_name, 0), 0);
		closedir(dh);
		manifest_of(f->scr, m, sizeof(m));
		assert_int_equal(truncate(m, lens[i]), 0);
		assert_int_equal(acfs_store_open(f->scr, NULL, &s, err), -EUCLEAN);
		assert_int_equal(data_files_missing(f->t.dir, f->scr), 0);
		repair_and_count(f->scr, f->t.dir);
	}
}

static void current_damaged(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "MANIFEST-000001\n", "garbage\n", "",
			      "MANIFEST-999999\n" };
	char p[600], err[ACFS_ERR_MAX];
	struct acfs_store *s = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		scratch(f->t.dir, f->scr);
		snprintf(p, sizeof(p), "%s/CURRENT", f->scr);
		write_file(p, bad[i]);
		err[0] = '\0';
		assert_int_equal(acfs_store_open(f->scr, NULL, &s, err),
				 -EUCLEAN);
		assert_non_null(strstr(err, "repair"));
		assert_int_equal(data_files_missing(f->t.dir, f->scr), 0);
		repair_and_count(f->scr, f->t.dir);
	}
}

static void options_damaged(void **state)
{
	struct fixture *f = *state;
	char p[600], err[ACFS_ERR_MAX];
	struct acfs_store *s = NULL;
	struct dirent *d;
	DIR *dh;

	scratch(f->t.dir, f->scr);
	assert_non_null(dh = opendir(f->scr));
	while ((d = readdir(dh)))
		if (strncmp(d->d_name, "OPTIONS-", 8) == 0) {
			snprintf(p, sizeof(p), "%s/%s", f->scr, d->d_name);
			assert_int_equal(truncate(p, 10), 0);
		}
	closedir(dh);
	assert_int_equal(acfs_store_open(f->scr, NULL, &s, err), 0);
	assert_int_equal(entries_intact(s), N);
	acfs_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(manifest_every_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(manifest_cut_without_copy,
						setup, teardown),
		cmocka_unit_test_setup_teardown(repair_from_blob_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(current_damaged, setup,
						teardown),
		cmocka_unit_test_setup_teardown(options_damaged, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
