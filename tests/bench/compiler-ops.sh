#!/bin/bash
# compiler-ops: 10,000 stores and 10,000 hits by the compiler-like client
# (ariac-sim) through an aria-cachefs mount and on a plain directory on the
# same disk, in one run. Prints each time and the ratio mount/plain.
#
#   tests/bench/compiler-ops.sh [BUILD_DIR] [OPS]
set -eu
BUILD=${1:-build}
OPS=${2:-10000}
BUILD=$(cd "$BUILD" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-bench.XXXXXX")
MNT=$WORK/mnt
trap 'fusermount3 -u -z "$MNT" 2>/dev/null; rm -rf "$WORK"' EXIT

echo "compiler-ops: corpus of 200 real bitcode modules (1 KiB .. 300 KiB)" >&2
GEN_BITCODE=$BUILD/tests/gen-bitcode
. "$(dirname "$0")/../corpus.sh"
make_corpus "$WORK/corpus" 200 bench

"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$MNT"
mkdir -p "$WORK/plain"

secs() { # secs DIR MODE: prints the seconds ariac-sim reports
	"$BUILD/tests/ariac-sim" --cache "$1" --corpus "$WORK/corpus" \
		--ops "$OPS" --mode "$2" --seed 7 | awk '{print $(NF-1)}'
}
echo "compiler-ops: $OPS stores, then $OPS hits, on each side" >&2
ps=$(secs "$WORK/plain" store); ms=$(secs "$MNT" store)
ph=$(secs "$WORK/plain" hit); mh=$(secs "$MNT" hit)
printf '%-28s %12s %12s %8s\n' "workload ($OPS ops)" "plain dir" "mount" "ratio"
printf '%-28s %11.3fs %11.3fs %7.2fx\n' "stores (tmp write + rename)" "$ps" "$ms" "$(awk "BEGIN {print $ms / $ps}")"
printf '%-28s %11.3fs %11.3fs %7.2fx\n' "hits (stat+open+read+close)" "$ph" "$mh" "$(awk "BEGIN {print $mh / $ph}")"
