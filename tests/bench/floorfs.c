/* SPDX-License-Identifier: MIT */
/*
 * floorfs: the FUSE floor of the hit-path benchmark. A low-level FUSE
 * filesystem that answers every request at once from memory, with the
 * same kernel caching choices as aria-cachefs (long entry timeouts,
 * keep_cache, noflush): what any FUSE filesystem pays, nothing more.
 * Every name under monomorph/<xx>/ whose key starts with "ee" is absent;
 * every other one is a regular file of SIZE bytes.
 *
 *   floorfs SIZE MOUNTPOINT [FUSE options]
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t file_size;
static char *content;

/* ino 1 root, 2 monomorph, 3 tmp, 16.. shards, >= 1024 files */
static void fill(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino < 1024) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)file_size;
	}
}

static void on_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = 86400,
				      .entry_timeout = 86400 };
	static unsigned long next = 1024;

	if (parent == 1)
		e.ino = !strcmp(name, "monomorph") ? 2 : !strcmp(name, "tmp") ? 3 : 0;
	else if (parent == 2)
		e.ino = 16 + strtoul(name, NULL, 16) % 256;
	else if (parent >= 16 && parent < 1024 && parent != 16 + 0xee)
		e.ino = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
	if (e.ino)
		fill(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void on_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill(ino, &st);
	fuse_reply_attr(req, &st, 86400);
}

static void on_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void on_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if ((size_t)off >= file_size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, content + off,
			       size < file_size - (size_t)off ? size
							      : file_size - (size_t)off);
}

static void on_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = on_lookup,
	.getattr = on_getattr,
	.open = on_open,
	.read = on_read,
	.release = on_release,
};

int main(int argc, char **argv)
{
	struct fuse_args args;
	struct fuse_session *se;
	struct fuse_loop_config *cfg;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: floorfs SIZE MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	file_size = strtoul(argv[1], NULL, 10);
	content = calloc(1, file_size + 1);
	args = (struct fuse_args)FUSE_ARGS_INIT(argc - 2, argv + 2);
	/* argv[2] is the mountpoint: keep argv[0] for libfuse. */
	char *mnt = argv[2];
	argv[2] = argv[0];
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) || fuse_session_mount(se, mnt))
		return 1;
	fuse_daemonize(0);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, 16);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return r ? 1 : 0;
}
