/* SPDX-License-Identifier: MIT */
/*
 * Every setting of aria-cachefs, declared once. From this table come the
 * config file's keys and the ARIA_CACHE_* variables (core/config/config.c), the
 * daemon's --options, its -o mount options and its --help
 * (fs/daemon/options.c), what aria-cache config lists, and the bash
 * completion of aria-cachefs (which reads --help). tests/lint/settings.sh
 * fails when the man page misses one. To add a setting: one line here,
 * its parser in core/config/config.c (the compiler names the one missing), its
 * field in struct acfs_config if it has a parsed form, and the man page.
 *
 * X(ID, KEY, CLI, MOUNT_OPT, TYPE, DEFAULT, ARG, HELP)
 *   ID         the enum: ACFS_SET_<ID>
 *   KEY        the config file's key; ARIA_CACHE_<KEY> in capitals
 *   CLI        --CLI on the daemon's command line
 *   MOUNT_OPT  -o MOUNT_OPT=ARG (or -o MOUNT_OPT for a FLAG): mount(8)
 *   TYPE       VALUE takes ARG; FLAG is a switch (true when given); LIST
 *              repeats, each adding to a space-separated list
 *   DEFAULT    the value when no source sets one; NULL: none (the store's
 *              comes from the environment, target has none)
 *   HELP       one sentence or two for --help
 */
#ifndef ACFS_SETTINGS_H
#define ACFS_SETTINGS_H

#define ACFS_SETTINGS(X) \
	X(STORE, "store", "store", "store", VALUE, NULL, "DIR", \
	  "store directory (default: $ARIA_CACHE_STORE, else " \
	  "$XDG_CACHE_HOME/aria-cachefs, else ~/.cache/aria-cachefs)") \
	X(MAX_SIZE, "max_size", "max-size", "max_size", VALUE, "10G", "SIZE", \
	  "budget of stored bytes; least recently used entries are " \
	  "evicted to 90% of it") \
	X(MAX_ENTRY_SIZE, "max_entry_size", "max-entry-size", \
	  "max_entry_size", VALUE, "256M", "SIZE", "largest entry accepted") \
	X(VALIDATE, "validate", "validate", "validate", VALUE, "parse", \
	  "LEVEL", "check .bc entries at commit: none, magic, parse or " \
	  "verify; .meta must be JSON unless none") \
	X(TARGET, "target", "target", "target", VALUE, NULL, "TRIPLE", \
	  "refuse modules for another target") \
	X(SYNC, "sync", "sync", "sync_commits", FLAG, "false", NULL, \
	  "fsync every commit (power-loss safe)") \
	X(HIT_MODE, "hit_mode", "hit-mode", "hit_mode", VALUE, "kernel", \
	  "MODE", "kernel: the kernel serves hits alone (exact LRU from its " \
	  "open events); open: every open reaches the daemon (costs two " \
	  "requests a hit; ls -lu shows each use at once)") \
	X(COMPRESS_LEVEL, "compress_level", "compress-level", \
	  "compress_level", VALUE, "3", "N", \
	  "zstd level of stored entries, 1..19 (1 is faster, 0 stores raw)") \
	X(VERIFY_READS, "verify_reads", "verify-reads", "verify_reads", \
	  VALUE, "first", "WHEN", "check an entry's bytes against its " \
	  "SHA-256 when read: first (the first read of each version after " \
	  "the daemon starts), always or never; a mismatch fails the read " \
	  "with EIO and quarantines the entry") \
	X(MAX_LOADED, "max_loaded", "max-loaded", "max_loaded", VALUE, \
	  "256M", "SIZE", "entry bytes held in daemon memory for reads; " \
	  "past it, large entries are read through mapped files in the " \
	  "store") \
	X(GROUP, "group", "group", "group", VALUE, NULL, "GROUP", \
	  "members of GROUP may store and remove entries too (directories " \
	  "0775 of that group); with -o allow_other, others may only read") \
	X(EVICT_GENERAL, "evict_general", "evict-general", "evict_general", \
	  FLAG, "false", NULL, "ordinary files beside monomorph/ and tmp/ " \
	  "count in --max-size and are evicted after entries, least " \
	  "recently changed first") \
	X(NONEMPTY, "nonempty", "nonempty", "nonempty", FLAG, "false", NULL, \
	  "mount over a mountpoint that holds files (they stay, hidden and " \
	  "untouched); without it such a mount is refused, and a plain " \
	  "cache found there is offered to aria-cache import") \
	X(REMOTE, "remote", "remote", "remote", LIST, "", "URL", \
	  "share entries through a remote tier, redis://HOST[:PORT][/DB] " \
	  "or http(s)://HOST[:PORT][/PREFIX] (Bazel HTTP cache layout: " \
	  "bazel-remote, nginx WebDAV, S3); repeatable, tried in order") \
	X(REMOTE_MODE, "remote_mode", "remote-mode", "remote_mode", VALUE, \
	  "read-write", "MODE", "read-write, read-only (fetch misses, " \
	  "upload nothing) or write-only (upload, never fetch)") \
	X(REMOTE_WAIT, "remote_wait", "remote-wait", "remote_wait", VALUE, \
	  "100ms", "TIME", "how long a lookup that misses locally waits for " \
	  "the remotes") \
	X(REMOTE_TIMEOUT, "remote_timeout", "remote-timeout", \
	  "remote_timeout", VALUE, "2s", "TIME", \
	  "a network step gives up after TIME") \
	X(REMOTE_NEGATIVE_TTL, "remote_negative_ttl", "remote-negative-ttl", \
	  "remote_negative_ttl", VALUE, "10s", "TIME", \
	  "a key the remotes lack is not asked for again for TIME") \
	X(REMOTE_QUEUE_MAX, "remote_queue_max", "remote-queue-max", \
	  "remote_queue_max", VALUE, "1000000", "N", "uploads queued at " \
	  "most; past it commits are not queued (counted, logged)") \
	X(REMOTE_UPLOADS, "remote_uploads", "remote-uploads", \
	  "remote_uploads", VALUE, "4", "N", "uploads in flight per remote") \
	X(REMOTE_CA, "remote_ca", "remote-ca", "remote_ca", VALUE, "", \
	  "FILE", "HTTPS remotes trust the CA certificates in FILE (PEM; a " \
	  "company CA) instead of the system's")

#endif
