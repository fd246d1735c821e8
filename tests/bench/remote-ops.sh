#!/bin/bash
# remote-ops: what a remote tier costs and gives, in one run, against a
# plain directory on the same disk: the compiler's hit (stat + read the
# whole file) from a plain directory, from the mount with the entry local,
# and from a fresh mount that fetches it from Redis or nginx (WebDAV) on
# 127.0.0.1 (digest check, LLVM validation, local commit, read); the
# compiler's probe of an absent key with and without a remote (a remote
# miss, then a remembered one); throughput of remote hits with 4 readers.
#
#   tests/bench/remote-ops.sh [BUILD_DIR] [N]     (needs redis-server, nginx)
set -eu
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-300}
B=$BUILD/tests
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-remote-bench.XXXXXX")
export ACFS_GEN=$B/gen-bitcode ACFS_DAEMON=$BUILD/fs/aria-cachefs
export ARIA_CACHE_LOG_FILE=$WORK/daemon.err
wait_until() { # DESC SECONDS CONDITION
	local deadline=$(($(date +%s) + $2))
	until eval "$3"; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "timed out: $1" >&2; return 1; }
		sleep 0.05
	done
}
cleanup() { rm -rf "$WORK"; }
. "$(dirname "$0")/../mount/remote-lib.sh"
GEN_BITCODE=$ACFS_GEN
. "$(dirname "$0")/../corpus.sh"
ACFS_TOOL=$BUILD/tools/aria-cache
say() { echo "remote-ops: $*" >&2; }

say "a corpus of $N real bitcode modules (1 KiB to 300 KiB) and $N absent keys"
make_corpus "$WORK/c" "$N" bench
make_corpus "$WORK/absent" "$N" absent
make_corpus "$WORK/other" 1 warm
PLAIN=$WORK/plain
mkdir -p "$PLAIN/monomorph" "$PLAIN/tmp"
store_all "$PLAIN" "$WORK/c"
bytes=$(cat "$WORK"/c/*.bc | wc -c)

RP=$(free_port)
HP=$(free_port)
start_redis "$RP" >/dev/null
start_nginx "$HP" >/dev/null

# probe MNT DIR READ: per-key latency of stat (+ whole read if READ=1) of
# DIR's keys under MNT; prints "total_s median_ms p99_ms found".
probe() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys, time
mnt, d, read = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
lat, found = [], 0
t0 = time.monotonic()
for f in sorted(os.listdir(d)):
    k = f[:-3]
    p = f"{mnt}/monomorph/{k[:2]}/{k[2:]}.bc"
    t = time.monotonic()
    try:
        os.stat(p)
        if read:
            with open(p, "rb") as fh:
                fh.read()
        found += 1
    except FileNotFoundError:
        pass
    lat.append(time.monotonic() - t)
total = time.monotonic() - t0
lat.sort()
print(f"{total:.4f} {lat[len(lat)//2]*1000:.3f} {lat[int(len(lat)*0.99)]*1000:.3f} {found}")
PY
}
# parallel MNT DIR: 4 readers over disjoint quarters; prints seconds.
parallel() {
	python3 - "$1" "$2" <<'PY'
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
mnt, d = sys.argv[1], sys.argv[2]
keys = sorted(f[:-3] for f in os.listdir(d))
def work(part):
    for k in part:
        with open(f"{mnt}/monomorph/{k[:2]}/{k[2:]}.bc", "rb") as fh:
            fh.read()
t = time.monotonic()
with ProcessPoolExecutor(4) as ex:
    list(ex.map(work, [keys[i::4] for i in range(4)]))
print(f"{time.monotonic() - t:.4f}")
PY
}
row() { printf '%-44s %10s %10s %10s %10s\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

declare -A T
set -- $(probe "$PLAIN" "$WORK/c" 1); T[plain]=$1; M_plain=$2; P_plain=$3
set -- $(probe "$PLAIN" "$WORK/absent" 0); T[plain_miss]=$1; M_plain_miss=$2; P_plain_miss=$3

daemon_up local
store_all "$WORK/local" "$WORK/c"
set -- $(probe "$WORK/local" "$WORK/c" 1); T[local]=$1; M_local=$2; P_local=$3
set -- $(probe "$WORK/local" "$WORK/absent" 0); T[local_miss]=$1; M_local_miss=$2; P_local_miss=$3
daemon_down local

echo
echo "remote-ops: $N entries, $((bytes / 1024)) KiB; latencies per key: median / p99 (ms)"
row "workload" "total s" "median" "p99" "vs plain"
row "hit, plain directory" "${T[plain]}" "$M_plain" "$P_plain" "1.00x"
row "hit, mount, entry local" "${T[local]}" "$M_local" "$P_local" "$(ratio "${T[local]}" "${T[plain]}")"
row "probe of an absent key, plain directory" "${T[plain_miss]}" "$M_plain_miss" "$P_plain_miss" "1.00x"
row "probe of an absent key, mount, no remote" "${T[local_miss]}" "$M_local_miss" "$P_local_miss" "$(ratio "${T[local_miss]}" "${T[plain_miss]}")"

for be in redis http; do
	if [ $be = redis ]; then url=redis://127.0.0.1:$RP/0; else url=http://127.0.0.1:$HP/cache; fi
	say "$be: upload the corpus from a CI mount"
	daemon_up "ci-$be" --remote "$url"
	store_all "$WORK/ci-$be" "$WORK/c"
	tool "ci-$be" sync --timeout 600s >/dev/null
	daemon_down "ci-$be"
	# A developer's fresh mount: every hit comes from the remote. The
	# LLVM helpers are started first (one local commit), so the figures
	# are the remote path's, not a process start.
	daemon_up "dev-$be" --remote "$url" --remote-mode read-only --remote-wait 10s
	store_all "$WORK/dev-$be" "$WORK/other" 2>/dev/null || true
	set -- $(probe "$WORK/dev-$be" "$WORK/c" 1)
	row "hit, fresh mount, fetched from $be" "$1" "$2" "$3" "$(ratio "$1" "${T[plain]}")"
	[ "$4" = "$N" ] || { echo "remote-ops: only $4 of $N found" >&2; exit 1; }
	set -- $(probe "$WORK/dev-$be" "$WORK/c" 1)
	row "hit, same mount again (now local)" "$1" "$2" "$3" "$(ratio "$1" "${T[plain]}")"
	set -- $(probe "$WORK/dev-$be" "$WORK/absent" 0)
	row "probe of an absent key, $be miss" "$1" "$2" "$3" "$(ratio "$1" "${T[plain_miss]}")"
	sync
	echo 2 >/proc/sys/vm/drop_caches
	set -- $(probe "$WORK/dev-$be" "$WORK/absent" 0)
	row "probe again, remembered miss" "$1" "$2" "$3" "$(ratio "$1" "${T[plain_miss]}")"
	daemon_down "dev-$be"
	daemon_up "par-$be" --remote "$url" --remote-mode read-only --remote-wait 10s
	store_all "$WORK/par-$be" "$WORK/other" 2>/dev/null || true
	s=$(parallel "$WORK/par-$be" "$WORK/c")
	row "4 readers, fetched from $be: MB/s" "$s" "" "" "$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
	daemon_down "par-$be"
done
s=$(parallel "$PLAIN" "$WORK/c")
row "4 readers, plain directory: MB/s" "$s" "" "" "$(awk -v b="$bytes" -v s="$s" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
