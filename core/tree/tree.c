/* SPDX-License-Identifier: MIT */
/* The general tree: see acfs/tree.h. */
#include "acfs/tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store-private.h"
#include "tree-private.h"

#define GNODE_VERSION 1
#define GNODE_SIZE (1 + 4 * 4 + 8 * 6)

/* ---- encoding ------------------------------------------------------------ */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void encode_node(const struct acfs_gnode *g, unsigned char *out)
{
	out[0] = GNODE_VERSION;
	put32(out + 1, g->mode);
	put32(out + 5, g->uid);
	put32(out + 9, g->gid);
	put32(out + 13, g->nlink);
	store_put_be64(out + 17, g->size);
	store_put_be64(out + 25, g->stored);
	store_put_be64(out + 33, (uint64_t)g->atime_ns);
	store_put_be64(out + 41, (uint64_t)g->mtime_ns);
	store_put_be64(out + 49, (uint64_t)g->ctime_ns);
	store_put_be64(out + 57, g->parent);
}

int tree_decode_node(const void *v, size_t len, void *u)
{
	const unsigned char *p = v;
	struct acfs_gnode *g = u;

	if (len != GNODE_SIZE || p[0] != GNODE_VERSION)
		return -EIO;
	g->mode = get32(p + 1);
	g->uid = get32(p + 5);
	g->gid = get32(p + 9);
	g->nlink = get32(p + 13);
	g->size = store_get_be64(p + 17);
	g->stored = store_get_be64(p + 25);
	g->atime_ns = (int64_t)store_get_be64(p + 33);
	g->mtime_ns = (int64_t)store_get_be64(p + 41);
	g->ctime_ns = (int64_t)store_get_be64(p + 49);
	g->parent = store_get_be64(p + 57);
	return 0;
}

static size_t dirent_key(uint64_t parent, const char *name, unsigned char *k)
{
	size_t n = strlen(name);

	store_put_be64(k, parent);
	memcpy(k + 8, name, n);
	return 8 + n;
}

void tree_pair_key(uint64_t a, uint64_t b, unsigned char *k)
{
	store_put_be64(k, a);
	store_put_be64(k + 8, b);
}

/* ---- reads under the tree lock --------------------------------------------- */

int tree_get_node(struct acfs_store *s, uint64_t ino, struct acfs_gnode *g)
{
	unsigned char k[8];
	int r;

	store_put_be64(k, ino);
	r = acfs_kv_get(s->kv, ACFS_CF_GNODES, k, 8, tree_decode_node, g, NULL);
	if (r == 0)
		g->ino = ino;
	return r;
}


static int decode_dirent(const void *v, size_t len, void *u)
{
	struct dirent_val *d = u;

	if (len != 16)
		return -EIO;
	d->ino = store_get_be64(v);
	d->cookie = store_get_be64((const unsigned char *)v + 8);
	return 0;
}

int tree_get_dirent(struct acfs_store *s, uint64_t parent, const char *name,
		      struct dirent_val *d)
{
	unsigned char k[DIRENT_KEY_MAX];
	size_t n = dirent_key(parent, name, k);

	return acfs_kv_get(s->kv, ACFS_CF_GDIRENTS, k, n, decode_dirent, d,
			   NULL);
}

/* Is there any name in directory @dir? */
static int dir_is_empty(struct acfs_store *s, uint64_t dir, bool *ret)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_GCOOKIES);
	unsigned char k[8];
	size_t len;

	if (!it)
		return -ENOMEM;
	store_put_be64(k, dir);
	acfs_kv_iter_seek(it, k, 8);
	*ret = true;
	if (acfs_kv_iter_valid(it)) {
		const unsigned char *key = acfs_kv_iter_key(it, &len);
		*ret = !(len == 16 && memcmp(key, k, 8) == 0);
	}
	return acfs_kv_iter_free(it, NULL);
}

/* 0 for a name a directory may hold, else -ENAMETOOLONG or -EINVAL. */
static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (n > ACFS_TREE_NAME_MAX)
		return -ENAMETOOLONG;
	return n > 0 && strcmp(name, ".") && strcmp(name, "..") &&
			       !strchr(name, '/')
		       ? 0
		       : -EINVAL;
}

/* 0 if @parent has no @name, -EEXIST if it has, or a read error. */
static int name_free(struct acfs_store *s, uint64_t parent, const char *name)
{
	struct dirent_val d;
	int r = tree_get_dirent(s, parent, name, &d);

	return r == 0 ? -EEXIST : r == -ENOENT ? 0 : r;
}

/* @dir must be the root or a directory; its record in *ret (root: zeros). */
static int get_dir(struct acfs_store *s, uint64_t dir, struct acfs_gnode *ret)
{
	int r;

	if (dir == ACFS_TREE_ROOT) {
		memset(ret, 0, sizeof(*ret));
		ret->ino = ACFS_TREE_ROOT;
		ret->mode = S_IFDIR | 0755;
		return 0;
	}
	r = tree_get_node(s, dir, ret);
	if (r == 0 && !S_ISDIR(ret->mode))
		r = -ENOTDIR;
	return r;
}

/* ---- batch helpers ------------------------------------------------------------ */

void tree_put_node(struct acfs_store *s, struct acfs_kv_batch *b,
		   const struct acfs_gnode *g)
{
	unsigned char k[8], v[GNODE_SIZE];

	if (g->ino == ACFS_TREE_ROOT)
		return; /* the root has no record */
	store_put_be64(k, g->ino);
	encode_node(g, v);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_GNODES, k, 8, v, sizeof(v));
}

static void put_name(struct acfs_store *s, struct acfs_kv_batch *b,
		     uint64_t parent, const char *name, uint64_t ino,
		     uint64_t cookie)
{
	unsigned char k[DIRENT_KEY_MAX], v[16], ck[16];
	size_t n = dirent_key(parent, name, k);

	tree_pair_key(ino, cookie, v);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_GDIRENTS, k, n, v, 16);
	tree_pair_key(parent, cookie, ck);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_GCOOKIES, ck, 16, name,
			  strlen(name));
}

static void delete_name(struct acfs_store *s, struct acfs_kv_batch *b,
			uint64_t parent, const char *name, uint64_t cookie)
{
	unsigned char k[DIRENT_KEY_MAX], ck[16];
	size_t n = dirent_key(parent, name, k);

	acfs_kv_batch_delete(b, s->kv, ACFS_CF_GDIRENTS, k, n);
	tree_pair_key(parent, cookie, ck);
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_GCOOKIES, ck, 16);
}

static void put_tcount(struct acfs_store *s, struct acfs_kv_batch *b,
		       const struct acfs_tree_counters *c)
{
	unsigned char v[24];

	store_put_be64(v, c->files);
	store_put_be64(v + 8, c->bytes);
	store_put_be64(v + 16, c->root_dirs);
	acfs_kv_batch_put(b, s->kv, ACFS_CF_DEFAULT, "gcounters", 9, v, 24);
}

/* Deletes the data blocks of @ino from block @first on; from 0, its
 * extended attributes too. */
int tree_delete_blocks(struct acfs_store *s, struct acfs_kv_batch *b,
			 uint64_t ino, uint64_t first)
{
	struct acfs_kv_iter *it = acfs_kv_iter_new(s->kv, ACFS_CF_GDATA);
	unsigned char k[16];
	size_t len;

	if (!it)
		return -ENOMEM;
	tree_pair_key(ino, first, k);
	for (acfs_kv_iter_seek(it, k, 16); acfs_kv_iter_valid(it);
	     acfs_kv_iter_next(it)) {
		const unsigned char *key = acfs_kv_iter_key(it, &len);
		if (len < 16 || memcmp(key, k, 8) != 0)
			break;
		/* Past the blocks, its extended attributes (rows of 16
		 * bytes and more): they go with the inode, not a truncate. */
		if (len == 16 && store_get_be64(key + 8) != XATTR_MARK)
			acfs_kv_batch_delete(b, s->kv, ACFS_CF_GDATA, key, 16);
		else if (first == 0)
			acfs_kv_batch_delete(b, s->kv, ACFS_CF_GDATA, key, len);
		else
			break;
	}
	return acfs_kv_iter_free(it, NULL);
}

/*
 * Drops one link of file @g (a name was removed or replaced): with none
 * left, the inode goes with its data, or stays as an orphan while open.
 */
static int unlink_node(struct acfs_store *s, struct acfs_kv_batch *b,
		       struct acfs_gnode *g, struct acfs_tree_counters *cnt,
		       acfs_in_use_fn in_use, void *userdata, int64_t now_ns)
{
	unsigned char k[8];

	store_put_be64(k, g->ino);
	g->ctime_ns = now_ns;
	if (S_ISDIR(g->mode)) {
		/* An (empty) directory: gone with its last name (and its
		 * extended attributes). */
		acfs_kv_batch_delete(b, s->kv, ACFS_CF_GNODES, k, 8);
		cnt->files--;
		return tree_delete_blocks(s, b, g->ino, 0);
	}
	if (g->nlink > 1) {
		g->nlink--;
		tree_put_node(s, b, g);
		return 0;
	}
	/* Nameless now: out of the counters (what eviction and stats see),
	 * whether its bytes go now or at the last close. */
	g->nlink = 0;
	cnt->files--;
	if (S_ISREG(g->mode))
		cnt->bytes -= g->stored;
	if (in_use && in_use(g->ino, userdata)) {
		tree_put_node(s, b, g);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_GORPHANS, k, 8, "", 0);
		return 0;
	}
	acfs_kv_batch_delete(b, s->kv, ACFS_CF_GNODES, k, 8);
	return tree_delete_blocks(s, b, g->ino, 0);
}

/* Applies @b, and the counters if it succeeds. Caller holds tree_lock. */
int tree_commit(struct acfs_store *s, struct acfs_kv_batch *b,
		  const struct acfs_tree_counters *cnt)
{
	int r;

	put_tcount(s, b, cnt);
	r = acfs_kv_write(s->kv, b, NULL);
	if (r == 0)
		s->tcount = *cnt;
	acfs_kv_batch_free(b);
	return r;
}

/* ---- the calls ------------------------------------------------------------------ */

int acfs_tree_get(struct acfs_store *s, uint64_t ino, struct acfs_gnode *ret)
{
	return tree_get_node(s, ino, ret);
}

int acfs_tree_lookup(struct acfs_store *s, uint64_t parent, const char *name,
		     struct acfs_gnode *ret)
{
	struct dirent_val d;
	int r;

	if (strlen(name) > ACFS_TREE_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&s->tree_lock);
	r = tree_get_dirent(s, parent, name, &d);
	if (r == 0)
		r = tree_get_node(s, d.ino, ret);
	pthread_mutex_unlock(&s->tree_lock);
	return r;
}

int acfs_tree_create(struct acfs_store *s, uint64_t parent, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid,
		     const char *target, uint64_t rdev, int64_t now_ns,
		     struct acfs_gnode *ret)
{
	struct acfs_gnode pg, g = { 0 };
	struct acfs_tree_counters cnt;
	struct acfs_kv_batch *b;
	int r;

	if (s->read_only)
		return -EROFS;
	if ((r = check_name(name)) < 0)
		return r;
	if (S_ISLNK(mode) && (!target || strlen(target) >= ACFS_TREE_BLOCK))
		return -ENAMETOOLONG;
	if (!S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode) &&
	    !S_ISFIFO(mode) && !S_ISSOCK(mode) && !S_ISCHR(mode) &&
	    !S_ISBLK(mode))
		return -EINVAL;
	if ((r = acfs_store_room(s, 4096, 2, true, NULL)) < 0)
		return r;
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->tree_lock);
	if ((r = get_dir(s, parent, &pg)) < 0 ||
	    (r = name_free(s, parent, name)) < 0)
		goto fail;
	cnt = s->tcount;
	g.ino = acfs_store_alloc_id(s);
	uint64_t cookie = acfs_store_alloc_id(s);
	if (!g.ino || !cookie) {
		r = -EIO;
		goto fail;
	}
	g.mode = mode;
	g.uid = uid;
	g.gid = gid;
	g.nlink = S_ISDIR(mode) ? 2 : 1;
	g.atime_ns = g.mtime_ns = g.ctime_ns = now_ns;
	if (S_ISCHR(mode) || S_ISBLK(mode))
		g.parent = rdev; /* device nodes keep their number there */
	if (S_ISDIR(mode)) {
		g.parent = parent;
		pg.nlink++;
		if (parent == ACFS_TREE_ROOT)
			cnt.root_dirs++;
	}
	if (S_ISLNK(mode)) {
		unsigned char k[16];
		g.size = g.stored = strlen(target);
		tree_pair_key(g.ino, 0, k);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_GDATA, k, 16, target,
				  g.size);
	}
	pg.mtime_ns = pg.ctime_ns = now_ns;
	tree_put_node(s, b, &pg);
	tree_put_node(s, b, &g);
	put_name(s, b, parent, name, g.ino, cookie);
	cnt.files++;
	r = tree_commit(s, b, &cnt);
	b = NULL; /* commit took it */
fail:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	if (r == 0 && ret)
		*ret = g;
	return r;
}

int acfs_tree_link(struct acfs_store *s, uint64_t ino, uint64_t newparent,
		   const char *newname, int64_t now_ns,
		   struct acfs_gnode *ret)
{
	struct acfs_gnode pg, g;
	struct acfs_kv_batch *b;
	int r;

	if (s->read_only)
		return -EROFS;
	if ((r = check_name(newname)) < 0)
		return r;
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->tree_lock);
	if ((r = tree_get_node(s, ino, &g)) < 0 ||
	    (r = get_dir(s, newparent, &pg)) < 0)
		goto fail;
	if (S_ISDIR(g.mode)) {
		r = -EPERM;
		goto fail;
	}
	if (g.nlink == 0) {
		r = -ENOENT; /* unlinked while open: no new names */
		goto fail;
	}
	if (g.nlink >= 65000) {
		r = -EMLINK;
		goto fail;
	}
	if ((r = name_free(s, newparent, newname)) < 0)
		goto fail;
	uint64_t cookie = acfs_store_alloc_id(s);
	if (!cookie) {
		r = -EIO;
		goto fail;
	}
	g.nlink++;
	g.ctime_ns = now_ns;
	pg.mtime_ns = pg.ctime_ns = now_ns;
	tree_put_node(s, b, &g);
	tree_put_node(s, b, &pg);
	put_name(s, b, newparent, newname, ino, cookie);
	r = tree_commit(s, b, &s->tcount);
	b = NULL; /* commit took it */
fail:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	if (r == 0 && ret)
		*ret = g;
	return r;
}

/* A name in @parent that may be removed as @dir asks; child in *ret. */
static int removable(struct acfs_store *s, uint64_t parent, const char *name,
		     bool dir, struct dirent_val *d, struct acfs_gnode *ret)
{
	bool empty;
	int r;

	if ((r = tree_get_dirent(s, parent, name, d)) < 0 ||
	    (r = tree_get_node(s, d->ino, ret)) < 0)
		return r;
	if (dir && !S_ISDIR(ret->mode))
		return -ENOTDIR;
	if (!dir && S_ISDIR(ret->mode))
		return -EISDIR;
	if (dir) {
		if ((r = dir_is_empty(s, d->ino, &empty)) < 0)
			return r;
		if (!empty)
			return -ENOTEMPTY;
	}
	return 0;
}

int acfs_tree_remove(struct acfs_store *s, uint64_t parent, const char *name,
		     bool dir, acfs_in_use_fn in_use, void *userdata,
		     int64_t now_ns)
{
	struct acfs_gnode pg, g;
	struct acfs_tree_counters cnt;
	struct acfs_kv_batch *b;
	struct dirent_val d;
	int r;

	if (s->read_only)
		return -EROFS;
	if (strlen(name) > ACFS_TREE_NAME_MAX)
		return -ENAMETOOLONG;
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->tree_lock);
	if ((r = get_dir(s, parent, &pg)) < 0 ||
	    (r = removable(s, parent, name, dir, &d, &g)) < 0)
		goto fail;
	cnt = s->tcount;
	delete_name(s, b, parent, name, d.cookie);
	if (dir) {
		pg.nlink--;
		if (parent == ACFS_TREE_ROOT)
			cnt.root_dirs--;
	}
	if ((r = unlink_node(s, b, &g, &cnt, in_use, userdata, now_ns)) < 0)
		goto fail;
	pg.mtime_ns = pg.ctime_ns = now_ns;
	tree_put_node(s, b, &pg);
	r = tree_commit(s, b, &cnt);
	b = NULL; /* commit took it */
fail:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	return r;
}

/* Is directory @ino @dir itself or inside it? */
static int within(struct acfs_store *s, uint64_t ino, uint64_t dir,
		  bool *ret)
{
	struct acfs_gnode g;

	for (int depth = 0; depth < 4096; depth++) {
		if (ino == dir) {
			*ret = true;
			return 0;
		}
		if (ino == ACFS_TREE_ROOT) {
			*ret = false;
			return 0;
		}
		int r = tree_get_node(s, ino, &g);
		if (r < 0)
			return r;
		ino = g.parent;
	}
	return -ELOOP;
}

int acfs_tree_rename(struct acfs_store *s, uint64_t parent, const char *name,
		     uint64_t newparent, const char *newname, bool noreplace,
		     acfs_in_use_fn in_use, void *userdata, int64_t now_ns)
{
	struct acfs_gnode pg, npg, sg, dg, *np;
	struct acfs_tree_counters cnt;
	struct acfs_kv_batch *b;
	struct dirent_val sd, dd;
	bool has_dst, inside;
	int r;

	if (s->read_only)
		return -EROFS;
	if (strlen(name) > ACFS_TREE_NAME_MAX)
		return -ENAMETOOLONG;
	if ((r = check_name(newname)) < 0)
		return r;
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->tree_lock);
	if ((r = get_dir(s, parent, &pg)) < 0 ||
	    (r = get_dir(s, newparent, &npg)) < 0 ||
	    (r = tree_get_dirent(s, parent, name, &sd)) < 0 ||
	    (r = tree_get_node(s, sd.ino, &sg)) < 0)
		goto fail;
	np = newparent == parent ? &pg : &npg;
	r = tree_get_dirent(s, newparent, newname, &dd);
	if (r < 0 && r != -ENOENT)
		goto fail;
	has_dst = r == 0;
	r = 0;
	if (has_dst && noreplace) {
		r = -EEXIST;
		goto fail;
	}
	if (has_dst && dd.ino == sd.ino)
		goto fail; /* the same file: POSIX says do nothing */
	if (S_ISDIR(sg.mode) && newparent != parent) {
		if ((r = within(s, newparent, sd.ino, &inside)) < 0)
			goto fail;
		if (inside) {
			r = -EINVAL;
			goto fail;
		}
	}
	cnt = s->tcount;
	if (has_dst) {
		if ((r = removable(s, newparent, newname, S_ISDIR(sg.mode), &dd,
				   &dg)) < 0) {
			/* The kinds must match: a file over a directory is
			 * EISDIR, a directory over a file ENOTDIR. */
			goto fail;
		}
		delete_name(s, b, newparent, newname, dd.cookie);
		if (S_ISDIR(dg.mode)) {
			np->nlink--;
			if (newparent == ACFS_TREE_ROOT)
				cnt.root_dirs--;
		}
		if ((r = unlink_node(s, b, &dg, &cnt, in_use, userdata,
				     now_ns)) < 0)
			goto fail;
	}
	uint64_t cookie = acfs_store_alloc_id(s);
	if (!cookie) {
		r = -EIO;
		goto fail;
	}
	delete_name(s, b, parent, name, sd.cookie);
	put_name(s, b, newparent, newname, sd.ino, cookie);
	if (S_ISDIR(sg.mode) && newparent != parent) {
		sg.parent = newparent;
		pg.nlink--;
		npg.nlink++;
		if (parent == ACFS_TREE_ROOT)
			cnt.root_dirs--;
		if (newparent == ACFS_TREE_ROOT)
			cnt.root_dirs++;
	}
	sg.ctime_ns = now_ns;
	pg.mtime_ns = pg.ctime_ns = now_ns;
	np->mtime_ns = np->ctime_ns = now_ns;
	tree_put_node(s, b, &sg);
	tree_put_node(s, b, &pg);
	if (np != &pg)
		tree_put_node(s, b, np);
	r = tree_commit(s, b, &cnt);
	b = NULL; /* commit took it */
fail:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	return r;
}


int tree_copy_block(const void *v, size_t len, void *u)
{
	struct block *bl = u;

	if (len > ACFS_TREE_BLOCK)
		return -EIO;
	memcpy(bl->buf, v, len);
	bl->len = len;
	return 0;
}

/* Block @n of @ino into @buf (ACFS_TREE_BLOCK bytes); its length (0 if
 * absent) in *ret_len. */
static int get_block(struct acfs_store *s, uint64_t ino, uint64_t n,
		     unsigned char *buf, size_t *ret_len)
{
	unsigned char k[16];
	struct block bl = { buf, 0 };
	int r;

	tree_pair_key(ino, n, k);
	r = acfs_kv_get(s->kv, ACFS_CF_GDATA, k, 16, tree_copy_block, &bl, NULL);
	if (r == -ENOENT)
		r = 0;
	*ret_len = bl.len;
	return r;
}

int acfs_tree_setattr(struct acfs_store *s, uint64_t ino, unsigned what,
		      const struct acfs_gnode *val, int64_t now_ns,
		      struct acfs_gnode *ret)
{
	struct acfs_gnode g;
	struct acfs_tree_counters cnt;
	struct acfs_kv_batch *b;
	unsigned char *blk = NULL;
	int r;

	if (s->read_only)
		return -EROFS;
	b = acfs_kv_batch_new();
	pthread_mutex_lock(&s->tree_lock);
	if ((r = tree_get_node(s, ino, &g)) < 0)
		goto out;
	cnt = s->tcount;
	if (what & ACFS_TREE_SET_MODE)
		g.mode = (g.mode & S_IFMT) | (val->mode & 07777);
	if (what & ACFS_TREE_SET_UID)
		g.uid = val->uid;
	if (what & ACFS_TREE_SET_GID)
		g.gid = val->gid;
	if (what & ACFS_TREE_SET_ATIME)
		g.atime_ns = val->atime_ns;
	if (what & ACFS_TREE_SET_MTIME)
		g.mtime_ns = val->mtime_ns;
	if ((what & ACFS_TREE_SET_SIZE) && val->size != g.size) {
		uint64_t n = val->size;
		if (!S_ISREG(g.mode)) {
			r = S_ISDIR(g.mode) ? -EISDIR : -EINVAL;
			goto out;
		}
		if (n > ACFS_TREE_MAX_SIZE) {
			r = -EFBIG;
			goto out;
		}
		uint64_t was_stored = g.stored;
		if (n < g.size) {
			/* Whole blocks past the end go; the last is cut. */
			uint64_t keep = (n + ACFS_TREE_BLOCK - 1) / ACFS_TREE_BLOCK;
			size_t len;
			if ((r = tree_delete_blocks(s, b, ino, keep)) < 0)
				goto out;
			blk = malloc(ACFS_TREE_BLOCK);
			if (!blk) {
				r = -ENOMEM;
				goto out;
			}
			uint64_t stored = 0;
			/* Recount what stays stored: blocks below keep - 1
			 * are untouched, the last one is trimmed. */
			for (uint64_t i = 0; i < keep; i++) {
				if ((r = get_block(s, ino, i, blk, &len)) < 0)
					goto out;
				if (i == keep - 1 && n % ACFS_TREE_BLOCK &&
				    len > n % ACFS_TREE_BLOCK) {
					unsigned char k[16];
					len = n % ACFS_TREE_BLOCK;
					tree_pair_key(ino, i, k);
					acfs_kv_batch_put(b, s->kv,
							  ACFS_CF_GDATA, k, 16,
							  blk, len);
				}
				stored += len;
			}
			g.stored = stored;
		}
		/* A size is not space: a file made sparse by truncate
		 * counts only what it stores (--evict-general's budget). */
		if (g.nlink > 0)
			cnt.bytes = cnt.bytes - was_stored + g.stored;
		g.size = n;
		g.mtime_ns = (what & ACFS_TREE_SET_MTIME) ? val->mtime_ns
							  : now_ns;
	}
	g.ctime_ns = now_ns;
	tree_put_node(s, b, &g);
	r = tree_commit(s, b, &cnt);
	b = NULL;
out:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	free(blk);
	if (r == 0 && ret)
		*ret = g;
	return r;
}

ssize_t acfs_tree_read(struct acfs_store *s, uint64_t ino, uint64_t off,
		       size_t size, void *buf)
{
	struct acfs_gnode g;
	unsigned char *blk;
	size_t done = 0;
	int r;

	blk = malloc(ACFS_TREE_BLOCK);
	if (!blk)
		return -ENOMEM;
	pthread_mutex_lock(&s->tree_lock);
	r = tree_get_node(s, ino, &g);
	if (r == 0 && S_ISDIR(g.mode))
		r = -EISDIR;
	if (r < 0 || off >= g.size)
		goto out;
	if (size > g.size - off)
		size = (size_t)(g.size - off);
	while (done < size) {
		uint64_t pos = off + done;
		uint64_t n = pos / ACFS_TREE_BLOCK;
		size_t in = (size_t)(pos % ACFS_TREE_BLOCK), len;
		size_t take = ACFS_TREE_BLOCK - in;
		if (take > size - done)
			take = size - done;
		if ((r = get_block(s, ino, n, blk, &len)) < 0)
			goto out;
		/* Past the stored bytes of a block: a hole, zeros. */
		if (len < in + take)
			memset(blk + len, 0, ACFS_TREE_BLOCK - len);
		memcpy((char *)buf + done, blk + in, take);
		done += take;
	}
out:
	pthread_mutex_unlock(&s->tree_lock);
	free(blk);
	return r < 0 ? r : (ssize_t)done;
}

ssize_t acfs_tree_write(struct acfs_store *s, uint64_t ino, uint64_t off,
			const void *buf, size_t size, int64_t now_ns)
{
	struct acfs_gnode g;
	struct acfs_tree_counters cnt;
	struct acfs_kv_batch *b;
	unsigned char *blk;
	size_t done = 0;
	int r;

	if (s->read_only)
		return -EROFS;
	if (off + size < off || off + size > ACFS_TREE_MAX_SIZE)
		return -EFBIG;
	if ((r = acfs_store_room(s, size, 2, true, NULL)) < 0)
		return r;
	blk = malloc(ACFS_TREE_BLOCK);
	b = acfs_kv_batch_new();
	if (!blk) {
		acfs_kv_batch_free(b);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->tree_lock);
	if ((r = tree_get_node(s, ino, &g)) < 0)
		goto out;
	if (!S_ISREG(g.mode)) {
		r = S_ISDIR(g.mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	cnt = s->tcount;
	uint64_t was_stored = g.stored;
	while (done < size) {
		uint64_t pos = off + done;
		uint64_t n = pos / ACFS_TREE_BLOCK;
		size_t in = (size_t)(pos % ACFS_TREE_BLOCK), len;
		size_t take = ACFS_TREE_BLOCK - in;
		unsigned char k[16];
		if (take > size - done)
			take = size - done;
		if ((r = get_block(s, ino, n, blk, &len)) < 0)
			goto out;
		if (len < in)
			memset(blk + len, 0, in - len);
		memcpy(blk + in, (const char *)buf + done, take);
		size_t nlen = in + take > len ? in + take : len;
		g.stored += nlen - len;
		tree_pair_key(ino, n, k);
		acfs_kv_batch_put(b, s->kv, ACFS_CF_GDATA, k, 16, blk, nlen);
		done += take;
	}
	if (g.nlink > 0) /* an unlinked file is out of the counters */
		cnt.bytes += g.stored - was_stored;
	if (off + size > g.size)
		g.size = off + size;
	g.mtime_ns = g.ctime_ns = now_ns;
	tree_put_node(s, b, &g);
	r = tree_commit(s, b, &cnt);
	b = NULL;
out:
	pthread_mutex_unlock(&s->tree_lock);
	acfs_kv_batch_free(b);
	free(blk);
	return r < 0 ? r : (ssize_t)size;
}

int acfs_tree_readdir(struct acfs_store *s, uint64_t dir, uint64_t after,
		      acfs_tree_dirent_fn fn, void *userdata)
{
	struct acfs_kv_iter *it;
	unsigned char k[16];
	int r = 0;

	if (after == UINT64_MAX)
		return 0;
	it = acfs_kv_iter_new(s->kv, ACFS_CF_GCOOKIES);
	if (!it)
		return -ENOMEM;
	tree_pair_key(dir, after + 1, k);
	for (acfs_kv_iter_seek(it, k, 16); acfs_kv_iter_valid(it) && r == 0;
	     acfs_kv_iter_next(it)) {
		size_t klen, vlen;
		const unsigned char *key = acfs_kv_iter_key(it, &klen);
		const char *v = acfs_kv_iter_value(it, &vlen);
		char name[ACFS_TREE_NAME_MAX + 1];
		struct dirent_val d;
		struct acfs_gnode g;

		if (klen != 16 || memcmp(key, k, 8) != 0)
			break;
		if (vlen > ACFS_TREE_NAME_MAX)
			continue;
		memcpy(name, v, vlen);
		name[vlen] = '\0';
		/* Gone since the iterator's snapshot: skip it. */
		if (tree_get_dirent(s, dir, name, &d) < 0 ||
		    tree_get_node(s, d.ino, &g) < 0)
			continue;
		r = fn(name, d.ino, g.mode, store_get_be64(key + 8), userdata);
	}
	int ir = acfs_kv_iter_free(it, NULL);
	return r ? r : ir;
}
