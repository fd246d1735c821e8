/* SPDX-License-Identifier: MIT */
/*
 * Redis (or Valkey) transport over hiredis: GETRANGE (a bounded GET),
 * EXISTS, SET of the keys "aria-cachefs/<path>". Redis Cluster: a MOVED or ASK reply is followed
 * to the node it names (a connection per node, kept), so any node of a
 * cluster serves as the URL; the action result and its bytes hash to
 * different slots and are written in that order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */
#include "remote-private.h"

#define KEY_PREFIX "aria-cachefs/"
#define MAX_NODES 16
#define MAX_REDIRECTS 5

struct node {
	char host[256];
	int port;
	redisContext *ctx;
};

struct redis_conn {
	struct node nodes[MAX_NODES]; /* [0]: the URL's */
	unsigned n;
};

void redis_conn_free(struct redis_conn *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->n; i++)
		if (r->nodes[i].ctx)
			redisFree(r->nodes[i].ctx);
	free(r);
}

static struct timeval tv_of(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	return tv;
}

/* A reply to a command that needs no more than "OK". */
static int simple(redisContext *ctx, const char *what, char *err,
		  const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;
	int r = 0;

	va_start(ap, fmt);
	rep = redisvCommand(ctx, fmt, ap);
	va_end(ap);
	if (!rep) {
		snprintf(err, ACFS_ERR_MAX, "%s: %s", what, ctx->errstr);
		return -EIO;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, ACFS_ERR_MAX, "%s: %s", what, rep->str);
		r = -EPERM;
	}
	freeReplyObject(rep);
	return r;
}

static int transport_error(redisContext *ctx, char *err)
{
	/* hiredis keeps strerror(errno) of the failed read or connect. */
	bool timeout = (ctx->err == REDIS_ERR_IO &&
			(errno == EAGAIN || errno == ETIMEDOUT ||
			 errno == EINPROGRESS)) ||
		       strstr(ctx->errstr, "temporarily unavailable") ||
		       strstr(ctx->errstr, "timed out");
	int r = timeout ? -ETIMEDOUT : -EIO;

	snprintf(err, ACFS_ERR_MAX, "%s", timeout ? "timed out" : ctx->errstr);
	return r;
}

/* Node @i's connection, made if needed (with AUTH and SELECT). */
static redisContext *node_ctx(struct acfs_remote_conn *c, unsigned i,
			      int *ret, char *err)
{
	struct node *n = &c->redis->nodes[i];
	redisContext *ctx;

	if (n->ctx)
		return n->ctx;
	ctx = redisConnectWithTimeout(n->host, n->port, tv_of(c->timeout_ms));
	if (!ctx) {
		*ret = -ENOMEM;
		snprintf(err, ACFS_ERR_MAX, "out of memory");
		return NULL;
	}
	if (ctx->err) {
		*ret = transport_error(ctx, err);
		snprintf(err + strlen(err), ACFS_ERR_MAX - strlen(err),
			 " (connecting to %s:%d)", n->host, n->port);
		redisFree(ctx);
		return NULL;
	}
	redisSetTimeout(ctx, tv_of(c->timeout_ms));
	/* AUTH USER PASSWORD for a Redis ACL user (6.0+), else AUTH
	 * PASSWORD (the default user). */
	if ((c->u->password && c->u->user &&
	     (*ret = simple(ctx, "AUTH", err, "AUTH %s %s", c->u->user,
			    c->u->password)) < 0) ||
	    (c->u->password && !c->u->user &&
	     (*ret = simple(ctx, "AUTH", err, "AUTH %s", c->u->password)) < 0) ||
	    (i == 0 && c->u->db &&
	     (*ret = simple(ctx, "SELECT", err, "SELECT %d", c->u->db)) < 0)) {
		/* A refused password fails until someone fixes it: a failure
		 * (breaker, uploads kept), not a refusal of one object. */
		if (*ret == -EPERM)
			*ret = -EACCES;
		redisFree(ctx);
		return NULL;
	}
	n->ctx = ctx;
	return ctx;
}

/* The index of node "host:port" from a MOVED/ASK reply, added if new. */
static int node_of(struct acfs_remote_conn *c, const char *where)
{
	struct redis_conn *r = c->redis;
	const char *colon = strrchr(where, ':');
	size_t hl;

	if (!colon || (hl = (size_t)(colon - where)) == 0 || hl >= 256)
		return -1;
	int port = atoi(colon + 1);
	for (unsigned i = 0; i < r->n; i++)
		if (r->nodes[i].port == port &&
		    strlen(r->nodes[i].host) == hl &&
		    memcmp(r->nodes[i].host, where, hl) == 0)
			return (int)i;
	if (r->n == MAX_NODES)
		return -1;
	memcpy(r->nodes[r->n].host, where, hl);
	r->nodes[r->n].host[hl] = '\0';
	r->nodes[r->n].port = port;
	r->nodes[r->n].ctx = NULL;
	return (int)r->n++;
}

/*
 * Runs "@cmd KEY [VALUE]" and returns its reply (the caller frees it), or
 * NULL with *ret set. Follows cluster redirections.
 */
static redisReply *run(struct acfs_remote_conn *c, const char *cmd,
		       const char *path, const void *val, size_t vlen,
		       int *ret, char *err)
{
	char key[ACFS_REMOTE_PATH_MAX + sizeof(KEY_PREFIX)];
	unsigned node = 0;
	bool asking = false;

	if (!c->redis) {
		c->redis = calloc(1, sizeof(*c->redis));
		if (!c->redis) {
			*ret = -ENOMEM;
			return NULL;
		}
		snprintf(c->redis->nodes[0].host, sizeof(c->redis->nodes[0].host),
			 "%s", c->u->host);
		c->redis->nodes[0].port = c->u->port;
		c->redis->n = 1;
	}
	snprintf(key, sizeof(key), KEY_PREFIX "%s", path);
	for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
		redisContext *ctx = node_ctx(c, node, ret, err);
		redisReply *rep;

		if (!ctx)
			return NULL;
		if (asking && simple(ctx, "ASKING", err, "ASKING") < 0) {
			*ret = -EIO;
			return NULL;
		}
		if (!strcmp(cmd, "GETRANGE")) /* val: the last offset */
			rep = redisCommand(ctx, "GETRANGE %b 0 %s", key,
					   strlen(key), (const char *)val);
		else if (val)
			rep = redisCommand(ctx, "%s %b %b", cmd, key,
					   strlen(key), val, vlen);
		else
			rep = redisCommand(ctx, "%s %b", cmd, key, strlen(key));
		if (!rep) {
			*ret = transport_error(ctx, err);
			/* The connection is unusable after an error. */
			redisFree(ctx);
			c->redis->nodes[node].ctx = NULL;
			return NULL;
		}
		if (rep->type == REDIS_REPLY_ERROR &&
		    (strncmp(rep->str, "MOVED ", 6) == 0 ||
		     strncmp(rep->str, "ASK ", 4) == 0)) {
			/* "MOVED 3999 127.0.0.1:6381" */
			const char *where = strchr(strchr(rep->str, ' ') + 1,
						   ' ');
			int to = where ? node_of(c, where + 1) : -1;
			asking = rep->str[0] == 'A';
			if (to < 0) {
				snprintf(err, ACFS_ERR_MAX, "cannot follow "
					 "\"%s\"", rep->str);
				freeReplyObject(rep);
				*ret = -EIO;
				return NULL;
			}
			freeReplyObject(rep);
			node = (unsigned)to;
			continue;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, ACFS_ERR_MAX, "%s %s: %s", cmd, key,
				 rep->str);
			freeReplyObject(rep);
			*ret = -EIO;
			return NULL;
		}
		return rep;
	}
	snprintf(err, ACFS_ERR_MAX, "%s %s: more than %d cluster "
		 "redirections", cmd, key, MAX_REDIRECTS);
	*ret = -EIO;
	return NULL;
}

int redis_get(struct acfs_remote_conn *c, const char *path, size_t max,
	      void **ret, size_t *ret_len, char *err)
{
	char range[32];
	int r = 0;
	/* At most max + 1 bytes cross the network, whatever the server
	 * holds: enough to tell "too big" without reading all of it. An
	 * absent key reads as empty; no object of ours is empty. */
	snprintf(range, sizeof(range), "%zu", max);
	redisReply *rep = run(c, "GETRANGE", path, range, 0, &r, err);

	if (!rep)
		return r;
	if (rep->type == REDIS_REPLY_NIL ||
	    (rep->type == REDIS_REPLY_STRING && rep->len == 0)) {
		r = -ENOENT;
	} else if (rep->type != REDIS_REPLY_STRING) {
		snprintf(err, ACFS_ERR_MAX, "GET %s: not a string", path);
		r = -EBADMSG;
	} else if (rep->len > max) {
		snprintf(err, ACFS_ERR_MAX, "%s is %zu bytes, over %zu", path,
			 rep->len, max);
		r = -EFBIG;
	} else if (!(*ret = malloc(rep->len ? rep->len : 1))) {
		r = -ENOMEM;
	} else {
		memcpy(*ret, rep->str, rep->len);
		*ret_len = rep->len;
	}
	freeReplyObject(rep);
	return r;
}

int redis_has(struct acfs_remote_conn *c, const char *path, char *err)
{
	int r = 0;
	redisReply *rep = run(c, "EXISTS", path, NULL, 0, &r, err);

	if (!rep)
		return r;
	r = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0 ? 0 : -ENOENT;
	freeReplyObject(rep);
	return r;
}

int redis_put(struct acfs_remote_conn *c, const char *path, const void *data,
	      size_t len, char *err)
{
	int r = 0;
	redisReply *rep = run(c, "SET", path, data, len, &r, err);

	if (!rep)
		return r;
	freeReplyObject(rep);
	return 0;
}
