#!/bin/bash
# build: a whole build with real compile work per specialization
# (build-sim: generate and optimize each miss with LLVM, parse each hit),
# on the mount and on a plain directory on the same disk, in one run:
# cold (an empty cache, every specialization a miss and a store), then
# warm (every one a hit), and warm again with --hit-mode=kernel. Runs
# alternate between the two sides.
#
#   tests/bench/build.sh [BUILD_DIR] [UNITS] [ROUNDS]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
UNITS=${2:-300}
ROUNDS=${3:-2}
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-build.XXXXXX")
M=$WORK/mnt P=$WORK/plain
cleanup() {
	fusermount3 -u -z "$M" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "build: $*" >&2; }
secs() { "$BUILD/tests/build-sim" "$1" "$UNITS" "$2" | awk '{print $NF}'; }
umount_acfs() {
	local pid
	[ -e "$WORK/store/daemon.lock" ] || return 0
	pid=$(awk '{print $2}' "$WORK/store/daemon.lock")
	fusermount3 -u "$M" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
sum() { awk '{ s += $1 } END { printf "%.3f", s }'; }

: >"$WORK/pc"; : >"$WORK/mc"; : >"$WORK/pw"; : >"$WORK/mw"; : >"$WORK/kw"
for r in $(seq 1 "$ROUNDS"); do
	umount_acfs
	rm -rf "$WORK/store" "$P"
	mkdir -p "$P"
	"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$M" 2>/dev/null
	say "round $r/$ROUNDS: cold builds of $UNITS specializations"
	secs "$P" "$r" >>"$WORK/pc"
	secs "$M" "$r" >>"$WORK/mc"
	say "round $r/$ROUNDS: warm builds"
	secs "$P" "$r" >>"$WORK/pw"
	secs "$M" "$r" >>"$WORK/mw"
	say "round $r/$ROUNDS: warm builds, --hit-mode=kernel (the second after a remount)"
	umount_acfs
	"$BUILD/fs/aria-cachefs" --store "$WORK/store" --hit-mode=kernel "$M" 2>/dev/null
	secs "$M" "$r" >/dev/null
	secs "$M" "$r" >>"$WORK/kw"
done
umount_acfs
pc=$(sum <"$WORK/pc") mc=$(sum <"$WORK/mc")
pw=$(sum <"$WORK/pw") mw=$(sum <"$WORK/mw") kw=$(sum <"$WORK/kw")
printf '| %-44s | %9s | %9s | %6s |\n' "build of $UNITS specializations x $ROUNDS" "plain dir" "mount" "ratio"
printf '| %-44s | %9s | %9s | %6s |\n' "---" "---:" "---:" "---:"
printf '| %-44s | %8ss | %8ss | %5.3fx |\n' "cold: all misses (generate, O2, store)" "$pc" "$mc" "$(awk -v a="$mc" -v b="$pc" 'BEGIN{print a/b}')"
printf '| %-44s | %8ss | %8ss | %5.3fx |\n' "warm: all hits (load and parse)" "$pw" "$mw" "$(awk -v a="$mw" -v b="$pw" 'BEGIN{print a/b}')"
printf '| %-44s | %8ss | %8ss | %5.3fx |\n' "warm, --hit-mode=kernel" "$pw" "$kw" "$(awk -v a="$kw" -v b="$pw" 'BEGIN{print a/b}')"
