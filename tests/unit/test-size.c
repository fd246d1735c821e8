/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acfs/config.h"
#include "acfs/size.h"

static void parse(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(acfs_size_parse("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(acfs_size_parse("512", &v), 0);
	assert_true(v == 512);
	assert_int_equal(acfs_size_parse("64K", &v), 0);
	assert_true(v == 65536);
	assert_int_equal(acfs_size_parse("32M", &v), 0);
	assert_true(v == 32ULL << 20);
	assert_int_equal(acfs_size_parse("10G", &v), 0);
	assert_true(v == 10ULL << 30);
	assert_int_equal(acfs_size_parse("10g", &v), 0);
	assert_true(v == 10ULL << 30);
	assert_int_equal(acfs_size_parse("1.5T", &v), 0);
	assert_true(v == 3ULL << 39);
	assert_int_equal(acfs_size_parse("256MiB", &v), 0);
	assert_true(v == 256ULL << 20);
	assert_int_equal(acfs_size_parse("1KB", &v), 0);
	assert_true(v == 1024);
}

static void rejects(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(acfs_size_parse("", &v), -EINVAL);
	assert_int_equal(acfs_size_parse("lots", &v), -EINVAL);
	assert_int_equal(acfs_size_parse("-1G", &v), -EINVAL);
	assert_int_equal(acfs_size_parse("10X", &v), -EINVAL);
	assert_int_equal(acfs_size_parse("10GG", &v), -EINVAL);
	assert_int_equal(acfs_size_parse("1.", &v), -EINVAL);
	assert_int_equal(acfs_size_parse(" 1G", &v), -EINVAL);
	assert_int_equal(acfs_size_parse("99999999999999999999", &v), -ERANGE);
	assert_int_equal(acfs_size_parse("99999999999T", &v), -ERANGE);
	assert_true(v == 7);
}

static void format(void **state)
{
	char buf[32];

	(void)state;
	acfs_size_format(512, buf, sizeof(buf));
	assert_string_equal(buf, "512B");
	acfs_size_format(10ULL << 30, buf, sizeof(buf));
	assert_string_equal(buf, "10G");
	acfs_size_format(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1.5K");
}

/* A cache budget of a few bytes is a missing unit, not a wish. */
static void budget(void **state)
{
	struct acfs_config c = { 0 };
	char err[512] = "";

	(void)state;
	assert_int_equal(acfs_config_set(&c, ACFS_SET_MAX_SIZE, "100",
					 "--max-size", err), -EINVAL);
	assert_non_null(strstr(err, "did you mean 100M or 100G?"));
	assert_int_equal(acfs_config_set(&c, ACFS_SET_MAX_SIZE, "1023K",
					 "--max-size", err), -EINVAL);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_MAX_SIZE, "1M",
					 "--max-size", err), 0);
	assert_true(c.max_size == 1ULL << 20);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_MAX_SIZE, "0",
					 "--max-size", err), 0);
	assert_true(c.max_size == 0);
	acfs_config_release(&c);
}

static void durations(void **state)
{
	int64_t ns = 5;

	(void)state;
	assert_int_equal(acfs_duration_parse("90", &ns), 0);
	assert_true(ns == 90LL * 1000000000LL);
	assert_int_equal(acfs_duration_parse("10m", &ns), 0);
	assert_true(ns == 600LL * 1000000000LL);
	assert_int_equal(acfs_duration_parse("2h", &ns), 0);
	assert_true(ns == 7200LL * 1000000000LL);
	assert_int_equal(acfs_duration_parse("7d", &ns), 0);
	assert_true(ns == 7LL * 86400 * 1000000000LL);
	assert_int_equal(acfs_duration_parse("1w", &ns), 0);
	assert_true(ns == 7LL * 86400 * 1000000000LL);
	assert_int_equal(acfs_duration_parse("250ms", &ns), 0);
	assert_true(ns == 250000000LL);
	ns = 5;
	assert_int_equal(acfs_duration_parse("2mss", &ns), -EINVAL);
	assert_int_equal(acfs_duration_parse("", &ns), -EINVAL);
	assert_int_equal(acfs_duration_parse("h", &ns), -EINVAL);
	assert_int_equal(acfs_duration_parse("3y", &ns), -EINVAL);
	assert_int_equal(acfs_duration_parse("3dd", &ns), -EINVAL);
	assert_int_equal(acfs_duration_parse("-3d", &ns), -EINVAL);
	assert_int_equal(acfs_duration_parse("99999999999999w", &ns), -ERANGE);
	assert_true(ns == 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse),
		cmocka_unit_test(rejects),
		cmocka_unit_test(format),
		cmocka_unit_test(budget),
		cmocka_unit_test(durations),
	};
	return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
