/* SPDX-License-Identifier: MIT */
/*
 * Settings and where each came from. Precedence, lowest first:
 *   defaults < system config < user config < environment < command line
 * System config: /etc/aria-cachefs/config (ARIA_CACHE_SYSTEM_CONFIG names
 * another file); user config: $XDG_CONFIG_HOME/aria-cachefs/config, else
 * ~/.config/aria-cachefs/config. Format: "key = value" lines, '#'
 * comments (read with inih). Environment: ARIA_CACHE_<KEY> in capitals,
 * e.g. ARIA_CACHE_MAX_SIZE=20G; ARIA_CACHE_STORE names the store.
 */
#ifndef ACFS_CONFIG_H
#define ACFS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "acfs/bitcode.h"
#include "acfs/settings.h"

/* When a read checks an entry's bytes against its digest. */
enum acfs_verify_reads {
	ACFS_VERIFY_FIRST,   /* the first load of a version after start */
	ACFS_VERIFY_ALWAYS,  /* every load from the store */
	ACFS_VERIFY_NEVER,
};

enum acfs_setting {
#define ACFS_SET_ENUM(ID, ...) ACFS_SET_##ID,
	ACFS_SETTINGS(ACFS_SET_ENUM)
#undef ACFS_SET_ENUM
	ACFS_SET_COUNT
};

/* What the daemon does with its remote tiers. */
enum acfs_remote_mode {
	ACFS_REMOTE_READ_WRITE,
	ACFS_REMOTE_READ_ONLY,   /* fetch misses, upload nothing */
	ACFS_REMOTE_WRITE_ONLY,  /* upload commits, never fetch */
};

struct acfs_config {
	char *value[ACFS_SET_COUNT];   /* NULL: unset (target only) */
	char *source[ACFS_SET_COUNT];  /* "default", a file, "environment
					  (NAME)", "command line" */
	/* Parsed forms of the values. */
	uint64_t max_size;
	uint64_t max_entry_size;
	enum acfs_validate validate;
	bool sync;
	bool kernel_hits;              /* hit_mode = kernel */
	int compress_level;            /* zstd 1..19, or 0: store raw */
	enum acfs_verify_reads verify_reads;
	uint64_t max_loaded;           /* entry bytes held in memory */
	bool evict_general;            /* general files in the budget */
	bool nonempty;                 /* mount over files in the mountpoint */
	bool has_group;                /* group = NAME|GID: may write */
	unsigned group_gid;
	/* remote = URL [URL...] (space separated; tried in order) */
	enum acfs_remote_mode remote_mode;
	unsigned remote_wait_ms;       /* a lookup waits this long */
	unsigned remote_timeout_ms;    /* a network step gives up after */
	unsigned remote_negative_ttl_ms; /* a remote miss is remembered */
	uint64_t remote_queue_max;     /* uploads queued at most */
	unsigned remote_uploads;       /* uploads in flight per remote */
};

/* Adds @url to the remote setting (the command line repeats --remote). */
int acfs_config_add_remote(struct acfs_config *c, const char *url,
			   const char *source, char *err);

/* "store", "max_size", ... */
const char *acfs_config_key(enum acfs_setting s);

/* A setting as the table of acfs/settings.h declares it. */
enum acfs_setting_type { ACFS_SETTING_VALUE, ACFS_SETTING_FLAG,
			 ACFS_SETTING_LIST };
struct acfs_setting_info {
	const char *key;        /* config file key */
	const char *cli;        /* --CLI */
	const char *mount_opt;  /* -o MOUNT_OPT */
	enum acfs_setting_type type;
	const char *def;        /* NULL: none */
	const char *arg;        /* NULL for a FLAG */
	const char *help;
};
const struct acfs_setting_info *acfs_setting_info(enum acfs_setting s);

/*
 * Fills @c from defaults, config files and the environment. Returns 0, or
 * -EINVAL with "FILE: reason" (or the variable) in @err.
 */
int acfs_config_load(struct acfs_config *c, char *err);

/* Sets @s to @value from @source (e.g. the command line); checks it. */
int acfs_config_set(struct acfs_config *c, enum acfs_setting s,
		    const char *value, const char *source, char *err);

void acfs_config_release(struct acfs_config *c);

#endif
