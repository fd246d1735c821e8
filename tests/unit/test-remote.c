/* SPDX-License-Identifier: MIT */
/*
 * Remote tiers without a network: URLs, the Bazel layout and the
 * ActionResult protobuf, the remote settings, and the store's upload
 * queue (rows written by the commit itself).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acfs/config.h"
#include "acfs/remote.h"
#include "tmpstore.h"

static void test_urls(void **state)
{
	struct acfs_remote_url u, v;
	char err[ACFS_ERR_MAX];

	(void)state;
	assert_int_equal(acfs_remote_url_parse("redis://cache.lan", &u, err), 0);
	assert_int_equal(u.kind, ACFS_REMOTE_REDIS);
	assert_string_equal(u.host, "cache.lan");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_null(u.password);
	acfs_remote_url_release(&u);

	assert_int_equal(acfs_remote_url_parse("redis://:s3cret@10.0.0.1:7000/3",
					       &u, err), 0);
	assert_string_equal(u.host, "10.0.0.1");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 3);
	assert_string_equal(u.password, "s3cret");
	assert_null(strstr(u.display, "s3cret")); /* never in logs or stats */
	acfs_remote_url_release(&u);

	assert_int_equal(acfs_remote_url_parse(
				 "https://ci:pw@cache.example:9090/aria/", &u, err), 0);
	assert_int_equal(u.kind, ACFS_REMOTE_HTTP);
	/* Requests go to the URL without credentials (given to libcurl
	 * apart). */
	assert_string_equal(u.base, "https://cache.example:9090/aria");
	assert_string_equal(u.user, "ci");
	assert_string_equal(u.password, "pw");
	assert_string_equal(u.display, "https://ci@cache.example:9090/aria");
	assert_int_equal(acfs_remote_url_parse("https://cache.example:9090/aria",
					       &v, err), 0);
	assert_true(u.id != v.id || strcmp(u.display, v.display) == 0);
	acfs_remote_url_release(&u);
	acfs_remote_url_release(&v);

	/* libcurl's URL API: IPv6 literals, Redis ACL users, percent-
	 * decoding; the password in no display or error. */
	assert_int_equal(acfs_remote_url_parse("redis://[::1]:7001/2", &u, err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7001);
	assert_int_equal(u.db, 2);
	assert_string_equal(u.display, "redis://[::1]:7001/2");
	acfs_remote_url_release(&u);
	/* A key prefix after the database, an expiry in the query. */
	assert_int_equal(acfs_remote_url_parse("redis://h/3/team-a/ci//?ttl=30d", &u, err), 0);
	assert_int_equal(u.db, 3);
	assert_string_equal(u.prefix, "team-a/ci/");
	assert_true(u.ttl_s == 30 * 86400);
	assert_string_equal(u.display, "redis://h:6379/3/team-a/ci?ttl=2592000s");
	acfs_remote_url_release(&u);
	assert_int_equal(acfs_remote_url_parse("redis://h/0", &u, err), 0);
	assert_null(u.prefix);
	assert_true(u.ttl_s == 0);
	acfs_remote_url_release(&u);
	assert_int_equal(acfs_remote_url_parse("redis://ci:p%40ss%3Aw@cache.lan", &u, err), 0);
	assert_string_equal(u.user, "ci");
	assert_string_equal(u.password, "p@ss:w");
	assert_string_equal(u.display, "redis://ci@cache.lan:6379/0");
	acfs_remote_url_release(&u);
	assert_int_equal(acfs_remote_url_parse("http://u:pw@[::1]:8080/a%20b/", &u, err), 0);
	assert_string_equal(u.base, "http://[::1]:8080/a%20b");
	assert_string_equal(u.display, "http://u@[::1]:8080/a%20b");
	assert_string_equal(u.password, "pw");
	acfs_remote_url_release(&u);
	assert_int_equal(acfs_remote_url_parse("redis://:s3cret@h:0", &u, err), -EINVAL);
	assert_null(strstr(err, "s3cret"));
	assert_non_null(strstr(err, "redis://:***@h:0"));
	char shown[256];
	acfs_remote_redact("redis://:a@h/1, http://u:b@x/p http://y", shown, sizeof(shown));
	assert_string_equal(shown, "redis://:***@h/1, http://u:***@x/p http://y");
	/* A password from the environment, never on a command line. */
	setenv("ARIA_CACHE_REMOTE_PASSWORD", "from-env", 1);
	assert_int_equal(acfs_remote_url_parse("redis://ci@cache.lan", &u, err), 0);
	assert_string_equal(u.password, "from-env");
	acfs_remote_url_release(&u);
	/* An HTTP remote naming a user takes it; one without never gets
	 * the (Redis) password sent as basic auth. */
	assert_int_equal(acfs_remote_url_parse("http://ci@cache.lan/p", &u, err), 0);
	assert_string_equal(u.password, "from-env");
	acfs_remote_url_release(&u);
	assert_int_equal(acfs_remote_url_parse("http://cache.lan/p", &u, err), 0);
	assert_null(u.password);
	acfs_remote_url_release(&u);
	unsetenv("ARIA_CACHE_REMOTE_PASSWORD");

	const char *bad[] = { "ftp://x", "redis://", "redis://h:0",
			      "redis://h:99999", "redis://h/x", "http://",
			      "http:///p", "http://h/p?q=1", "cache.example",
			      "redis://h/1/a b", "redis://h/1?ttl=0s",
			      "redis://h/1?ttl=soon", "redis://h/1?x=1",
			      "http://h/p?ttl=1d" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(acfs_remote_url_parse(bad[i], &u, err),
				 -EINVAL);
		assert_non_null(strstr(err, bad[i]));
	}
}

static void test_layout(void **state)
{
	struct acfs_key k = { 0xc49a2b7f8e123456ULL, ACFS_KIND_BC };
	unsigned char d[ACFS_DIGEST_SIZE];
	char path[ACFS_REMOTE_PATH_MAX];

	(void)state;
	/* sha256("aria-cachefs/1\0c49a2b7f8e123456.bc"), from Python */
	acfs_remote_ac_path(&k, path);
	assert_string_equal(path, "ac/77c67e66d2d20162255331ff80705151c3cde8"
				  "bae833bd42a9d9e8ae5d151725");
	k.kind = ACFS_KIND_META;
	acfs_remote_ac_path(&k, path);
	assert_string_not_equal(path, "ac/77c67e66d2d20162255331ff80705151c3cde8"
				      "bae833bd42a9d9e8ae5d151725");
	acfs_digest("abc", 3, d);
	acfs_remote_cas_path(d, path);
	assert_string_equal(path, "cas/ba7816bf8f01cfea414140de5dae2223b00361a3"
				  "96177a9cb410ff61f20015ad");
}

static void test_action_result(void **state)
{
	struct acfs_key k = { 0xc49a2b7f8e123456ULL, ACFS_KIND_BC };
	struct acfs_key other = { 0xc49a2b7f8e123457ULL, ACFS_KIND_BC };
	unsigned char d[ACFS_DIGEST_SIZE], got[ACFS_DIGEST_SIZE];
	unsigned char ac[ACFS_REMOTE_AC_MAX + 16];
	char err[ACFS_ERR_MAX];
	uint64_t size;
	size_t n;

	(void)state;
	acfs_digest("module bytes", 12, d);
	n = acfs_remote_ac_encode(&k, d, 300000000000ULL, ac);
	assert_true(n <= ACFS_REMOTE_AC_MAX);
	assert_int_equal(acfs_remote_ac_decode(ac, n, &k, got, &size, err), 0);
	assert_memory_equal(got, d, sizeof(d));
	assert_int_equal(size, 300000000000ULL);
	/* Another key's result, a truncated one, garbage: refused. */
	assert_int_equal(acfs_remote_ac_decode(ac, n, &other, got, &size, err),
			 -EBADMSG);
	assert_non_null(strstr(err, "names no output"));
	for (size_t cut = 1; cut < n; cut++)
		assert_int_equal(acfs_remote_ac_decode(ac, cut, &k, got, &size,
						       err), -EBADMSG);
	assert_int_equal(acfs_remote_ac_decode("\xff\xff\xff", 3, &k, got,
					       &size, err), -EBADMSG);
	/* Unknown fields (exit_code = 4, a varint) are skipped. */
	memmove(ac + 2, ac, n);
	ac[0] = 0x20;
	ac[1] = 0x00;
	assert_int_equal(acfs_remote_ac_decode(ac, n + 2, &k, got, &size, err),
			 0);
	assert_memory_equal(got, d, sizeof(d));
}

static void test_settings(void **state)
{
	struct acfs_config c;
	char err[ACFS_ERR_MAX];

	(void)state;
	setenv("HOME", "/nonexistent", 1);
	unsetenv("XDG_CONFIG_HOME");
	setenv("ARIA_CACHE_SYSTEM_CONFIG", "/nonexistent", 1);
	assert_int_equal(acfs_config_load(&c, err), 0);
	assert_int_equal(c.remote_wait_ms, 100);
	assert_int_equal(c.remote_timeout_ms, 2000);
	assert_int_equal(c.remote_negative_ttl_ms, 10000);
	assert_int_equal(c.remote_mode, ACFS_REMOTE_READ_WRITE);
	assert_string_equal(c.value[ACFS_SET_REMOTE], "");
	assert_int_equal(acfs_config_add_remote(&c, "redis://a", "command line",
						err), 0);
	assert_int_equal(acfs_config_add_remote(&c, "http://b/x", "command line",
						err), 0);
	assert_string_equal(c.value[ACFS_SET_REMOTE], "redis://a http://b/x");
	assert_int_equal(acfs_config_add_remote(&c, "gopher://c", "command line",
						err), -EINVAL);
	assert_non_null(strstr(err, "gopher://c"));
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_WAIT, "250",
					 "test", err), 0);
	assert_int_equal(c.remote_wait_ms, 250);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_TIMEOUT, "1m",
					 "test", err), 0);
	assert_int_equal(c.remote_timeout_ms, 60000);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_TIMEOUT, "0",
					 "test", err), -EINVAL);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_WAIT, "fast",
					 "test", err), -EINVAL);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_MODE, "read-only",
					 "test", err), 0);
	assert_int_equal(c.remote_mode, ACFS_REMOTE_READ_ONLY);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_MODE, "sometimes",
					 "test", err), -EINVAL);
	assert_int_equal(acfs_config_set(&c, ACFS_SET_REMOTE_UPLOADS, "0",
					 "test", err), -EINVAL);
	acfs_config_release(&c);
}

static void test_upload_queue(void **state)
{
	struct tmpstore t;
	struct acfs_commit c = { 0 };
	struct acfs_upload up[8];
	const uint64_t remotes[2] = { 0x1111, 0x2222 };
	char err[ACFS_ERR_MAX];
	uint64_t n, ids[3];
	size_t got;

	(void)state;
	assert_int_equal(tmpstore_create(&t), 0);
	for (int i = 0; i < 3; i++) {
		c.key.hash = 0xab00000000000000ULL + (uint64_t)i;
		c.key.kind = ACFS_KIND_BC;
		c.id = ids[i] = acfs_store_alloc_id(t.s);
		c.data = "BC\xc0\xde";
		c.size = 4;
		c.now_ns = 1000 + i;
		/* The third commit goes to one remote only. */
		c.upload_to = remotes;
		c.nupload = i == 2 ? 1 : 2;
		assert_int_equal(acfs_store_commit(t.s, &c, NULL, NULL, NULL,
						   err), 0);
	}
	assert_int_equal(acfs_store_upload_count(t.s, 0x1111, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(acfs_store_upload_count(t.s, 0x2222, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(acfs_store_upload_count(t.s, 0, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(acfs_store_uploads(t.s, 0x1111, 0, up, 8, &got), 0);
	assert_int_equal(got, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(up[i].id, ids[i]); /* oldest first */
		assert_int_equal(up[i].key.hash, 0xab00000000000000ULL + (uint64_t)i);
	}
	assert_int_equal(acfs_store_uploads(t.s, 0x1111, ids[0], up, 8, &got), 0);
	assert_int_equal(got, 2);
	assert_int_equal(acfs_store_upload_done(t.s, 0x1111, ids[1], err), 0);
	assert_int_equal(acfs_store_uploads(t.s, 0x1111, 0, up, 8, &got), 0);
	assert_int_equal(got, 2);
	assert_int_equal(up[1].id, ids[2]);
	/* The queue is in the store: it is there after a reopen. */
	acfs_store_close(t.s);
	assert_int_equal(tmpstore_open(&t), 0);
	assert_int_equal(acfs_store_upload_count(t.s, 0x2222, &n), 0);
	assert_int_equal(n, 2);
	assert_invariants(t.s);
	assert_int_equal(tmpstore_destroy(&t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_action_result),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_upload_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
