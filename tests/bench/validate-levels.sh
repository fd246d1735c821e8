#!/bin/bash
# validate-levels: stores per second through the mount with --validate
# none, magic, parse and verify, on the same corpus (200 real bitcode
# modules, 1 KiB to 300 KiB), with a plain directory for reference.
#
#   tests/bench/validate-levels.sh [BUILD_DIR] [OPS]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
OPS=${2:-3000}
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-validate.XXXXXX")
trap 'fusermount3 -u -z "$WORK/mnt" 2>/dev/null; rm -rf "$WORK"' EXIT

echo "validate-levels: corpus of 200 real bitcode modules" >&2
GEN_BITCODE=$BUILD/tests/gen-bitcode
. "$(dirname "$0")/../corpus.sh"
make_corpus "$WORK/corpus" 200 val
secs() {
	"$BUILD/tests/ariac-sim" --cache "$1" --corpus "$WORK/corpus" \
		--ops "$OPS" --mode store --seed 3 | awk '{print $(NF-1)}'
}
mkdir -p "$WORK/plain"
plain=$(secs "$WORK/plain")
printf '%-10s %12s %10s %12s\n' "validate" "stores/s" "vs none" "vs plain dir"
none=""
for level in none magic parse verify; do
	echo "validate-levels: $OPS stores with --validate=$level" >&2
	rm -rf "$WORK/store"
	"$BUILD/fs/aria-cachefs" --store "$WORK/store" --validate="$level" "$WORK/mnt"
	s=$(secs "$WORK/mnt")
	pid=$(awk '{print $2}' "$WORK/store/daemon.lock")
	fusermount3 -u "$WORK/mnt"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	[ -n "$none" ] || none=$s
	awk -v s="$s" -v n="$none" -v p="$plain" -v l="$level" -v o="$OPS" \
		'BEGIN { printf "%-10s %12.0f %9.2fx %11.2fx\n", l, o / s, n / s, p / s }'
done
awk -v p="$plain" -v o="$OPS" 'BEGIN { printf "%-10s %12.0f\n", "plain dir", o / p }'
