/* SPDX-License-Identifier: MIT */
/*
 * Logging: stderr in the foreground, syslog (the journal) in the
 * background, or the file ARIA_CACHE_LOG_FILE names (appended; the tests
 * use it to see what a background daemon said).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "cachefs.h"

static bool log_syslog;
static bool log_debug;
static FILE *log_file;

void acfs_log_init(bool use_syslog, bool debug)
{
	const char *path = getenv("ARIA_CACHE_LOG_FILE");

	log_debug = debug;
	if (use_syslog && path && *path) {
		log_file = fopen(path, "ae");
		if (log_file)
			setvbuf(log_file, NULL, _IOLBF, 0);
	}
	log_syslog = use_syslog && !log_file;
	if (log_syslog)
		openlog("aria-cachefs", LOG_PID, LOG_DAEMON);
}

bool acfs_log_debug_enabled(void)
{
	return log_debug;
}

void acfs_trace(struct acfs_daemon *d, const char *event,
		const struct acfs_key *key, uint64_t bytes, int64_t t0_ns)
{
	char path[ACFS_KEY_PATH_MAX];

	if (!d->trace)
		return;
	acfs_key_format_path(key, path);
	acfs_log(LOG_INFO, "trace %s %s %llu bytes %.1f us", event, path,
		 (unsigned long long)bytes,
		 t0_ns ? (double)(acfs_now_ns() - t0_ns) / 1000.0 : 0.0);
}

void acfs_log(int priority, const char *fmt, ...)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice", "info",
		"debug",
	};
	va_list ap;

	if (priority == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(log_file ? log_file : stderr, "aria-cachefs: %s: %s\n",
			names[priority & 7], line);
	}
	va_end(ap);
}

void acfs_log_say(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	acfs_log(priority, "%s", line);
	/* Logged elsewhere (the journal, a file): the one starting the
	 * daemon sees it too, while its stderr is still ours. */
	if (log_syslog || log_file)
		fprintf(stderr, "aria-cachefs: %s\n", line);
}
