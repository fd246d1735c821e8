#!/bin/bash
# Bounded memory whatever clients do: entries read at once past
# --max-loaded are served from mapped files, not daemon memory; thousands
# of open temp files and a huge write are staged on disk. Measured as the
# daemon's RssAnon (anonymous memory) from /proc, before and during.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
# Under ASan the daemon's anonymous memory is ASan's (shadow of every
# mapping, a quarantine of freed blocks): the bytes are not ours to bound,
# so the size checks are reported, not asserted, there. Every other check
# runs the same.
SANITIZED=$(ldd "$ACFS_DAEMON" | grep -c libasan)
mem_ok() { # mem_ok DESC GREW_KIB LIMIT_KIB
	if [ "$SANITIZED" -gt 0 ]; then
		echo "# (not asserted under ASan) $1"
	else
		ok "$1" test "$2" -lt "$3"
	fi
}
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$(cat "$WORK/pid")/status"; }
MIB=1024

ok "mount --max-loaded=16M --validate=none" mount_fg --max-loaded=${LIMITS_MAX_LOADED:-16M} --validate=none
mkdir -p "$WORK/src"
keys=()
for i in $(seq 1 12); do
	key=$(printf 'limit-%d' "$i" | sha256sum | cut -c1-16)
	keys+=("$key")
	head -c 8000000 /dev/urandom >"$WORK/src/$key"
	cp "$WORK/src/$key" "$MNT/tmp/$key" && mv "$MNT/tmp/$key" "$MNT/monomorph/${key:0:2}/${key:2}.bc" || exit 1
done
CACHE stats >/dev/null
echo 3 >/proc/sys/vm/drop_caches
a0=$(anon_kib)

# Twelve 8 MB entries (96 MB) open and read at once, with 16 MiB allowed.
python3 - "$MNT" "$WORK/hold" "${keys[@]}" <<'PY' &
import os, sys, time
mnt, flag, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
fds = [os.open(os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc'), os.O_RDONLY) for k in keys]
for fd in fds:
    while os.read(fd, 1 << 20):
        pass
open(flag, 'w').close()
while os.path.exists(flag):   # hold every file open until told
    time.sleep(0.02)
PY
holder=$!
ok "12 entries of 8 MB open and read at once" wait_until "all read" 60 "[ -e '$WORK/hold' ]"
a1=$(anon_kib)
spilled=$(grep -c 'staging.*(deleted)' "/proc/$(cat "$WORK/pid")/maps")
mem_ok "daemon memory grew $(( (a1 - a0) / MIB )) MiB for 96 MB held open (limit 16 MiB + 16 MiB slack)" \
	$((a1 - a0)) $((32 * MIB))
# The default kernel hit mode gets no RELEASE to tell when a file is
# closed: the daemon lets go of an entry's bytes (memory, or the mapped
# spill file of one past the limit) once a read reached its end, and the
# page cache holds them: nothing stays loaded while the files are held.
ok "no entry stays loaded or mapped once read ($spilled mappings; the page cache holds the bytes)" \
	test "$spilled" -eq 0
rm -f "$WORK/hold"
wait $holder
for k in "${keys[@]}"; do
	cmp "$WORK/src/$k" "$MNT/monomorph/${k:0:2}/${k:2}.bc" || echo "differs: $k"
done >"$WORK/cmp.out" 2>&1
ok "every entry reads back identical through the mappings" test ! -s "$WORK/cmp.out"

# 2000 temp files open at once, 64 KiB each: staged on disk.
a0=$(anon_kib)
python3 - "$MNT" "$WORK/hold2" <<'PY' &
import os, sys, time
mnt, flag = sys.argv[1], sys.argv[2]
data = os.urandom(65536)
fds = []
for i in range(2000):
    fd = os.open(os.path.join(mnt, 'tmp', 'open_%d.tmp' % i), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, data)
    fds.append(fd)
open(flag, 'w').close()
while os.path.exists(flag):
    time.sleep(0.02)
for i, fd in enumerate(fds):
    os.close(fd)
    os.unlink(os.path.join(mnt, 'tmp', 'open_%d.tmp' % i))
PY
holder=$!
ok "2000 temp files of 64 KiB open at once" wait_until "all written" 120 "[ -e '$WORK/hold2' ]"
a1=$(anon_kib)
mem_ok "daemon memory grew $(( (a1 - a0) / MIB )) MiB for 125 MiB of open temp files (< 16 MiB)" \
	$((a1 - a0)) $((16 * MIB))
rm -f "$WORK/hold2"
wait $holder
ok "all unlinked" sh -c "[ -z \"\$(ls -A '$MNT/tmp')\" ]"

# One 200 MB write, then its commit and a read back.
head -c 200000000 /dev/urandom >"$WORK/huge"
a0=$(anon_kib)
exec 7>"$MNT/tmp/huge.tmp"
ok "a 200 MB write to a temp file" dd if="$WORK/huge" of=/dev/fd/7 bs=1M status=none
a1=$(anon_kib)
mem_ok "daemon memory grew $(( (a1 - a0) / MIB )) MiB while 200 MB were written (< 16 MiB)" \
	$((a1 - a0)) $((16 * MIB))
exec 7>&-
ok "it commits" mv "$MNT/tmp/huge.tmp" "$MNT/monomorph/ab/cdef0123456789.bc"
ok "and reads back identical" cmp "$WORK/huge" "$MNT/monomorph/ab/cdef0123456789.bc"
ok "a write past --max-entry-size fails with EFBIG" sh -c \
	"! head -c 1000 /dev/zero | dd of='$MNT/tmp/big.tmp' bs=1000 seek=300000 status=none 2>'$WORK/dd.err'; grep -q 'File too large' '$WORK/dd.err'"
rm -f "$MNT/tmp/big.tmp"
ok "the log names it" grep -q "refused write to tmp/big.tmp past" "$LOG"
# import applies the limits a store through the mount has, and streams:
# a 600 MiB (sparse) file is refused past --max-entry-size without being
# read into memory, a 20 MiB one is imported, the daemon's peak memory
# barely moves.
import_limits() {
	local P=$WORK/plain pid hwm0 hwm1
	mkdir -p "$P/monomorph/ab" || return 1
	truncate -s 600M "$P/monomorph/ab/00000000000600.bc" &&
		head -c 20M /dev/urandom >"$P/monomorph/ab/00000000000020.bc" || return 1
	pid=$(cat "$WORK/pid")
	echo 5 >"/proc/$pid/clear_refs" || return 1 # peak RSS := RSS now
	hwm0=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	"$ACFS_TOOL" -C "$MNT" import --json "$P" >"$WORK/import.json" 2>&1
	cat "$WORK/import.json"
	hwm1=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	echo "# daemon peak RSS $hwm0 kB before, $hwm1 kB after"
	python3 - "$WORK/import.json" <<'PY' || return 1
import json, sys
d = json.load(open(sys.argv[1]))
assert d['imported'] == 1, d
r = [x for x in d['refused'] if x['path'].endswith('00000000000600.bc')]
assert r and 'past --max-entry-size' in r[0]['reason'], d
PY
	cmp "$P/monomorph/ab/00000000000020.bc" "$MNT/monomorph/ab/00000000000020.bc" &&
		[ $((hwm1 - hwm0)) -lt 200000 ] && [ ! -e "$MNT/monomorph/ab/00000000000600.bc" ]
}
ok "unmount" unmount_fg
# On a daemon of its own: a RELEASE of an entry read above arrives when
# the kernel sends it, and the peak memory measured must be the import's.
ok "mount again --max-entry-size=256M" mount_fg --max-entry-size=256M --validate=none
ok "import: 600 MiB refused past --max-entry-size 256M, 20 MiB imported, peak memory +<200 MB" import_limits
ok "unmount" unmount_fg
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
