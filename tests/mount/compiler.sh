#!/bin/bash
# Eight compiler-like processes (ariac-sim) store and read overlapping keys
# at once through the mount; every read is checked byte for byte. Then the
# whole corpus is checked after a remount.
. "$(dirname "$0")/lib.sh"

OPS=${ACFS_SIM_OPS:-600}
ok "make a corpus of 96 real bitcode modules" make_corpus "$WORK/corpus" 96 c
ok "mount" mount_cache

run_sims() {
	local pids=() i rc=0
	for i in 1 2 3 4 5 6 7 8; do
		"$ACFS_SIM" --cache "$MNT" --corpus "$WORK/corpus" --ops "$OPS" \
			--seed "$i" --committed "$WORK/committed.$i" \
			>"$WORK/sim.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || rc=1
	done
	cat "$WORK"/sim.*
	return $rc
}
ok "8 concurrent compilers: every read byte-identical" run_sims
ok "they stored and hit" sh -c "grep -h 'hits' '$WORK'/sim.* | awk '{h+=\$4; s+=\$9} END {print h\" hits \"s\" stores\"; exit !(h>0 && s>0)}'"
ok "no failed stores" sh -c "! grep -h 'failed stores' '$WORK'/sim.* | grep -vq ' 0 failed stores'"

sort -u "$WORK"/committed.* >"$WORK/committed.all"
ok "every committed entry reads back identical" "$ACFS_SIM" --cache "$MNT" \
	--corpus "$WORK/corpus" --verify-list "$WORK/committed.all"
ok "older compilers touch entries they reuse" "$ACFS_SIM" --cache "$MNT" \
	--corpus "$WORK/corpus" --ops 50 --mode hit --touch --seed 99
ok "unmount" unmount_cache
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
ok "remount" mount_cache
ok "all committed entries intact after remount" "$ACFS_SIM" --cache "$MNT" \
	--corpus "$WORK/corpus" --verify-list "$WORK/committed.all"
ok "unmount" unmount_cache
finish
