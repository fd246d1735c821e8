/* SPDX-License-Identifier: MIT */
/*
 * Remote tiers, the parts that touch no network: URLs, the Bazel cache
 * layout and the ActionResult protobuf (what a remote says is outside
 * input: tests/fuzz/fuzz-remote.c).
 */
#include "acfs/remote.h"
#include "acfs/size.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

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

void acfs_remote_redact(const char *text, char *out, size_t len)
{
	size_t w = 0;

	/* Every "SCHEME://USER:PASSWORD@" becomes "SCHEME://USER:***@". */
	while (*text && w + 1 < len) {
		const char *sep = strstr(text, "://");
		if (!sep) {
			w += (size_t)snprintf(out + w, len - w, "%s", text);
			break;
		}
		const char *auth = sep + 3;
		size_t span = strcspn(auth, "/?# \t,");
		const char *at = memchr(auth, '@', span);
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth))
				       : NULL;
		if (colon) {
			w += (size_t)snprintf(out + w, len - w, "%.*s:***",
					      (int)(colon - text), text);
			text = at;
		} else {
			w += (size_t)snprintf(out + w, len - w, "%.*s",
					      (int)(auth + span - text), text);
			text = auth + span;
		}
		if (w >= len)
			w = len - 1;
	}
	out[w < len ? w : len - 1] = '\0';
}

static int bad_url(const char *text, const char *why, char *err)
{
	char shown[256];

	acfs_remote_redact(text, shown, sizeof(shown));
	snprintf(err, ACFS_ERR_MAX, "remote %.200s: %s (use redis://[USER:PASSWORD@]"
		 "HOST[:PORT][/DB] or http(s)://[USER:PASSWORD@]HOST[:PORT]"
		 "[/PREFIX])", shown, why);
	return -EINVAL;
}

/* A part of @h, percent-decoded, or NULL when absent. */
static char *part(CURLU *h, CURLUPart what, bool decode)
{
	char *v = NULL, *copy;

	if (curl_url_get(h, what, &v, decode ? CURLU_URLDECODE : 0) != CURLUE_OK)
		return NULL;
	copy = strdup(v);
	curl_free(v);
	return copy;
}

/*
 * The path as AWS clients send it: each segment of the decoded path
 * URI-encoded as Signature V4 requires (every byte but A-Z a-z 0-9 - . _ ~
 * as %XX, upper case; '/' kept between segments). S3 computes the
 * canonical request from that form: a raw '=' or '+' would be signed as
 * one thing and checked as another. Any HTTP server reads it the same.
 */
static char *sigv4_path(const char *decoded, size_t n)
{
	char *out = malloc(n * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)decoded[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~' || c == '/')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

/*
 * URLs are parsed by libcurl's URL API: IPv6 literals ("[::1]"),
 * percent-encoded user names and passwords ("p%40ss" is "p@ss"), ports
 * and paths as libcurl reads them for its own requests.
 */
static int parse(const char *text, CURLU *h, struct acfs_remote_url *u,
		 char *err)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *query = NULL, *frag = NULL;
	int r = 0;

	const char *sep = strstr(text, "://");

	/* libcurl reads "http:///p" as host "p": an empty authority is no
	 * host here. */
	if (sep && (sep[3] == '/' || sep[3] == '\0'))
		return bad_url(text, "no host", err);
	if (curl_url_set(h, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK)
		return bad_url(text, strncmp(text, "redis://", 8) &&
				     strncmp(text, "http://", 7) &&
				     strncmp(text, "https://", 8)
				     ? "unknown scheme" : "not a URL (no host?)",
			       err);
	scheme = part(h, CURLUPART_SCHEME, false);
	host = part(h, CURLUPART_HOST, false);
	port = part(h, CURLUPART_PORT, false);
	path = part(h, CURLUPART_PATH, true);
	query = part(h, CURLUPART_QUERY, false);
	frag = part(h, CURLUPART_FRAGMENT, false);
	u->user = part(h, CURLUPART_USER, true);
	u->password = part(h, CURLUPART_PASSWORD, true);
	if (u->user && !*u->user) {
		free(u->user);
		u->user = NULL;
	}
	if (!scheme || !host || !*host) {
		r = bad_url(text, "no host", err);
		goto out;
	}
	/* Redis takes ?ttl=DURATION; nothing else takes a query. */
	if (frag || (query && (strcmp(scheme, "redis") ||
			       strncmp(query, "ttl=", 4)))) {
		r = bad_url(text, strcmp(scheme, "redis") == 0 && !frag
			    ? "the only query is ?ttl=DURATION (e.g. 30d)"
			    : "no query or fragment, please", err);
		goto out;
	}
	if (!strcmp(scheme, "redis")) {
		char *e;
		size_t hl = strlen(host);
		u->kind = ACFS_REMOTE_REDIS;
		u->port = 6379;
		if (port) {
			long p = strtol(port, &e, 10);
			if (*e || p <= 0 || p > 65535) {
				r = bad_url(text, "bad port", err);
				goto out;
			}
			u->port = (int)p;
		}
		/* hiredis takes an IPv6 address without its brackets. */
		u->host = host[0] == '[' && hl > 2 ? strndup(host + 1, hl - 2)
						   : strdup(host);
		if (path && path[0] == '/' && path[1]) {
			long db = strtol(path + 1, &e, 10);
			if ((*e && *e != '/') || e == path + 1 || db < 0 ||
			    db > 1000000) {
				r = bad_url(text, "the path must be a database "
					    "number, then a key prefix if any "
					    "(/DB/PREFIX)", err);
				goto out;
			}
			u->db = (int)db;
			size_t pl = *e ? strlen(e + 1) : 0;
			while (pl > 0 && e[pl] == '/')
				pl--; /* trailing slashes */
			if (pl > 200 || strspn(e + (pl ? 1 : 0), "abcdefghijklm"
				"nopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				"._-/:") < pl) {
				r = bad_url(text, "a key prefix is up to 200 of "
					    "A-Z a-z 0-9 . _ - / :", err);
				goto out;
			}
			if (pl && asprintf(&u->prefix, "%.*s/", (int)pl,
					   e + 1) < 0) {
				u->prefix = NULL;
				r = -ENOMEM;
				goto out;
			}
		}
		if (query) {
			int64_t ns;
			if (acfs_duration_parse(query + 4, &ns) < 0 ||
			    ns < 1000000000LL) {
				r = bad_url(text, "ttl needs a duration of a "
					    "second or more (90s, 10m, 2h, 30d)",
					    err);
				goto out;
			}
			u->ttl_s = ns / 1000000000LL;
		}
		char ttl[40] = "";
		if (u->ttl_s)
			snprintf(ttl, sizeof(ttl), "?ttl=%llds",
				 (long long)u->ttl_s);
		if (!u->host || asprintf(&u->display, "redis://%s%s%s:%d/%d%s%.*s%s",
					 u->user ? u->user : "",
					 u->user ? "@" : "", host, u->port,
					 u->db, u->prefix ? "/" : "",
					 u->prefix ? (int)strlen(u->prefix) - 1 : 0,
					 u->prefix ? u->prefix : "", ttl) < 0) {
			u->display = NULL;
			r = -ENOMEM;
		}
	} else if (!strcmp(scheme, "http") || !strcmp(scheme, "https")) {
		size_t n = path ? strlen(path) : 0;
		u->kind = ACFS_REMOTE_HTTP;
		while (n > 0 && path[n - 1] == '/')
			n--;
		/* Requests go to the URL without its credentials; they are
		 * passed to libcurl apart (the password never in a URL). */
		char *dec_path = part(h, CURLUPART_PATH, true);
		char *enc_path = dec_path ? sigv4_path(dec_path, strlen(dec_path))
					  : NULL;
		free(dec_path);
		size_t en = enc_path ? strlen(enc_path) : 0;
		while (en > 0 && enc_path[en - 1] == '/')
			en--;
		if (asprintf(&u->base, "%s://%s%s%s%.*s", scheme, host,
			     port ? ":" : "", port ? port : "", (int)en,
			     enc_path ? enc_path : "") < 0)
			u->base = NULL;
		if (u->base && asprintf(&u->display, "%s://%s%s%s%s%s%.*s",
					scheme, u->user ? u->user : "",
					u->user ? "@" : "", host,
					port ? ":" : "", port ? port : "",
					(int)en, enc_path ? enc_path : "") < 0)
			u->display = NULL;
		free(enc_path);
		if (!u->base || !u->display)
			r = -ENOMEM;
	} else {
		r = bad_url(text, "unknown scheme", err);
	}
out:
	free(scheme);
	free(host);
	free(port);
	free(path);
	curl_free(query);
	curl_free(frag);
	return r;
}

/* The password of a remote given without one: ARIA_CACHE_REMOTE_PASSWORD_FILE
 * (its first line), else ARIA_CACHE_REMOTE_PASSWORD. Keeps secrets off
 * command lines (ps) and out of world-readable configs. Only for Redis
 * URLs and HTTP URLs that name a user: an HTTP remote without one (a
 * public cache, S3 through a URL) never receives the Redis password. */
static int password_from_env(struct acfs_remote_url *u, char *err)
{
	const char *file = getenv("ARIA_CACHE_REMOTE_PASSWORD_FILE");
	const char *value = getenv("ARIA_CACHE_REMOTE_PASSWORD");

	if (u->password || (u->kind == ACFS_REMOTE_HTTP && !u->user))
		return 0;
	if (file && *file) {
		char line[4096];
		FILE *f = fopen(file, "re");
		if (!f) {
			snprintf(err, ACFS_ERR_MAX, "ARIA_CACHE_REMOTE_PASSWORD_FILE "
				 "%s: %s", file, strerror(errno));
			return -EINVAL;
		}
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		u->password = strdup(line);
		explicit_bzero(line, sizeof(line));
		return u->password ? 0 : -ENOMEM;
	}
	if (value && *value)
		u->password = strdup(value);
	return 0;
}

int acfs_remote_url_parse(const char *text, struct acfs_remote_url *u,
			  char *err)
{
	CURLU *h = curl_url();
	int r;

	memset(u, 0, sizeof(*u));
	r = h ? parse(text, h, u, err) : -ENOMEM;
	if (h)
		curl_url_cleanup(h);
	if (r == 0)
		r = password_from_env(u, err);
	if (r == 0)
		u->id = fnv1a(u->display);
	else
		acfs_remote_url_release(u);
	if (r == -ENOMEM)
		snprintf(err, ACFS_ERR_MAX, "remote: out of memory");
	return r;
}

void acfs_remote_url_release(struct acfs_remote_url *u)
{
	free(u->display);
	free(u->host);
	free(u->user);
	free(u->ca_file);
	if (u->password)
		explicit_bzero(u->password, strlen(u->password));
	free(u->password);
	free(u->base);
	free(u->prefix);
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

