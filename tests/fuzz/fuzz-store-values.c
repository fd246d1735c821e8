/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: values read back from the store, which a damaged disk
 * can make anything: blob values (format byte + zstd frame), module info
 * records, and the bitcode magic/wrapper check of our own code that runs
 * on every commit before LLVM is asked. First byte picks the parser.
 */
#include <stdint.h>
#include <stdlib.h>

#include "acfs/bitcode.h"
#include "acfs/store.h"
#include "blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ACFS_ERR_MAX];
	void *out;
	size_t len;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (acfs_blob_decode(data + 1, size - 1, &out, &len, err) == 0)
			free(out);
		break;
	case 1: {
		struct acfs_bitcode_info info;
		if (acfs_bitcode_info_decode(data + 1, size - 1, &info) == 0)
			acfs_bitcode_info_release(&info);
		break;
	}
	case 2:
		acfs_bitcode_check(data + 1, size - 1, ACFS_VALIDATE_MAGIC,
				   NULL, NULL, err);
		break;
	}
	return 0;
}
