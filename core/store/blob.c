/* SPDX-License-Identifier: MIT */
#include "blob.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */

enum { FMT_RAW = 0, FMT_ZSTD = 1 };

/*
 * One zstd context of each kind per thread, kept: a fresh context per call
 * allocates and clears its tables each time (for a 64 KiB entry that
 * clearing, page faults included, cost more than the compression).
 */
static pthread_key_t cctx_key, dctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *c) { ZSTD_freeCCtx(c); }
static void free_dctx(void *c) { ZSTD_freeDCtx(c); }

static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *thread_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&ctx_once, make_keys);
	c = pthread_getspecific(cctx_key);
	if (!c && (c = ZSTD_createCCtx()))
		pthread_setspecific(cctx_key, c);
	return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
	ZSTD_DCtx *c;

	pthread_once(&ctx_once, make_keys);
	c = pthread_getspecific(dctx_key);
	if (!c && (c = ZSTD_createDCtx()))
		pthread_setspecific(dctx_key, c);
	return c;
}

int acfs_blob_encode(const void *data, size_t len, int level, void **ret,
		     size_t *ret_len)
{
	size_t bound = ZSTD_compressBound(len);
	unsigned char *out;

	/* Tiny values do not pay for a frame header. */
	if (level >= 0 && len >= 64) {
		out = malloc(1 + bound);
		if (!out)
			return -ENOMEM;
		ZSTD_CCtx *cc = thread_cctx();
		size_t n = cc ? ZSTD_compressCCtx(cc, out + 1, bound, data,
						  len, level ? level : 3)
			      : ZSTD_compress(out + 1, bound, data, len,
					      level ? level : 3);
		if (!ZSTD_isError(n) && n < len) {
			out[0] = FMT_ZSTD;
			*ret = out;
			*ret_len = 1 + n;
			return 0;
		}
		free(out);
	}
	out = malloc(1 + len);
	if (!out)
		return -ENOMEM;
	out[0] = FMT_RAW;
	if (len)
		memcpy(out + 1, data, len);
	*ret = out;
	*ret_len = 1 + len;
	return 0;
}

int acfs_blob_size(const void *val, size_t vlen, size_t *ret_size, char *err)
{
	const unsigned char *v = val;
	unsigned long long size;

	if (vlen < 1) {
		snprintf(err, ACFS_ERR_MAX, "empty value");
		return -EBADMSG;
	}
	if (v[0] == FMT_RAW) {
		*ret_size = vlen - 1;
		return 0;
	}
	if (v[0] != FMT_ZSTD) {
		snprintf(err, ACFS_ERR_MAX, "unknown format byte %u", v[0]);
		return -EBADMSG;
	}
	size = ZSTD_getFrameContentSize(v + 1, vlen - 1);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
	    size > ACFS_BLOB_MAX) {
		snprintf(err, ACFS_ERR_MAX, "bad zstd frame header");
		return -EBADMSG;
	}
	*ret_size = (size_t)size;
	return 0;
}

int acfs_blob_decode_into(const void *val, size_t vlen, void *dst,
			  size_t size, char *err)
{
	const unsigned char *v = val;
	size_t want;
	int r = acfs_blob_size(val, vlen, &want, err);

	if (r < 0)
		return r;
	if (want != size) {
		snprintf(err, ACFS_ERR_MAX, "holds %zu bytes, expected %zu",
			 want, size);
		return -EBADMSG;
	}
	if (v[0] == FMT_RAW) {
		if (size)
			memcpy(dst, v + 1, size);
		return 0;
	}
	ZSTD_DCtx *dc = thread_dctx();
	size_t n = dc ? ZSTD_decompressDCtx(dc, dst, size, v + 1, vlen - 1)
		      : ZSTD_decompress(dst, size, v + 1, vlen - 1);
	if (ZSTD_isError(n) || n != size) {
		snprintf(err, ACFS_ERR_MAX, "zstd: %s",
			 ZSTD_isError(n) ? ZSTD_getErrorName(n)
					 : "short frame");
		return -EBADMSG;
	}
	return 0;
}

int acfs_blob_decode(const void *val, size_t vlen, void **ret, size_t *ret_len,
		     char *err)
{
	size_t size;
	void *out;
	int r = acfs_blob_size(val, vlen, &size, err);

	if (r < 0)
		return r;
	out = malloc(size ? size : 1);
	if (!out)
		return -ENOMEM;
	r = acfs_blob_decode_into(val, vlen, out, size, err);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_len = size;
	return 0;
}
