/* SPDX-License-Identifier: MIT */
/* The entry value format (core/store/blob.c): raw or zstd, and corrupt input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acfs/store.h"
#include "blob.h"

static void roundtrip(const void *data, size_t len, int level,
		      size_t *ret_stored)
{
	void *v, *back;
	size_t vlen, blen;
	char err[ACFS_ERR_MAX];

	assert_int_equal(acfs_blob_encode(data, len, level, &v, &vlen), 0);
	assert_int_equal(acfs_blob_decode(v, vlen, &back, &blen, err), 0);
	assert_int_equal(blen, len);
	if (len)
		assert_memory_equal(back, data, len);
	*ret_stored = vlen;
	free(v);
	free(back);
}

static void compressible_shrinks(void **state)
{
	size_t n = 1 << 16, stored;
	char *d = malloc(n);

	(void)state;
	for (size_t i = 0; i < n; i++)
		d[i] = "define i32 @max"[i % 15];
	roundtrip(d, n, 0, &stored);
	assert_true(stored < n / 4);
	roundtrip(d, n, -1, &stored); /* compression off */
	assert_int_equal(stored, n + 1);
	free(d);
}

static void random_bytes_stay_raw(void **state)
{
	size_t n = 1 << 16, stored;
	unsigned char *d = malloc(n);
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		d[i] = (unsigned char)(x >> 16);
	}
	roundtrip(d, n, 3, &stored);
	assert_int_equal(stored, n + 1); /* never larger than raw + 1 */
	free(d);
}

static void empty_and_tiny(void **state)
{
	size_t stored;

	(void)state;
	roundtrip("", 0, 3, &stored);
	assert_int_equal(stored, 1);
	roundtrip("BC\xc0\xde", 4, 3, &stored);
	assert_int_equal(stored, 5);
}

static void corrupt_values_fail_cleanly(void **state)
{
	char err[ACFS_ERR_MAX];
	void *v, *back;
	size_t vlen, blen;
	char d[4096];

	(void)state;
	memset(d, 'x', sizeof(d));
	assert_int_equal(acfs_blob_decode("", 0, &back, &blen, err), -EBADMSG);
	assert_int_equal(acfs_blob_decode("\x07zz", 3, &back, &blen, err), -EBADMSG);
	assert_int_equal(acfs_blob_encode(d, sizeof(d), 3, &v, &vlen), 0);
	/* Truncated at every length, and flipped bytes: never a crash,
	 * never wrong bytes returned as right. */
	for (size_t cut = 1; cut < vlen; cut++)
		assert_int_equal(acfs_blob_decode(v, cut, &back, &blen, err),
				 -EBADMSG);
	for (size_t i = 1; i < vlen; i++) {
		((unsigned char *)v)[i] ^= 0x5a;
		int r = acfs_blob_decode(v, vlen, &back, &blen, err);
		if (r == 0) {
			/* zstd has no checksum by default; a decode that
			 * succeeds must still have the right length. */
			assert_int_equal(blen, sizeof(d));
			free(back);
		}
		((unsigned char *)v)[i] ^= 0x5a;
	}
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compressible_shrinks),
		cmocka_unit_test(random_bytes_stay_raw),
		cmocka_unit_test(empty_and_tiny),
		cmocka_unit_test(corrupt_values_fail_cleanly),
	};
	return cmocka_run_group_tests_name("blob", tests, NULL, NULL);
}
