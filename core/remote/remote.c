/* SPDX-License-Identifier: MIT */
/* Remote tiers: connections, fetch and upload (transports in
 * remote-redis.c and remote-http.c, formats in remote-format.c). */
#include "acfs/remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */
#include "remote-private.h"

void acfs_remote_global_init(void)
{
	http_global_init();
}

struct acfs_remote_conn *acfs_remote_conn_new(const struct acfs_remote_url *u,
					      unsigned timeout_ms,
					      const volatile bool *stop)
{
	struct acfs_remote_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->u = u;
	c->timeout_ms = timeout_ms ? timeout_ms : 1;
	c->stop = stop;
	return c;
}

void acfs_remote_conn_free(struct acfs_remote_conn *c)
{
	if (!c)
		return;
	redis_conn_free(c->redis);
	http_conn_free(c->http);
	free(c);
}

int acfs_remote_get(struct acfs_remote_conn *c, const char *path, size_t max,
		    void **ret_data, size_t *ret_len, char *err)
{
	*ret_data = NULL;
	*ret_len = 0;
	return c->u->kind == ACFS_REMOTE_REDIS
		       ? redis_get(c, path, max, ret_data, ret_len, err)
		       : http_get(c, path, max, ret_data, ret_len, err);
}

int acfs_remote_has(struct acfs_remote_conn *c, const char *path, char *err)
{
	return c->u->kind == ACFS_REMOTE_REDIS ? redis_has(c, path, err)
					       : http_has(c, path, err);
}

int acfs_remote_put(struct acfs_remote_conn *c, const char *path,
		    const void *data, size_t len, char *err)
{
	return c->u->kind == ACFS_REMOTE_REDIS
		       ? redis_put(c, path, data, len, err)
		       : http_put(c, path, data, len, err);
}

const char *acfs_remote_conn_warning(const struct acfs_remote_conn *c)
{
	return c ? c->aws_error : "";
}

int acfs_remote_probe(struct acfs_remote_conn *c, char *err)
{
	static const char path[] = "ac/0000000000000000000000000000000000000000000000000000000000000000";
	int r;

	if (c->u->kind == ACFS_REMOTE_REDIS)
		return (r = redis_has(c, path, err)) == -ENOENT ? 0 : r;
	/* A GET, not a HEAD: an absent key and an absent bucket are both
	 * 404, told apart only by the S3 error in the body (NoSuchKey,
	 * NoSuchBucket). */
	void *data = NULL;
	size_t len = 0;
	r = http_get(c, path, 64 * 1024, &data, &len, err);
	free(data);
	if (r == -ENOENT && strstr(err, "NoSuchBucket")) {
		snprintf(err, ACFS_ERR_MAX, "the bucket of %s does not exist "
			 "(S3 NoSuchBucket): create it, or fix the URL",
			 c->u->display);
		return -ENXIO;
	}
	return r == -ENOENT ? 0 : r;
}

int acfs_remote_fetch(struct acfs_remote_conn *c, const struct acfs_key *key,
		      size_t max, void (*admit)(uint64_t size, void *userdata),
		      void *userdata, uint64_t *ret_admitted, void **ret_data,
		      size_t *ret_len, uint64_t *bytes_down, char *err)
{
	char path[ACFS_REMOTE_PATH_MAX], want[ACFS_DIGEST_TEXT_MAX],
		got[ACFS_DIGEST_TEXT_MAX];
	unsigned char digest[ACFS_DIGEST_SIZE], actual[ACFS_DIGEST_SIZE];
	void *ac, *data;
	size_t aclen, len;
	uint64_t size;
	int r;

	*ret_data = NULL;
	*ret_len = 0;
	*ret_admitted = 0;
	acfs_remote_ac_path(key, path);
	/* Redis: the result and its bytes in one round trip where it can. */
	void *pre = NULL;
	size_t prelen = 0;
	r = c->u->kind == ACFS_REMOTE_REDIS
		    ? redis_fetch_pair(c, path, 64 * 1024, max, &ac, &aclen,
				       &pre, &prelen, err)
		    : -ENOTSUP;
	if (r == -ENOTSUP)
		r = acfs_remote_get(c, path, 64 * 1024, &ac, &aclen, err);
	if (r < 0)
		return r;
	*bytes_down += aclen;
	r = acfs_remote_ac_decode(ac, aclen, key, digest, &size, err);
	free(ac);
	if (r < 0) {
		free(pre);
		return r;
	}
	if (size > max) {
		free(pre);
		snprintf(err, ACFS_ERR_MAX, "it names %llu bytes, over the "
			 "largest entry accepted (%zu)",
			 (unsigned long long)size, max);
		return -EFBIG;
	}
	if (admit) {
		admit(size, userdata);
		*ret_admitted = size;
	}
	acfs_remote_cas_path(digest, path);
	if (pre) {
		/* What the script fetched, checked as a GET's reply: an empty
		 * value is an absent key, more than @size bytes is too big. */
		data = pre;
		len = prelen;
		r = len == 0 ? -ENOENT : len > size ? -EFBIG : 0;
		if (r < 0)
			free(data);
	} else {
		r = acfs_remote_get(c, path, size, &data, &len, err);
	}
	if (r == -EFBIG) {
		snprintf(err, ACFS_ERR_MAX, "%s holds more than the %llu "
			 "bytes of the digest its action result names", path,
			 (unsigned long long)size);
		return -EBADMSG;
	}
	if (r == -ENOENT) {
		/* A result whose bytes were evicted: a miss, not poison. */
		snprintf(err, ACFS_ERR_MAX, "%s is gone", path);
		return -ENOENT;
	}
	if (r < 0)
		return r;
	*bytes_down += len;
	acfs_digest(data, len, actual);
	if (len != size || memcmp(actual, digest, sizeof(actual)) != 0) {
		acfs_digest_format(digest, want);
		acfs_digest_format(actual, got);
		snprintf(err, ACFS_ERR_MAX, "%s holds %zu bytes with digest "
			 "%s, not the %llu bytes of %s its action result "
			 "names", path, len, got, (unsigned long long)size,
			 want);
		free(data);
		return -EBADMSG;
	}
	*ret_data = data;
	*ret_len = len;
	return 0;
}

int acfs_remote_upload(struct acfs_remote_conn *c, const struct acfs_key *key,
		       const void *data, size_t len,
		       const unsigned char digest[ACFS_DIGEST_SIZE],
		       uint64_t *bytes_up, char *err)
{
	char path[ACFS_REMOTE_PATH_MAX];
	unsigned char ac[ACFS_REMOTE_AC_MAX];
	size_t aclen;
	int r;

	acfs_remote_cas_path(digest, path);
	r = acfs_remote_has(c, path, err);
	if (r == -ENOENT) {
		r = acfs_remote_put(c, path, data, len, err);
		if (r == 0)
			*bytes_up += len;
	}
	if (r < 0)
		return r;
	aclen = acfs_remote_ac_encode(key, digest, len, ac);
	acfs_remote_ac_path(key, path);
	r = acfs_remote_put(c, path, ac, aclen, err);
	if (r == 0)
		*bytes_up += aclen;
	return r;
}
