/* SPDX-License-Identifier: MIT */
/*
 * Digests, quarantine and acfs_store_verify against a real RocksDB store,
 * damaged with acfs_inject the way bit rot or a torn write would.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store-inject.h"
#include "acfs/store.h"
#include "acfs/tree.h"
#include "acfs/verify.h"
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

static struct acfs_key key_of(uint64_t hash, enum acfs_kind kind)
{
	struct acfs_key k = { .hash = hash, .kind = kind };
	return k;
}

static uint64_t put(struct acfs_store *s, struct acfs_key key,
		    const char *data)
{
	struct acfs_commit c = { 0 };
	char err[ACFS_ERR_MAX] = "";

	c.key = key;
	c.id = acfs_store_alloc_id(s);
	c.data = data;
	c.size = strlen(data);
	c.now_ns = 1000;
	assert_int_equal(acfs_store_commit(s, &c, NULL, NULL, NULL, err), 0);
	return c.id;
}

/* Problems seen by a verify run, by kind. */
struct seen {
	unsigned n[4];
	unsigned repaired;
	char last[ACFS_ERR_MAX];
	struct acfs_key last_key;
};

static void on_problem(const struct acfs_problem *p, void *u)
{
	struct seen *s = u;

	s->n[p->kind]++;
	s->repaired += p->repaired;
	snprintf(s->last, sizeof(s->last), "%s", p->reason);
	if (p->has_key)
		s->last_key = p->key;
}

static struct seen verify(struct acfs_store *st, bool repair,
			  enum acfs_validate level,
			  struct acfs_verify_result *res)
{
	struct seen s = { 0 };
	struct acfs_verify_opts o = {
		.validate = level, .repair = repair, .problem = on_problem,
		.report_data = &s,
	};
	char err[ACFS_ERR_MAX] = "";

	assert_int_equal(acfs_store_verify(st, &o, res, err), 0);
	return s;
}

static void test_digest_recorded(void **state)
{
	struct fixture *f = *state;
	struct acfs_entry e;
	unsigned char d[ACFS_DIGEST_SIZE];
	char text[ACFS_DIGEST_TEXT_MAX];

	put(f->t.s, key_of(1, ACFS_KIND_BC), "hello");
	assert_int_equal(acfs_store_get(f->t.s, &(struct acfs_key){ 1, ACFS_KIND_BC },
					&e), 0);
	acfs_digest("hello", 5, d);
	assert_memory_equal(e.digest, d, sizeof(d));
	acfs_digest_format(e.digest, text);
	/* sha256("hello"), from coreutils' sha256sum */
	assert_string_equal(text, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1"
				  "b161e5c1fa7425e73043362938b9824");
}

static void test_clean_store_has_no_problems(void **state)
{
	struct fixture *f = *state;
	struct acfs_verify_result res;

	for (uint64_t h = 1; h <= 50; h++)
		put(f->t.s, key_of(h, ACFS_KIND_META), "{\"a\": [1, 2, 3]}");
	struct seen s = verify(f->t.s, false, ACFS_VALIDATE_PARSE, &res);
	assert_int_equal(res.entries, 50);
	assert_int_equal(res.bytes, 50 * 16);
	assert_int_equal(res.problems, 0);
	assert_int_equal(s.n[ACFS_PROBLEM_ENTRY], 0);
}

static void test_flipped_byte_found_and_repaired(void **state)
{
	struct fixture *f = *state;
	struct acfs_verify_result res;
	struct acfs_entry e;
	struct acfs_key bad = key_of(7, ACFS_KIND_BC);

	put(f->t.s, key_of(6, ACFS_KIND_BC), "good bytes, good digest");
	put(f->t.s, bad, "these bytes will rot on disk");
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_FLIP_BYTE, &bad), 0);

	struct seen s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(res.problems, 1);
	assert_int_equal(s.n[ACFS_PROBLEM_ENTRY], 1);
	assert_true(s.last_key.hash == 7);
	assert_non_null(strstr(s.last, "digest mismatch"));
	/* Without --repair nothing changes. */
	assert_int_equal(acfs_store_get(f->t.s, &bad, &e), 0);

	s = verify(f->t.s, true, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.repaired, 1);
	assert_int_equal(acfs_store_get(f->t.s, &bad, &e), -ENOENT);
	assert_int_equal(acfs_store_get(f->t.s, &(struct acfs_key){ 6, ACFS_KIND_BC },
					&e), 0);
	assert_invariants(f->t.s);
	s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(res.problems, 0);
	assert_int_equal(res.entries, 1);
}

static void test_missing_blob_and_bad_json(void **state)
{
	struct fixture *f = *state;
	struct acfs_verify_result res;
	struct acfs_key gone = key_of(1, ACFS_KIND_BC);

	put(f->t.s, gone, "its blob is lost");
	put(f->t.s, key_of(2, ACFS_KIND_META), "{not json");
	put(f->t.s, key_of(3, ACFS_KIND_META), "{\"ok\": true}");
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_DROP_BLOB, &gone), 0);

	struct seen s = verify(f->t.s, false, ACFS_VALIDATE_PARSE, &res);
	assert_int_equal(s.n[ACFS_PROBLEM_ENTRY], 2);
	/* Digests only: the .meta is not looked at. */
	s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.n[ACFS_PROBLEM_ENTRY], 1);
	assert_non_null(strstr(s.last, "unreadable"));

	s = verify(f->t.s, true, ACFS_VALIDATE_PARSE, &res);
	assert_int_equal(s.repaired, 2);
	assert_invariants(f->t.s);
	struct acfs_store_counters c;
	acfs_store_get_counters(f->t.s, &c);
	assert_int_equal(c.entries, 1);
}

static void test_index_and_counter_damage_repaired(void **state)
{
	struct fixture *f = *state;
	struct acfs_verify_result res;
	struct acfs_key live = key_of(10, ACFS_KIND_BC);
	struct acfs_key absent = key_of(11, ACFS_KIND_BC);
	char err[ACFS_ERR_MAX] = "";

	put(f->t.s, live, "a live entry");
	put(f->t.s, key_of(12, ACFS_KIND_BC), "another");
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_COUNTERS, &live), 0);
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_DANGLING_LRU, &absent),
			 0);
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_DANGLING_INFO,
				     &absent), 0);
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_DROP_LRU, &live), 0);
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_STRAY_BLOB, &live), 0);
	assert_int_equal(acfs_store_check(f->t.s, err), -EUCLEAN);

	struct seen s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.n[ACFS_PROBLEM_COUNTERS], 1);
	assert_int_equal(s.n[ACFS_PROBLEM_INDEX], 4);
	assert_int_equal(s.n[ACFS_PROBLEM_ENTRY], 0);
	assert_int_equal(s.repaired, 0);

	s = verify(f->t.s, true, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.repaired, 5);
	assert_invariants(f->t.s);
	/* Repairs are written: they hold after a reopen too. */
	acfs_store_close(f->t.s);
	f->t.s = NULL;
	assert_int_equal(tmpstore_open(&f->t), 0);
	assert_invariants(f->t.s);
	s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(res.problems, 0);
	assert_int_equal(res.entries, 2);
}

static int count_q(const struct acfs_quarantined *q, void *u)
{
	unsigned *n = u;
	assert_non_null(strstr(q->reason, "sha256:"));
	assert_int_equal(q->key.hash, 5);
	(*n)++;
	return 0;
}

static void test_quarantine(void **state)
{
	struct fixture *f = *state;
	struct acfs_verify_result res;
	struct acfs_key k = key_of(5, ACFS_KIND_BC);
	struct acfs_entry e;
	struct acfs_store_counters c;
	struct acfs_stats st;
	unsigned n = 0;
	char err[ACFS_ERR_MAX] = "";
	uint64_t id = put(f->t.s, k, "quarantine me");

	put(f->t.s, key_of(9, ACFS_KIND_BC), "stays");
	/* Only the version named: another id is refused. */
	assert_int_equal(acfs_store_quarantine(f->t.s, &k, id + 100, 1, "x",
					       err), -ENOENT);
	assert_int_equal(acfs_store_quarantine(f->t.s, &k, id, 1,
					       "digest sha256:00 != sha256:11",
					       err), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), -ENOENT);
	acfs_store_get_counters(f->t.s, &c);
	assert_int_equal(c.entries, 1);
	acfs_store_get_stats(f->t.s, &st);
	assert_int_equal(st.v[ACFS_STAT_QUARANTINED], 1);
	assert_invariants(f->t.s);
	assert_int_equal(acfs_store_foreach_quarantined(f->t.s, count_q, &n),
			 0);
	assert_int_equal(n, 1);

	struct seen s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.n[ACFS_PROBLEM_QUARANTINED], 1);
	s = verify(f->t.s, true, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.repaired, 1);
	n = 0;
	assert_int_equal(acfs_store_foreach_quarantined(f->t.s, count_q, &n),
			 0);
	assert_int_equal(n, 0);
	assert_invariants(f->t.s);
}

static void test_tree_damage_repaired(void **state)
{
	struct fixture *f = *state;
	struct acfs_verify_result res;
	struct acfs_gnode g;
	struct acfs_key k = key_of(1, ACFS_KIND_BC);
	char err[ACFS_ERR_MAX] = "";

	assert_int_equal(acfs_tree_create(f->t.s, ACFS_TREE_ROOT, "dir",
					  S_IFDIR | 0755, 0, 0, NULL, 0, 1, &g), 0);
	assert_int_equal(acfs_tree_create(f->t.s, g.ino, "file",
					  S_IFREG | 0644, 0, 0, NULL, 0, 1, &g), 0);
	assert_int_equal(acfs_tree_write(f->t.s, g.ino, 0, "hello", 5, 2), 5);
	struct seen s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(res.problems, 0);
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_TREE_NAME, &k), 0);
	assert_int_equal(acfs_inject(f->t.s, ACFS_INJECT_TREE_COUNTERS, &k), 0);
	assert_int_equal(acfs_store_check(f->t.s, err), -EUCLEAN);
	s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.n[ACFS_PROBLEM_INDEX], 1);
	assert_int_equal(s.n[ACFS_PROBLEM_COUNTERS], 1);
	s = verify(f->t.s, true, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(s.repaired, 2);
	assert_invariants(f->t.s);
	struct acfs_tree_counters tc;
	acfs_tree_get_counters(f->t.s, &tc);
	assert_int_equal(tc.files, 2);
	assert_int_equal(tc.bytes, 5);
	s = verify(f->t.s, false, ACFS_VALIDATE_NONE, &res);
	assert_int_equal(res.problems, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_digest_recorded),
		T(test_clean_store_has_no_problems),
		T(test_flipped_byte_found_and_repaired),
		T(test_missing_blob_and_bad_json),
		T(test_index_and_counter_damage_repaired),
		T(test_quarantine),
		T(test_tree_damage_repaired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
