/* SPDX-License-Identifier: MIT */
/*
 * Bitcode and .meta checks (core/llvm/bitcode.c) on real bitcode made by
 * gen-bitcode at build time: valid modules of several sizes, truncation at
 * many cut points, random bytes, the wrapper header around garbage, text
 * IR, another target, a module the verifier refuses; info kept per entry;
 * several threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acfs/bitcode.h"
#include "acfs/store.h"

static const char *fixtures; /* directory of the generated .bc files */

struct file {
	unsigned char *p;
	size_t len;
};

static struct file load(const char *name)
{
	char path[4096];
	struct file f = { 0 };
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	f.len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	f.p = malloc(f.len);
	assert_int_equal(fread(f.p, 1, f.len, fp), f.len);
	fclose(fp);
	return f;
}

static int check(const void *p, size_t len, enum acfs_validate level,
		 const char *triple)
{
	char err[ACFS_ERR_MAX] = "";
	int r = acfs_bitcode_check(p, len, level, triple, NULL, err);
	if (r < 0)
		assert_true(err[0] != '\0'); /* every refusal says why */
	return r;
}

static void valid_modules_of_several_sizes(void **state)
{
	static const char *const names[] = { "small.bc", "medium.bc",
					     "large.bc" };
	(void)state;
	for (int i = 0; i < 3; i++) {
		struct file f = load(names[i]);
		for (int l = ACFS_VALIDATE_NONE; l <= ACFS_VALIDATE_VERIFY; l++)
			assert_int_equal(check(f.p, f.len, l, NULL), 0);
		free(f.p);
	}
}

static void info_is_what_the_module_says(void **state)
{
	struct acfs_bitcode_info info, back;
	struct file f = load("medium.bc");
	char err[ACFS_ERR_MAX];
	void *enc;
	size_t n;

	(void)state;
	assert_int_equal(acfs_bitcode_check(f.p, f.len, ACFS_VALIDATE_PARSE,
					    NULL, &info, err), 0);
	assert_string_equal(info.triple, "x86_64-pc-linux-gnu");
	assert_non_null(strstr(info.datalayout, "e-m:e"));
	assert_int_equal(info.nfunctions, 300);
	assert_non_null(strstr(info.functions, "aria_max_medium_0\n"));
	assert_non_null(strstr(info.functions, "aria_max_medium_299"));
	assert_int_equal(acfs_bitcode_info_encode(&info, &enc, &n), 0);
	assert_int_equal(acfs_bitcode_info_decode(enc, n, &back), 0);
	assert_string_equal(back.triple, info.triple);
	assert_string_equal(back.datalayout, info.datalayout);
	assert_int_equal(back.nfunctions, 300);
	assert_string_equal(back.functions, info.functions);
	acfs_bitcode_info_release(&back);
	/* A cut value decodes to an error, never to garbage. */
	assert_int_equal(acfs_bitcode_info_decode(enc, 5, &back), -EIO);
	acfs_bitcode_info_release(&back);
	acfs_bitcode_info_release(&info);
	free(enc);
	free(f.p);
}

static void truncated_bitcode_is_refused(void **state)
{
	struct file f = load("large.bc");
	size_t cuts = 0;

	(void)state;
	/* Every cut in the first 64 bytes, then 200 spread over the file. */
	for (size_t cut = 0; cut < f.len; cut += cut < 64 ? 1 : f.len / 200) {
		assert_int_equal(check(f.p, cut, ACFS_VALIDATE_PARSE, NULL),
				 -EBADMSG);
		assert_int_equal(check(f.p, cut, ACFS_VALIDATE_VERIFY, NULL),
				 -EBADMSG);
		if (cut < 4)
			assert_int_equal(check(f.p, cut, ACFS_VALIDATE_MAGIC,
					       NULL), -EBADMSG);
		cuts++;
	}
	/* The last bytes too: a module missing its tail is not a module. */
	for (size_t k = 1; k <= 8; k++)
		assert_int_equal(check(f.p, f.len - k, ACFS_VALIDATE_PARSE,
				       NULL), -EBADMSG);
	assert_true(cuts > 250);
	free(f.p);
}

static void random_bytes_and_text_ir_are_refused(void **state)
{
	unsigned char junk[8192];
	uint32_t x = 99;
	struct file f = load("small.bc");
	char *text = NULL, err[ACFS_ERR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1664525u + 1013904223u;
		junk[i] = (unsigned char)(x >> 24);
	}
	assert_int_equal(check(junk, sizeof(junk), ACFS_VALIDATE_MAGIC, NULL),
			 -EBADMSG);
	assert_int_equal(check(junk, sizeof(junk), ACFS_VALIDATE_PARSE, NULL),
			 -EBADMSG);
	/* The right magic in front of garbage passes "magic" only. */
	memcpy(junk, "BC\xc0\xde", 4);
	assert_int_equal(check(junk, sizeof(junk), ACFS_VALIDATE_MAGIC, NULL), 0);
	assert_int_equal(check(junk, sizeof(junk), ACFS_VALIDATE_PARSE, NULL),
			 -EBADMSG);
	/* Textual IR (a .ll) is not bitcode. */
	assert_int_equal(acfs_bitcode_disassemble(f.p, f.len, &text, err), 0);
	assert_non_null(strstr(text, "define i32 @aria_max_small_0"));
	assert_int_equal(check(text, strlen(text), ACFS_VALIDATE_MAGIC, NULL),
			 -EBADMSG);
	assert_int_equal(check(text, strlen(text), ACFS_VALIDATE_PARSE, NULL),
			 -EBADMSG);
	assert_int_equal(check("", 0, ACFS_VALIDATE_MAGIC, NULL), -EBADMSG);
	free(text);
	free(f.p);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static void wrapper_header(void **state)
{
	struct file f = load("small.bc");
	size_t n = 20 + f.len;
	unsigned char *w = calloc(1, n);

	(void)state;
	put_le32(w, 0x0B17C0DEu);
	put_le32(w + 8, 20);
	put_le32(w + 12, (uint32_t)f.len);
	memcpy(w + 20, f.p, f.len);
	assert_int_equal(check(w, n, ACFS_VALIDATE_MAGIC, NULL), 0);
	assert_int_equal(check(w, n, ACFS_VALIDATE_VERIFY, NULL), 0);
	/* A valid header around garbage. */
	memset(w + 20, 0x5a, f.len);
	assert_int_equal(check(w, n, ACFS_VALIDATE_MAGIC, NULL), -EBADMSG);
	assert_int_equal(check(w, n, ACFS_VALIDATE_PARSE, NULL), -EBADMSG);
	/* Magic inside, garbage after it. */
	memcpy(w + 20, "BC\xc0\xde", 4);
	assert_int_equal(check(w, n, ACFS_VALIDATE_PARSE, NULL), -EBADMSG);
	/* A header pointing past the end. */
	put_le32(w + 12, (uint32_t)f.len + 100);
	assert_int_equal(check(w, n, ACFS_VALIDATE_MAGIC, NULL), -EBADMSG);
	free(w);
	free(f.p);
}

static void other_target_and_verifier(void **state)
{
	struct file a = load("aarch64.bc"), v = load("invalid.bc");
	char err[ACFS_ERR_MAX] = "";

	(void)state;
	assert_int_equal(check(a.p, a.len, ACFS_VALIDATE_PARSE, NULL), 0);
	assert_int_equal(acfs_bitcode_check(a.p, a.len, ACFS_VALIDATE_PARSE,
					    "x86_64-pc-linux-gnu", NULL, err),
			 -EBADMSG);
	assert_non_null(strstr(err, "aarch64"));
	assert_int_equal(check(a.p, a.len, ACFS_VALIDATE_PARSE,
			       "aarch64-unknown-linux-gnu"), 0);
	/* Parses, but the verifier refuses it. */
	assert_int_equal(check(v.p, v.len, ACFS_VALIDATE_PARSE, NULL), 0);
	assert_int_equal(acfs_bitcode_check(v.p, v.len, ACFS_VALIDATE_VERIFY,
					    NULL, NULL, err), -EBADMSG);
	assert_non_null(strstr(err, "verifier"));
	free(a.p);
	free(v.p);
}

static void meta_json(void **state)
{
	char err[ACFS_ERR_MAX];
	const char *good = "{\"signature\": \"func<T>:max\", \"types\": "
			   "[\"int32\"], \"source_hash\": \"ab12\"}";

	(void)state;
	assert_int_equal(acfs_json_check(good, strlen(good), err), 0);
	assert_int_equal(acfs_json_check("[1, 2]", 6, err), 0);
	assert_int_equal(acfs_json_check("{\"a\": ", 6, err), -EBADMSG);
	assert_non_null(strstr(err, "JSON"));
	assert_int_equal(acfs_json_check("{} trailing", 11, err), -EBADMSG);
	assert_int_equal(acfs_json_check("", 0, err), -EBADMSG);
	assert_int_equal(acfs_json_check("BC\xc0\xde", 4, err), -EBADMSG);
}

static void levels_parse(void **state)
{
	enum acfs_validate l;

	(void)state;
	assert_int_equal(acfs_validate_parse("verify", &l), 0);
	assert_int_equal(l, ACFS_VALIDATE_VERIFY);
	assert_string_equal(acfs_validate_name(ACFS_VALIDATE_MAGIC), "magic");
	assert_int_equal(acfs_validate_parse("full", &l), -EINVAL);
}

static void *thread_main(void *arg)
{
	struct file *f = arg;
	long bad = 0;

	for (int i = 0; i < 20; i++) {
		char err[ACFS_ERR_MAX];
		if (acfs_bitcode_check(f->p, f->len, ACFS_VALIDATE_VERIFY, NULL,
				       NULL, err) != 0)
			bad++;
		if (acfs_bitcode_check(f->p, f->len / 2, ACFS_VALIDATE_PARSE,
				       NULL, NULL, err) != -EBADMSG)
			bad++;
	}
	return (void *)bad;
}

static void threads_validate_at_once(void **state)
{
	struct file f = load("medium.bc");
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, &f);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		assert_int_equal((long)bad, 0);
	}
	free(f.p);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_modules_of_several_sizes),
		cmocka_unit_test(info_is_what_the_module_says),
		cmocka_unit_test(truncated_bitcode_is_refused),
		cmocka_unit_test(random_bytes_and_text_ir_are_refused),
		cmocka_unit_test(wrapper_header),
		cmocka_unit_test(other_target_and_verifier),
		cmocka_unit_test(meta_json),
		cmocka_unit_test(levels_parse),
		cmocka_unit_test(threads_validate_at_once),
	};
	if (argc != 2) {
		fprintf(stderr, "usage: test-bitcode FIXTURE_DIR\n");
		return 2;
	}
	fixtures = argv[1];
	return cmocka_run_group_tests_name("bitcode", tests, NULL, NULL);
}
