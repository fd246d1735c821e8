/* SPDX-License-Identifier: MIT */
/*
 * LLVM's bitcode reader in helper processes. LLVM answers some malformed
 * inputs with report_fatal_error, which aborts the process (fuzzing found
 * one in 13 runs: a bad data layout string); a client must not be able to
 * take the daemon down with a file. So parse and verify run in helpers:
 * the daemon's own binary re-executed with ACFS_VALIDATOR_ARG, reading
 * requests on fd 3. A helper that dies or overruns ACFS_VALIDATOR_TIMEOUT
 * turns into a refusal (-EINVAL, with LLVM's last words as the reason) and
 * is replaced for the next request. Magic checks and JSON stay in-process.
 */
#ifndef ACFS_VALIDATOR_H
#define ACFS_VALIDATOR_H

#include <stddef.h>

#include "acfs/bitcode.h"

#define ACFS_VALIDATOR_ARG "--bitcode-helper"
#define ACFS_VALIDATOR_TIMEOUT_MS 30000
/* Each helper's memory limit (RLIMIT_DATA); ARIA_CACHE_HELPER_MEMORY
 * overrides it. LLVM needs several times a module's size to parse it. */
#define ACFS_VALIDATOR_MEMORY ((uint64_t)4 << 30)

struct acfs_validator;

/*
 * A pool of @n helpers running @exe ACFS_VALIDATOR_ARG, started when
 * first needed. @exe: the binary whose main calls acfs_validator_main
 * (NULL: this process's own, /proc/self/exe).
 */
int acfs_validator_new(const char *exe, unsigned n,
		       struct acfs_validator **ret);
void acfs_validator_free(struct acfs_validator *v);

/*
 * acfs_bitcode_check of @len bytes at @data to @level in a helper. With
 * @ret_info, the module's info encoded (acfs_bitcode_info_encode, malloc'd,
 * or NULL) for levels from PARSE on. Returns 0, -EINVAL (refused, or the
 * helper died or timed out on it; reason in @err), -ENOMEM, or -EIO (no
 * helper could be started).
 */
int acfs_validator_check(struct acfs_validator *v, const void *data,
			 size_t len, enum acfs_validate level,
			 const char *target, void **ret_info,
			 size_t *ret_info_len, char *err);

/* Starts every helper now and has it load LLVM, so that the first
 * commit (or remote fetch, which a lookup waits for) does not pay for it. */
void acfs_validator_warm(struct acfs_validator *v);

/* The helper's main loop, on fd 3; returns the process exit code. */
int acfs_validator_main(void);

#endif
