/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes: what getfattr(1) shows and setfattr(1) changes.
 *   entries:  user.aria.pin (1/0, settable), user.aria.key,
 *             user.aria.stored_size, user.aria.digest ("sha256:<hex>"), and for bitcode what the module says:
 *             user.aria.triple, user.aria.datalayout, user.aria.producer,
 *             user.aria.functions (the number of defined functions)
 *   the root: user.aria.store (the store directory; aria-cache -C uses it)
 *   ordinary files and directories: any user.* attribute, kept in the
 *   store with the inode (cp -a, rsync -X, tar --xattrs keep theirs);
 *   other namespaces are not supported there (EOPNOTSUPP), as on a
 *   filesystem mounted without them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cachefs.h"


static void reply_value(fuse_req_t req, const char *v, size_t size)
{
	size_t len = strlen(v);

	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

/* An inode of the ordinary tree (not monomorph/, tmp/ or the root). */
static bool general(struct acfs_fs *fs, fuse_ino_t ino)
{
	struct inode *in = ino >= ACFS_FIRST_ID ? inode_find(fs, ino) : NULL;

	return in && inode_type(in) == INODE_GENERAL;
}

static struct inode *entry_of(struct acfs_fs *fs, fuse_ino_t ino)
{
	struct inode *in = ino >= ACFS_FIRST_ID ? inode_find(fs, ino) : NULL;

	if (in) {
		pthread_mutex_lock(&in->lock);
		bool entry = in->type == INODE_ENTRY;
		pthread_mutex_unlock(&in->lock);
		if (!entry)
			in = NULL;
	}
	return in;
}

/* user.aria.triple and friends, from the info kept beside the entry. */
static void module_attr(fuse_req_t req, struct acfs_fs *fs,
			const struct acfs_key *key, fuse_ino_t ino,
			const char *name, size_t size)
{
	struct acfs_bitcode_info info;
	char num[16];
	const char *v = NULL;
	void *raw;
	size_t len;

	if (acfs_store_get_info(fs->d->store, key, ino, &raw, &len) < 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (acfs_bitcode_info_decode(raw, len, &info) == 0) {
		if (strcmp(name, "user.aria.triple") == 0)
			v = info.triple;
		else if (strcmp(name, "user.aria.datalayout") == 0)
			v = info.datalayout;
		else if (strcmp(name, "user.aria.producer") == 0)
			v = info.producer;
		else if (strcmp(name, "user.aria.functions") == 0) {
			snprintf(num, sizeof(num), "%u", info.nfunctions);
			v = num;
		}
	}
	if (v)
		reply_value(req, v, size);
	else
		fuse_reply_err(req, ENODATA);
	acfs_bitcode_info_release(&info);
	free(raw);
}

void acfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size)
{
	struct acfs_fs *fs = FS(req);
	char v[ACFS_DIGEST_TEXT_MAX + 8];
	struct inode *in;

	if (ino == INO_ROOT && strcmp(name, "user.aria.store") == 0) {
		reply_value(req, fs->d->store_dir, size);
		return;
	}
	if (general(fs, ino)) {
		gen_getxattr(req, ino, name, size);
		return;
	}
	in = entry_of(fs, ino);
	if (!in || strncmp(name, "user.aria.", 10) != 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	pthread_mutex_lock(&in->lock);
	if (strcmp(name, "user.aria.pin") == 0) {
		/* The store is the truth: aria-cache pin changes it too. */
		struct acfs_entry e;
		bool pinned = acfs_store_get(fs->d->store, &in->key, &e) == 0 &&
			      e.id == in->ino &&
			      (e.flags & ACFS_ENTRY_PINNED);
		snprintf(v, sizeof(v), "%d", pinned ? 1 : 0);
	}
	else if (strcmp(name, "user.aria.key") == 0)
		snprintf(v, sizeof(v), "%016llx",
			 (unsigned long long)in->key.hash);
	else if (strcmp(name, "user.aria.stored_size") == 0)
		snprintf(v, sizeof(v), "%llu", (unsigned long long)in->stored);
	else if (strcmp(name, "user.aria.digest") == 0 &&
		 !acfs_digest_is_none(in->digest))
		acfs_digest_format(in->digest, v);
	else
		v[0] = '\0';
	struct acfs_key key = in->key;
	pthread_mutex_unlock(&in->lock);
	if (v[0]) {
		reply_value(req, v, size);
		return;
	}
	module_attr(req, fs, &key, ino, name, size);
}

static void reply_list(fuse_req_t req, const char *list, size_t len,
		       size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, len);
}

void acfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char entry_list[] = "user.aria.pin\0user.aria.key\0"
					 "user.aria.stored_size\0user.aria.digest\0"
					 "user.aria.triple\0"
					 "user.aria.datalayout\0user.aria.producer\0"
					 "user.aria.functions";
	static const char root_list[] = "user.aria.store";

	struct inode *in = ino == INO_ROOT ? NULL : entry_of(FS(req), ino);

	if (ino == INO_ROOT) {
		reply_list(req, root_list, sizeof(root_list), size);
	} else if (general(FS(req), ino)) {
		gen_listxattr(req, ino, size);
	} else if (in) {
		/* The module's attributes only where the store keeps them. */
		pthread_mutex_lock(&in->lock);
		struct acfs_key key = in->key;
		pthread_mutex_unlock(&in->lock);
		void *raw;
		size_t len, n = sizeof(entry_list);
		if (acfs_store_get_info(FS(req)->d->store, &key, ino, &raw,
					&len) == 0)
			free(raw);
		else
			n = sizeof("user.aria.pin\0user.aria.key\0"
				   "user.aria.stored_size\0user.aria.digest");
		reply_list(req, entry_list, n, size);
	} else {
		reply_list(req, "", 0, size);
	}
}

static int set_pin(struct acfs_fs *fs, struct inode *in, bool pin)
{
	char path[ACFS_KEY_PATH_MAX];
	int r;

	pthread_mutex_lock(&in->lock);
	acfs_key_format_path(&in->key, path);
	/* Through a descriptor of a version that was replaced since, the
	 * pin would land on a version nobody asked for: ESTALE. */
	r = acfs_store_set_pinned(fs->d->store, &in->key, in->ino, pin);
	pthread_mutex_unlock(&in->lock);
	if (r == -ENOENT) {
		acfs_log(LOG_WARNING, "refused %s of %s: version %llu was "
			 "replaced or removed since it was opened",
			 pin ? "pin" : "unpin", path,
			 (unsigned long long)in->ino);
		r = -ESTALE;
	} else if (r < 0)
		acfs_log(LOG_ERR, "%s %s failed: %s", pin ? "pin" : "unpin",
			 path, strerror(-r));
	else if (r == 0)
		acfs_log(LOG_INFO, "%s %s", pin ? "pinned" : "unpinned", path);
	return r;
}

void acfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		   const char *value, size_t size, int flags)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;
	bool pin;

	if (general(fs, ino)) {
		gen_setxattr(req, ino, name, value, size, flags);
		return;
	}
	in = entry_of(fs, ino);
	if (!in || strcmp(name, "user.aria.pin") != 0) {
		if (strncmp(name, "user.aria.", 10) == 0)
			acfs_log(LOG_WARNING, "refused setxattr %s: only "
				 "user.aria.pin on entries can be set", name);
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (size == 1 && (value[0] == '1' || value[0] == '0')) {
		pin = value[0] == '1';
	} else {
		acfs_log(LOG_WARNING, "refused user.aria.pin value of %zu "
			 "bytes: use 1 or 0", size);
		fuse_reply_err(req, EINVAL);
		return;
	}
	int r = set_pin(fs, in, pin);
	fuse_reply_err(req, r < 0 ? -r : 0);
}

void acfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct acfs_fs *fs = FS(req);
	struct inode *in;

	if (general(fs, ino)) {
		gen_removexattr(req, ino, name);
		return;
	}
	in = entry_of(fs, ino);

	if (!in || strcmp(name, "user.aria.pin") != 0) {
		fuse_reply_err(req, in ? ENODATA : ENOTSUP);
		return;
	}
	int r = set_pin(fs, in, false);
	fuse_reply_err(req, r < 0 ? -r : 0);
}
