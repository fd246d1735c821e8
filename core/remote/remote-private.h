/* SPDX-License-Identifier: MIT */
/* The two transports behind acfs_remote_get/has/put. Private to core/. */
#ifndef ACFS_CORE_REMOTE_PRIVATE_H
#define ACFS_CORE_REMOTE_PRIVATE_H

#include "acfs/remote.h"

struct redis_conn;
struct http_conn;

struct acfs_remote_conn {
	const struct acfs_remote_url *u;
	unsigned timeout_ms;
	const volatile bool *stop;
	struct redis_conn *redis;
	struct http_conn *http;
	char aws_error[256];      /* a credential_process that failed */
};

int redis_get(struct acfs_remote_conn *c, const char *path, size_t max,
	      void **ret, size_t *ret_len, char *err);
int redis_has(struct acfs_remote_conn *c, const char *path, char *err);
int redis_put(struct acfs_remote_conn *c, const char *path, const void *data,
	      size_t len, char *err);
void redis_conn_free(struct redis_conn *r);
/* An action result and, in the same round trip, the bytes it names (if it
 * names some of at most @max): 0 (*ret_data NULL when it named none),
 * -ENOENT (no action result), -ENOTSUP (use two requests), or an error. */
int redis_fetch_pair(struct acfs_remote_conn *c, const char *ac_path,
		     size_t ac_max, size_t max, void **ret_ac, size_t *ret_aclen,
		     void **ret_data, size_t *ret_len, char *err);

int http_get(struct acfs_remote_conn *c, const char *path, size_t max,
	     void **ret, size_t *ret_len, char *err);
int http_has(struct acfs_remote_conn *c, const char *path, char *err);
int http_put(struct acfs_remote_conn *c, const char *path, const void *data,
	     size_t len, char *err);
void http_conn_free(struct http_conn *h);

/* remote-aws.c: credentials and region as the AWS CLI finds them. */
struct aws_creds {
	char *id, *secret, *token, *region;
};
/* 0 with c->id/secret set, or both NULL when none is configured; -EIO
 * when a credential_process failed (why in @err, no secret). */
int aws_creds_find(struct aws_creds *c, char *err, size_t errlen);
void aws_creds_free(struct aws_creds *c);
void http_global_init(void);

#endif
