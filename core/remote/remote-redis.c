/* SPDX-License-Identifier: MIT */
/*
 * Redis (or Valkey) transport over hiredis: GETRANGE (a bounded GET),
 * EXISTS, SET of the keys "aria-cachefs/<path>" (or "PREFIX/<path>" of
 * redis://HOST/DB/PREFIX; SET with EX of ?ttl=). Redis Cluster: a MOVED or ASK reply is followed
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
	bool no_script;               /* EVAL refused: two round trips */
};

/*
 * A remote hit in one round trip: the action result KEYS[1] (its first
 * ARGV[1] + 1 bytes), and, when it names a digest (64 hex digits, then
 * size_bytes, field 2) of at most ARGV[2] bytes, the first size + 1 bytes
 * of ARGV[3] .. digest. The caller checks all of it as if it had made the
 * two requests (acfs_remote_fetch). Redis Cluster refuses the second key
 * (another slot), and an ACL may refuse EVAL: then two round trips.
 */
static const char FETCH_SCRIPT[] =
	"local ac = redis.call('GETRANGE', KEYS[1], 0, ARGV[1]) "
	"if #ac == 0 then return {ac} end "
	"local s, e = string.find(ac, string.rep('%x', 64)) "
	"if not s or string.byte(ac, e + 1) ~= 16 then return {ac} end "
	"local size, mul, i = 0, 1, e + 2 "
	"while i <= #ac do "
	"  local b = string.byte(ac, i) "
	"  size = size + (b % 128) * mul "
	"  mul = mul * 128 i = i + 1 "
	"  if b < 128 then break end "
	"end "
	"if size > tonumber(ARGV[2]) then return {ac} end "
	"return {ac, redis.call('GETRANGE', ARGV[3] .. string.sub(ac, s, e), 0, size)}";

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
	const char *pfx = c->u->prefix ? c->u->prefix : KEY_PREFIX;
	char key[ACFS_REMOTE_PATH_MAX + 256], cas[256 + 8];
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
	snprintf(key, sizeof(key), "%s%s", pfx, path);
	snprintf(cas, sizeof(cas), "%scas/", pfx);
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
		else if (!strcmp(cmd, "EVAL")) /* val: ARGV[1], ARGV[2] */
			rep = redisCommand(ctx, "EVAL %s 1 %b %s %s %s",
					   FETCH_SCRIPT, key, strlen(key),
					   ((const char *const *)val)[0],
					   ((const char *const *)val)[1], cas);
		else if (val && !strcmp(cmd, "SET") && c->u->ttl_s > 0)
			rep = redisCommand(ctx, "SET %b %b EX %lld", key,
					   strlen(key), val, vlen,
					   (long long)c->u->ttl_s);
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
			/* A refused script is no failure of the remote. */
			*ret = !strcmp(cmd, "EVAL") ? -ENOTSUP : -EIO;
			return NULL;
		}
		return rep;
	}
	snprintf(err, ACFS_ERR_MAX, "%s %s: more than %d cluster "
		 "redirections", cmd, key, MAX_REDIRECTS);
	*ret = -EIO;
	return NULL;
}

static void *copy_of(const char *s, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p)
		memcpy(p, s, len);
	return p;
}

int redis_fetch_pair(struct acfs_remote_conn *c, const char *ac_path,
		     size_t ac_max, size_t max, void **ret_ac, size_t *ret_aclen,
		     void **ret_data, size_t *ret_len, char *err)
{
	char a1[32], a2[32];
	const char *argv[2] = { a1, a2 };
	int r = 0;

	*ret_ac = *ret_data = NULL;
	*ret_aclen = *ret_len = 0;
	if (c->redis && c->redis->no_script)
		return -ENOTSUP;
	snprintf(a1, sizeof(a1), "%zu", ac_max);
	snprintf(a2, sizeof(a2), "%zu", max);
	redisReply *rep = run(c, "EVAL", ac_path, argv, 0, &r, err);
	if (!rep) {
		if (r == -ENOTSUP && c->redis)
			c->redis->no_script = true;
		return r;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->elements > 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
	    (rep->elements == 2 &&
	     rep->element[1]->type != REDIS_REPLY_STRING)) {
		freeReplyObject(rep);
		c->redis->no_script = true;
		return -ENOTSUP;
	}
	if (rep->element[0]->len == 0) {
		r = -ENOENT; /* no action result: a miss */
	} else if (rep->element[0]->len > ac_max) {
		snprintf(err, ACFS_ERR_MAX, "%s is over %zu bytes", ac_path,
			 ac_max);
		r = -EFBIG;
	} else if (!(*ret_ac = copy_of(rep->element[0]->str,
				       rep->element[0]->len))) {
		r = -ENOMEM;
	} else {
		*ret_aclen = rep->element[0]->len;
		if (rep->elements == 2) {
			*ret_len = rep->element[1]->len;
			if (!(*ret_data = copy_of(rep->element[1]->str,
						  *ret_len)))
				r = -ENOMEM;
		}
	}
	freeReplyObject(rep);
	if (r < 0) {
		free(*ret_ac);
		free(*ret_data);
		*ret_ac = *ret_data = NULL;
	}
	return r;
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
