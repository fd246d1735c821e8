#!/bin/bash
# requests: FUSE requests and daemon CPU per operation, in each hit mode,
# counted from the daemon's debug log (-d prints every request), with the
# time per operation against a plain directory on the same disk in the
# same run. Warm hits (stat + open + whole read + close of 64 KiB real
# bitcode), first misses (stat of a key never probed), repeated misses
# (the same keys again: the kernel's negative dentries) and stores (tmp
# write + rename).
#
#   tests/bench/requests.sh [BUILD_DIR] [OPS]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
OPS=${2:-2000}
B=$BUILD/tests
NAME=requests
. "$(dirname "$0")/work.sh"
mkdir -p "$P/monomorph" "$P/tmp"
"$B/gen-bitcode" "$WORK/s64k.bc" s64k 330
HZ=$(getconf CLK_TCK)

cpu() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
# count OPS: requests per operation in the log since the last mark
count() {
	awk -v from="$MARK" -v ops="$1" 'NR > from && /opcode:/ {
		for (i = 1; i <= NF; i++) if ($i == "opcode:") n[$(i + 1)]++ }
		END { s = ""; t = 0
		for (k in n) { t += n[k]; s = s sprintf("%s %.2f ", k, n[k] / ops) }
		printf "%.2f (%s)", t / ops, s == "" ? "none" : substr(s, 1, length(s) - 1) }' "$WORK/d.log"
}
mark() { MARK=$(wc -l <"$WORK/d.log"); C0=$(cpu); }
cpu_per() { awk -v a="$C0" -v b="$(cpu)" -v hz="$HZ" -v n="$1" 'BEGIN { printf "%.1f", (b - a) / hz / n * 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
row() { printf '| %-34s | %9s | %9s | %7s | %-46s | %8s |\n' "$@"; }

row "operation" "plain ns" "mount ns" "x plain" "FUSE requests per op (by opcode)" "daemon us"
row "---" "---:" "---:" "---:" "---" "---:"
# run_mode MODE DEBUG: a fresh store mounted with --hit-mode=MODE (and -d
# when DEBUG=1), the workloads run; without -d prints "ns cpu_us" per
# workload, with -d the requests per operation.
run_mode() {
	local mode=$1 dbg=$2 pre=$3 p m n
	umount_acfs
	rm -rf "$WORK/store"
	: >"$WORK/d.log"
	if [ "$dbg" = 1 ]; then
		"$BUILD/fs/aria-cachefs" -f -d --store "$WORK/store" --hit-mode=$mode "$M" 2>"$WORK/d.log" &
	else
		"$BUILD/fs/aria-cachefs" -f --store "$WORK/store" --hit-mode=$mode "$M" 2>/dev/null &
	fi
	while ! mountpoint -q "$M"; do sleep 0.05; done
	DPID=$(awk '{print $2}' "$WORK/store/daemon.lock")
	"$B/fsbench" populate "$M" "$WORK/s64k.bc" 200 $pre
	"$B/fsbench" hit "$M" $pre 200 400 >/dev/null
	n=$((OPS / 4))
	one() { # one LABEL N FSBENCH-ARGS...: time (ns/op), CPU or requests
		local label=$1 ops=$2 v
		shift 2
		mark
		v=$("$B/fsbench" "$@")
		if [ "$dbg" = 1 ]; then echo "$label	$(count "$ops")"
		else echo "$label	$v	$(cpu_per "$ops")"; fi
	}
	one hit "$OPS" hit "$M" $pre 200 "$OPS"
	one miss1 "$OPS" miss "$M" "$OPS"
	one miss2 "$OPS" miss "$M" "$OPS"
	one store "$n" store "$M" "$WORK/s64k.bc" "$n" 1 $((pre + 40))
}
PRE=30
for mode in open kernel; do
	PRE=$((PRE + 1))
	say "--hit-mode=$mode: timed, then counted with -d"
	"$B/fsbench" populate "$P" "$WORK/s64k.bc" 200 $PRE
	"$B/fsbench" hit "$P" $PRE 200 400 >/dev/null
	declare -A plain=()
	plain[hit]=$("$B/fsbench" hit "$P" $PRE 200 "$OPS")
	plain[miss1]=$("$B/fsbench" miss "$P" "$OPS")
	plain[miss2]=$("$B/fsbench" miss "$P" "$OPS")
	plain[store]=$(awk -v o="$("$B/fsbench" store "$P" "$WORK/s64k.bc" $((OPS / 4)) 1 $((PRE + 40)))" 'BEGIN{printf "%.0f", 1e9/o}')
	run_mode $mode 0 $PRE >"$WORK/t.$mode"
	run_mode $mode 1 $((PRE + 10)) >"$WORK/r.$mode"
	for w in hit miss1 miss2 store; do
		t=$(awk -F'\t' -v w=$w '$1 == w {print $2}' "$WORK/t.$mode")
		c=$(awk -F'\t' -v w=$w '$1 == w {print $3}' "$WORK/t.$mode")
		r=$(awk -F'\t' -v w=$w '$1 == w {print $2}' "$WORK/r.$mode")
		[ $w = store ] && t=$(awk -v o="$t" 'BEGIN{printf "%.0f", 1e9/o}')
		case $w in hit) l="warm hit 64k" ;; miss1) l="first miss" ;;
			miss2) l="repeated miss" ;; store) l="store 64k" ;; esac
		row "$l, $mode" "${plain[$w]}" "$t" "$(ratio "$t" "${plain[$w]}")" "$r" "$c"
	done
done
umount_acfs
