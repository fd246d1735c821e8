/* SPDX-License-Identifier: MIT */
/*
 * What goes into an entry: LLVM bitcode checks (core/llvm/bitcode.c, the only
 * file that includes llvm-c/) and the JSON check of .meta sidecars.
 *
 * Every call makes its own LLVMContext: contexts are not shared between
 * threads, and no lock serializes commits behind validation.
 * Errors: -EBADMSG (not valid at the level asked; the reason in @err,
 * ACFS_ERR_MAX bytes), -ENOMEM.
 */
#ifndef ACFS_BITCODE_H
#define ACFS_BITCODE_H

#include <stddef.h>
#include <stdint.h>

enum acfs_validate {
	ACFS_VALIDATE_NONE,
	ACFS_VALIDATE_MAGIC,   /* raw 'BC' 0xC0DE or the wrapper header */
	ACFS_VALIDATE_PARSE,   /* the reader loads the module lazily: every
				* module record and the symbol table, not
				* the function bodies */
	ACFS_VALIDATE_VERIFY,  /* full parse, and the verifier accepts it */
};

/* "none"|"magic"|"parse"|"verify" -> level; -EINVAL otherwise. */
int acfs_validate_parse(const char *text, enum acfs_validate *ret);
const char *acfs_validate_name(enum acfs_validate level);

/* Names of defined functions kept per entry, '\n'-separated, capped. */
#define ACFS_BITCODE_NAMES_MAX 65536

struct acfs_bitcode_info {
	char triple[128];
	char datalayout[256];
	char producer[256];        /* llvm.ident, if the module has one */
	uint32_t nfunctions;       /* defined functions */
	char *functions;           /* malloc'd; NULL if none */
};

/*
 * Checks @len bytes at @data to @level. With @want_triple (may be NULL)
 * a module for another target is refused. From PARSE on, fills @ret_info
 * (if not NULL; release it with acfs_bitcode_info_release).
 */
int acfs_bitcode_check(const void *data, size_t len, enum acfs_validate level,
		       const char *want_triple,
		       struct acfs_bitcode_info *ret_info, char *err);
void acfs_bitcode_info_release(struct acfs_bitcode_info *info);

/* The module as textual IR, malloc'd. -EBADMSG if it does not parse. */
int acfs_bitcode_disassemble(const void *data, size_t len, char **ret_text,
			     char *err);

/* Info <-> the bytes the store keeps beside an entry (malloc'd). */
int acfs_bitcode_info_encode(const struct acfs_bitcode_info *info,
			     void **ret, size_t *ret_len);
int acfs_bitcode_info_decode(const void *val, size_t len,
			     struct acfs_bitcode_info *ret);

/* Is @len bytes at @data one valid JSON text? -EBADMSG with the reason. */
int acfs_json_check(const void *data, size_t len, char *err);

#endif
