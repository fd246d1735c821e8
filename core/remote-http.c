/* SPDX-License-Identifier: MIT */
/*
 * HTTP transport over libcurl: GET, HEAD and PUT of BASE/<path> (the Bazel
 * HTTP cache protocol: bazel-remote, nginx with WebDAV PUT, S3-compatible
 * stores). Credentials: USER:PASSWORD in the URL (HTTP basic), ~/.netrc;
 * with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set, requests are
 * signed with AWS Signature V4 by libcurl (region AWS_REGION, else
 * AWS_DEFAULT_REGION, else us-east-1; AWS_SESSION_TOKEN is sent too).
 * One easy handle per connection, reset between requests so its
 * keep-alive connection is reused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */
#include "remote-private.h"

struct http_conn {
	CURL *h;
	struct curl_slist *headers;
	char *sigv4;       /* "aws:amz:REGION:s3", or NULL */
	char *userpwd;     /* "KEY:SECRET" for SigV4 */
};

void http_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_conn_free(struct http_conn *h)
{
	if (!h)
		return;
	if (h->h)
		curl_easy_cleanup(h->h);
	curl_slist_free_all(h->headers);
	free(h->sigv4);
	free(h->userpwd);
	free(h);
}

static struct http_conn *conn_of(struct acfs_remote_conn *c)
{
	struct http_conn *h = c->http;
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	const char *region = getenv("AWS_REGION");

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->h = curl_easy_init())) {
		free(h);
		return NULL;
	}
	/* No "Expect: 100-continue" round trip before large PUTs. */
	h->headers = curl_slist_append(NULL, "Expect:");
	if (id && *id && secret && *secret) {
		if (!region || !*region)
			region = getenv("AWS_DEFAULT_REGION");
		if (!region || !*region)
			region = "us-east-1";
		if (asprintf(&h->sigv4, "aws:amz:%s:s3", region) < 0)
			h->sigv4 = NULL;
		if (asprintf(&h->userpwd, "%s:%s", id, secret) < 0)
			h->userpwd = NULL;
		if (token && *token) {
			char *t;
			if (asprintf(&t, "x-amz-security-token: %s", token) >= 0) {
				h->headers = curl_slist_append(h->headers, t);
				free(t);
			}
		}
	}
	c->http = h;
	return h;
}

struct body {
	char *p;
	size_t len, cap, max;
	bool over;
	const char *src;   /* PUT: what is sent */
	size_t src_len, sent;
};

static size_t on_write(char *ptr, size_t size, size_t n, void *u)
{
	struct body *b = u;
	size_t add = size * n;

	if (b->len + add > b->max) {
		b->over = true;
		return 0;
	}
	if (b->len + add > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + add)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, ptr, add);
	b->len += add;
	return add;
}

static size_t on_read(char *ptr, size_t size, size_t n, void *u)
{
	struct body *b = u;
	size_t take = size * n;

	if (take > b->src_len - b->sent)
		take = b->src_len - b->sent;
	memcpy(ptr, b->src + b->sent, take);
	b->sent += take;
	return take;
}

static int on_progress(void *u, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	const volatile bool *stop = u;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return stop && *stop;
}

enum method { GET, HEAD, PUT };

static int perform(struct acfs_remote_conn *c, enum method m, const char *path,
		   struct body *b, char *err)
{
	static const char *const names[] = { "GET", "HEAD", "PUT" };
	struct http_conn *h = conn_of(c);
	char *url;
	long status = 0;
	CURLcode cr;

	if (!h) {
		snprintf(err, ACFS_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	if (asprintf(&url, "%s/%s", c->u->base, path) < 0)
		return -ENOMEM;
	curl_easy_reset(h->h);
	curl_easy_setopt(h->h, CURLOPT_URL, url);
	curl_easy_setopt(h->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->h, CURLOPT_XFERINFODATA, (void *)c->stop);
	if (h->sigv4 && h->userpwd) {
		curl_easy_setopt(h->h, CURLOPT_AWS_SIGV4, h->sigv4);
		curl_easy_setopt(h->h, CURLOPT_USERPWD, h->userpwd);
	}
	curl_easy_setopt(h->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h->h, CURLOPT_WRITEDATA, b);
	if (m == HEAD) {
		curl_easy_setopt(h->h, CURLOPT_NOBODY, 1L);
	} else if (m == PUT) {
		curl_easy_setopt(h->h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h->h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h->h, CURLOPT_READDATA, b);
		curl_easy_setopt(h->h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)b->src_len);
	}
	cr = curl_easy_perform(h->h);
	curl_easy_getinfo(h->h, CURLINFO_RESPONSE_CODE, &status);
	free(url);
	if (cr != CURLE_OK) {
		if (cr == CURLE_WRITE_ERROR && b->over) {
			snprintf(err, ACFS_ERR_MAX, "%s %s: more than %zu bytes",
				 names[m], path, b->max);
			return -EFBIG;
		}
		snprintf(err, ACFS_ERR_MAX, "%s %s: %s", names[m], path,
			 curl_easy_strerror(cr));
		if (cr == CURLE_OPERATION_TIMEDOUT)
			return -ETIMEDOUT;
		if (cr == CURLE_ABORTED_BY_CALLBACK)
			return -ECANCELED;
		return cr == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	if (status >= 200 && status < 300)
		return 0;
	snprintf(err, ACFS_ERR_MAX, "%s %s: HTTP %ld", names[m], path, status);
	if (status == 404)
		return -ENOENT;
	/* Timeouts, throttling and server errors pass; other refusals
	 * (401, 403, 413, ...) would not change on a retry. */
	if (status == 408 || status == 429 || status >= 500)
		return -EIO;
	return -EPERM;
}

int http_get(struct acfs_remote_conn *c, const char *path, size_t max,
	     void **ret, size_t *ret_len, char *err)
{
	struct body b = { .max = max };
	int r = perform(c, GET, path, &b, err);

	if (r < 0) {
		free(b.p);
		return r;
	}
	if (!b.p && !(b.p = malloc(1)))
		return -ENOMEM;
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

int http_has(struct acfs_remote_conn *c, const char *path, char *err)
{
	struct body b = { .max = 0 };

	return perform(c, HEAD, path, &b, err);
}

int http_put(struct acfs_remote_conn *c, const char *path, const void *data,
	     size_t len, char *err)
{
	struct body b = { .max = 64 * 1024, .src = data, .src_len = len };
	int r = perform(c, PUT, path, &b, err);

	free(b.p);
	return r;
}
