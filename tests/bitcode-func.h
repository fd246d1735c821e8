/* SPDX-License-Identifier: MIT */
/*
 * One function of generated bitcode, shared by gen-bitcode and the build
 * benchmark (bench/build-sim.c): a loop over i32 math whose constants come
 * from @seed, as a monomorphized generic might look. Header-only.
 */
#ifndef ACFS_TESTS_BITCODE_FUNC_H
#define ACFS_TESTS_BITCODE_FUNC_H

#include <llvm-c/Core.h>

static void add_function(LLVMModuleRef m, LLVMContextRef ctx,
			 const char *name, unsigned long long seed)
{
	LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx);
	LLVMTypeRef params[] = { i32, i32 };
	LLVMTypeRef fty = LLVMFunctionType(i32, params, 2, 0);
	LLVMValueRef f = LLVMAddFunction(m, name, fty);
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ctx, f, "entry");
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(ctx, f, "loop");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, f, "done");
	LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
	LLVMValueRef a = LLVMGetParam(f, 0), n = LLVMGetParam(f, 1);

	LLVMPositionBuilderAtEnd(b, entry);
	LLVMBuildBr(b, loop);

	LLVMPositionBuilderAtEnd(b, loop);
	LLVMValueRef i = LLVMBuildPhi(b, i32, "i");
	LLVMValueRef acc = LLVMBuildPhi(b, i32, "acc");
	LLVMValueRef k = LLVMConstInt(i32, seed % 1000003, 0);
	LLVMValueRef t = LLVMBuildMul(b, acc, k, "t");
	t = LLVMBuildXor(b, t, i, "x");
	t = LLVMBuildAdd(b, t, LLVMConstInt(i32, (seed >> 20) % 65521, 0),
			 "y");
	LLVMValueRef next = LLVMBuildAdd(b, i, LLVMConstInt(i32, 1, 0), "n");
	LLVMValueRef cond = LLVMBuildICmp(b, LLVMIntSLT, next, n, "c");
	LLVMBuildCondBr(b, cond, loop, done);
	LLVMValueRef zero = LLVMConstInt(i32, 0, 0);
	LLVMValueRef ivals[] = { zero, next };
	LLVMValueRef avals[] = { a, t };
	LLVMBasicBlockRef blocks[] = { entry, loop };
	LLVMAddIncoming(i, ivals, blocks, 2);
	LLVMAddIncoming(acc, avals, blocks, 2);

	LLVMPositionBuilderAtEnd(b, done);
	LLVMBuildRet(b, t);
	LLVMDisposeBuilder(b);
}

#endif
