/* SPDX-License-Identifier: MIT */
/*
 * gen-bitcode: writes real LLVM bitcode made with LLVM-C, the way a
 * monomorphizing compiler would emit one specialization per module.
 *
 *   gen-bitcode OUT.bc NAME FUNCTIONS [--triple TRIPLE] [--data BYTES]
 *               [--invalid 1]
 *
 * FUNCTIONS sets the size: each function is a small loop over i32 math, so
 * 1 gives ~1 KiB and 400 gives well over 16 KiB (the size at which LLVM
 * mmaps a file). NAME seeds function names and constants, so different
 * names give different bytes and the same name always the same bytes.
 * Such modules are very regular (zstd shrinks them ~10x); --data adds a
 * constant array of BYTES pseudo-random bytes, which does not compress,
 * to get entries whose stored size is what a test needs. --invalid 1 adds
 * a function that parses but fails the verifier (i32 function, ret void).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>

#include "bitcode-func.h"

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void add_data(LLVMModuleRef m, LLVMContextRef ctx, long n,
		     unsigned long long seed)
{
	char *bytes = malloc((size_t)n);
	unsigned long long x = seed | 1;

	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bytes[i] = (char)(x >> 24);
	}
	LLVMValueRef init = LLVMConstStringInContext(ctx, bytes, (unsigned)n, 1);
	LLVMValueRef g = LLVMAddGlobal(m, LLVMTypeOf(init), "aria_blob");
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	free(bytes);
}

int main(int argc, char **argv)
{
	const char *triple = "x86_64-pc-linux-gnu";
	long data = 0, invalid = 0;

	if (argc < 4 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: gen-bitcode OUT.bc NAME FUNCTIONS "
			"[--triple TRIPLE] [--data BYTES]\n");
		return argc < 4 ? 2 : 0;
	}
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--triple") == 0)
			triple = argv[i + 1];
		else if (strcmp(argv[i], "--data") == 0)
			data = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--invalid") == 0)
			invalid = strtol(argv[i + 1], NULL, 10);
	}
	const char *out = argv[1], *name = argv[2];
	long nfuncs = strtol(argv[3], NULL, 10);
	unsigned long long seed = fnv1a(name);
	LLVMContextRef ctx = LLVMContextCreate();
	LLVMModuleRef m = LLVMModuleCreateWithNameInContext(name, ctx);

	LLVMSetTarget(m, triple);
	if (data > 0)
		add_data(m, ctx, data, seed);
	LLVMSetDataLayout(m, "e-m:e-p270:32:32-p271:32:32-p272:64:64-"
			     "i64:64-f80:128-n8:16:32:64-S128");
	for (long f = 0; f < (nfuncs > 0 ? nfuncs : 1); f++) {
		char fname[256];
		snprintf(fname, sizeof(fname), "aria_max_%s_%ld", name, f);
		add_function(m, ctx, fname, seed + (unsigned long long)f * 7919);
	}
	if (invalid) {
		LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx);
		LLVMValueRef f = LLVMAddFunction(m, "aria_broken",
						 LLVMFunctionType(i32, NULL, 0, 0));
		LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
		LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(
						    ctx, f, "entry"));
		LLVMBuildRetVoid(b);
		LLVMDisposeBuilder(b);
	}
	int r = LLVMWriteBitcodeToFile(m, out);
	LLVMDisposeModule(m);
	LLVMContextDispose(ctx);
	if (r != 0) {
		fprintf(stderr, "gen-bitcode: cannot write %s\n", out);
		return 1;
	}
	return 0;
}
