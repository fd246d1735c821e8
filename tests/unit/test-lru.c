/* SPDX-License-Identifier: MIT */
/*
 * The access-time index and eviction (core/store/lru.c) against a real RocksDB:
 * order, ties, pins, entries open during eviction, older-than, dry runs,
 * and that eviction visits only what it evicts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acfs/store.h"
#include "tmpstore.h"

struct fixture {
	struct tmpstore t; /* first: see tmpstore_setup */
	uint64_t ids[64];
};

static int setup(void **state)
{
	return tmpstore_setup(state, sizeof(struct fixture));
}

static int teardown(void **state)
{
	return tmpstore_teardown(state);
}

static struct acfs_key K(int i)
{
	struct acfs_key k = { 0x5500000000000000ULL | (uint64_t)i,
			      ACFS_KIND_BC };
	return k;
}

/* Entry i: 100 bytes, committed (and so used) at time @t. */
static void put(struct fixture *f, int i, int64_t t)
{
	struct acfs_commit c = { 0 };
	char data[100], err[ACFS_ERR_MAX];

	memset(data, 'a' + i % 26, sizeof(data));
	c.key = K(i);
	c.id = acfs_store_alloc_id(f->t.s);
	c.data = data;
	c.size = sizeof(data);
	c.now_ns = t;
	f->ids[i] = c.id;
	assert_int_equal(acfs_store_commit(f->t.s, &c, NULL, NULL, NULL, err), 0);
}

struct order {
	int got[64];
	bool kept[64];
	int n;
};

static void record(const struct acfs_key *key, const struct acfs_entry *e,
		   bool kept, void *u)
{
	struct order *o = u;

	(void)e;
	o->kept[o->n] = kept;
	o->got[o->n++] = (int)(key->hash & 0xff);
}

static bool present(struct fixture *f, int i)
{
	struct acfs_key k = K(i);
	struct acfs_entry e;
	return acfs_store_get(f->t.s, &k, &e) == 0;
}

static uint64_t stored_of(struct fixture *f, int n)
{
	struct acfs_key k = K(0);
	struct acfs_entry e;
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	return e.stored * (uint64_t)n;
}

static void evicts_least_recently_used_first(void **state)
{
	struct fixture *f = *state;
	struct acfs_evict_opts o = { 0 };
	struct acfs_evict_result res;
	struct order ord = { 0 };

	for (int i = 0; i < 10; i++)
		put(f, i, 1000 + i);
	/* Entries 0 and 1 are used again: now the most recent. */
	struct acfs_touch t[] = {
		{ K(1), f->ids[1], 5000 }, { K(0), f->ids[0], 6000 },
		{ K(0), f->ids[0], 5500 }, /* older duplicate: ignored */
	};
	assert_int_equal(acfs_store_touch(f->t.s, t, 3), 0);
	assert_invariants(f->t.s);
	o.use_target = true;
	o.target_stored = stored_of(f, 6);
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &ord, &res), 0);
	assert_int_equal(ord.n, 4);
	int want[] = { 2, 3, 4, 5 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(ord.got[i], want[i]);
	assert_int_equal(res.entries, 4);
	/* Visits only what it evicts, plus the one row that stops it. */
	assert_true(res.visited == 4);
	assert_true(present(f, 0) && present(f, 1) && present(f, 6));
	assert_false(present(f, 2));
	struct acfs_stats st;
	acfs_store_get_stats(f->t.s, &st);
	assert_int_equal(st.v[ACFS_STAT_EVICTIONS], 4);
	assert_int_equal(st.v[ACFS_STAT_EVICTED_BYTES], 400);
	assert_invariants(f->t.s);
}

static void ties_break_by_key(void **state)
{
	struct fixture *f = *state;
	struct acfs_evict_opts o = { 0 };
	struct order ord = { 0 };

	for (int i = 7; i >= 0; i--)
		put(f, i, 42); /* all used at the same instant */
	o.use_target = true;
	o.target_stored = stored_of(f, 5);
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &ord, NULL), 0);
	assert_int_equal(ord.n, 3);
	assert_int_equal(ord.got[0], 0);
	assert_int_equal(ord.got[1], 1);
	assert_int_equal(ord.got[2], 2);
	assert_invariants(f->t.s);
}

static void pinned_entries_are_never_evicted(void **state)
{
	struct fixture *f = *state;
	struct acfs_evict_opts o = { 0 };
	struct acfs_key k;
	struct acfs_entry e;
	struct order ord = { 0 };

	for (int i = 0; i < 6; i++)
		put(f, i, 100 + i);
	k = K(0);
	assert_int_equal(acfs_store_set_pinned(f->t.s, &k, 0, true), 0);
	k = K(3);
	assert_int_equal(acfs_store_set_pinned(f->t.s, &k, 0, true), 0);
	assert_invariants(f->t.s);
	/* A pin carries over to a new version of the entry. */
	put(f, 3, 200);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.flags & ACFS_ENTRY_PINNED);
	/* Touching a pinned entry keeps it out of the index. */
	struct acfs_touch t = { K(0), f->ids[0], 300 };
	assert_int_equal(acfs_store_touch(f->t.s, &t, 1), 0);
	assert_invariants(f->t.s);

	o.use_target = true;
	o.target_stored = 0; /* evict everything evictable */
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &ord, NULL), 0);
	assert_int_equal(ord.n, 4);
	assert_true(present(f, 0) && present(f, 3));
	struct acfs_key k4 = K(4);
	assert_int_equal(acfs_store_set_pinned(f->t.s, &k4, 0, true), -ENOENT);
	/* Unpinned, it is evictable again. */
	k = K(0);
	assert_int_equal(acfs_store_set_pinned(f->t.s, &k, 0, false), 0);
	ord.n = 0;
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &ord, NULL), 0);
	assert_int_equal(ord.n, 1);
	assert_int_equal(ord.got[0], 0);
	assert_invariants(f->t.s);
}

static bool odd_in_use(uint64_t id, void *u)
{
	struct fixture *f = u;
	for (int i = 1; i < 64; i += 2)
		if (f->ids[i] == id)
			return true;
	return false;
}

static void entries_open_during_eviction_stay_readable(void **state)
{
	struct fixture *f = *state;
	struct acfs_evict_opts o = { 0 };
	struct order ord = { 0 };
	void *data;
	size_t len;

	for (int i = 0; i < 4; i++)
		put(f, i, 10 + i);
	o.use_target = true;
	o.target_stored = 0;
	o.in_use = odd_in_use;
	o.userdata = f;
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &ord, NULL), 0);
	assert_int_equal(ord.n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ord.kept[i], ord.got[i] % 2 == 1);
		assert_false(present(f, ord.got[i]));
	}
	/* An open reader still reads entry 1 whole; entry 0's bytes are gone. */
	assert_int_equal(acfs_store_read_blob(f->t.s, f->ids[1], &data, &len,
					      NULL), 0);
	assert_int_equal(len, 100);
	assert_int_equal(((char *)data)[0], 'b');
	free(data);
	assert_int_equal(acfs_store_read_blob(f->t.s, f->ids[0], &data, &len,
					      NULL), -ENOENT);
	assert_invariants(f->t.s);
	assert_int_equal(acfs_store_drop_orphan(f->t.s, f->ids[1]), 0);
	assert_int_equal(acfs_store_drop_orphan(f->t.s, f->ids[3]), 0);
	assert_invariants(f->t.s);
}

static void older_than_and_dry_run(void **state)
{
	struct fixture *f = *state;
	struct acfs_evict_opts o = { 0 };
	struct order dry = { 0 }, real = { 0 };

	for (int i = 0; i < 10; i++)
		put(f, i, 1000 * (i + 1));
	o.older_than_ns = 4500; /* entries used at 1000..4000 */
	o.dry_run = true;
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &dry, NULL), 0);
	assert_int_equal(dry.n, 4);
	for (int i = 0; i < 10; i++)
		assert_true(present(f, i)); /* a dry run removes nothing */
	o.dry_run = false;
	assert_int_equal(acfs_store_evict(f->t.s, &o, record, &real, NULL), 0);
	assert_int_equal(real.n, dry.n);
	assert_memory_equal(real.got, dry.got, sizeof(int) * (size_t)dry.n);
	assert_false(present(f, 3));
	assert_true(present(f, 4));
	assert_invariants(f->t.s);
}

static void stale_touches_are_ignored(void **state)
{
	struct fixture *f = *state;
	struct acfs_key k = K(1);
	struct acfs_entry e;
	uint64_t old;

	put(f, 1, 100);
	old = f->ids[1];
	put(f, 1, 200); /* replaced: the old version's uses do not count */
	struct acfs_touch t[] = { { K(1), old, 900 }, { K(1), f->ids[1], 150 } };
	assert_int_equal(acfs_store_touch(f->t.s, t, 2), 0);
	assert_int_equal(acfs_store_get(f->t.s, &k, &e), 0);
	assert_true(e.atime_ns == 200);
	assert_invariants(f->t.s);
	/* utimens moves the index row too. */
	assert_int_equal(acfs_store_set_times(f->t.s, &k, 0, 50, ACFS_TIME_KEEP), 0);
	assert_invariants(f->t.s);
}

static void over_budget_commits_wait_for_eviction(void **state)
{
	struct fixture *f = *state;
	struct acfs_commit c = { 0 };
	char data[100] = { 0 }, err[ACFS_ERR_MAX];
	struct acfs_store_counters cnt;

	put(f, 0, 1);
	assert_int_equal(acfs_store_set_budget(f->t.s, stored_of(f, 2)), 0);
	put(f, 1, 2);
	put(f, 2, 3); /* pushes the total over: allowed, by this one entry */
	acfs_store_get_counters(f->t.s, &cnt);
	assert_true(cnt.stored > acfs_store_budget(f->t.s));
	c.key = K(3);
	c.id = acfs_store_alloc_id(f->t.s);
	c.data = data;
	c.size = sizeof(data);
	assert_int_equal(acfs_store_commit(f->t.s, &c, NULL, NULL, NULL, err), -EAGAIN);
	struct acfs_evict_opts o = { .use_target = true,
				     .target_stored = stored_of(f, 2) };
	assert_int_equal(acfs_store_evict(f->t.s, &o, NULL, NULL, NULL), 0);
	assert_int_equal(acfs_store_commit(f->t.s, &c, NULL, NULL, NULL, err), 0);
	assert_invariants(f->t.s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(evicts_least_recently_used_first),
		T(ties_break_by_key),
		T(pinned_entries_are_never_evicted),
		T(entries_open_during_eviction_stay_readable),
		T(older_than_and_dry_run),
		T(stale_touches_are_ignored),
		T(over_budget_commits_wait_for_eviction),
	};
	return cmocka_run_group_tests_name("lru", tests, NULL, NULL);
}
