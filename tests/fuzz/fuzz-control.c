/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the control protocol of aria-cache. Even first byte:
 * the bytes are what a client sends the daemon (acfs_control_read_request
 * must refuse or parse them within its limits); odd: what a daemon sends
 * back to aria-cache (acfs_control_call must copy or refuse them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size < 1 || size > 60000)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	/* All bytes fit the socket buffer: write, then shut the end. */
	if (write(sv[0], data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[0], SHUT_WR);
	if (data[0] % 2 == 0) {
		int argc;
		char **argv;
		bool progress;
		if (acfs_control_read_request(sv[1], &argc, &argv,
					      &progress) == 0) {
			if (argc < 0 || argc > ACFS_CONTROL_MAX_ARGS)
				abort();
			acfs_control_free_argv(argc, argv);
		}
	} else {
		char *args[] = { "stats", "--json" };
		FILE *out = fopen("/dev/null", "w"), *err = fopen("/dev/null",
								  "w");
		if (out && err)
			acfs_control_call(sv[1], 2, args, false, out, err);
		if (out)
			fclose(out);
		if (err)
			fclose(err);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
