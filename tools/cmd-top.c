/* SPDX-License-Identifier: MIT */
/*
 * aria-cache top [--interval SECONDS] [--count N] [--json]: hits, misses,
 * stores, evictions and remote traffic per second, and the upload queue,
 * refreshed in place on a terminal (one line per sample otherwise, or one
 * JSON object per line with --json), for someone watching a build. It
 * runs where the counters are: inside the daemon, whose output streams
 * back sample by sample; it ends after N samples, or when aria-cache is
 * interrupted (its socket closes, the next write fails).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acfs/size.h"
#include "cmd.h"

struct sample {
	int64_t t;
	uint64_t hits, misses, stores, rejected, evictions;
	uint64_t down, up, queued;
	struct acfs_store_counters c;
};

static void take(struct acfs_cmd_ctx *ctx, struct sample *s)
{
	struct acfs_stats st;

	acfs_store_get_stats(ctx->store, &st);
	acfs_store_get_counters(ctx->store, &s->c);
	s->t = acfs_cmd_now_ns();
	s->hits = st.v[ACFS_STAT_HITS];
	s->misses = st.v[ACFS_STAT_MISSES];
	s->stores = st.v[ACFS_STAT_STORES];
	s->rejected = st.v[ACFS_STAT_REJECTED];
	s->evictions = st.v[ACFS_STAT_EVICTIONS];
	s->down = s->up = s->queued = 0;
	if (ctx->remote_totals)
		ctx->remote_totals(&s->down, &s->up, &s->queued, ctx->userdata);
	else if (acfs_store_upload_count(ctx->store, 0, &s->queued) < 0)
		s->queued = 0;
}

/* Per second from @a to @b; counters zeroed meanwhile count as 0. */
static double rate(uint64_t a, uint64_t b, double secs)
{
	return b >= a && secs > 0 ? (double)(b - a) / secs : 0.0;
}

static void frame(struct acfs_cmd_ctx *ctx, const struct sample *p,
		  const struct sample *s, bool json)
{
	double secs = (double)(s->t - p->t) / 1e9;
	uint64_t budget = acfs_store_budget(ctx->store);
	double ratio = s->hits + s->misses
			       ? 100.0 * (double)s->hits /
					 (double)(s->hits + s->misses)
			       : 0.0;
	char a[32], b[32], c[32], d[32];

	if (json) {
		fprintf(ctx->out, "{\"time_ns\": %lld, \"interval_seconds\": "
			"%.3f, \"hits_per_second\": %.1f, "
			"\"misses_per_second\": %.1f, \"stores_per_second\": "
			"%.1f, \"rejected_per_second\": %.1f, "
			"\"evictions_per_second\": %.1f, "
			"\"remote_down_bytes_per_second\": %.0f, "
			"\"remote_up_bytes_per_second\": %.0f, "
			"\"upload_queue\": %llu, \"hits\": %llu, \"misses\": "
			"%llu, \"stores\": %llu, \"entries\": %llu, "
			"\"stored_bytes\": %llu}\n", (long long)s->t, secs,
			rate(p->hits, s->hits, secs),
			rate(p->misses, s->misses, secs),
			rate(p->stores, s->stores, secs),
			rate(p->rejected, s->rejected, secs),
			rate(p->evictions, s->evictions, secs),
			rate(p->down, s->down, secs), rate(p->up, s->up, secs),
			(unsigned long long)s->queued,
			(unsigned long long)s->hits,
			(unsigned long long)s->misses,
			(unsigned long long)s->stores,
			(unsigned long long)s->c.entries,
			(unsigned long long)s->c.stored);
		return;
	}
	acfs_size_format((uint64_t)rate(p->down, s->down, secs), a, sizeof(a));
	acfs_size_format((uint64_t)rate(p->up, s->up, secs), b, sizeof(b));
	acfs_size_format(s->c.stored, c, sizeof(c));
	acfs_size_format(budget, d, sizeof(d));
	if (!ctx->progress) {
		/* Not a terminal: one line per sample. */
		fprintf(ctx->out, "hits/s %.1f misses/s %.1f stores/s %.1f "
			"rejected/s %.1f evictions/s %.1f down %s/s up %s/s "
			"queue %llu entries %llu stored %s\n",
			rate(p->hits, s->hits, secs),
			rate(p->misses, s->misses, secs),
			rate(p->stores, s->stores, secs),
			rate(p->rejected, s->rejected, secs),
			rate(p->evictions, s->evictions, secs), a, b,
			(unsigned long long)s->queued,
			(unsigned long long)s->c.entries, c);
		return;
	}
	fprintf(ctx->out, "\033[H\033[2J");
	fprintf(ctx->out, "aria-cache top   %s%s%s   every %.1fs (q or Ctrl-C "
		"ends)\n\n", ctx->store_dir, ctx->mountpoint ? " at " : "",
		ctx->mountpoint ? ctx->mountpoint : "", secs);
	fprintf(ctx->out, "                 per second        total\n");
	fprintf(ctx->out, "hits           %12.1f %12llu\n",
		rate(p->hits, s->hits, secs), (unsigned long long)s->hits);
	fprintf(ctx->out, "misses         %12.1f %12llu\n",
		rate(p->misses, s->misses, secs),
		(unsigned long long)s->misses);
	fprintf(ctx->out, "stores         %12.1f %12llu\n",
		rate(p->stores, s->stores, secs),
		(unsigned long long)s->stores);
	fprintf(ctx->out, "rejected       %12.1f %12llu\n",
		rate(p->rejected, s->rejected, secs),
		(unsigned long long)s->rejected);
	fprintf(ctx->out, "evictions      %12.1f %12llu\n",
		rate(p->evictions, s->evictions, secs),
		(unsigned long long)s->evictions);
	fprintf(ctx->out, "remote down    %10s/s\n", a);
	fprintf(ctx->out, "remote up      %10s/s\n", b);
	fprintf(ctx->out, "upload queue   %12llu\n\n",
		(unsigned long long)s->queued);
	fprintf(ctx->out, "entries %llu, stored %s of %s, hit ratio %.1f%%\n",
		(unsigned long long)s->c.entries, c, budget ? d : "no budget",
		ratio);
}

int acfs_cmd_top(struct acfs_cmd_ctx *ctx, int argc, char **argv)
{
	double interval = 1.0;
	long count = -1;
	bool json = false;
	struct sample prev, cur;

	for (int i = 1; i < argc; i++) {
		const char *v;
		char *end;
		int r;

		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--interval", &v))) {
			interval = r > 0 ? strtod(v, &end) : 0;
			if (r < 0 || *end || !(interval >= 0.1) ||
			    interval > 3600)
				return acfs_cmd_usage_error(ctx, "top",
					"--interval takes seconds, 0.1 to 3600");
		} else if ((r = acfs_cmd_opt(argc, argv, &i, "--count", &v))) {
			count = r > 0 ? strtol(v, &end, 10) : 0;
			if (r < 0 || *end || count < 1)
				return acfs_cmd_usage_error(ctx, "top",
					"--count takes a number of samples, 1 "
					"or more");
		} else {
			return acfs_cmd_usage_error(ctx, "top",
						    "unknown option %s",
						    argv[i]);
		}
	}
	take(ctx, &prev);
	for (long n = 0; count < 0 || n < count; n++) {
		/* In slices of 0.1 s: a daemon that stops is not kept
		 * waiting for the next sample. */
		for (double left = interval; left > 1e-9; left -= 0.1) {
			double d = left < 0.1 ? left : 0.1;
			struct timespec ts = { 0, (long)(d * 1e9) };
			while (nanosleep(&ts, &ts) < 0)
				;
			if (ctx->stopping && ctx->stopping(ctx->userdata))
				return 0;
		}
		take(ctx, &cur);
		frame(ctx, &prev, &cur, json);
		prev = cur;
		/* The reader went away (Ctrl-C): stop. */
		if (fflush(ctx->out) != 0 || ferror(ctx->out))
			break;
	}
	return 0;
}
