#!/bin/bash
# multi-mount: two projects' mounts of one store, served by one daemon.
# Stores and hits by the compiler-like client (ariac-sim) through mount 2,
# first alone, then while another compiler stores and hits through mount 1
# without pause; a plain directory on the same disk in the same run for the
# ratios.
#
#   tests/bench/multi-mount.sh [BUILD_DIR] [OPS]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
OPS=${2:-3000}
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-multi.XXXXXX")
M1=$WORK/m1
M2=$WORK/m2
BUSY=
cleanup() {
	[ -n "$BUSY" ] && kill "$BUSY" 2>/dev/null
	wait 2>/dev/null
	local pid
	pid=$(awk '{print $2}' "$WORK/store/daemon.lock" 2>/dev/null)
	fusermount3 -u -z "$M2" 2>/dev/null
	fusermount3 -u -z "$M1" 2>/dev/null
	# The daemon exits with its last mount; the store goes after it.
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	rm -rf "$WORK"
}
trap cleanup EXIT

GEN_BITCODE=$BUILD/tests/gen-bitcode
. "$(dirname "$0")/../corpus.sh"
echo "multi-mount: corpora of 200 real bitcode modules for each side" >&2
make_corpus "$WORK/c1" 200 busy
make_corpus "$WORK/c2" 200 bench

"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$M1" 2>/dev/null
"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$M2" 2>/dev/null
mkdir -p "$WORK/plain"

secs() { # secs DIR CORPUS MODE: the seconds ariac-sim reports
	"$BUILD/tests/ariac-sim" --cache "$1" --corpus "$2" \
		--ops "$OPS" --mode "$3" --seed 7 | awk '{print $(NF-1)}'
}
rate() { awk "BEGIN {printf \"%.0f\", $OPS / $1}"; }

echo "multi-mount: $OPS stores, then $OPS hits: plain directory" >&2
ps=$(secs "$WORK/plain" "$WORK/c2" store); ph=$(secs "$WORK/plain" "$WORK/c2" hit)
echo "multi-mount: the same through mount 2 alone" >&2
s1=$(secs "$M2" "$WORK/c2" store); h1=$(secs "$M2" "$WORK/c2" hit)
rm -rf "$M2/monomorph/"*/* 2>/dev/null || true
echo "multi-mount: the same through mount 2 while a compiler works in mount 1" >&2
( while :; do
	"$BUILD/tests/ariac-sim" --cache "$M1" --corpus "$WORK/c1" --ops 500 \
		--mode mixed --seed "$RANDOM" >/dev/null || exit 1
  done ) &
BUSY=$!
s2=$(secs "$M2" "$WORK/c2" store); h2=$(secs "$M2" "$WORK/c2" hit)
kill "$BUSY"; wait "$BUSY" 2>/dev/null || true; BUSY=

printf '%-36s %10s %10s %12s %12s\n' "workload (ops/s, $OPS ops)" "plain dir" "mount 2" "mount 2," "busy/alone"
printf '%-36s %10s %10s %12s %12s\n' "" "" "alone" "mount 1 busy" ""
printf '%-36s %10s %10s %12s %11.2fx\n' "stores (tmp write + rename)" "$(rate "$ps")" "$(rate "$s1")" "$(rate "$s2")" "$(awk "BEGIN {print $s1 / $s2}")"
printf '%-36s %10s %10s %12s %11.2fx\n' "hits (stat + open + read + close)" "$(rate "$ph")" "$(rate "$h1")" "$(rate "$h2")" "$(awk "BEGIN {print $h1 / $h2}")"
