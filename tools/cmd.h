/* SPDX-License-Identifier: MIT */
/*
 * aria-cache subcommands. Each is written once against a store and runs
 * in one of two places: in the aria-cache process when no daemon serves
 * the store (it opens the store itself), or inside the daemon when one
 * does (aria-cache forwards its arguments over STORE/control.sock and the
 * daemon runs the same function with its hooks). One file per subcommand;
 * the table is in commands.c (git's builtin/ pattern).
 *
 * Exit codes: 0 success, 1 failure, 2 usage error.
 */
#ifndef ACFS_TOOLS_CMD_H
#define ACFS_TOOLS_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "acfs/histogram.h"
#include "acfs/store.h"
#include "acfs/validator.h"

/* What aria-cache sync learns from the daemon: uploads still queued;
 * uploads a remote refused for good (dropped) since the last sync; and
 * why, one line per remote (its refusal, else its last error). */
struct acfs_config;

struct acfs_sync_result {
	uint64_t left;
	uint64_t dropped;
	char why[2048];
};

/* aria-cache prefetch: what became of a manifest's keys. */
/* A manifest naming more keys is refused (aria-cache prefetch
 * --max-keys). */
#define ACFS_PREFETCH_MAX_KEYS 1000000

struct acfs_prefetch_result {
	uint64_t max_keys;         /* in: the cap (0: the default); the rest
				      is filled in */
	uint64_t total, fetched, present, missing, failed, bytes;
	bool budget_stop;          /* stopped before passing the budget */
	double seconds;
	char why[1024];            /* the last failure, or why none ran */
};

struct acfs_cmd_ctx {
	struct acfs_store *store;
	const char *store_dir;
	FILE *out;                 /* results */
	FILE *err;                 /* errors and progress */
	bool progress;             /* err is a terminal: show progress */
	struct acfs_validator *validator; /* LLVM in helper processes */
	int64_t daemon_start_ns;   /* 0 when no daemon runs */

	/* The daemon's effective settings; NULL in aria-cache. */
	const struct acfs_config *config;
	/* Set by the daemon; NULL when aria-cache opened the store. */
	void (*flush_uses)(void *userdata);
	void (*batch_lock)(bool lock, void *userdata);
	acfs_in_use_fn in_use;
	acfs_evicted_fn on_removed;
	/* The remote tiers' counters (lines, or a JSON value) and a wait
	 * for their upload queues to empty (0, or -ETIMEDOUT and what is
	 * left). */
	void (*remote_report)(FILE *out, bool json, void *userdata);
	int (*remote_sync)(unsigned timeout_ms, FILE *progress,
			   struct acfs_sync_result *res, void *userdata);
	/* aria-cache metrics: the daemon's mountpoint, its latency
	 * histograms and the remotes' counters; NULL in aria-cache. */
	const char *mountpoint;
	const struct acfs_histogram *latency; /* ACFS_LAT_COUNT of them */
	void (*remote_metrics)(FILE *out, const char *labels, void *userdata);
	/* aria-cache top: bytes down and up and uploads queued, all
	 * remotes; NULL in aria-cache. */
	void (*remote_totals)(uint64_t *down, uint64_t *up, uint64_t *queued,
			      void *userdata);
	/* The daemon is stopping: a long command ends now. NULL in
	 * aria-cache. */
	bool (*stopping)(void *userdata);
	/* aria-cache stats: each mount's hits, misses and stores since it
	 * was mounted (lines, or a JSON array); NULL in aria-cache. */
	void (*mounts_report)(FILE *out, bool json, void *userdata);
	/* aria-cache publish REF / prefetch REF: a manifest of the store's
	 * keys onto the remotes, and a manifest's entries fetched from them
	 * (jobs at once, within the budget). 0 or -errno, why in @why /
	 * res->why. NULL in aria-cache. */
	int (*remote_publish)(const char *ref, uint64_t *ret_keys, char *why,
			      size_t whylen, void *userdata);
	int (*remote_prefetch)(const char *ref, unsigned jobs, FILE *progress,
			       struct acfs_prefetch_result *res,
			       void *userdata);
	/* aria-cache import committed @key: the mounts' kernels must not
	 * keep answering it as absent. NULL in aria-cache. */
	void (*on_stored)(const struct acfs_key *key, void *userdata);
	void *userdata;
};

struct acfs_cmd {
	const char *name;
	int (*run)(struct acfs_cmd_ctx *ctx, int argc, char **argv);
	const char *usage;         /* one line: arguments */
	const char *help;          /* what it does, options */
	bool no_store;             /* runs in aria-cache, without a store */
};

/* Looks up @name; NULL if unknown. */
const struct acfs_cmd *acfs_cmd_find(const char *name);
/* The command @name is probably a typo of (two edits at most), or NULL. */
const char *acfs_cmd_suggest(const char *name);
/* Prints the table of commands. */
void acfs_cmd_list(FILE *f);
/* Runs argv[0] with its arguments; returns its exit code. */
int acfs_cmd_run(struct acfs_cmd_ctx *ctx, int argc, char **argv);

/* Subcommands (cmd-*.c). */
int acfs_cmd_stats(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_zero_stats(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_gc(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_ls(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_pin(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_unpin(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_clear(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_inspect(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_config(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_verify(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_sync(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_repair(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_metrics(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_top(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_import(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_publish(struct acfs_cmd_ctx *ctx, int argc, char **argv);
int acfs_cmd_prefetch(struct acfs_cmd_ctx *ctx, int argc, char **argv);
/* repair without a daemon, on STORE/db that does not open (cmd-repair.c);
 * the caller holds the store's lock. Returns the exit code. */
int acfs_repair_run(const char *store_dir, int argc, char **argv);

/* Helpers shared by the subcommands (commands.c). */
/* Asks @question on the terminal; false without one (naming command
 * @name and --yes) or unless the answer is y. */
bool acfs_cmd_confirm(const char *name, const char *question);
int64_t acfs_cmd_now_ns(void);
/* "2026-11-21 05:40:56" in local time. */
void acfs_cmd_format_time(int64_t ns, char *buf, size_t len);
/* Writes @s as a JSON string literal. */
void acfs_cmd_json_string(FILE *f, const char *s);
/* Writes @s as a Prometheus label value: quoted, with \\, \" and \n
 * escaped. */
void acfs_cmd_prom_string(FILE *f, const char *s);
/*
 * If argv[*i] is --NAME=V or --NAME V, points *ret at V (advancing *i
 * past a separate V) and returns 1; 0 if it is another argument; -1 if V
 * is missing.
 */
int acfs_cmd_opt(int argc, char **argv, int *i, const char *name,
		 const char **ret);
/* Prints "usage: aria-cache NAME ..." to ctx->err; returns 2. */
int acfs_cmd_usage_error(struct acfs_cmd_ctx *ctx, const char *name,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
