/* SPDX-License-Identifier: MIT */
/*
 * The daemon's command line: every setting's --option and -o option come
 * from the table of acfs/settings.h, as does --help; positional STORE and
 * MOUNTPOINT; and the permission options that decide default_permissions.
 */
#ifndef ACFS_FS_DAEMON_OPTIONS_H
#define ACFS_FS_DAEMON_OPTIONS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>

#include "acfs/config.h"

struct options {
	char *value[ACFS_SET_COUNT]; /* --CLI VALUE, -o OPT=VALUE */
	int flag[ACFS_SET_COUNT];    /* --CLI, -o OPT (FLAG settings) */
	char **list;                 /* --remote URL (LIST), in order */
	size_t nlist;
	bool list_next;              /* "--remote" was the last argument */
	int show_help;
	int show_version;
	char *mountpoint; /* taken out before libfuse resolves it */
	char *source;     /* "aria-cachefs STORE MOUNTPOINT", as mount(8) calls */
};

/* Takes our options out of @args (zeroes @o first); -1 on a bad one. */
int options_parse(struct fuse_args *args, struct options *o);
/* Command-line settings override every other source. */
int options_apply(const struct options *o, struct acfs_config *c, char *err);
void options_usage(const char *prog);
void options_release(struct options *o);
/* An option neither ours nor FUSE's is a usage error, said before
 * anything starts: libfuse checks the rest when a session is made, so
 * one is made from a copy of @args and thrown away. -1 (said) if bad. */
int options_check_fuse(struct fuse_args *args);

/* With allow_other (and without default_permissions), adds
 * -odefault_permissions: the kernel then checks modes and owners. */
int add_default_permissions(struct fuse_args *args);

#endif
