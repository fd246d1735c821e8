/* SPDX-License-Identifier: MIT */
/* The table of aria-cache subcommands and helpers they share. */
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

static const struct acfs_cmd commands[] = {
	{ "stats", acfs_cmd_stats, "[--json]",
	  "Shows entries, logical and stored bytes, the budget, hits, misses,\n"
	  "stores, rejected stores, evictions, quarantined versions, reads\n"
	  "checked against their digest, the hit ratio and uptime, and for\n"
	  "each remote tier its hits, misses, errors, timeouts, bytes up and\n"
	  "down, upload queue depth and circuit breaker state.\n"
	  "  --json   machine-readable output", false },
	{ "metrics", acfs_cmd_metrics, "",
	  "Prints the counters, gauges and latency histograms (hits, stores,\n"
	  "validation, remote fetches) in the Prometheus text exposition\n"
	  "format, labelled with the store, the mount and each remote; for a\n"
	  "node_exporter textfile collector:\n"
	  "  aria-cache metrics > DIR/aria-cache.prom.$$ &&\n"
	  "    mv DIR/aria-cache.prom.$$ DIR/aria-cache.prom", false },
	{ "top", acfs_cmd_top, "[--interval SECONDS] [--count N] [--json]",
	  "A live view for someone watching a build: hits, misses, stores,\n"
	  "rejected stores and evictions per second, remote traffic, the\n"
	  "upload queue; refreshed in place on a terminal, one line per\n"
	  "sample otherwise. Ctrl-C ends it.\n"
	  "  --interval SECONDS   between samples (default 1)\n"
	  "  --count N            stop after N samples\n"
	  "  --json               one JSON object per sample and line", false },
	{ "zero-stats", acfs_cmd_zero_stats, "[--json]",
	  "Resets the activity counters (hits, misses, stores, evictions).", false },
	{ "gc", acfs_cmd_gc,
	  "[--max-size SIZE] [--older-than DURATION] [--dry-run] [--yes] "
	  "[--verbose] [--json]",
	  "Evicts least-recently-used entries first, never pinned ones, until\n"
	  "the stored bytes fit SIZE (default: the budget; 0: no size limit,\n"
	  "as for the daemon) and nothing is older than DURATION (90s, 10m,\n"
	  "2h, 7d, 1w). Prints how many entries and bytes went. Removing\n"
	  "more than half of the entries asks first (`aria-cache clear`\n"
	  "empties the cache).\n"
	  "  --dry-run   print exactly what would be removed, remove nothing\n"
	  "  --verbose   print each path removed (or, with --dry-run, that\n"
	  "              would be)\n"
	  "  --yes       do not ask (needed when stdin is not a terminal)\n"
	  "  --json      the removed paths and sizes, and the totals", false },
	{ "ls", acfs_cmd_ls,
	  "[--sort=atime|size|mtime] [--reverse] [--limit N] [--json]",
	  "Lists entries with size, stored size, last use, commit time, pin.\n"
	  "  --sort=atime   least recently used first (eviction order; default)\n"
	  "  --sort=size    largest first\n"
	  "  --sort=mtime   oldest commit first\n"
	  "  --reverse      the other way round\n"
	  "  --limit N      at most N entries\n"
	  "  --json         machine-readable output", false },
	{ "inspect", acfs_cmd_inspect, "KEY|PATH [--json] [--disassemble]",
	  "Shows what an entry holds: size, stored size, last use, commit\n"
	  "time, pin, and for bitcode the target triple, data layout,\n"
	  "producer and the defined functions.\n"
	  "  --json          machine-readable output\n"
	  "  --disassemble   print the module as textual LLVM IR", false },
	{ "pin", acfs_cmd_pin, "[--json] KEY|PATH...",
	  "Pins entries: never evicted. KEY is 16 hex digits (the .bc), or\n"
	  "KEY.meta, or a path ending in monomorph/<xx>/<14 hex>.bc|.meta.", false },
	{ "import", acfs_cmd_import, "[--json] DIR",
	  "Imports a plain cache directory in the compiler's layout\n"
	  "(DIR/monomorph/<xx>/<14 hex>.bc|.meta, written before the mount\n"
	  "existed): every file is checked as a commit is (bitcode to the\n"
	  "validation level, .meta as JSON), its modification time becomes its\n"
	  "last use, and an entry the store has already stays. Prints each\n"
	  "refused file with the reason; exits 1 if any was refused. DIR is not\n"
	  "changed: move it aside, then mount over the emptied directory.\n"
	  "  --json   machine-readable output", false },
	{ "publish", acfs_cmd_publish, "[--json] REF",
	  "Publishes a manifest of every key in the store onto the remotes,\n"
	  "under REF (a branch or a commit): CI runs it after aria-cache sync,\n"
	  "so that developers can prefetch what it built. Runs in the daemon.\n"
	  "  --json   machine-readable output", false },
	{ "prefetch", acfs_cmd_prefetch, "[--jobs N] [--max-keys N] [--json] REF",
	  "Fetches the entries of manifest REF that are not here from the\n"
	  "remotes, N at once (default 8), validates and stores them: run it\n"
	  "after git pull, before the build, so the build's probes hit locally.\n"
	  "Stops before the store passes 90% of its budget (it never evicts).\n"
	  "Shows progress on a terminal and ends with a summary; exits 1 if the\n"
	  "manifest is missing or a fetch failed. Runs in the daemon.\n"
	  "  --jobs N   fetches at once, 1..64\n"
	  "  --max-keys N  refuse a manifest naming more keys (default\n"
	  "             1000000); a manifest is read strictly, whole or not\n"
	  "  --json     machine-readable output", false },
	{ "unpin", acfs_cmd_unpin, "[--json] KEY|PATH...", "Unpins entries.", false },
	{ "clear", acfs_cmd_clear, "[--yes] [--json]",
	  "Removes every entry, pinned ones too. Asks first unless --yes.", false },
	{ "verify", acfs_cmd_verify,
	  "[--repair] [--validate LEVEL] [--target TRIPLE] [--json]",
	  "Reads every entry back and checks its SHA-256 digest and its\n"
	  "bitcode (or .meta JSON), lists quarantined versions, and checks the\n"
	  "indexes (lru, info, orphan rows, blobs nobody owns) and the size\n"
	  "counters (of entries and of the ordinary tree). Prints one line per\n"
	  "problem with the key and the reason;\n"
	  "exits 1 if any is left.\n"
	  "  --repair          remove bad entries and quarantined versions,\n"
	  "                    delete dangling rows, correct the counters\n"
	  "  --validate LEVEL  none, magic, parse (default) or verify\n"
	  "  --target TRIPLE   also refuse modules for another target\n"
	  "  --json            machine-readable output", false },
	{ "sync", acfs_cmd_sync, "[--timeout DURATION] [--forget-dropped] [--json]",
	  "Waits until every commit queued for upload has reached the remote\n"
	  "tiers (--remote), e.g. at the end of a CI build; retries once each\n"
	  "version a remote refused or a full queue kept from it. Exits 1 if\n"
	  "uploads are still pending after DURATION (default 10m), or if any\n"
	  "version is still not on a remote (reported until uploaded).\n"
	  "  --timeout DURATION  give up after it (90s, 10m, 2h)\n"
	  "  --forget-dropped    stop reporting versions no remote has\n"
	  "  --json              machine-readable output", false },
	{ "repair", acfs_cmd_repair, "[--yes] [--json]",
	  "Recovers a damaged store (one the daemon and aria-cache refuse to\n"
	  "open: RocksDB files without CURRENT, a MANIFEST cut short). Copies\n"
	  "the store's files to STORE/db.damaged-TIME first, runs RocksDB's\n"
	  "repair, removes entries whose bytes did not survive, and reports\n"
	  "the entries recovered and lost. Only when no daemon holds the\n"
	  "store. Asks first unless --yes.\n"
	  "  --json   machine-readable summary", false },
	{ "config", acfs_cmd_config, "[--json]",
	  "Prints the settings and where each comes from: command line >\n"
	  "environment (ARIA_CACHE_*) > user config\n"
	  "($XDG_CONFIG_HOME/aria-cachefs/config) > system config\n"
	  "(/etc/aria-cachefs/config) > defaults. Through a mount (-C, or the\n"
	  "current project's): those its daemon runs with; otherwise those a\n"
	  "daemon started now would use.", true },
};

const struct acfs_cmd *acfs_cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Edit distance (insert, delete, substitute, swap neighbours). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la >= 32 || lb >= 32)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *acfs_cmd_suggest(const char *name)
{
	const char *best = NULL;
	size_t bd = 3; /* at most two edits away */

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		size_t d = distance(name, commands[i].name);
		if (d < bd) {
			bd = d;
			best = commands[i].name;
		}
	}
	return best;
}

void acfs_cmd_list(FILE *f)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "    %-11s %s\n", commands[i].name,
			commands[i].usage);
}

int acfs_cmd_run(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	const struct acfs_cmd *c = argc > 0 ? acfs_cmd_find(argv[0]) : NULL;

	if (!c) {
		fprintf(ctx->err, "aria-cache: unknown command %s (try "
			"aria-cache --help)\n", argc > 0 ? argv[0] : "(none)");
		return 2;
	}
	return c->run(ctx, argc, argv);
}

bool acfs_cmd_confirm(const char *name, const char *question)
{
	char line[16];

	if (!isatty(0)) {
		fprintf(stderr, "aria-cache %s: refusing without --yes "
			"(standard input is not a terminal)\n", name);
		return false;
	}
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) &&
	    (line[0] == 'y' || line[0] == 'Y'))
		return true;
	fprintf(stderr, "aria-cache %s: not answered yes: nothing done\n",
		name);
	return false;
}

int64_t acfs_cmd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void acfs_cmd_format_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (ns <= 0 || !localtime_r(&t, &tm) ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
}

void acfs_cmd_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void acfs_cmd_prom_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int acfs_cmd_usage_error(struct acfs_cmd_ctx *ctx, const char *name,
			 const char *fmt, ...)
{
	const struct acfs_cmd *c = acfs_cmd_find(name);
	char msg[512], near[64] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A mistyped option: the closest one the command takes. */
	char bad_opt[64] = "";
	const char *bad = NULL;
	if (strncmp(msg, "unknown option ", 15) == 0) {
		snprintf(bad_opt, sizeof(bad_opt), "%.*s",
			 (int)strcspn(msg + 15, "="), msg + 15);
		bad = bad_opt;
	}
	size_t bd = 3;
	for (const char *u = c && bad ? c->usage : ""; (u = strstr(u, "--"));) {
		size_t n = strcspn(u, " ]=|\n");
		char opt[64];
		if (n < sizeof(opt)) {
			memcpy(opt, u, n);
			opt[n] = '\0';
			size_t d = distance(bad, opt);
			if (d < bd && strcmp(bad, opt) != 0) {
				bd = d;
				snprintf(near, sizeof(near), "%s", opt);
			}
		}
		u += n;
	}
	fprintf(ctx->err, "aria-cache %s: %s%s%s%s\nusage: aria-cache %s %s\n",
		name, msg, *near ? "; did you mean " : "", near,
		*near ? "?" : "", name, c ? c->usage : "");
	return 2;
}

int acfs_cmd_opt(int argc, char **argv, int *i, const char *name,
		 const char **ret)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*ret = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*ret = argv[++*i];
	return 1;
}
