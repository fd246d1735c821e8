#!/bin/bash
# aria-cache metrics and top. Metrics: the Prometheus text exposition
# format, read by a
# Prometheus text-format parser (parse-prometheus-text-format from npm,
# tests/remote): counters end in _total and agree with stats --json, the
# latency histograms (hits, stores, validation, remote fetches) are
# cumulative and count what happened, every sample names the store and
# the mount (label values escaped: the store's path holds a quote and a
# backslash), each remote has its own samples; without a daemon the
# store's counters still come out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"

PARSER=$(cd "$(dirname "$0")/../remote" && pwd)/node_modules/parse-prometheus-text-format
[ -d "$PARSER" ] || { echo "the parser is not installed (packaging/install-deps.sh)" >&2; exit 1; }
STORE=$WORK/'my "store" \ here'
CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }

PORT=$(free_port)
ok "redis on 127.0.0.1:$PORT" start_redis "$PORT"
ok "mount with the Redis remote" mount_cache --remote "redis://127.0.0.1:$PORT/0"

# Five entries stored, each read twice (ten hits), three misses.
for i in 1 2 3 4 5; do
	"$ACFS_GEN" "$WORK/e$i.bc" "m$i" 3 || exit 1
done
store_and_read() {
	local i k
	for i in 1 2 3 4 5; do
		k=$MNT/monomorph/4d/00000000000e0$i.bc
		cp "$WORK/e$i.bc" "$MNT/tmp/t$i" && mv "$MNT/tmp/t$i" "$k" || return 1
		cmp "$WORK/e$i.bc" "$k" && cmp "$WORK/e$i.bc" "$k" || return 1
	done
	for i in 1 2 3; do
		! cat "$MNT/monomorph/4d/00000000000f0$i.bc" 2>/dev/null || return 1
	done
}
ok "5 stores, 10 hits, 3 misses" store_and_read
remote_misses() {
	CACHE stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["remote"]["tiers"][0]["misses"])'
}
# Eight read-through requests, all absent in Redis: the lookups of the
# five rename targets before they existed, and the three misses.
wait_until "Redis answered the eight fetches" 30 '[ "$(remote_misses)" = 8 ]'
ok "aria-cache metrics" sh -c "'$ACFS_TOOL' -C '$MNT' metrics >'$WORK/m.prom'"
ok "aria-cache stats --json" sh -c "'$ACFS_TOOL' -C '$MNT' stats --json >'$WORK/s.json'"

check() { # check MODE: the node checks below, on $WORK/m.prom
	node - "$PARSER" "$WORK/m.prom" "$WORK/s.json" "$STORE" "$MNT" "$1" <<'JS'
const [parserDir, promFile, statsFile, store, mnt, mode] = process.argv.slice(2);
const fs = require('fs');
const parse = require(parserDir);
const text = fs.readFileSync(promFile, 'utf8');
const families = parse(text);
const fam = {};
for (const f of families) fam[f.name] = f;
const fail = (m) => { console.log('# ' + m); process.exit(1); };
const need = (name, type) => {
	const f = fam['aria_cache_' + name];
	if (!f) fail('no family aria_cache_' + name);
	if (f.type !== type) fail(`aria_cache_${name} is ${f.type}, not ${type}`);
	return f;
};
const value = (name) => Number(need(name, name.endsWith('_total') ? 'COUNTER' : 'GAUGE').metrics[0].value);
// Every family: a HELP, a known type, counters named _total.
for (const f of families) {
	if (!f.help) fail(f.name + ' has no HELP');
	if (f.type === 'COUNTER' && !f.name.endsWith('_total')) fail(f.name + ' is a counter without _total');
	if (f.type === 'UNTYPED') fail(f.name + ' has no TYPE');
	for (const m of f.metrics) {
		if (f.type === 'HISTOGRAM') continue; // labels checked by hist()
		if (m.labels.store !== store) fail(`${f.name}: store label ${JSON.stringify(m.labels.store)}`);
		if (mode === 'daemon' && m.labels.mount !== mnt) fail(`${f.name}: mount label ${m.labels.mount}`);
	}
}
const stats = JSON.parse(fs.readFileSync(statsFile, 'utf8'));
for (const [metric, stat] of [['hits_total', 'hits'], ['misses_total', 'misses'],
	['stores_total', 'stores'], ['rejected_stores_total', 'rejected_stores'],
	['evictions_total', 'evictions']]) {
	if (value(metric) !== stats[stat]) fail(`${metric} ${value(metric)} != stats ${stat} ${stats[stat]}`);
}
for (const [metric, stat] of [['entries', 'entries'], ['stored_bytes', 'stored_bytes'],
	['logical_bytes', 'logical_bytes'], ['budget_bytes', 'budget_bytes']]) {
	if (value(metric) !== stats[stat]) fail(`${metric} ${value(metric)} != stats ${stat} ${stats[stat]}`);
}
if (value('entries') !== 5) fail('entries ' + value('entries'));
if (value('daemon_up') !== (mode === 'daemon' ? 1 : 0)) fail('daemon_up');
// The parser keeps only the buckets of a labelled histogram: its count and
// sum are read from the samples themselves (parsed with the same rules).
const samples = (name) => text.split('\n').filter((l) => l.startsWith(name + '{'))
	.map((l) => {
		const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(l);
		if (!m) fail('bad sample line: ' + l);
		const labels = {};
		for (const [, k, v] of m[2].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g))
			labels[k] = v.replace(/\\(.)/g, (x, c) => (c === 'n' ? '\n' : c));
		return { labels, value: Number(m[3]) };
	});
const hist = (name) => {
	const full = 'aria_cache_' + name + '_duration_seconds';
	const f = need(name + '_duration_seconds', 'HISTOGRAM');
	const buckets = samples(full + '_bucket');
	if (buckets.length < 2 || Object.keys(f.metrics[0].buckets).length !== buckets.length)
		fail(name + ': the parser and the samples disagree on the buckets');
	let last = -1, prevLe = -1;
	for (const b of buckets) {
		if (b.labels.store !== store || b.labels.mount !== mnt) fail(name + ': bucket labels');
		const l = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
		if (!(l > prevLe)) fail(`${name}: buckets out of order`);
		if (b.value < last) fail(`${name}: buckets not cumulative`);
		last = b.value; prevLe = l;
	}
	if (prevLe !== Infinity) fail(name + ': no +Inf bucket');
	const count = samples(full + '_count'), sum = samples(full + '_sum');
	if (count.length !== 1 || sum.length !== 1) fail(name + ': one _count and one _sum');
	if (count[0].value !== last) fail(`${name}: count ${count[0].value} != +Inf ${last}`);
	if (count[0].value > 0 && !(sum[0].value > 0)) fail(name + ': sum 0');
	return count[0].value;
};
if (mode === 'daemon') {
	// The default kernel hit mode times the hits that reach the daemon
	// (an entry's first read, which loads it); the kernel serves the rest.
	if (!(hist('hit') > 0 && hist('hit') <= stats.hits)) fail(`hit histogram ${hist('hit')} not in 1..hits ${stats.hits}`);
	if (hist('store') !== stats.stores) fail(`store histogram ${hist('store')} != stores ${stats.stores}`);
	if (hist('validate') < 5) fail('validate histogram ' + hist('validate'));
	if (hist('remote_fetch') !== 8) fail('remote_fetch histogram ' + hist('remote_fetch'));
	const r = need('remote_misses_total', 'COUNTER').metrics;
	if (r.length !== 1 || !/^redis:\/\/127\.0\.0\.1:/.test(r[0].labels.remote)) fail('remote label ' + JSON.stringify(r));
	if (Number(r[0].value) !== 8) fail('remote misses ' + r[0].value);
	need('remote_upload_queue', 'GAUGE');
	need('remote_breaker_open', 'GAUGE');
} else if (fam['aria_cache_hit_duration_seconds']) {
	fail('histograms without a daemon');
}
console.log(`# ${families.length} families parsed`);
JS
}
ok "metrics parse; counters agree with stats; histograms count hits, stores, validations, remote fetches; labels escaped" check daemon
# aria-cache top: samples stream back while a build reads; the rates
# count what happened between them.
top_while_reading() {
	CACHE top --count 4 --interval 0.5 --json >"$WORK/top.json" &
	local pid=$! i=0
	# Hits go on until top has taken its four samples: on a loaded machine
	# a fixed number of reads may all land before top's first sample
	# (CI failed this suite once on a loaded machine, output lost; this
	# was the one step whose outcome hung on timing).
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		cat "$MNT/monomorph/4d/00000000000e0$((i % 5 + 1)).bc" >/dev/null || return 1
	done
	wait "$pid" || return 1
	echo "$i reads while top sampled"
	python3 - "$WORK/top.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print('#', rows)
assert len(rows) == 4, len(rows)
assert all(r['interval_seconds'] > 0.4 for r in rows)
assert any(r['hits_per_second'] > 0 for r in rows), 'no hits seen'
hits = [r['hits'] for r in rows]
assert hits == sorted(hits), hits
# The rates add up to what the totals moved.
moved = sum(r['hits_per_second'] * r['interval_seconds'] for r in rows[1:])
assert abs(moved - (hits[-1] - hits[0])) <= 1, (moved, hits)
PY
}
ok "top --json: four samples while hits happen, rates add up to the totals" top_while_reading
ok "top on a pipe: one line per sample, rejected/s in it" sh -c \
	"'$ACFS_TOOL' -C '$MNT' top --count 2 --interval 0.2 | grep -c '^hits/s .* rejected/s ' | grep -qx 2"
top_quits() { # on a terminal (a pty), q ends top at once, exit 0, the tty restored
	python3 - "$ACFS_TOOL" "$MNT" <<'PY'
import os, pty, select, sys, termios, time
tool, mnt = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(tool, [tool, '-C', mnt, 'top', '--interval', '0.2'])
out, deadline = b'', time.time() + 20
while b'every 0.2s (q or Ctrl-C ends)' not in out and time.time() < deadline:
    if select.select([fd], [], [], 0.5)[0]:
        out += os.read(fd, 65536)
assert b'(q or Ctrl-C ends)' in out, out[-500:]
lflag = termios.tcgetattr(fd)[3]
assert not lflag & termios.ICANON, 'keys not read one at a time'
os.write(fd, b'q')
deadline = time.time() + 10
while time.time() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if select.select([fd], [], [], 0.2)[0]:
        try:
            os.read(fd, 65536)
        except OSError:
            pass
else:
    os.kill(pid, 9)
    sys.exit('top did not end on q')
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
assert termios.tcgetattr(fd)[3] & termios.ICANON, 'the terminal was not restored'
PY
}
ok "top on a terminal ends on q (exit 0) and gives the terminal back" top_quits
ok "top --interval 0 is a usage error (exit 2)" sh -c \
	"'$ACFS_TOOL' -C '$MNT' top --interval 0 2>/dev/null; [ \$? -eq 2 ]"
ok "unmount" fusermount3 -u "$MNT"
wait_until "the daemon is gone" 30 "[ -z \"\$(daemon_pid)\" ] || ! kill -0 \$(daemon_pid) 2>/dev/null" >/dev/null
ok "without a daemon: metrics of the store itself" sh -c \
	"'$ACFS_TOOL' --store '$STORE' metrics >'$WORK/m.prom' && '$ACFS_TOOL' --store '$STORE' stats --json >'$WORK/s.json'"
ok "they parse too, daemon_up 0, no histograms" check store
ok "metrics takes no arguments (usage error, exit 2)" sh -c \
	"'$ACFS_TOOL' --store '$STORE' metrics --bogus 2>/dev/null; [ \$? -eq 2 ]"
finish
