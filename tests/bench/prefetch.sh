#!/bin/bash
# prefetch: CI (mount A, read-write) stores N real bitcode entries, syncs
# them to a Redis on 127.0.0.1 and publishes a manifest; a developer's
# fresh mount P (read-only) prefetches it, then a build probes and reads
# every key. Prints the prefetch rate and the share of the build's probes
# answered locally (the rest went to the remote), and the same build on a
# fresh mount without prefetch for comparison.
#
#   tests/bench/prefetch.sh [BUILD_DIR] [N]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-10000}
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-prefetch.XXXXXX")
export ARIA_CACHE_LOG_FILE=${ARIA_CACHE_LOG_FILE:-$WORK/daemon.log}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
	local m pid
	for m in a p q; do
		pid=$(awk '{print $2}' "$WORK/$m.store/daemon.lock" 2>/dev/null)
		fusermount3 -u -z "$WORK/$m" 2>/dev/null || true
		while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	done
	redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--daemonize yes --logfile "$WORK/redis.log" >/dev/null
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
URL=redis://127.0.0.1:$PORT/0

echo "prefetch: $N real bitcode modules" >&2
mkdir -p "$WORK/corpus"
python3 - "$BUILD/tests/gen-bitcode" "$WORK/corpus" "$N" <<'PY'
import hashlib, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
gen, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def one(i):
    key = hashlib.sha256(b'prefetch-bench %d' % i).hexdigest()[:16]
    subprocess.run([gen, os.path.join(out, key + '.bc'), 'm%d' % i, str(1 + i % 4)], check=True)
with ThreadPoolExecutor(4) as ex:
    list(ex.map(one, range(n)))
PY
# store KEYS through MNT as the compiler does (tmp write + rename); read
# them back (probe + whole read): both in one process, timed.
cat >"$WORK/drive.py" <<'PY'
import os, sys, time
mode, mnt, corpus = sys.argv[1:4]
keys = sorted(f[:-3] for f in os.listdir(corpus))
t0 = time.monotonic()
for k in keys:
    data = open(os.path.join(corpus, k + '.bc'), 'rb').read()
    path = os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc')
    if mode == 'store':
        tmp = os.path.join(mnt, 'tmp', k)
        with open(tmp, 'wb') as f:
            f.write(data)
        os.rename(tmp, path)
    else:
        with open(path, 'rb') as f:
            assert f.read() == data, k
print('%.3f' % (time.monotonic() - t0))
PY
rstat() { "$BUILD/tools/aria-cache" -C "$WORK/$1" stats --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['remote']['tiers'][0]['$2'])"; }

"$BUILD/fs/aria-cachefs" --store "$WORK/a.store" --remote "$URL" "$WORK/a" 2>/dev/null
echo "prefetch: CI stores $N entries, syncs and publishes" >&2
python3 "$WORK/drive.py" store "$WORK/a" "$WORK/corpus" >/dev/null
"$BUILD/tools/aria-cache" -C "$WORK/a" sync --timeout 30m >/dev/null
"$BUILD/tools/aria-cache" -C "$WORK/a" publish bench >&2

"$BUILD/fs/aria-cachefs" --store "$WORK/p.store" --remote "$URL" --remote-mode read-only "$WORK/p" 2>/dev/null
echo "prefetch: a fresh mount prefetches the manifest" >&2
"$BUILD/tools/aria-cache" -C "$WORK/p" prefetch --json bench >"$WORK/pf.json"
build_p=$(python3 "$WORK/drive.py" read "$WORK/p" "$WORK/corpus")
remote_p=$(rstat p hits)

"$BUILD/fs/aria-cachefs" --store "$WORK/q.store" --remote "$URL" --remote-mode read-only --remote-wait 5s "$WORK/q" 2>/dev/null
echo "prefetch: the same build on a fresh mount without prefetch" >&2
build_q=$(python3 "$WORK/drive.py" read "$WORK/q" "$WORK/corpus")
remote_q=$(rstat q hits)

python3 - "$WORK/pf.json" "$N" "$build_p" "$remote_p" "$build_q" "$remote_q" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, bp, rp, bq, rq = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
print('prefetch of %d keys: %d fetched (%.1f MB) in %.2f s: %.0f entries/s, %d missing, %d failed'
      % (r['keys'], r['fetched'], r['fetched_bytes'] / 1e6, r['seconds'], r['entries_per_second'], r['missing'], r['failed']))
print('%-34s %10s %14s %16s' % ('build of %d probes + reads' % n, 'time', 'from remote', 'answered locally'))
print('%-34s %9.2fs %14d %15.2f%%' % ('after prefetch', bp, rp, 100.0 * (n - rp) / n))
print('%-34s %9.2fs %14d %15.2f%%' % ('without prefetch (read-through)', bq, rq, 100.0 * (n - rq) / n))
PY
