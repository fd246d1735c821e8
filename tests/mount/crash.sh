#!/bin/bash
# kill -9 of the daemon at random moments while compilers store and read,
# ACFS_CRASH_KILLS times (default 30; CI's sanitizer runs use fewer, a
# longer local run more). Each
# key has two variants of real bitcode, so concurrent stores of a key race
# with different bytes. After every kill the daemon restarts on the stale
# mountpoint with no manual cleanup, and:
#   - every store whose rename returned success before the kill is present
#     and equal to a variant a writer wrote;
#   - every entry present is byte-identical to one of its variants;
#   - no temp file survived (or became an entry);
#   - aria-cache verify finds digests, indexes and size counters right.
. "$(dirname "$0")/lib.sh"

KILLS=${ACFS_CRASH_KILLS:-30}
ok "make a corpus of 160 real bitcode modules" make_corpus "$WORK/corpus" 160 k
ok "and a second variant of each" make_variants "$WORK/corpus" "$WORK/variant"
CORPORA=(--corpus "$WORK/corpus" --corpus "$WORK/variant")
ok "mount" mount_cache
committed() { cat "$WORK"/committed.* 2>/dev/null | wc -l; }
RANDOM=$$

for round in $(seq 1 "$KILLS"); do
	pids=()
	for i in 1 2 3 4; do
		# Two always store (replacing entries keeps commits coming),
		# two behave like the compiler (mostly reading).
		mode=mixed
		[ "$i" -le 2 ] && mode=store
		# A compiler whose mmap'ed entry dies with the daemon gets
		# SIGBUS from the kernel: expected here, not a sanitizer
		# finding (under ASan and TSan the sims run without their
		# SIGBUS handler).
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_sigbus=0" \
		TSAN_OPTIONS="${TSAN_OPTIONS:-}:handle_sigbus=0" \
		"$ACFS_SIM" --cache "$MNT" "${CORPORA[@]}" --ops 100000 \
			--mode "$mode" \
			--seed "$round$i" --committed "$WORK/committed.$round.$i" \
			>"$WORK/sim.$round.$i" 2>&1 &
		pids+=($!)
	done
	# The moment: after 0 to 40 more acknowledged commits (0: while the
	# writers are starting).
	more=$((RANDOM % 41))
	want=$(( $(committed) + more ))
	wait_until "$more more commits" 60 "[ \$(committed) -ge $want ]" ||
		ok "round $round: writers commit $more" false
	pid=$(daemon_pid)
	kill -9 "$pid" || ok "round $round: kill -9 the daemon ($pid)" false
	for p in "${pids[@]}"; do wait "$p"; done
	ok "round $round: killed after $more commits; compilers read no wrong bytes" \
		sh -c "! grep -l 'differ' '$WORK'/sim.$round.*"
	ok "round $round: restart on the stale mountpoint" mount_cache
	sort -u "$WORK"/committed.* >"$WORK/committed.all"
	ok "round $round: $(wc -l <"$WORK/committed.all") acknowledged stores present, every entry a written variant" \
		"$ACFS_SIM" --cache "$MNT" "${CORPORA[@]}" \
		--verify-list "$WORK/committed.all" --verify-all
	ok "round $round: no temp file survived" \
		sh -c "[ -z \"\$(ls -A '$MNT/tmp')\" ]"
	ok "round $round: digests, indexes and counters verify" \
		"$ACFS_TOOL" -C "$MNT" verify --validate=none
done
ok "unmount" unmount_cache
ok "store invariants hold (counters = sum of entries, no lost blob)" \
	"$ACFS_CHECK" "$STORE/db"
echo "# $KILLS kills survived, $(sort -u "$WORK"/committed.* | wc -l) keys acknowledged, $(cat "$WORK"/committed.* | wc -l) acknowledged stores"
finish
