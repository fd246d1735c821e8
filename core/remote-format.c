/* SPDX-License-Identifier: MIT */
/*
 * Remote tiers, the parts that touch no network: URLs, the Bazel cache
 * layout and the ActionResult protobuf (what a remote says is outside
 * input: tests/fuzz/fuzz-remote.c).
 */
#include "acfs/remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int bad_url(const char *text, const char *why, char *err)
{
	snprintf(err, ACFS_ERR_MAX, "remote %s: %s (use redis://HOST[:PORT]"
		 "[/DB] or http(s)://HOST[:PORT][/PREFIX])", text, why);
	return -EINVAL;
}

/* "[USER][:PASSWORD]@" at the start of @auth (up to @end): the password. */
static char *userinfo_password(const char *auth, const char *at)
{
	const char *colon = memchr(auth, ':', (size_t)(at - auth));

	return colon ? strndup(colon + 1, (size_t)(at - colon - 1)) : NULL;
}

static int parse_redis(const char *text, struct acfs_remote_url *u, char *err)
{
	const char *auth = text + strlen("redis://");
	const char *slash = strchr(auth, '/');
	const char *end = slash ? slash : auth + strlen(auth);
	const char *at = memchr(auth, '@', (size_t)(end - auth));
	const char *host = at ? at + 1 : auth;
	const char *colon = memchr(host, ':', (size_t)(end - host));
	char *e;

	u->kind = ACFS_REMOTE_REDIS;
	u->port = 6379;
	if (at)
		u->password = userinfo_password(auth, at);
	if (colon) {
		long p = strtol(colon + 1, &e, 10);
		if (e != end || p <= 0 || p > 65535)
			return bad_url(text, "bad port", err);
		u->port = (int)p;
	}
	u->host = strndup(host, (size_t)((colon ? colon : end) - host));
	if (!u->host || !*u->host)
		return bad_url(text, "no host", err);
	if (slash && slash[1]) {
		long db = strtol(slash + 1, &e, 10);
		if (*e || db < 0 || db > 1000000)
			return bad_url(text, "the path must be a database "
				       "number", err);
		u->db = (int)db;
	}
	if (asprintf(&u->display, "redis://%s:%d/%d", u->host, u->port,
		     u->db) < 0) {
		u->display = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int parse_http(const char *text, struct acfs_remote_url *u, char *err)
{
	const char *auth = strstr(text, "://") + 3;
	const char *slash = strchr(auth, '/');
	const char *end = slash ? slash : auth + strlen(auth);
	const char *at = memchr(auth, '@', (size_t)(end - auth));
	size_t n = strlen(text);

	u->kind = ACFS_REMOTE_HTTP;
	if ((at ? at + 1 : auth) == end)
		return bad_url(text, "no host", err);
	if (strpbrk(text, "?#"))
		return bad_url(text, "no query or fragment, please", err);
	while (n > 0 && text[n - 1] == '/')
		n--;
	u->base = strndup(text, n);
	if (!u->base)
		return -ENOMEM;
	if (at) {
		/* Show the user, never the password. */
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (asprintf(&u->display, "%.*s%.*s%s", (int)(auth - text),
			     text, (int)((colon ? colon : at) - auth), auth,
			     u->base + (at - text)) < 0)
			u->display = NULL;
	} else {
		u->display = strdup(u->base);
	}
	return u->display ? 0 : -ENOMEM;
}

int acfs_remote_url_parse(const char *text, struct acfs_remote_url *u,
			  char *err)
{
	int r;

	memset(u, 0, sizeof(*u));
	if (strncmp(text, "redis://", 8) == 0)
		r = parse_redis(text, u, err);
	else if (strncmp(text, "http://", 7) == 0 ||
		 strncmp(text, "https://", 8) == 0)
		r = parse_http(text, u, err);
	else
		r = bad_url(text, "unknown scheme", err);
	if (r == 0)
		u->id = fnv1a(u->display);
	else
		acfs_remote_url_release(u);
	if (r == -ENOMEM)
		snprintf(err, ACFS_ERR_MAX, "remote %s: out of memory", text);
	return r;
}

void acfs_remote_url_release(struct acfs_remote_url *u)
{
	free(u->display);
	free(u->host);
	free(u->password);
	free(u->base);
	memset(u, 0, sizeof(*u));
}

int acfs_remote_list_parse(const char *list, struct acfs_remote_url **ret,
			   size_t *ret_n, char *err)
{
	static const char seps[] = " \t,";
	struct acfs_remote_url *u = NULL;
	char *copy = strdup(list), *save = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, seps, &save); t && r == 0;
	     t = strtok_r(NULL, seps, &save)) {
		if (n == cap) {
			struct acfs_remote_url *nu;
			cap = cap ? 2 * cap : 4;
			nu = realloc(u, cap * sizeof(*u));
			if (!nu) {
				r = -ENOMEM;
				break;
			}
			u = nu;
		}
		r = acfs_remote_url_parse(t, &u[n], err);
		if (r == 0)
			n++;
	}
	free(copy);
	if (r < 0) {
		acfs_remote_list_free(u, n);
		return r;
	}
	*ret = u;
	*ret_n = n;
	return 0;
}

void acfs_remote_list_free(struct acfs_remote_url *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acfs_remote_url_release(&u[i]);
	free(u);
}

/* ---- layout -------------------------------------------------------------- */

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* "c49a2b7f8e123456.bc": the output's path inside its action result. */
static int output_name(const struct acfs_key *key, char *buf)
{
	return sprintf(buf, "%016llx.%s", (unsigned long long)key->hash,
		       key->kind == ACFS_KIND_META ? "meta" : "bc");
}

void acfs_remote_ac_path(const struct acfs_key *key, char *path)
{
	static const char ns[] = "aria-cachefs/1";
	char buf[sizeof(ns) + 32];
	unsigned char d[ACFS_DIGEST_SIZE];
	size_t n;

	memcpy(buf, ns, sizeof(ns)); /* with its NUL: a separator */
	n = sizeof(ns) + (size_t)output_name(key, buf + sizeof(ns));
	acfs_digest(buf, n, d);
	memcpy(path, "ac/", 3);
	hex(d, sizeof(d), path + 3);
}

void acfs_remote_cas_path(const unsigned char digest[ACFS_DIGEST_SIZE],
			  char *path)
{
	memcpy(path, "cas/", 4);
	hex(digest, ACFS_DIGEST_SIZE, path + 4);
}

/* ---- the ActionResult protobuf (remote_execution.proto) ---------------- */

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

size_t acfs_remote_ac_encode(const struct acfs_key *key,
			     const unsigned char digest[ACFS_DIGEST_SIZE],
			     uint64_t size, unsigned char *buf)
{
	unsigned char dg[96], of[128];
	char name[ACFS_KEY_PATH_MAX], h[2 * ACFS_DIGEST_SIZE + 1];
	size_t nd = 0, no = 0, nn = (size_t)output_name(key, name), n = 0;

	hex(digest, ACFS_DIGEST_SIZE, h);
	/* Digest { string hash = 1; int64 size_bytes = 2; } */
	dg[nd++] = 0x0a;
	dg[nd++] = 2 * ACFS_DIGEST_SIZE;
	memcpy(dg + nd, h, 2 * ACFS_DIGEST_SIZE);
	nd += 2 * ACFS_DIGEST_SIZE;
	dg[nd++] = 0x10;
	nd += put_varint(dg + nd, size);
	/* OutputFile { string path = 1; Digest digest = 2; } */
	of[no++] = 0x0a;
	of[no++] = (unsigned char)nn;
	memcpy(of + no, name, nn);
	no += nn;
	of[no++] = 0x12;
	of[no++] = (unsigned char)nd;
	memcpy(of + no, dg, nd);
	no += nd;
	/* ActionResult { repeated OutputFile output_files = 2; } */
	buf[n++] = 0x12;
	buf[n++] = (unsigned char)no;
	memcpy(buf + n, of, no);
	return n + no;
}

struct pb {
	const unsigned char *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return -1;
		unsigned char c = *b->p++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/*
 * Next field: its number and wire type; for length-delimited fields
 * *sub is its contents, for varints *v its value. -1 if malformed.
 */
static int pb_field(struct pb *b, unsigned *num, struct pb *sub, uint64_t *v)
{
	uint64_t tag, len;

	if (pb_varint(b, &tag) < 0 || (tag >> 3) == 0)
		return -1;
	*num = (unsigned)(tag >> 3);
	switch (tag & 7) {
	case 0:
		return pb_varint(b, v);
	case 1:
	case 5: {
		size_t n = (tag & 7) == 1 ? 8 : 4;
		if ((size_t)(b->end - b->p) < n)
			return -1;
		b->p += n;
		*num = 0; /* nothing of ours is fixed-width */
		return 0;
	}
	case 2:
		if (pb_varint(b, &len) < 0 || len > (uint64_t)(b->end - b->p))
			return -1;
		sub->p = b->p;
		sub->end = b->p + len;
		b->p += len;
		return 0;
	default:
		return -1;
	}
}

static int unhex(const unsigned char *s, size_t n, unsigned char *out)
{
	if (n != 2 * ACFS_DIGEST_SIZE)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i], v;
		if (c >= '0' && c <= '9')
			v = (unsigned char)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned char)(c - 'a' + 10);
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= v;
	}
	return 0;
}

/* An OutputFile: 1 if it is @name (digest and size filled), 0 if another,
 * -1 if malformed. */
static int decode_output(struct pb of, const char *name, unsigned char *digest,
			 uint64_t *size)
{
	bool match = false, have_digest = false;
	unsigned num;
	struct pb sub;
	uint64_t v;

	while (of.p < of.end) {
		sub.p = sub.end = NULL;
		if (pb_field(&of, &num, &sub, &v) < 0)
			return -1;
		if (num == 1 && sub.p) {
			match = (size_t)(sub.end - sub.p) == strlen(name) &&
				memcmp(sub.p, name, strlen(name)) == 0;
		} else if (num == 2 && sub.p) {
			struct pb dg = sub;
			bool have_hash = false;
			*size = 0;
			while (dg.p < dg.end) {
				struct pb h = { NULL, NULL };
				if (pb_field(&dg, &num, &h, &v) < 0)
					return -1;
				if (num == 1 && h.p) {
					if (unhex(h.p, (size_t)(h.end - h.p),
						  digest) < 0)
						return -1;
					have_hash = true;
				} else if (num == 2 && !h.p) {
					*size = v;
				}
			}
			have_digest = have_hash;
		}
	}
	if (!match)
		return 0;
	return have_digest ? 1 : -1;
}

int acfs_remote_ac_decode(const void *buf, size_t len,
			  const struct acfs_key *key,
			  unsigned char digest[ACFS_DIGEST_SIZE],
			  uint64_t *ret_size, char *err)
{
	struct pb b = { buf, (const unsigned char *)buf + len }, sub;
	char name[ACFS_KEY_PATH_MAX];
	unsigned num;
	uint64_t v;

	output_name(key, name);
	while (b.p < b.end) {
		sub.p = sub.end = NULL;
		if (pb_field(&b, &num, &sub, &v) < 0)
			break;
		if (num != 2 || !sub.p)
			continue;
		int r = decode_output(sub, name, digest, ret_size);
		if (r < 0)
			break;
		if (r == 1)
			return 0;
	}
	snprintf(err, ACFS_ERR_MAX, "its action result (%zu bytes) %s", len,
		 b.p < b.end ? "is not a valid ActionResult"
			     : "names no output for this key");
	return -EBADMSG;
}

