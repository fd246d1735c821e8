#!/bin/bash
# Fault injection in the style of SQLite's: the daemon runs with a fault
# injector (tests/fault/inject.c, LD_PRELOAD) that fails the N-th write,
# sync or create of a file in the store with EIO, ENOSPC, EMFILE or ENFILE.
# For each class and errno, N is spread over every call a workload makes;
# whatever the fault broke, every store whose rename returned success stays
# readable and identical, through the faulted daemon and after a remount,
# aria-cache verify finds nothing wrong, and the store's invariants hold.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
"$ACFS_GEN" "$WORK/a.bc" fa 40 && "$ACFS_GEN" "$WORK/b.bc" fb 400 || exit 1
: >"$WORK/committed"
# The injector is not built with sanitizers; ASan must not insist on
# coming first.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"

# faulted FAULT: mounts with the injector (FAULT may be empty: counting);
# fails at once if the daemon exits instead (a fault while opening).
faulted() {
	(set -m; LD_PRELOAD=$ACFS_FAULT_LIB ACFS_FAULT_PATH=$STORE ACFS_FAULT=$1 \
	 ACFS_FAULT_COUNTS=$WORK/counts "$ACFS_DAEMON" -f --store "$STORE" "$MNT" 2>>"$LOG" &
	 echo $! >"$WORK/pid")
	local pid
	pid=$(cat "$WORK/pid")
	wait_until "mounted or exited" 30 "! kill -0 $pid 2>/dev/null || { [ \"\$(daemon_pid)\" = $pid ] && mountpoint -q '$MNT' && stat -f '$MNT' >/dev/null 2>&1; }"
	kill -0 "$pid" 2>/dev/null
}
# workload TAG: six stores by tmp + rename (two sizes, one replacing the
# other) and a direct create; appends "KEY FILE" of each whose rename
# returned success to $WORK/committed.
workload() {
	python3 - "$MNT" "$WORK" "$1" <<'PY'
import hashlib, os, sys
mnt, work, tag = sys.argv[1:4]
srcs = {'a': open(os.path.join(work, 'a.bc'), 'rb').read(),
        'b': open(os.path.join(work, 'b.bc'), 'rb').read()}
with open(os.path.join(work, 'committed'), 'a') as log:
    for i in range(6):
        k = hashlib.sha256(('%s-%d' % (tag, i // 2)).encode()).hexdigest()[:16]
        which = 'ab'[i % 2]
        t = os.path.join(mnt, 'tmp', '%s.%d' % (k, i))
        try:
            with open(t, 'wb') as f:
                f.write(srcs[which])
            os.rename(t, os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc'))
            log.write('%s %s\n' % (k, which)); log.flush()
        except OSError:
            try: os.unlink(t)
            except OSError: pass
PY
}
# all_readable: every acknowledged store is present with its last bytes.
all_readable() {
	python3 - "$MNT" "$WORK" <<'PY'
import os, sys
mnt, work = sys.argv[1:3]
last = {}
for line in open(os.path.join(work, 'committed')):
    k, which = line.split()
    last[k] = which
bad = 0
for k, which in last.items():
    want = open(os.path.join(work, which + '.bc'), 'rb').read()
    p = os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc')
    try:
        got = open(p, 'rb').read()
    except OSError as e:
        print('#', p, os.strerror(e.errno)); bad += 1; continue
    if got != want:
        print('#', p, 'differs'); bad += 1
print('#', len(last), 'acknowledged entries checked,', bad, 'bad')
sys.exit(1 if bad else 0)
PY
}

ok "mount with the injector, counting" faulted ""
workload count
ok "unmount" unmount_fg
read -r _ writes < <(grep '^write' "$WORK/counts")
read -r _ syncs < <(grep '^sync' "$WORK/counts")
read -r _ opens < <(grep '^open' "$WORK/counts")
echo "# one mount + workload + unmount: $writes writes, $syncs syncs, $opens creates in the store"

run=0
for spec in write:EIO write:ENOSPC sync:EIO open:EMFILE open:ENFILE; do
	cls=${spec%%:*}
	case $cls in write) total=$writes ;; sync) total=$syncs ;; open) total=$opens ;; esac
	[ "$total" -gt 0 ] || total=1
	# Four points spread over the calls: the first, a third, two thirds,
	# the last (ACFS_FAULT_POINTS for more).
	for n in $(python3 -c "t=$total; k=${ACFS_FAULT_POINTS:-4}; print(' '.join(str(x) for x in sorted({max(1, t * i // (k - 1)) for i in range(k)})))"); do
		run=$((run + 1))
		if faulted "$spec:$n"; then
			workload "f$run"
			ok "$spec at call $n of $total: acknowledged stores readable through the faulted daemon" all_readable
			ok "$spec at call $n: verify finds nothing wrong" CACHE verify --validate=none
			ok "$spec at call $n: unmount" unmount_fg
		else
			# The fault hit opening the store: refused, nothing lost.
			echo "# $spec at call $n: the daemon did not start (the fault hit opening the store): $(tail -n 1 "$LOG")"
			fusermount3 -u -z "$MNT" 2>/dev/null
		fi
		ok "$spec at call $n: remount without faults" mount_fg
		ok "$spec at call $n: every acknowledged store still there" all_readable
		ok "$spec at call $n: unmount" unmount_fg
	done
done
ok "mount" mount_fg
ok "verify, once more, over everything" CACHE verify --validate=parse
ok "unmount" unmount_fg
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
