#!/bin/bash
# Power loss, not only kill -9. The store's database lives on lossyfs
# (tests/powerfs/lossyfs.c), which keeps file data not yet fsync'ed in
# memory and drops it at a simulated power cut. A writer stores entries
# one after another and records each acknowledged store; the daemon is
# killed (-9) at a random moment and the power cut follows.
#   --sync: every acknowledged store survives, identical.
#   default: the store reopens without damage, what survives is a prefix
#   of the acknowledged stores (no hole), and verify finds nothing wrong.
. "$(dirname "$0")/lib.sh"

LOSSY=$WORK/lossy
mkdir -p "$WORK/backing" "$LOSSY" "$STORE"
"$ACFS_LOSSYFS" "$WORK/backing" "$LOSSY" 2>>"$WORK/lossyfs.log" &
lossy_pid=$!
ok "lossyfs mounted" wait_until "lossyfs" 30 "mountpoint -q '$LOSSY'"
EXTRA_MOUNTS=$LOSSY
mkdir -p "$LOSSY/db"
ln -s "$LOSSY/db" "$STORE/db"
CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
"$ACFS_GEN" "$WORK/a.bc" pa 30 && "$ACFS_GEN" "$WORK/b.bc" pb 200 || exit 1

# writer TAG: stores keys TAG-0, TAG-1, ... until killed; appends each
# acknowledged key to $WORK/acked.TAG (fsync'ed: on the real disk).
writer() {
	python3 - "$MNT" "$WORK" "$1" >"$WORK/writer.$1.log" 2>&1 <<'PY' &
import hashlib, os, sys
mnt, work, tag = sys.argv[1:4]
data = [open(os.path.join(work, n), 'rb').read() for n in ('a.bc', 'b.bc')]
log = os.open(os.path.join(work, 'acked.' + tag), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
i = 0
while True:
    k = hashlib.sha256(('%s-%d' % (tag, i)).encode()).hexdigest()[:16]
    t = os.path.join(mnt, 'tmp', k)
    try:
        with open(t, 'wb') as f:
            f.write(data[i % 2])
        os.rename(t, os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc'))
    except OSError:
        break
    os.write(log, ('%s %d\n' % (k, i % 2)).encode())
    os.fsync(log)
    i += 1
PY
	echo $!
}
# survivors TAG: prints "ACKED PRESENT PREFIX_OK ALL_IDENTICAL".
survivors() {
	python3 - "$MNT" "$WORK" "$1" <<'PY'
import os, sys
mnt, work, tag = sys.argv[1:4]
data = [open(os.path.join(work, n), 'rb').read() for n in ('a.bc', 'b.bc')]
acked = [l.split() for l in open(os.path.join(work, 'acked.' + tag))]
present, identical, seen_gap, prefix = 0, True, False, True
for k, v in acked:
    p = os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc')
    try:
        got = open(p, 'rb').read()
    except FileNotFoundError:
        seen_gap = True
        continue
    present += 1
    prefix = prefix and not seen_gap
    identical = identical and got == data[int(v)]
print(len(acked), present, int(prefix), int(identical))
PY
}
cut_power() {
	local pid
	pid=$(daemon_pid)
	kill -9 "$pid"
	wait_until "daemon dies" 30 "! kill -0 $pid 2>/dev/null"
	fusermount3 -u -z "$MNT" 2>/dev/null
	stat "$LOSSY/.powercut" >/dev/null 2>&1
	return 0
}

for mode in sync nosync; do
	for round in 1 2 3; do
		tag=$mode$round
		opts=()
		[ $mode = sync ] && opts=(--sync)
		ok "$tag: mount ${opts[*]:-(no --sync)}" mount_fg "${opts[@]}" --validate=magic
		wpid=$(writer "$tag")
		n=$((10 + RANDOM % 30))
		wait_until "$n stores" 60 "[ \$(wc -l <'$WORK/acked.$tag' 2>/dev/null || echo 0) -ge $n ]"
		ok "$tag: kill -9 and power cut after $(wc -l <"$WORK/acked.$tag") acknowledged stores" cut_power
		wait "$wpid" 2>/dev/null
		ok "$tag: the store reopens" mount_fg "${opts[@]}" --validate=magic
		read -r acked present prefix identical < <(survivors "$tag")
		echo "# $tag: $present of $acked acknowledged stores survived the power cut"
		if [ $mode = sync ]; then
			ok "$tag: --sync: every acknowledged store survived ($present of $acked)" test "$present" = "$acked"
		else
			ok "$tag: what survived is a prefix of what was acknowledged" test "$prefix" = 1
		fi
		ok "$tag: every survivor is identical" test "$identical" = 1
		ok "$tag: verify finds nothing wrong" CACHE verify --validate=none
		ok "$tag: unmount" unmount_fg
		ok "$tag: store invariants hold" "$ACFS_CHECK" "$STORE/db"
	done
done
sed 's/^/# /' "$WORK/lossyfs.log" | tail -3
fusermount3 -u "$LOSSY"
wait "$lossy_pid"
finish
