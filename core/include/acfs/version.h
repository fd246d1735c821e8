/* SPDX-License-Identifier: MIT */
/*
 * What --version prints beside our own version: the libraries this build
 * uses (RocksDB, LLVM, libcurl, hiredis, zstd; libfuse is the daemon's to
 * add) and the commit it was built from ("unknown" outside a git tree).
 */
#ifndef ACFS_VERSION_H
#define ACFS_VERSION_H

#include <stddef.h>

/* "RocksDB 7.8.3, LLVM 14.0.6, libcurl 7.88.1, hiredis 0.14.1, zstd 1.5.4" */
void acfs_library_versions(char *buf, size_t len);
/* The commit (git describe --always --dirty) of this build. */
const char *acfs_build_commit(void);

#endif
