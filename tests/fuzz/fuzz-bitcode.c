/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what every .bc commit runs at the default
 * --validate=parse: our magic/wrapper check, then LLVM's lazy bitcode
 * reader, in the daemon's process. A crash here is a daemon crash.
 */
#include <stdint.h>
#include <stdlib.h>

#include "acfs/bitcode.h"
#include "acfs/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ACFS_ERR_MAX];
	struct acfs_bitcode_info info;

	if (acfs_bitcode_check(data, size, ACFS_VALIDATE_PARSE, NULL, &info,
			       err) == 0)
		acfs_bitcode_info_release(&info);
	return 0;
}
