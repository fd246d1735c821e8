/* SPDX-License-Identifier: MIT */
/* A readdir reply being filled (util.h). */
#include <sys/stat.h>

#include "util/util.h"

bool dirbuf_add(struct dirbuf *d, const char *name, fuse_ino_t ino,
		       mode_t type, off_t next_off)
{
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t need = fuse_add_direntry(d->req, NULL, 0, name, NULL, 0);

	if (d->used + need > d->size)
		return false;
	fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name,
			  &st, next_off);
	d->used += need;
	return true;
}
