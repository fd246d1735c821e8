#!/bin/bash
# kill -9 of the daemon while compilers store and read; then a restart on
# the same (stale) mountpoint with no manual cleanup, and every store whose
# rename returned success before the kill is present and byte-identical.
. "$(dirname "$0")/lib.sh"

KILLS=${ACFS_CRASH_KILLS:-5}
ok "make a corpus of 160 real bitcode modules" make_corpus "$WORK/corpus" 160 k
ok "mount" mount_cache

for round in $(seq 1 "$KILLS"); do
	pids=()
	for i in 1 2 3 4; do
		# Two always store (replacing entries keeps commits coming),
		# two behave like the compiler (mostly reading).
		mode=mixed
		[ "$i" -le 2 ] && mode=store
		"$ACFS_SIM" --cache "$MNT" --corpus "$WORK/corpus" --ops 100000 \
			--mode "$mode" \
			--seed "$round$i" --committed "$WORK/committed.$round.$i" \
			>"$WORK/sim.$round.$i" 2>&1 &
		pids+=($!)
	done
	# Kill once this round's writers have committed something new.
	want=$(( $(cat "$WORK"/committed.* 2>/dev/null | wc -l) + 20 ))
	ok "round $round: writers commit" wait_until "20 more commits" 60 \
		"[ \$(cat '$WORK'/committed.* | wc -l) -ge $want ]"
	pid=$(daemon_pid)
	ok "round $round: kill -9 the daemon ($pid)" kill -9 "$pid"
	for p in "${pids[@]}"; do wait "$p"; done
	ok "round $round: compilers saw no wrong bytes" \
		sh -c "! grep -l 'differ' '$WORK'/sim.$round.*"
	ok "round $round: the mount is stale" \
		sh -c "! stat '$MNT' >/dev/null 2>&1"
	ok "round $round: restart on the stale mountpoint" mount_cache
	sort -u "$WORK"/committed.* >"$WORK/committed.all"
	ok "round $round: all $(wc -l <"$WORK/committed.all") committed entries present and identical" \
		"$ACFS_SIM" --cache "$MNT" --corpus "$WORK/corpus" \
		--verify-list "$WORK/committed.all"
	ok "round $round: no temp file survived" \
		sh -c "[ -z \"\$(ls -A '$MNT/tmp')\" ]"
done
ok "unmount" unmount_cache
ok "store invariants hold (counters = sum of entries, no lost blob)" \
	"$ACFS_CHECK" "$STORE/db"
finish
