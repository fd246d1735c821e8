/* SPDX-License-Identifier: MIT */
/*
 * build-sim: a build that does real compile work per specialization, the
 * way the Aria compiler uses its cache. For each of UNITS specializations:
 * probe CACHE/monomorph/<k0k1>/<k2..k15>.bc; on a hit, load it as LLVM
 * does (MemoryBuffer: open, fstat, read or mmap) and parse the module; on
 * a miss, generate the module with LLVM-C (4 to 63 functions, each a
 * loop of i32 math), optimize it (default<O2>), write its bitcode to
 * CACHE/tmp and rename it into its shard (mkdir -p of the shard first).
 *
 *   build-sim CACHE UNITS [SEED]
 *
 * Prints "hits H misses M seconds S". The same UNITS and SEED give the
 * same keys and the same modules, so a second run is all hits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "../bitcode-func.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long mix(unsigned long long x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* The compiler's work for a miss: generate, optimize, emit bitcode. */
static LLVMMemoryBufferRef compile(unsigned long long key)
{
	LLVMContextRef ctx = LLVMContextCreate();
	char name[64];
	snprintf(name, sizeof(name), "spec_%016llx", key);
	LLVMModuleRef m = LLVMModuleCreateWithNameInContext(name, ctx);
	unsigned nf = 4 + (unsigned)(key % 60);

	LLVMSetTarget(m, "x86_64-pc-linux-gnu");
	LLVMSetDataLayout(m, "e-m:e-p270:32:32-p271:32:32-p272:64:64-"
			     "i64:64-f80:128-n8:16:32:64-S128");
	for (unsigned f = 0; f < nf; f++) {
		char fname[96];
		snprintf(fname, sizeof(fname), "%s_%u", name, f);
		add_function(m, ctx, fname, mix(key + f));
	}
	LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
	LLVMErrorRef e = LLVMRunPasses(m, "default<O2>", NULL, o);
	LLVMDisposePassBuilderOptions(o);
	if (e) {
		char *msg = LLVMGetErrorMessage(e);
		fprintf(stderr, "build-sim: optimizing: %s\n", msg);
		LLVMDisposeErrorMessage(msg);
		exit(1);
	}
	LLVMMemoryBufferRef buf = LLVMWriteBitcodeToMemoryBuffer(m);
	LLVMDisposeModule(m);
	LLVMContextDispose(ctx);
	return buf;
}

static int store(const char *cache, const char *shard, const char *path,
		 LLVMMemoryBufferRef buf)
{
	char tmp[4200];
	const char *p = LLVMGetBufferStart(buf);
	size_t len = LLVMGetBufferSize(buf);
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/tmp/build-sim.%d.tmp", cache, getpid());
	if (mkdir(shard, 0755) < 0 && errno != EEXIST)
		return -1;
	if (!(f = fopen(tmp, "wb")))
		return -1;
	if (fwrite(p, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* The compiler's work for a hit: load and parse the cached module. */
static int load(const char *path)
{
	LLVMMemoryBufferRef buf;
	LLVMContextRef ctx;
	LLVMModuleRef m;
	char *msg = NULL;

	if (LLVMCreateMemoryBufferWithContentsOfFile(path, &buf, &msg)) {
		LLVMDisposeMessage(msg);
		return -1;
	}
	ctx = LLVMContextCreate();
	if (LLVMParseBitcodeInContext2(ctx, buf, &m)) {
		fprintf(stderr, "build-sim: %s does not parse\n", path);
		exit(1);
	}
	LLVMDisposeModule(m);
	LLVMContextDispose(ctx);
	LLVMDisposeMemoryBuffer(buf);
	return 0;
}

int main(int argc, char **argv)
{
	char shard[4200], path[4300], tmpdir[4200];
	unsigned long hits = 0, misses = 0;

	if (argc < 3 || argc > 4 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: build-sim CACHE UNITS [SEED]\n");
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	const char *cache = argv[1];
	unsigned long units = strtoul(argv[2], NULL, 10);
	unsigned long long seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/monomorph", cache);
	mkdir(tmpdir, 0755);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", cache);
	mkdir(tmpdir, 0755);
	double t0 = now();
	for (unsigned long u = 0; u < units; u++) {
		unsigned long long key = mix(seed * 1000003ULL + u);
		char hex[17];
		snprintf(hex, sizeof(hex), "%016llx", key);
		snprintf(shard, sizeof(shard), "%s/monomorph/%.2s", cache, hex);
		snprintf(path, sizeof(path), "%s/%s.bc", shard, hex + 2);
		if (load(path) == 0) {
			hits++;
			continue;
		}
		misses++;
		LLVMMemoryBufferRef buf = compile(key);
		if (store(cache, shard, path, buf) < 0) {
			perror(path);
			return 1;
		}
		LLVMDisposeMemoryBuffer(buf);
	}
	printf("hits %lu misses %lu seconds %.3f\n", hits, misses, now() - t0);
	return 0;
}
