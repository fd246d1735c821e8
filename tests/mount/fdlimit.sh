#!/bin/bash
# The fd budget and transient errors. A read that fails because the OS
# said no (EMFILE, ENOMEM, EIO) fails that read alone and is logged; only
# proven damage (a digest, a checksum, an encoding) quarantines. And with
# the daemon's open-file limit low, a client that holds every temp file
# it may open leaves RocksDB the files it needs: every entry stays
# readable.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
field() { CACHE stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
"$ACFS_GEN" "$WORK/one.bc" fd 30 || exit 1
# 150 entries under distinct keys (the same real module), in blob files.
python3 - "$WORK/keys" <<'PY'
import hashlib, sys
with open(sys.argv[1], 'w') as f:
    for i in range(150):
        f.write(hashlib.sha256(b'fd-%d' % i).hexdigest()[:16] + '\n')
PY
store_some() { # store_some FIRST COUNT
	python3 - "$MNT" "$WORK/one.bc" "$WORK/keys" "$1" "$2" <<'PY'
import os, sys
mnt, src, keys = sys.argv[1], open(sys.argv[2], 'rb').read(), open(sys.argv[3]).read().split()
first, count = int(sys.argv[4]), int(sys.argv[5])
for k in keys[first:first + count]:
    t = os.path.join(mnt, 'tmp', k)
    with open(t, 'wb') as f:
        f.write(src)
    os.rename(t, os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc'))
PY
}
# read_all: reads every entry; prints how many read back identical and
# the errors of those that did not.
read_all() {
	python3 - "$MNT" "$WORK/one.bc" "$WORK/keys" <<'PY'
import os, sys, collections
mnt, src, keys = sys.argv[1], open(sys.argv[2], 'rb').read(), open(sys.argv[3]).read().split()
good, errs = 0, collections.Counter()
for k in keys:
    try:
        with open(os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc'), 'rb') as f:
            good += f.read() == src
    except OSError as e:
        errs[os.strerror(e.errno)] += 1
print(good, dict(errs))
PY
}

# Three batches, each flushed at unmount into a blob file of its own:
# RocksDB opens a blob file at the first read of it.
for b in 0 1 2; do
	ok "mount" mount_fg --verify-reads=always
	ok "50 entries stored" store_some $((b * 50)) 50
	ok "unmount (memtables flushed to table and blob files)" unmount_fg
done

# 1. The daemon runs out of descriptors while reading.
ok "mount again" mount_fg --verify-reads=always
pid=$(cat "$WORK/pid")
nfd=$(ls /proc/$pid/fd | wc -l)
ok "the daemon's open-file limit lowered to what it holds now ($nfd)" \
	prlimit --pid "$pid" --nofile=$nfd:20000
read -r good errs < <(read_all)
echo "# reads at the limit: $good identical, errors $errs"
ok "no entry was quarantined by EMFILE" test "$(field quarantined)" = 0
ok "reads failed (EMFILE in RocksDB's blob file open)" test "$good" -lt 150
ok "the log says why a read failed and that nothing was quarantined" \
	grep -q 'not quarantined: Too many open files is no sign of damage' "$LOG"
ok "the limit back up" prlimit --pid "$pid" --nofile=20000:20000
read -r good errs < <(read_all)
ok "every entry reads back identical (got $good, errors $errs)" test "$good" = 150
ok "verify: clean" CACHE verify --validate=none
ok "unmount" unmount_fg

# 2. A low limit from the start: a client holds every temp file it may.
(set -m; prlimit --nofile=400:400 "$ACFS_DAEMON" -f --store "$STORE" --verify-reads=always "$MNT" 2>>"$LOG" &
 echo $! >"$WORK/pid")
ok "mount with ulimit -n 400" wait_until "mounted" 30 \
	"[ \"\$(daemon_pid)\" = \"\$(cat '$WORK/pid')\" ] && mountpoint -q '$MNT' && stat -f '$MNT' >/dev/null 2>&1"
python3 - "$MNT" "$WORK/held" "$WORK/release" <<'PY' &
import os, sys, time
mnt, out, release = sys.argv[1:4]
fds = []
try:
    while len(fds) < 5000:
        fds.append(os.open(os.path.join(mnt, 'tmp', 'hold-%d' % len(fds)), os.O_CREAT | os.O_WRONLY, 0o644))
except OSError as e:
    held = (len(fds), os.strerror(e.errno))
with open(out + '.tmp', 'w') as f:
    f.write('%d %s\n' % held)
os.rename(out + '.tmp', out)
while not os.path.exists(release):
    time.sleep(0.05)
PY
holder=$!
ok "a client opens temp files until the daemon refuses" wait_until "held" 60 "[ -s '$WORK/held' ]"
echo "# held: $(cat "$WORK/held")"
ok "... with a clear error (EMFILE or ENOSPC at the daemon's limit)" \
	grep -Eq 'Too many open files|No space left' "$WORK/held"
read -r good errs < <(read_all)
ok "every entry reads back identical while it holds them (got $good, errors $errs)" test "$good" = 150
ok "nothing quarantined" test "$(field quarantined)" = 0
touch "$WORK/release"
wait "$holder"
ok "unmount" unmount_fg
finish
