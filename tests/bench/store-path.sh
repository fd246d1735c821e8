#!/bin/bash
# store-path: stores and hits through the mount against a plain directory
# on the same disk, in one run, with the ratios the README's targets use.
# Entries are real LLVM bitcode of 64 KiB and 4 KiB; a store is the
# compiler's tmp write + rename, a hit stat + open + whole read + close.
# Then the store step by step (p50/p99 of each system call, plain and
# mount) with the daemon's validation time shown apart.
#
#   tests/bench/store-path.sh [BUILD_DIR] [OPS]        (OPS: stores per row)
set -eu
BUILD=$(cd "${1:-build}" && pwd)
OPS=${2:-2000}
B=$BUILD/tests
NAME=store-path
. "$(dirname "$0")/work.sh"
# The plain directory is made once and never emptied: ext4 creates files
# slowly for a while after many were deleted (its inode allocator avoids
# recently deleted inodes), which would slow the plain side at random.
# Each row stores under its own key prefix instead.
mkdir -p "$P/monomorph" "$P/tmp"
mount_fresh() { # mount_fresh ARGS...: a new store, mounted
	umount_acfs
	rm -rf "$WORK/store"
	"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$@" "$M" 2>/dev/null
}
ROW=16
prefix() { ROW=$((ROW + 1)); printf '%02x' $ROW; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
ops() { awk -v ns="$1" 'BEGIN { printf "%.0f", 1e9 / ns }'; }
row() { printf '| %-38s | %10s | %10s | %8s |\n' "$@"; }
metric() { # metric NAME: sum/count of a duration histogram, in us
	"$BUILD/tools/aria-cache" -C "$M" metrics | awk -v n="$1" '
		$0 ~ "^aria_cache_" n "_duration_seconds_sum" { s = $2 }
		$0 ~ "^aria_cache_" n "_duration_seconds_count" { c = $2 }
		END { if (c > 0) printf "%.0f", s / c * 1e6; else print "-" }'
}

say "bitcode of 64 KiB and 4 KiB (LLVM-C)"
"$B/gen-bitcode" "$WORK/s64k.bc" s64k 330
"$B/gen-bitcode" "$WORK/s4k.bc" s4k 14

row "workload" "plain dir" "mount" "ratio"
row "---" "---:" "---:" "---:"
for cfg in defaults novalidate; do
	case $cfg in
	defaults) args=() label="" ;;
	novalidate) args=(--validate none) label=", --validate none" ;;
	esac
	for s in 64k 4k; do
		one=
		for w in 1 4; do
			say "$cfg: stores of $s, $w writer(s)"
			mount_fresh "${args[@]}"
			pre=$(prefix)
			p=$("$B/fsbench" store "$P" "$WORK/s$s.bc" "$OPS" $w $pre)
			m=$("$B/fsbench" store "$M" "$WORK/s$s.bc" "$OPS" $w $pre)
			row "store $s, $w writer(s)$label (ops/s)" "$p" "$m" "$(ratio "$m" "$p")"
			[ $w = 1 ] && one=$m
		done
		row "  4 writers / 1 writer, mount" "" "" "$(ratio "$m" "$one")"
	done
done

for mode in open kernel; do
	mount_fresh --hit-mode=$mode
	for s in 64k 4k; do
		pre=$(prefix)
		"$B/fsbench" populate "$M" "$WORK/s$s.bc" 200 $pre
		"$B/fsbench" populate "$P" "$WORK/s$s.bc" 200 $pre
		say "warm hits of $s, --hit-mode=$mode"
		for d in "$P" "$M"; do "$B/fsbench" hit "$d" $pre 200 200 >/dev/null; done
		p=$("$B/fsbench" hit "$P" $pre 200 20000)
		m=$("$B/fsbench" hit "$M" $pre 200 20000)
		row "warm hit $s, --hit-mode=$mode (ops/s)" "$(ops "$p")" "$(ops "$m")" "$(ratio "$m" "$p") time"
	done
	p=$("$B/fsbench" miss "$P" 20000)
	m=$("$B/fsbench" miss "$M" 20000)
	row "miss, --hit-mode=$mode (ops/s)" "$(ops "$p")" "$(ops "$m")" "$(ratio "$m" "$p") time"
done

echo
say "one store of 64 KiB step by step"
mount_fresh
"$B/fsbench" phases "$P" "$WORK/s64k.bc" "$OPS" >"$WORK/p.txt"
"$B/fsbench" phases "$M" "$WORK/s64k.bc" "$OPS" >"$WORK/m.txt"
printf '| %-8s | %16s | %16s |\n' "step (us)" "plain p50 / p99" "mount p50 / p99"
printf '| %-8s | %16s | %16s |\n' "---" "---:" "---:"
paste "$WORK/p.txt" "$WORK/m.txt" | while read -r n p50 p99 _ m50 m99; do
	printf '| %-8s | %16s | %16s |\n' "$n" "$p50 / $p99" "$m50 / $m99"
done
echo
echo "daemon, per store (mean): validation $(metric validate) us (at close," \
	"in an LLVM helper); commit $(metric store) us (at rename)"
