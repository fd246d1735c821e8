/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acfs/key.h"

static void parse_shard(void **state)
{
	unsigned s = 999;

	(void)state;
	assert_int_equal(acfs_key_parse_shard("00", &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(acfs_key_parse_shard("c4", &s), 0);
	assert_int_equal(s, 0xc4);
	assert_int_equal(acfs_key_parse_shard("ff", &s), 0);
	assert_int_equal(s, 0xff);
	assert_int_equal(acfs_key_parse_shard("C4", &s), -EINVAL);
	assert_int_equal(acfs_key_parse_shard("c", &s), -EINVAL);
	assert_int_equal(acfs_key_parse_shard("c44", &s), -EINVAL);
	assert_int_equal(acfs_key_parse_shard("g0", &s), -EINVAL);
	assert_int_equal(acfs_key_parse_shard("", &s), -EINVAL);
	assert_int_equal(acfs_key_parse_shard("..", &s), -EINVAL);
}

static void parse_name_spec_example(void **state)
{
	struct acfs_key k;
	char buf[ACFS_KEY_PATH_MAX];

	(void)state;
	/* SPEC: key c49a2b7f8e123456 lives at monomorph/c4/9a2b7f8e123456.bc */
	assert_int_equal(acfs_key_parse_name(0xc4, "9a2b7f8e123456.bc", &k), 0);
	assert_true(k.hash == 0xc49a2b7f8e123456ULL);
	assert_int_equal(k.kind, ACFS_KIND_BC);
	acfs_key_format_path(&k, buf);
	assert_string_equal(buf, "monomorph/c4/9a2b7f8e123456.bc");
	acfs_key_format_name(&k, buf);
	assert_string_equal(buf, "9a2b7f8e123456.bc");

	assert_int_equal(acfs_key_parse_name(0x00, "00000000000000.meta", &k), 0);
	assert_true(k.hash == 0);
	assert_int_equal(k.kind, ACFS_KIND_META);
}

static void parse_name_rejects(void **state)
{
	static const char *const bad[] = {
		"9A2B7F8E123456.bc", "9a2b7f8e12345.bc", "9a2b7f8e1234567.bc",
		"9a2b7f8e123456.BC", "9a2b7f8e123456.b", "9a2b7f8e123456.bcx",
		"9a2b7f8e123456", "9a2b7f8e123456.", ".bc", "", "..",
		"9a2b7f8e12345 .bc", "+a2b7f8e123456.bc", "9a2b7f8e123456.meta.bc",
		"9a2b7f8e123456.ll", "0x2b7f8e123456.bc",
	};
	struct acfs_key k = { .hash = 42, .kind = ACFS_KIND_BC };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(acfs_key_parse_name(0xc4, bad[i], &k), -EINVAL);
		assert_true(k.hash == 42); /* nothing written on failure */
	}
	assert_int_equal(acfs_key_parse_name(256, "9a2b7f8e123456.bc", &k),
			 -EINVAL);
}

static void roundtrip(void **state)
{
	char name[ACFS_KEY_PATH_MAX];
	uint64_t h = 0x0123456789abcdefULL;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		struct acfs_key k = { .hash = h, .kind = (enum acfs_kind)(i & 1) };
		struct acfs_key back;
		acfs_key_format_name(&k, name);
		assert_int_equal(acfs_key_parse_name(acfs_key_shard(&k), name,
						     &back), 0);
		assert_true(back.hash == k.hash);
		assert_int_equal(back.kind, k.kind);
		h = h * 6364136223846793005ULL + 1442695040888963407ULL;
	}
}

static void parse_any(void **state)
{
	struct acfs_key k;

	(void)state;
	assert_int_equal(acfs_key_parse_any("c49a2b7f8e123456", &k), 0);
	assert_true(k.hash == 0xc49a2b7f8e123456ULL && k.kind == ACFS_KIND_BC);
	assert_int_equal(acfs_key_parse_any("c49a2b7f8e123456.meta", &k), 0);
	assert_int_equal(k.kind, ACFS_KIND_META);
	assert_int_equal(acfs_key_parse_any(
				 "/p/.aria/cache/monomorph/c4/9a2b7f8e123456.bc",
				 &k), 0);
	assert_true(k.hash == 0xc49a2b7f8e123456ULL);
	assert_int_equal(acfs_key_parse_any("c4/9a2b7f8e123456.bc", &k), 0);
	assert_int_equal(acfs_key_parse_any("c49a2b7f8e12345", &k), -EINVAL);
	assert_int_equal(acfs_key_parse_any("x/9a2b7f8e123456.bc", &k), -EINVAL);
	assert_int_equal(acfs_key_parse_any("/9a2b7f8e123456.bc", &k), -EINVAL);
	assert_int_equal(acfs_key_parse_any("", &k), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_shard),
		cmocka_unit_test(parse_name_spec_example),
		cmocka_unit_test(parse_name_rejects),
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(parse_any),
	};
	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
