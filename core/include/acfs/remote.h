/* SPDX-License-Identifier: MIT */
/*
 * Remote tiers: entries shared across machines through an existing store,
 * Redis (or Valkey) over hiredis, or an HTTP cache over libcurl.
 *
 * Layout, the same on both (the Bazel HTTP remote cache's, so bazel-remote,
 * nginx WebDAV and S3-compatible stores serve it unchanged):
 *   ac/<sha256("aria-cachefs/1\0" + "<key16>.bc|.meta")>
 *       an ActionResult protobuf with one OutputFile: path "<key16>.bc",
 *       digest { hash: sha256 of the entry's bytes, size_bytes }
 *   cas/<sha256 of the bytes>
 *       the entry's bytes
 * Over HTTP these are BASE/ac/... and BASE/cas/...; in Redis they are the
 * keys "aria-cachefs/ac/..." and "aria-cachefs/cas/...".
 * A fetched object is accepted only if the action result names the key
 * asked for and the bytes hash to the digest it names and which addresses
 * them (-EBADMSG otherwise); bitcode validation is the caller's.
 *
 * A connection (struct acfs_remote_conn) belongs to one thread. Errors:
 * -ENOENT (absent), -ETIMEDOUT (the remote did not answer in time),
 * -EFBIG (larger than allowed), -EBADMSG (a malformed or lying object),
 * -EPERM (the remote refused the request for good, e.g. HTTP 403/413),
 * -EIO (anything else: connection refused, server error); the reason is in
 * the caller's error buffer (ACFS_ERR_MAX bytes). Nothing here logs.
 */
#ifndef ACFS_REMOTE_H
#define ACFS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acfs/digest.h"
#include "acfs/key.h"

enum acfs_remote_kind { ACFS_REMOTE_REDIS, ACFS_REMOTE_HTTP };

struct acfs_remote_url {
	enum acfs_remote_kind kind;
	char *display;     /* the URL without its password: for logs, stats */
	uint64_t id;       /* hash of display: names its upload queue */
	/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]; HOST may be an IPv6
	 * literal in brackets (kept here without them) */
	char *host;
	int port;
	int db;
	/* redis://HOST/DB/PREFIX: keys are PREFIX/<path> (kept with its
	 * slash; NULL: "aria-cachefs/"); ?ttl=DURATION: entries stored with
	 * that expiry (SET EX; 0: none), for a shared Redis to let go. */
	char *prefix;
	int64_t ttl_s;
	/* Both kinds: percent-decoded; NULL when absent. A password given
	 * nowhere in the URL comes from ARIA_CACHE_REMOTE_PASSWORD_FILE or
	 * ARIA_CACHE_REMOTE_PASSWORD (Redis, and HTTP URLs naming a user). */
	char *user;
	char *password;
	/* http(s)://[USER:PASSWORD@]HOST[:PORT][/PREFIX] without its
	 * credentials and trailing slash: where requests go */
	char *base;
	/* Set by the caller, not the URL: HTTPS trusts the CA certificates
	 * in this PEM file instead of the system's (NULL: the system's). */
	char *ca_file;
};

/* Call once, before any thread uses a connection. */
void acfs_remote_global_init(void);

/* Parses @text. Returns 0 or -EINVAL with the reason in @err. */
int acfs_remote_url_parse(const char *text, struct acfs_remote_url *ret,
			  char *err);
struct acfs_remote_conn;
/* What went wrong setting up @c that its requests cannot tell (a failed
 * credential_process: they go unsigned), or "". No secret in it. */
const char *acfs_remote_conn_warning(const struct acfs_remote_conn *c);
void acfs_remote_url_release(struct acfs_remote_url *u);
/* @text (a URL or a list of them) with every password shown as "***":
 * for messages and `aria-cache config`. */
void acfs_remote_redact(const char *text, char *out, size_t len);

/*
 * Parses the remote setting: URLs separated by spaces, tabs or commas.
 * Returns 0 with *ret (malloc'd; NULL when empty) and *ret_n, or -EINVAL
 * naming the bad URL in @err, or -ENOMEM. acfs_remote_list_free frees.
 */
int acfs_remote_list_parse(const char *list, struct acfs_remote_url **ret,
			   size_t *ret_n, char *err);
void acfs_remote_list_free(struct acfs_remote_url *u, size_t n);

struct acfs_remote_conn;

/* One cheap request (is an action result of no key there?): 0 when the
 * remote answers as it should, else -errno with the reason in @err (a
 * refused password or signature, an unreachable host). Also opens the
 * connection, so a first lookup does not pay for it. */
int acfs_remote_probe(struct acfs_remote_conn *c, char *err);

/*
 * A connection to @u (made lazily, and again after a failure); every
 * network step of a request gives up after @timeout_ms. @stop, if not
 * NULL, aborts transfers in progress when it becomes true. NULL when out
 * of memory.
 */
struct acfs_remote_conn *acfs_remote_conn_new(const struct acfs_remote_url *u,
					      unsigned timeout_ms,
					      const volatile bool *stop);
void acfs_remote_conn_free(struct acfs_remote_conn *c);

/* Raw objects at @path ("ac/<hex>" or "cas/<hex>"). */
int acfs_remote_get(struct acfs_remote_conn *c, const char *path, size_t max,
		    void **ret_data, size_t *ret_len, char *err);
int acfs_remote_has(struct acfs_remote_conn *c, const char *path, char *err);
int acfs_remote_put(struct acfs_remote_conn *c, const char *path,
		    const void *data, size_t len, char *err);

#define ACFS_REMOTE_PATH_MAX 80

/* "ac/<hex>" of @key and "cas/<hex>" of @digest. */
void acfs_remote_ac_path(const struct acfs_key *key, char *path);
void acfs_remote_cas_path(const unsigned char digest[ACFS_DIGEST_SIZE],
			  char *path);

/* The action result of @key: writes at most ACFS_REMOTE_AC_MAX bytes into
 * @buf and returns how many. */
#define ACFS_REMOTE_AC_MAX 128
size_t acfs_remote_ac_encode(const struct acfs_key *key,
			     const unsigned char digest[ACFS_DIGEST_SIZE],
			     uint64_t size, unsigned char *buf);
/* Finds @key's output in an action result. 0, or -EBADMSG with why. */
int acfs_remote_ac_decode(const void *buf, size_t len,
			  const struct acfs_key *key,
			  unsigned char digest[ACFS_DIGEST_SIZE],
			  uint64_t *ret_size, char *err);

/*
 * Fetches entry @key: its action result, then its bytes, checked against
 * the digest and size named. Adds what crossed the network to
 * *bytes_down. Before the bytes are fetched, @admit (if not NULL) is
 * called with their size and may block until that much memory may be
 * used; *ret_admitted is then that size (else 0), for the caller to give
 * back whatever the result. Returns 0 (*ret_data malloc'd), -ENOENT,
 * -EBADMSG, -EFBIG (over @max), or a transport error.
 */
int acfs_remote_fetch(struct acfs_remote_conn *c, const struct acfs_key *key,
		      size_t max, void (*admit)(uint64_t size, void *userdata),
		      void *userdata, uint64_t *ret_admitted, void **ret_data,
		      size_t *ret_len, uint64_t *bytes_down, char *err);

/*
 * Uploads entry @key: its bytes (unless the remote has them already),
 * then its action result, so a reader never finds a result whose bytes
 * are missing. Adds what was sent to *bytes_up.
 */
int acfs_remote_upload(struct acfs_remote_conn *c, const struct acfs_key *key,
		       const void *data, size_t len,
		       const unsigned char digest[ACFS_DIGEST_SIZE],
		       uint64_t *bytes_up, char *err);

#endif
