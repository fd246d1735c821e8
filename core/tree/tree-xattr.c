/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes of the ordinary tree: user.* names of files and
 * directories, kept as gdata rows keyed ino(8) + XATTR_MARK(8) + name,
 * after every data block of the inode (tree_delete_blocks deletes them
 * with it). See acfs/tree.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfs/tree.h"
#include "store-private.h"
#include "tree-private.h"

/*
 * An extended attribute of inode @ino is a gdata row keyed ino(8) +
 * XATTR_MARK(8) + its name: after every data block of the inode (block
 * numbers stay far below the mark), deleted with it.
 */
static size_t xattr_key(uint64_t ino, const char *name, unsigned char *k)
{
	size_t n = strlen(name);

	store_put_be64(k, ino);
	store_put_be64(k + 8, XATTR_MARK);
	memcpy(k + 16, name, n);
	return 16 + n;
}

struct xattr_copy {
	void *v;
	size_t len;
};

static int copy_xattr(const void *v, size_t len, void *u)
{
	struct xattr_copy *c = u;

	c->v = malloc(len ? len : 1);
	if (!c->v)
		return -ENOMEM;
	if (len)
		memcpy(c->v, v, len);
	c->len = len;
	return 0;
}

int acfs_tree_xattr_get(struct acfs_store *s, uint64_t ino, const char *name,
			void **ret, size_t *ret_len)
{
	unsigned char k[16 + ACFS_TREE_XATTR_NAME_MAX];
	struct xattr_copy c = { 0 };
	int r;

	if (strlen(name) > ACFS_TREE_XATTR_NAME_MAX)
		return -ERANGE;
	r = acfs_kv_get(s->kv, ACFS_CF_GDATA, k, xattr_key(ino, name, k),
			copy_xattr, &c, NULL);
	if (r == -ENOENT)
		return -ENODATA;
	if (r < 0)
		return r;
	*ret = c.v;
	*ret_len = c.len;
	return 0;
}

int acfs_tree_xattr_list(struct acfs_store *s, uint64_t ino, char **ret,
			 size_t *ret_len)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_GDATA);
	unsigned char k[16];
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!it || !m) {
		acfs_kv_iter_free(it, NULL);
		if (m)
			fclose(m);
		free(text);
		return -ENOMEM;
	}
	store_put_be64(k, ino);
	store_put_be64(k + 8, XATTR_MARK);
	for (acfs_kv_iter_seek(it, k, 16); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		size_t klen;
		const unsigned char *key = acfs_kv_iter_key(it, &klen);
		if (klen <= 16 || memcmp(key, k, 16) != 0)
			break;
		fwrite(key + 16, 1, klen - 16, m);
		fputc('\0', m);
	}
	int r = acfs_kv_iter_free(it, NULL);
	fclose(m);
	if (r < 0) {
		free(text);
		return r;
	}
	*ret = text;
	*ret_len = len;
	return 0;
}

/* Sets (@val) or removes (@val NULL) attribute @name of @ino, with the
 * inode's ctime, in one write. */
static int xattr_change(struct acfs_store *s, uint64_t ino, const char *name,
			const void *val, size_t len, int flags, int64_t now_ns)
{
	unsigned char k[16 + ACFS_TREE_XATTR_NAME_MAX];
	struct acfs_tree_counters cnt;
	struct xattr_copy c = { 0 };
	struct acfs_kv_batch *b;
	struct acfs_gnode g;
	size_t klen;
	int r;

	if (s->read_only)
		return -EROFS;
	if (strlen(name) > ACFS_TREE_XATTR_NAME_MAX)
		return -ERANGE;
	if (len > ACFS_TREE_XATTR_SIZE_MAX)
		return -E2BIG;
	klen = xattr_key(ino, name, k);
	if (!(b = acfs_kv_batch_new()))
		return -ENOMEM;
	pthread_mutex_lock(&s->tree_lock);
	if ((r = tree_get_node(s, ino, &g)) < 0)
		goto out;
	r = acfs_kv_get(s->kv, ACFS_CF_GDATA, k, klen, copy_xattr, &c, NULL);
	free(c.v);
	if (r < 0 && r != -ENOENT)
		goto out;
	if (r == 0 && (flags & ACFS_TREE_XATTR_CREATE)) {
		r = -EEXIST;
		goto out;
	}
	if (r == -ENOENT && (!val || (flags & ACFS_TREE_XATTR_REPLACE))) {
		r = -ENODATA;
		goto out;
	}
	if (val)
		acfs_kv_batch_put(b, s->kv, ACFS_CF_GDATA, k, klen, val, len);
	else
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_GDATA, k, klen);
	g.ctime_ns = now_ns;
	tree_put_node(s, b, &g);
	cnt = s->tcount;
	r = tree_commit(s, b, &cnt);
	b = NULL;
out:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	return r;
}

int acfs_tree_xattr_set(struct acfs_store *s, uint64_t ino, const char *name,
			const void *val, size_t len, int flags, int64_t now_ns)
{
	return xattr_change(s, ino, name, val ? val : "", len, flags, now_ns);
}

int acfs_tree_xattr_remove(struct acfs_store *s, uint64_t ino, const char *name,
			   int64_t now_ns)
{
	return xattr_change(s, ino, name, NULL, 0, 0, now_ns);
}
