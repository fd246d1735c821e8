/* SPDX-License-Identifier: MIT */
/* --version: library versions and the build's commit (acfs/version.h). */
#include "acfs/version.h"

#include <stdio.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <zstd.h>

#include "version-commit.h"

/* From the files that own the headers (kv-resume.cc: RocksDB's C++
 * version.h; bitcode.c: LLVM). */
const char *acfs_kv_version(void);
const char *acfs_llvm_version(void);

void acfs_library_versions(char *buf, size_t len)
{
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);

	snprintf(buf, len, "RocksDB %s, LLVM %s, libcurl %s, hiredis %d.%d.%d, "
		 "zstd %s", acfs_kv_version(), acfs_llvm_version(),
		 c ? c->version : "?", HIREDIS_MAJOR, HIREDIS_MINOR,
		 HIREDIS_PATCH, ZSTD_versionString());
}

const char *acfs_build_commit(void)
{
	return ACFS_BUILD_COMMIT;
}
