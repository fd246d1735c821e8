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
NAME=build
. "$(dirname "$0")/work.sh"
secs() { "$BUILD/tests/build-sim" "$1" "$UNITS" "$2" | awk '{print $NF}'; }
sum() { awk '{ s += $1 } END { printf "%.3f", s }'; }

: >"$WORK/pc"; : >"$WORK/mc"; : >"$WORK/pw"; : >"$WORK/mw"; : >"$WORK/kw"; : >"$WORK/pk"
for r in $(seq 1 "$ROUNDS"); do
	umount_acfs
	# Each round its own keys (seed $r): the plain directory is never
	# emptied (ext4 creates slowly for a while after mass deletes).
	rm -rf "$WORK/store"
	mkdir -p "$P"
	"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$M" 2>/dev/null
	say "round $r/$ROUNDS: cold builds of $UNITS specializations"
	secs "$P" "$r" >>"$WORK/pc"
	secs "$M" "$r" >>"$WORK/mc"
	say "round $r/$ROUNDS: warm builds (5 of each, alternating)"
	for i in 1 2 3 4 5; do
		secs "$P" "$r" >>"$WORK/pw"
		secs "$M" "$r" >>"$WORK/mw"
	done
	say "round $r/$ROUNDS: warm builds, --hit-mode=kernel (after one to warm up)"
	umount_acfs
	"$BUILD/fs/aria-cachefs" --store "$WORK/store" --hit-mode=kernel "$M" 2>/dev/null
	secs "$M" "$r" >/dev/null
	for i in 1 2 3 4 5; do
		secs "$P" "$r" >>"$WORK/pk"
		secs "$M" "$r" >>"$WORK/kw"
	done
done
umount_acfs
pc=$(sum <"$WORK/pc") mc=$(sum <"$WORK/mc")
pw=$(sum <"$WORK/pw") mw=$(sum <"$WORK/mw") kw=$(sum <"$WORK/kw") pk=$(sum <"$WORK/pk")
printf '| %-44s | %9s | %9s | %6s |\n' "build of $UNITS specializations x $ROUNDS" "plain dir" "mount" "ratio"
printf '| %-44s | %9s | %9s | %6s |\n' "---" "---:" "---:" "---:"
printf '| %-44s | %8ss | %8ss | %5.3fx |\n' "cold: all misses (generate, O2, store)" "$pc" "$mc" "$(awk -v a="$mc" -v b="$pc" 'BEGIN{print a/b}')"
printf '| %-44s | %8ss | %8ss | %5.3fx |\n' "warm: all hits (load and parse), x5" "$pw" "$mw" "$(awk -v a="$mw" -v b="$pw" 'BEGIN{print a/b}')"
printf '| %-44s | %8ss | %8ss | %5.3fx |\n' "warm, --hit-mode=kernel, x5" "$pk" "$kw" "$(awk -v a="$kw" -v b="$pk" 'BEGIN{print a/b}')"
