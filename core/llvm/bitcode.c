/* SPDX-License-Identifier: MIT */
/*
 * LLVM-C behind acfs/bitcode.h. LLVM's messages are copied into the
 * caller's buffer and disposed here; nothing of LLVM leaves this file.
 */
#include "acfs/bitcode.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm/Config/llvm-config.h>

#include "acfs/store.h" /* ACFS_ERR_MAX */

static const char *const level_names[] = { "none", "magic", "parse", "verify" };

int acfs_validate_parse(const char *text, enum acfs_validate *ret)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(text, level_names[i]) == 0) {
			*ret = (enum acfs_validate)i;
			return 0;
		}
	return -EINVAL;
}

const char *acfs_validate_name(enum acfs_validate level)
{
	return level_names[level];
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The raw magic, or the wrapper header (0x0B17C0DE) around it. */
static int check_magic(const unsigned char *p, size_t len, char *err)
{
	static const unsigned char raw[4] = { 'B', 'C', 0xC0, 0xDE };

	if (len >= 20 && le32(p) == 0x0B17C0DEu) {
		uint32_t off = le32(p + 8), size = le32(p + 12);
		if ((uint64_t)off + size > len || size < 4 ||
		    memcmp(p + off, raw, 4) != 0) {
			snprintf(err, ACFS_ERR_MAX, "bitcode wrapper header "
				 "points at %u bytes at offset %u, not at "
				 "bitcode inside the %zu-byte file", size, off,
				 len);
			return -EBADMSG;
		}
		return 0;
	}
	if (len < 4 || memcmp(p, raw, 4) != 0) {
		snprintf(err, ACFS_ERR_MAX, "not LLVM bitcode: the file does "
			 "not start with the bitcode magic 'BC' 0xC0DE");
		return -EBADMSG;
	}
	return 0;
}

struct diag {
	char *err;
	bool seen;
};

static void on_diag(LLVMDiagnosticInfoRef di, void *u)
{
	struct diag *d = u;
	char *msg;

	if (LLVMGetDiagInfoSeverity(di) != LLVMDSError || d->seen)
		return;
	msg = LLVMGetDiagInfoDescription(di);
	snprintf(d->err, ACFS_ERR_MAX, "LLVM: %s", msg ? msg : "error");
	LLVMDisposeMessage(msg);
	d->seen = true;
}

/*
 * Parses into @ctx (with a diagnostic handler: LLVM's default one exits
 * the process on an error). @lazy reads the module's records and symbol
 * table but leaves function bodies unread (LLVMGetBitcodeModule...): on
 * success the module owns the buffer; on failure it is still ours.
 */
static int parse(LLVMContextRef ctx, const void *data, size_t len, bool lazy,
		 LLVMModuleRef *ret, char *err)
{
	struct diag d = { .err = err };
	LLVMMemoryBufferRef buf;
	int r = 0;

	LLVMContextSetDiagnosticHandler(ctx, on_diag, &d);
	buf = LLVMCreateMemoryBufferWithMemoryRange(data, len, "entry", 0);
	if (!buf)
		return -ENOMEM;
	if (lazy ? LLVMGetBitcodeModuleInContext2(ctx, buf, ret)
		 : LLVMParseBitcodeInContext2(ctx, buf, ret)) {
		if (!d.seen)
			snprintf(err, ACFS_ERR_MAX, "LLVM could not parse the "
				 "bitcode");
		*ret = NULL;
		r = -EBADMSG;
	}
	if (!lazy || r < 0)
		LLVMDisposeMemoryBuffer(buf);
	return r;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void collect_info(LLVMModuleRef m, struct acfs_bitcode_info *info)
{
	size_t used = 0, len;
	const char *s;

	memset(info, 0, sizeof(*info));
	s = LLVMGetTarget(m);
	copy_str(info->triple, sizeof(info->triple), s, strlen(s));
	s = LLVMGetDataLayoutStr(m);
	copy_str(info->datalayout, sizeof(info->datalayout), s, strlen(s));
	if (LLVMGetNamedMetadataNumOperands(m, "llvm.ident") > 0) {
		LLVMValueRef ops[1];
		LLVMGetNamedMetadataOperands(m, "llvm.ident", ops);
		LLVMValueRef str = LLVMGetNumOperands(ops[0]) > 0
					   ? LLVMGetOperand(ops[0], 0)
					   : NULL;
		unsigned n = 0;
		s = str ? LLVMGetMDString(str, &n) : NULL;
		if (s)
			copy_str(info->producer, sizeof(info->producer), s, n);
	}
	info->functions = malloc(ACFS_BITCODE_NAMES_MAX);
	for (LLVMValueRef f = LLVMGetFirstFunction(m); f;
	     f = LLVMGetNextFunction(f)) {
		if (LLVMIsDeclaration(f))
			continue;
		info->nfunctions++;
		s = LLVMGetValueName2(f, &len);
		if (info->functions && used + len + 2 < ACFS_BITCODE_NAMES_MAX) {
			memcpy(info->functions + used, s, len);
			used += len;
			info->functions[used++] = '\n';
		}
	}
	if (info->functions) {
		if (used)
			used--; /* no trailing newline */
		info->functions[used] = '\0';
	}
}

int acfs_bitcode_check(const void *data, size_t len, enum acfs_validate level,
		       const char *want_triple,
		       struct acfs_bitcode_info *ret_info, char *err)
{
	LLVMContextRef ctx;
	LLVMModuleRef m = NULL;
	int r;

	if (level == ACFS_VALIDATE_NONE)
		return 0;
	r = check_magic(data, len, err);
	if (r < 0 || level == ACFS_VALIDATE_MAGIC)
		return r;
	ctx = LLVMContextCreate();
	if (!ctx)
		return -ENOMEM;
	r = parse(ctx, data, len, level == ACFS_VALIDATE_PARSE, &m, err);
	if (r == 0 && level == ACFS_VALIDATE_VERIFY) {
		char *msg = NULL;
		if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
			/* First line only: a log line, not a report. */
			size_t n = msg ? strcspn(msg, "\n") : 0;
			snprintf(err, ACFS_ERR_MAX, "LLVM verifier: %.*s",
				 (int)n, msg ? msg : "invalid module");
			r = -EBADMSG;
		}
		LLVMDisposeMessage(msg);
	}
	if (r == 0 && want_triple && strcmp(LLVMGetTarget(m), want_triple)) {
		snprintf(err, ACFS_ERR_MAX, "module is for target %s, this "
			 "cache takes only %s (--target)", LLVMGetTarget(m),
			 want_triple);
		r = -EBADMSG;
	}
	if (r == 0 && ret_info)
		collect_info(m, ret_info);
	if (m)
		LLVMDisposeModule(m);
	LLVMContextDispose(ctx);
	return r;
}

void acfs_bitcode_info_release(struct acfs_bitcode_info *info)
{
	if (info) {
		free(info->functions);
		info->functions = NULL;
	}
}

int acfs_bitcode_disassemble(const void *data, size_t len, char **ret_text,
			     char *err)
{
	LLVMContextRef ctx = LLVMContextCreate();
	LLVMModuleRef m = NULL;
	int r = check_magic(data, len, err);

	if (r == 0)
		r = parse(ctx, data, len, false, &m, err);
	if (r == 0) {
		char *s = LLVMPrintModuleToString(m);
		*ret_text = s ? strdup(s) : NULL;
		LLVMDisposeMessage(s);
		if (!*ret_text)
			r = -ENOMEM;
		LLVMDisposeModule(m);
	}
	LLVMContextDispose(ctx);
	return r;
}

int acfs_bitcode_info_encode(const struct acfs_bitcode_info *info,
			     void **ret, size_t *ret_len)
{
	const char *f = info->functions ? info->functions : "";
	char *out;
	int n = asprintf(&out, "%s%c%s%c%s%c%u%c%s", info->triple, 0,
			 info->datalayout, 0, info->producer, 0,
			 info->nfunctions, 0, f);

	if (n < 0)
		return -ENOMEM;
	*ret = out;
	*ret_len = (size_t)n;
	return 0;
}

/* The next '\0'-terminated field of [*p, end), or NULL. */
static const char *field(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *z = memchr(s, '\0', (size_t)(end - s));

	if (!z)
		return NULL;
	*len = (size_t)(z - s);
	*p = z + 1;
	return s;
}

int acfs_bitcode_info_decode(const void *val, size_t len,
			     struct acfs_bitcode_info *ret)
{
	const char *p = val, *end = p + len, *s;
	size_t n;
	char num[16];

	memset(ret, 0, sizeof(*ret));
	if (!(s = field(&p, end, &n)))
		return -EIO;
	copy_str(ret->triple, sizeof(ret->triple), s, n);
	if (!(s = field(&p, end, &n)))
		return -EIO;
	copy_str(ret->datalayout, sizeof(ret->datalayout), s, n);
	if (!(s = field(&p, end, &n)))
		return -EIO;
	copy_str(ret->producer, sizeof(ret->producer), s, n);
	if (!(s = field(&p, end, &n)))
		return -EIO;
	copy_str(num, sizeof(num), s, n);
	ret->nfunctions = (uint32_t)strtoul(num, NULL, 10);
	n = (size_t)(end - p);
	ret->functions = malloc(n + 1);
	if (!ret->functions)
		return -ENOMEM;
	memcpy(ret->functions, p, n);
	ret->functions[n] = '\0';
	return 0;
}

int acfs_json_check(const void *data, size_t len, char *err)
{
	json_error_t e;
	json_t *j = json_loadb(data, len, JSON_DECODE_ANY, &e);

	if (!j) {
		snprintf(err, ACFS_ERR_MAX, "not valid JSON: %s (line %d, "
			 "column %d)", e.text, e.line, e.column);
		return -EBADMSG;
	}
	json_decref(j);
	return 0;
}

const char *acfs_llvm_version(void)
{
	return LLVM_VERSION_STRING;
}
