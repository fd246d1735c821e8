/* SPDX-License-Identifier: MIT */
/* The entry store against a real RocksDB in a temporary directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "acfs/store.h"
#include "kv.h"
#include "tmpstore.h"

struct fixture {
	struct tmpstore t; /* first: see tmpstore_setup */
};

static int setup(void **state)
{
	return tmpstore_setup(state, sizeof(struct fixture));
}

static int teardown(void **state)
{
	return tmpstore_teardown(state);
}

static void reopen(struct fixture *f)
{
	acfs_store_close(f->t.s);
	f->t.s = NULL;
	assert_int_equal(tmpstore_open(&f->t), 0);
}

static bool yes(uint64_t id, void *u)
{
	(void)id;
	(void)u;
	return true;
}

static int commit(struct acfs_store *s, uint64_t hash, const char *data,
		  uint64_t *ret_id, struct acfs_entry *ret_old, bool noreplace,
		  acfs_in_use_fn in_use)
{
	struct acfs_commit c = { 0 };
	char err[ACFS_ERR_MAX] = "";

	c.key.hash = hash;
	c.key.kind = ACFS_KIND_BC;
	c.id = acfs_store_alloc_id(s);
	c.data = data;
	c.size = strlen(data);
	c.now_ns = 1000;
	c.noreplace = noreplace;
	c.in_use = in_use;
	if (ret_id)
		*ret_id = c.id;
	return acfs_store_commit(s, &c, NULL, ret_old, NULL, err);
}

static void expect_blob(struct acfs_store *s, uint64_t id, const char *want)
{
	void *data = NULL;
	size_t len = 0;

	assert_int_equal(acfs_store_read_blob(s, id, &data, &len, NULL), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(data);
}

static void commit_and_get(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0xc49a2b7f8e123456ULL, ACFS_KIND_BC };
	struct acfs_entry e, old;
	struct acfs_store_counters c;
	uint64_t id;

	assert_int_equal(acfs_store_get(f->t.s, &k, &e), -ENOENT);
	assert_int_equal(commit(f->t.s, k.hash, "BC\xc0\xde-one", &id, &old,
				false, NULL), 0);
	assert_true(old.id == 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.id == id);
	assert_int_equal(e.size, 8);
	assert_true(e.mtime_ns == 1000 && e.ctime_ns == 1000);
	expect_blob(f->t.s, id, "BC\xc0\xde-one");
	acfs_store_get_counters(f->t.s, &c);
	assert_int_equal(c.entries, 1);
	assert_int_equal(c.bytes, 8);
	/* The .meta of the same key is another entry. */
	k.kind = ACFS_KIND_META;
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), -ENOENT);
	assert_invariants(f->t.s);
}

static void replace_drops_unused_version(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x1100000000000001ULL, ACFS_KIND_BC };
	struct acfs_entry e, old;
	struct acfs_store_counters c;
	uint64_t id1, id2;
	void *data;
	size_t len;

	assert_int_equal(commit(f->t.s, k.hash, "first", &id1, &old, false, NULL), 0);
	assert_int_equal(commit(f->t.s, k.hash, "second!", &id2, &old, false, NULL), 0);
	assert_true(id2 > id1);
	assert_true(old.id == id1);
	assert_int_equal(old.size, 5);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.id == id2);
	expect_blob(f->t.s, id2, "second!");
	assert_int_equal(acfs_store_read_blob(f->t.s, id1, &data, &len, NULL), -ENOENT);
	acfs_store_get_counters(f->t.s, &c);
	assert_int_equal(c.entries, 1);
	assert_int_equal(c.bytes, 7);
	assert_invariants(f->t.s);
}

static void replace_keeps_version_in_use(void **state)
{
	struct fixture *f = *state;
	struct acfs_entry old;
	uint64_t id1, id2;
	void *data;
	size_t len;

	assert_int_equal(commit(f->t.s, 0x22, "reader holds me", &id1, &old,
				false, NULL), 0);
	assert_int_equal(commit(f->t.s, 0x22, "new", &id2, &old, false, yes), 0);
	/* A reader that opened id1 still reads it, whole. */
	expect_blob(f->t.s, id1, "reader holds me");
	assert_invariants(f->t.s);
	assert_int_equal(acfs_store_drop_orphan(f->t.s, id1), 0);
	assert_int_equal(acfs_store_read_blob(f->t.s, id1, &data, &len, NULL), -ENOENT);
	expect_blob(f->t.s, id2, "new");
	assert_invariants(f->t.s);

	/* The store says which versions it kept: the caller marks those. */
	struct acfs_key k = { 0x22, ACFS_KIND_BC };
	char err[ACFS_ERR_MAX];
	bool kept = false;
	assert_int_equal(acfs_store_remove(f->t.s, &k, 0, yes, NULL, &old,
					   &kept, err), 0);
	assert_true(kept && old.id == id2);
	expect_blob(f->t.s, id2, "new");
	assert_int_equal(commit(f->t.s, 0x23, "a", &id1, &old, false, NULL), 0);
	assert_int_equal(acfs_store_remove(f->t.s, &(struct acfs_key){ 0x23,
					   ACFS_KIND_BC }, 0, NULL, NULL, &old,
					   &kept, err), 0);
	assert_false(kept);
	assert_int_equal(acfs_store_drop_orphan(f->t.s, id2), 0);
	assert_invariants(f->t.s);
}

static void orphans_swept_at_open(void **state)
{
	struct fixture *f = *state;
	struct acfs_entry old;
	uint64_t id1, id2;
	void *data;
	size_t len;

	assert_int_equal(commit(f->t.s, 0x33, "old", &id1, &old, false, NULL), 0);
	assert_int_equal(commit(f->t.s, 0x33, "new", &id2, &old, false, yes), 0);
	reopen(f); /* no reader survives a restart */
	assert_int_equal(acfs_store_read_blob(f->t.s, id1, &data, &len, NULL), -ENOENT);
	expect_blob(f->t.s, id2, "new");
	assert_invariants(f->t.s);
}

static void noreplace(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x44, ACFS_KIND_BC };
	struct acfs_entry e, old;
	uint64_t id1, id2;

	assert_int_equal(commit(f->t.s, 0x44, "a", &id1, &old, true, NULL), 0);
	assert_int_equal(commit(f->t.s, 0x44, "bb", &id2, &old, true, NULL), -EEXIST);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.id == id1);
	expect_blob(f->t.s, id1, "a");
	assert_invariants(f->t.s);
}

static void remove_entry(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x55, ACFS_KIND_BC };
	struct acfs_entry e, old;
	struct acfs_store_counters c;
	char err[ACFS_ERR_MAX];
	uint64_t id;

	assert_int_equal(commit(f->t.s, 0x55, "gone soon", &id, &old, false, NULL), 0);
	assert_int_equal(acfs_store_remove(f->t.s, &k, id + 1, NULL, NULL, &old, NULL, err), -ENOENT);
	assert_int_equal(acfs_store_remove(f->t.s, &k, id, NULL, NULL, &old, NULL, err), 0);
	assert_true(old.id == id);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), -ENOENT);
	assert_int_equal(acfs_store_remove(f->t.s, &k, 0, NULL, NULL, &old, NULL, err),
			 -ENOENT);
	acfs_store_get_counters(f->t.s, &c);
	assert_int_equal(c.entries, 0);
	assert_int_equal(c.bytes, 0);
	assert_invariants(f->t.s);
}

static void set_times(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x66, ACFS_KIND_BC };
	struct acfs_entry e, old;
	uint64_t id;

	assert_int_equal(commit(f->t.s, 0x66, "t", &id, &old, false, NULL), 0);
	assert_int_equal(acfs_store_set_times(f->t.s, &k, id, 5, ACFS_TIME_KEEP), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.atime_ns == 5 && e.mtime_ns == 1000);
	assert_int_equal(acfs_store_set_times(f->t.s, &k, id, ACFS_TIME_KEEP, 7), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.atime_ns == 5 && e.mtime_ns == 7);
	/* Before 1970 (touch -d 1960-01-01): negative, kept as set. */
	assert_int_equal(acfs_store_set_times(f->t.s, &k, id, ACFS_TIME_KEEP,
					      -315619200000000000LL), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.mtime_ns == -315619200000000000LL);
	assert_int_equal(acfs_store_set_times(f->t.s, &k, id, ACFS_TIME_KEEP, 7), 0);
	/* A replaced version's times do not touch the new one. */
	assert_int_equal(acfs_store_set_times(f->t.s, &k, id + 1000, 9, 9), -ENOENT);
	reopen(f);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.atime_ns == 5 && e.mtime_ns == 7);
}

static void survives_reopen_and_ids_never_repeat(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x77, ACFS_KIND_META };
	struct acfs_store_counters c;
	struct acfs_entry e;
	uint64_t max = 0;

	for (int i = 0; i < 100; i++) {
		struct acfs_commit cm = { 0 };
		char err[ACFS_ERR_MAX];
		char data[32];
		snprintf(data, sizeof(data), "entry %d", i);
		cm.key.hash = 0x7700000000000000ULL | (uint64_t)i;
		cm.key.kind = ACFS_KIND_META;
		cm.id = acfs_store_alloc_id(f->t.s);
		assert_true(cm.id > max);
		max = cm.id;
		cm.data = data;
		cm.size = strlen(data);
		assert_int_equal(acfs_store_commit(f->t.s, &cm, NULL, NULL, NULL, err), 0);
	}
	reopen(f);
	k.hash = 0x7700000000000000ULL | 42;
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	expect_blob(f->t.s, e.id, "entry 42");
	acfs_store_get_counters(f->t.s, &c);
	assert_int_equal(c.entries, 100);
	assert_true(acfs_store_alloc_id(f->t.s) > max);
	assert_invariants(f->t.s);
}

struct collect {
	uint64_t hashes[16];
	int kinds[16];
	int n;
	int stop_after;
};

static int collect_fn(const struct acfs_key *key, const struct acfs_entry *e,
		      void *u)
{
	struct collect *c = u;

	(void)e;
	c->hashes[c->n] = key->hash;
	c->kinds[c->n] = key->kind;
	c->n++;
	return c->n == c->stop_after ? 1 : 0;
}

static void iterate_shard(void **state)
{
	struct fixture *f = *state;
	struct acfs_entry old;
	struct collect c = { .stop_after = -1 };
	struct acfs_key after;

	assert_int_equal(commit(f->t.s, 0x0100000000000003ULL, "x", NULL, &old, false, NULL), 0);
	assert_int_equal(commit(f->t.s, 0x0100000000000001ULL, "x", NULL, &old, false, NULL), 0);
	assert_int_equal(commit(f->t.s, 0x0200000000000000ULL, "x", NULL, &old, false, NULL), 0);
	assert_int_equal(commit(f->t.s, 0x00ffffffffffffffULL, "x", NULL, &old, false, NULL), 0);
	struct acfs_commit m = { .key = { 0x0100000000000001ULL, ACFS_KIND_META },
				 .id = acfs_store_alloc_id(f->t.s), .data = "{}",
				 .size = 2 };
	char err[ACFS_ERR_MAX];
	assert_int_equal(acfs_store_commit(f->t.s, &m, NULL, NULL, NULL, err), 0);

	assert_int_equal(acfs_store_foreach_in_shard(f->t.s, 1, true, NULL,
						     collect_fn, &c), 0);
	assert_int_equal(c.n, 3);
	assert_true(c.hashes[0] == 0x0100000000000001ULL && c.kinds[0] == ACFS_KIND_BC);
	assert_true(c.hashes[1] == 0x0100000000000001ULL && c.kinds[1] == ACFS_KIND_META);
	assert_true(c.hashes[2] == 0x0100000000000003ULL);

	/* Resume after the first: readdir offsets. */
	c.n = 0;
	after.hash = 0x0100000000000001ULL;
	after.kind = ACFS_KIND_BC;
	assert_int_equal(acfs_store_foreach_in_shard(f->t.s, 1, false, &after,
						     collect_fn, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.kinds[0], ACFS_KIND_META);

	/* Stop early: the callback's value comes back. */
	c.n = 0;
	c.stop_after = 1;
	assert_int_equal(acfs_store_foreach_in_shard(f->t.s, 1, true, NULL,
						     collect_fn, &c), 1);
	assert_int_equal(c.n, 1);
}

static void empty_entry_and_read_only_reader(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x88, ACFS_KIND_BC };
	struct acfs_store_options ro = { .read_only = true };
	struct acfs_store *r;
	struct acfs_entry e, old;
	char err[ACFS_ERR_MAX];
	uint64_t id;

	assert_int_equal(commit(f->t.s, 0x88, "", &id, &old, false, NULL), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_int_equal(e.size, 0);
	expect_blob(f->t.s, id, "");
	acfs_store_sync(f->t.s);
	/* A read-only instance beside the daemon's sees committed entries. */
	assert_int_equal(acfs_store_open(f->t.dir, &ro, &r, err), 0);
	assert_int_equal(acfs_store_get(r, &k, &e), 0);
	assert_true(e.id == id);
	assert_int_equal(acfs_store_commit(r, &(struct acfs_commit){ .key = k,
					   .id = 1, .data = "", .size = 0 },
					   NULL, NULL, NULL, err), -EROFS);
	acfs_store_close(r);
}

/* The names and sizes of the files in @dir, one line each, sorted. */
static char *listing(const char *dir)
{
	char cmd[256], *buf = calloc(1, 8192);
	FILE *p;

	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -maxdepth 1 -type f "
		 "! -name 'LOG*' ! -name LOCK -printf '%%f %%s\\n' | sort",
		 dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(buf, 1, 8191, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

static void damaged_store_is_refused_never_recreated(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = { 0x77, ACFS_KIND_BC };
	char path[128], err[ACFS_ERR_MAX] = "", how[ACFS_ERR_MAX] = "";
	char data[2000];
	struct acfs_entry e;
	uint64_t id;

	/* Entry bytes large enough to live in a blob file. */
	memset(data, 'b', sizeof(data) - 1);
	data[sizeof(data) - 1] = '\0';
	assert_int_equal(commit(f->t.s, 0x77, data, &id, NULL, false, NULL), 0);
	acfs_store_close(f->t.s);
	f->t.s = NULL;

	/* CURRENT lost: refused with -EUCLEAN, a reason, nothing deleted. */
	snprintf(path, sizeof(path), "%s/CURRENT", f->t.dir);
	assert_int_equal(unlink(path), 0);
	char *before = listing(f->t.dir);
	assert_int_equal(acfs_store_open(f->t.dir, NULL, &f->t.s, err),
			 -EUCLEAN);
	assert_non_null(strstr(err, "damaged"));
	assert_non_null(strstr(err, "no CURRENT"));
	assert_non_null(strstr(err, "aria-cache"));
	char *after = listing(f->t.dir);
	assert_string_equal(before, after);
	free(after);
	/* Read-only opens (aria-cache beside a daemon) refuse it too. */
	struct acfs_store_options ro = { .read_only = true };
	assert_int_equal(acfs_store_open(f->t.dir, &ro, &f->t.s, err),
			 -EUCLEAN);

	/* Repair names the MANIFEST again: nothing lost. */
	assert_int_equal(acfs_store_repair(f->t.dir, how, sizeof(how), err), 0);
	assert_non_null(strstr(how, "nothing lost"));
	assert_int_equal(tmpstore_open(&f->t), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.id == id);
	expect_blob(f->t.s, id, data);
	acfs_store_close(f->t.s);
	f->t.s = NULL;

	/* A MANIFEST cut short: refused, nothing deleted. */
	FILE *c = fopen(path, "r");
	char name[64] = "", mpath[192];
	assert_non_null(c);
	assert_non_null(fgets(name, sizeof(name), c));
	fclose(c);
	name[strcspn(name, "\n")] = '\0';
	snprintf(mpath, sizeof(mpath), "%s/%s", f->t.dir, name);
	assert_int_equal(truncate(mpath, 60), 0);
	free(before);
	before = listing(f->t.dir);
	assert_int_equal(acfs_store_open(f->t.dir, NULL, &f->t.s, err),
			 -EUCLEAN);
	assert_non_null(strstr(err, "MANIFEST"));
	after = listing(f->t.dir);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void empty_directory_becomes_a_store(void **state)
{
	struct fixture *f = *state;
	char dir[160], err[ACFS_ERR_MAX] = "";
	struct acfs_store *s;

	/* A directory with only what RocksDB writes before any data (its
	 * LOCK and IDENTITY) holds nothing to lose: it becomes a store. */
	snprintf(dir, sizeof(dir), "%s/fresh", f->t.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	char p[200];
	snprintf(p, sizeof(p), "%s/LOCK", dir);
	fclose(fopen(p, "w"));
	assert_int_equal(acfs_store_open(dir, NULL, &s, err), 0);
	acfs_store_close(s);
}

/* The format is recorded at the first open for writing; a store of a
 * newer format than this binary knows is refused, nothing changed. */
static void newer_format_refused(void **state)
{
	struct fixture *f = *state;
	char err[ACFS_ERR_MAX] = "";
	struct acfs_kv *kv;
	unsigned char v[4] = { 2, 0, 0, 0 };

	assert_int_equal(acfs_store_format(f->t.s), ACFS_STORE_FORMAT);
	acfs_store_close(f->t.s);
	f->t.s = NULL;
	assert_int_equal(acfs_kv_open(f->t.dir, false, false, 0, &kv, err), 0);
	struct acfs_kv_batch *b = acfs_kv_batch_new();
	acfs_kv_batch_put(b, kv, ACFS_CF_DEFAULT, "format", 6, v, 4);
	assert_int_equal(acfs_kv_write(kv, b, err), 0);
	acfs_kv_batch_free(b);
	acfs_kv_close(kv);
	struct acfs_store *s = NULL;
	assert_int_equal(acfs_store_open(f->t.dir, NULL, &s, err),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "format 2, newer than this aria-cachefs "
				    "knows (format 1)"));
	struct acfs_store_options ro = { .read_only = true };
	assert_int_equal(acfs_store_open(f->t.dir, &ro, &s, err),
			 -EPROTONOSUPPORT);
	/* Back to format 1, for the fixture's check. */
	assert_int_equal(acfs_kv_open(f->t.dir, false, false, 0, &kv, err), 0);
	b = acfs_kv_batch_new();
	v[0] = 1;
	acfs_kv_batch_put(b, kv, ACFS_CF_DEFAULT, "format", 6, v, 4);
	assert_int_equal(acfs_kv_write(kv, b, err), 0);
	acfs_kv_batch_free(b);
	acfs_kv_close(kv);
	assert_int_equal(tmpstore_open(&f->t), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(commit_and_get),
		T(newer_format_refused),
		T(replace_drops_unused_version),
		T(replace_keeps_version_in_use),
		T(orphans_swept_at_open),
		T(noreplace),
		T(remove_entry),
		T(set_times),
		T(survives_reopen_and_ids_never_repeat),
		T(iterate_shard),
		T(empty_entry_and_read_only_reader),
		T(damaged_store_is_refused_never_recreated),
		T(empty_directory_becomes_a_store),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
