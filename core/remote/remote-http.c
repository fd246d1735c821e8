/* SPDX-License-Identifier: MIT */
/*
 * HTTP transport over libcurl: GET, HEAD and PUT of BASE/<path> (the Bazel
 * HTTP cache protocol: bazel-remote, nginx with WebDAV PUT, S3-compatible
 * stores). Credentials: USER:PASSWORD in the URL (HTTP basic), ~/.netrc;
 * with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set, requests are
 * signed with AWS Signature V4 by libcurl (region AWS_REGION, else
 * AWS_DEFAULT_REGION, else us-east-1; AWS_SESSION_TOKEN is sent too).
 * S3 refuses a SigV4 request without x-amz-content-sha256 (HTTP 400), and
 * libcurl 7.88 neither sends it nor hashes a body it reads through a
 * callback: every signed request carries the SHA-256 of its body (of
 * nothing for GET and HEAD), which libcurl then signs as the payload hash.
 * One easy handle per connection, reset between requests so its
 * keep-alive connection is reused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "acfs/digest.h"
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

/* The region of an AWS S3 host name (s3.REGION.amazonaws.com, or
 * BUCKET.s3.REGION.amazonaws.com for virtual-host addressing), or NULL. */
static char *host_region(const char *base)
{
	const char *h = strstr(base, "://"), *s3, *end;

	if (!h)
		return NULL;
	h += 3;
	end = h + strcspn(h, "/:");
	if ((size_t)(end - h) < sizeof(".amazonaws.com") ||
	    strncmp(end - 14, ".amazonaws.com", 14) != 0)
		return NULL;
	for (s3 = h; (s3 = strstr(s3, "s3.")) && s3 < end; s3 += 3)
		if ((s3 == h || s3[-1] == '.') && s3 + 3 < end - 14)
			return strndup(s3 + 3, (size_t)(end - 14 - s3 - 3));
	return NULL;
}

static bool aws_host(const char *base)
{
	const char *h = strstr(base, "://");
	size_t n;

	if (!h)
		return false;
	h += 3;
	n = strcspn(h, "/:");
	return n >= 14 && strncmp(h + n - 14, ".amazonaws.com", 14) == 0;
}

static struct http_conn *conn_of(struct acfs_remote_conn *c)
{
	struct http_conn *h = c->http;
	const char *id = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	struct aws_creds ac = { 0 };
	char why[256];

	if (h)
		return h;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->h = curl_easy_init())) {
		free(h);
		return NULL;
	}
	/* Keys in the environment sign every HTTP remote (as before); the
	 * shared files and credential_process only when asked for with
	 * AWS_PROFILE or for an AWS host: a developer's ~/.aws must not
	 * turn the basic auth of a bazel-remote into signatures. */
	bool env_keys = id && *id && secret && *secret;
	const char *profile = getenv("AWS_PROFILE");
	if ((env_keys || (profile && *profile) || aws_host(c->u->base)) &&
	    aws_creds_find(&ac, why, sizeof(why)) < 0)
		snprintf(c->aws_error, sizeof(c->aws_error), "%s", why);
	if (ac.id && ac.secret) {
		char *hr = getenv("AWS_REGION") || getenv("AWS_DEFAULT_REGION")
			   ? NULL : host_region(c->u->base);
		if (asprintf(&h->sigv4, "aws:amz:%s:s3",
			     hr ? hr : ac.region) < 0)
			h->sigv4 = NULL;
		free(hr);
		if (asprintf(&h->userpwd, "%s:%s", ac.id, ac.secret) < 0)
			h->userpwd = NULL;
		if (ac.token && *ac.token) {
			char *t;
			if (asprintf(&t, "x-amz-security-token: %s", ac.token) >= 0) {
				h->headers = curl_slist_append(h->headers, t);
				explicit_bzero(t, strlen(t));
				free(t);
			}
		}
	}
	aws_creds_free(&ac);
	/* No "Expect: 100-continue" round trip before large PUTs. Signed
	 * requests keep the header (libcurl 7.88 would sign "expect" while
	 * sending none, which S3 refuses) and send the body at once. */
	if (!h->sigv4)
		h->headers = curl_slist_append(h->headers, "Expect:");
	c->http = h;
	return h;
}

struct body {
	CURL *h;
	char *p;
	size_t len, cap, max;
	bool over;
	const char *src;   /* PUT: what is sent */
	size_t src_len, sent;
};

static size_t on_write(char *ptr, size_t size, size_t n, void *u)
{
	struct body *b = u;
	size_t add = size * n, max = b->max;
	long status = 0;

	/* An error's body (S3's XML reason) is not the object: its size is
	 * no sign of poison; the first 4 KiB are kept for the reason. */
	curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		if (b->len + add > 4096)
			return add;
		max = 4096;
	}
	if (b->len + add > max) {
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

/* "x-amz-content-sha256: <hex of SHA-256(@data)>" into @out. */
static void content_sha256(const void *data, size_t len, char out[96])
{
	unsigned char d[ACFS_DIGEST_SIZE];
	int n;

	acfs_digest(data, len, d);
	n = snprintf(out, 96, "x-amz-content-sha256: ");
	for (size_t i = 0; i < sizeof(d); i++)
		n += snprintf(out + n, 96 - (size_t)n, "%02x", d[i]);
}

/* S3's reason for a refusal: the <Code> of its XML error body. */
static void s3_code(const struct body *b, char *out, size_t len)
{
	const char *p, *e;

	out[0] = '\0';
	if (!b->p || b->len == 0)
		return;
	p = memmem(b->p, b->len, "<Code>", 6);
	if (!p)
		return;
	p += 6;
	e = memmem(p, b->len - (size_t)(p - b->p), "</Code>", 7);
	if (e && e - p < 64)
		snprintf(out, len, " %.*s", (int)(e - p), p);
}

static int perform(struct acfs_remote_conn *c, enum method m, const char *path,
		   struct body *b, char *err)
{
	static const char *const names[] = { "GET", "HEAD", "PUT" };
	struct http_conn *h = conn_of(c);
	struct curl_slist *headers = NULL;
	char *url, sha_header[96], code[80];
	long status = 0;
	CURLcode cr;

	if (!h) {
		snprintf(err, ACFS_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	if (asprintf(&url, "%s/%s", c->u->base, path) < 0)
		return -ENOMEM;
	curl_easy_reset(h->h);
	b->h = h->h;
	curl_easy_setopt(h->h, CURLOPT_URL, url);
	curl_easy_setopt(h->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h->h, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (c->u->ca_file)
		curl_easy_setopt(h->h, CURLOPT_CAINFO, c->u->ca_file);
	if (h->sigv4 && h->userpwd) {
		/* The shared headers, then this body's hash. */
		bool oom = false;
		for (struct curl_slist *l = h->headers; l && !oom; l = l->next) {
			struct curl_slist *n = curl_slist_append(headers, l->data);
			oom = !n;
			headers = n ? n : headers;
		}
		content_sha256(m == PUT ? b->src : "", m == PUT ? b->src_len : 0,
			       sha_header);
		struct curl_slist *all = oom ? NULL : curl_slist_append(headers, sha_header);
		if (!all) {
			curl_slist_free_all(headers);
			free(url);
			snprintf(err, ACFS_ERR_MAX, "out of memory");
			return -ENOMEM;
		}
		headers = all;
	}
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, headers ? headers : h->headers);
	curl_easy_setopt(h->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h->h, CURLOPT_XFERINFODATA, (void *)c->stop);
	if (h->sigv4 && h->userpwd) {
		curl_easy_setopt(h->h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
		curl_easy_setopt(h->h, CURLOPT_AWS_SIGV4, h->sigv4);
		curl_easy_setopt(h->h, CURLOPT_USERPWD, h->userpwd);
	} else {
		/* Basic auth from the URL's user and password (the password
		 * may come from the environment, or ~/.netrc for the user). */
		if (c->u->user)
			curl_easy_setopt(h->h, CURLOPT_USERNAME, c->u->user);
		if (c->u->password)
			curl_easy_setopt(h->h, CURLOPT_PASSWORD, c->u->password);
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
	/* The handle keeps the list until the next reset: unset it first. */
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
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
	s3_code(b, code, sizeof(code));
	snprintf(err, ACFS_ERR_MAX, "%s %s: HTTP %ld%s", names[m], path, status,
		 code);
	if (status == 404)
		return -ENOENT;
	/* Timeouts, throttling and server errors pass. Refused credentials
	 * (401, 403: a wrong key, an expired token, a clock off by minutes)
	 * fail until someone fixes them: a failure that opens the breaker
	 * and keeps uploads queued, never a refusal that drops them. */
	if (status == 408 || status == 429 || status >= 500)
		return -EIO;
	if (status == 401 || status == 403) {
		size_t used = strlen(err);
		if (c->aws_error[0])
			snprintf(err + used, ACFS_ERR_MAX - used, " (unsigned: "
				 "%s)", c->aws_error);
		return -EACCES;
	}
	/* Other refusals (400, 413, ...) would not change on a retry. */
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
