/* SPDX-License-Identifier: MIT */
/* READDIR of the fixed directories, the shards (from the store) and
 * tmp/ (from the inode table); the general tree fills its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cachefs.h"

/* Shard offsets: 1 ".", 2 "..", then 3 + (low 56 key bits << 1 | kind). */
static off_t shard_off(const struct acfs_key *key)
{
	return (off_t)(3 + (((key->hash & 0x00ffffffffffffffULL) << 1) |
			    (uint64_t)key->kind));
}

static int shard_fill_one(const struct acfs_key *key,
			  const struct acfs_entry *e, void *userdata)
{
	struct dirbuf *d = userdata;
	char name[ACFS_KEY_PATH_MAX];

	acfs_key_format_name(key, name);
	return dirbuf_add(d, name, e->id, S_IFREG, shard_off(key)) ? 0 : 1;
}

void acfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct acfs_fs *fs = FS(req);
	struct dirbuf d = { .req = req, .size = size };
	int r = 0;

	(void)fi;
	bool general_dir = ino != INO_ROOT && gen_is_dir(fs, ino);
	if (!fs_is_dir(ino) && !general_dir) {
		fs_reply_err(req, -ENOTDIR);
		return;
	}
	d.buf = malloc(size);
	if (!d.buf) {
		fs_reply_err(req, -ENOMEM);
		return;
	}
	if (off < 1 && !dirbuf_add(&d, ".", ino, S_IFDIR, 1))
		goto out;
	if (off < 2 && !dirbuf_add(&d, "..", INO_ROOT, S_IFDIR, 2))
		goto out;
	if (ino == INO_ROOT) {
		if (off < 3 && !dirbuf_add(&d, "monomorph", INO_MONOMORPH,
					   S_IFDIR, 3))
			goto out;
		if (off < 4 && !dirbuf_add(&d, "tmp", INO_TMP, S_IFDIR, 4))
			goto out;
		r = gen_fill_dir(fs, &d, INO_ROOT, off);
	} else if (general_dir) {
		r = gen_fill_dir(fs, &d, ino, off);
	} else if (ino == INO_MONOMORPH) {
		for (unsigned s = off < 2 ? 0 : (unsigned)(off - 2); s < 256;
		     s++) {
			char name[3];
			snprintf(name, sizeof(name), "%02x", s);
			if (!dirbuf_add(&d, name, INO_SHARD0 + s, S_IFDIR,
					(off_t)s + 3))
				break;
		}
	} else if (ino == INO_TMP) {
		r = fs_fill_tmp(fs, &d, off < 2 ? 2 : off);
	} else {
		unsigned shard = (unsigned)(ino - INO_SHARD0);
		struct acfs_key after = { 0 };
		bool from_start = off < 3;

		if (!from_start) {
			uint64_t v = (uint64_t)(off - 3);
			after.hash = ((uint64_t)shard << 56) | (v >> 1);
			after.kind = (enum acfs_kind)(v & 1);
		}
		r = acfs_store_foreach_in_shard(fs->d->store, shard, from_start,
						&after, shard_fill_one, &d);
		if (r > 0)
			r = 0;
	}
out:
	if (r < 0)
		fs_reply_err(req, r);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}
