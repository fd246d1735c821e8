#!/bin/bash
# aria-cache clients cannot block one another or shutdown: clients that
# connect and say nothing, or ask for a long listing and stop reading it
# (`aria-cache ls | sleep 300`), leave other commands answering, and
# SIGTERM and unmount end the daemon within seconds, releasing the store.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
"$ACFS_GEN" "$WORK/one.bc" ctl 3 || exit 1
ok "mount" mount_fg --validate=magic
# 4000 entries: their listing is far more than a socket buffer holds.
ok "4000 entries stored" python3 - "$MNT" "$WORK/one.bc" <<'PY'
import hashlib, os, sys
mnt, src = sys.argv[1], open(sys.argv[2], 'rb').read()
for i in range(4000):
    k = hashlib.sha256(b'ctl-%d' % i).hexdigest()[:16]
    t = os.path.join(mnt, 'tmp', k)
    with open(t, 'wb') as f:
        f.write(src)
    os.rename(t, os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc'))
PY

# stall N: N clients that connect and never send; one that asks for ls
# and never reads. Holds them until $WORK/release exists.
stall() {
	python3 - "$STORE/control.sock" "$WORK/stalled" "$WORK/release" <<'PY' &
import os, socket, struct, sys, time
path, flag, release = sys.argv[1:4]
def frame(t, p): return t + struct.pack('<I', len(p)) + p
silent = []
for _ in range(3):
    s = socket.socket(socket.AF_UNIX); s.connect(path); silent.append(s)
ls = socket.socket(socket.AF_UNIX)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.connect(path)
ls.sendall(frame(b'P', b'\0') + frame(b'A', b'ls') + frame(b'E', b''))
open(flag, 'w').close()
while not os.path.exists(release):
    time.sleep(0.05)
PY
	echo $! >"$WORK/stall.pid"
}
stall
ok "stalled clients connected" wait_until "stalled" 30 "[ -e '$WORK/stalled' ]"
ok "aria-cache stats answers meanwhile (within 5 s)" timeout 5 "$ACFS_TOOL" -C "$MNT" stats
ok "aria-cache ls --limit 3 answers meanwhile (within 5 s)" timeout 5 "$ACFS_TOOL" -C "$MNT" ls --limit 3
start=$(date +%s)
ok "SIGTERM with the clients still stalled" kill -TERM "$(cat "$WORK/pid")"
ok "the daemon exits within 10 s" wait_until "daemon exits" 10 "! kill -0 $(cat "$WORK/pid") 2>/dev/null"
echo "# exited after $(( $(date +%s) - start )) s"
ok "the store is free: a new daemon mounts it" mount_fg --validate=magic
ok "entries are all there" test "$(CACHE stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')" = 4000
touch "$WORK/release"; wait "$(cat "$WORK/stall.pid")" 2>/dev/null
rm -f "$WORK/release" "$WORK/stalled"

# Idle connections hold a slot one second at most: 16 clients that
# connect and say nothing (every slot) leave stats answering within 3 s
# (they held their slots 10 s before).
idle_fill() {
	python3 - "$STORE/control.sock" "$WORK/idle" "$WORK/idle.release" <<'PY' &
import os, socket, sys, time
path, flag, release = sys.argv[1:4]
held = []
for _ in range(16):
    s = socket.socket(socket.AF_UNIX); s.connect(path); held.append(s)
open(flag, 'w').close()
while not os.path.exists(release):
    time.sleep(0.05)
PY
	echo $! >"$WORK/idle.pid"
}
idle_fill
ok "16 idle clients connected" wait_until "idle" 30 "[ -e '$WORK/idle' ]"
ok "stats answers within 3 s all the same" wait_until "stats answers" 3 "CACHE stats >/dev/null 2>&1"
touch "$WORK/idle.release"; wait "$(cat "$WORK/idle.pid")" 2>/dev/null
chmod 755 "$WORK"
ok "another user is told the daemon refused them, not that it does not answer" sh -c \
	"! setpriv --reuid=65534 --regid=65534 --clear-groups '$ACFS_TOOL' --store '$STORE' stats 2>'$WORK/other.err'; cat '$WORK/other.err'; grep -q 'refused this user' '$WORK/other.err' && ! grep -q 'does not answer' '$WORK/other.err'"
ok "an unreadable config file is named with the reason" sh -c \
	"! ARIA_CACHE_SYSTEM_CONFIG='$WORK' '$ACFS_TOOL' --store '$WORK/no-store' config 2>'$WORK/cfg.err'; cat '$WORK/cfg.err'; grep -q 'config file $WORK: cannot read it: Is a directory' '$WORK/cfg.err'"

stall
ok "stalled clients connected again" wait_until "stalled" 30 "[ -e '$WORK/stalled' ]"
ok "fusermount3 -u with the clients still stalled" fusermount3 -u "$MNT"
ok "the daemon exits within 10 s" wait_until "daemon exits" 10 "! kill -0 $(cat "$WORK/pid") 2>/dev/null"
touch "$WORK/release"; wait "$(cat "$WORK/stall.pid")" 2>/dev/null
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
