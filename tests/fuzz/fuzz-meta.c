/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the .meta JSON check that runs on every .meta commit. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "acfs/bitcode.h"
#include "acfs/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ACFS_ERR_MAX];
	int r = acfs_json_check(data, size, err);

	if (r != 0 && r != -EBADMSG && r != -ENOMEM)
		abort();
	return 0;
}
