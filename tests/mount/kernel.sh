#!/bin/bash
# --hit-mode=kernel: the kernel serves hits without asking the daemon (no
# OPEN, FLUSH or RELEASE); uses and hits are its open events. Everything the compiler does still works and
# every read is byte-identical; a reader keeps its version across replace
# and unlink; staging files do not leak without RELEASE; direct creates in
# shards are refused; kill -9 loses nothing acknowledged.
. "$(dirname "$0")/lib.sh"

ok "make a corpus of 64 real bitcode modules" make_corpus "$WORK/corpus" 64 h
ok "mount with --hit-mode=kernel" mount_cache --hit-mode=kernel
run_sims() {
	local pids=() i rc=0
	for i in 1 2 3 4; do
		"$ACFS_SIM" --cache "$MNT" --corpus "$WORK/corpus" --ops 1500 \
			--seed "$i" --committed "$WORK/committed.$i" >"$WORK/sim.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || rc=1; done
	cat "$WORK"/sim.*
	return $rc
}
ok "4 concurrent compilers: every read byte-identical" run_sims
trunc_over() { # O_TRUNC over a longer file, in the ordinary tree and tmp/
	local f
	for f in "$MNT/notes.txt" "$MNT/tmp/t.tmp"; do
		printf 'a much longer line of text\n' >"$f" && printf 'hi\n' >"$f" &&
			[ "$(cat "$f")" = hi ] && [ "$(stat -c %s "$f")" -eq 3 ] || {
			echo "$f: $(od -c "$f" | head -3)"; return 1; }
		rm -f "$f"
	done
}
ok "O_TRUNC truncates with --hit-mode=kernel (ordinary tree and tmp/)" trunc_over
"$ACFS_GEN" "$WORK/a.bc" olda 300
"$ACFS_GEN" "$WORK/b.bc" newb 310
reader() {
	python3 - "$MNT" "$WORK/a.bc" "$WORK/b.bc" <<'PY'
import os, shutil, sys
mnt, a, b = sys.argv[1:]
dst = mnt + "/monomorph/ab/00000000000002.bc"
def store(src):
    shutil.copyfile(src, mnt + "/tmp/s.tmp")
    os.rename(mnt + "/tmp/s.tmp", dst)
store(a)
want_a, want_b = open(a, "rb").read(), open(b, "rb").read()
fd = os.open(dst, os.O_RDONLY)
head = os.read(fd, 10)
store(b)
assert open(dst, "rb").read() == want_b, "new version not visible"
rest = b""
while True:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    rest += chunk
assert head + rest == want_a, "reader saw other bytes after replace"
os.unlink(dst)
assert not os.path.exists(dst)
assert os.pread(fd, len(want_a) + 10, 0) == want_a, "reader lost it after unlink"
os.close(fd)
PY
}
ok "a reader keeps its version across replace and unlink" reader
# The kernel sends neither FLUSH nor RELEASE once OPEN was answered ENOSYS
# (the hits above did that), not even for created files: a direct create
# commits at its close event, and is there for whoever looks once close
# returned.
direct() {
	python3 - "$MNT/monomorph/ab/00000000000003.bc" "$WORK/a.bc" <<'PY'
import os, sys
dst, src = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, data[:len(data) // 2])
pid = os.fork()
if pid == 0:
    os._exit(0 if not os.path.exists(dst) else 1)
assert os.waitpid(pid, 0)[1] == 0, "visible to another process before close"
os.write(fd, data[len(data) // 2:])
os.close(fd)
pid = os.fork()
if pid == 0:
    os._exit(0 if open(dst, "rb").read() == data else 1)
assert os.waitpid(pid, 0)[1] == 0, "not there, whole, once close returned"
PY
}
ok "a direct create in a shard commits at its close (no FLUSH, no RELEASE)" direct
garbage() {
	printf 'not bitcode at all' >"$MNT/monomorph/ab/00000000000004.bc" || return 1
	[ ! -e "$MNT/monomorph/ab/00000000000004.bc" ] &&
		grep -q 'refused commit of monomorph/ab/00000000000004.bc' "$WORK/daemon.err"
}
ok "a direct write of garbage never appears, and the log says why" garbage
fds() { ls "/proc/$(daemon_pid)/fd" | wc -l; }
noleak() {
	local before after i
	before=$(fds)
	for i in $(seq 1 150); do
		cp "$WORK/a.bc" "$MNT/tmp/l$i" && mv "$MNT/tmp/l$i" "$MNT/monomorph/ac/$(printf '%014x' "$i").bc" || return 1
		echo scratch >"$MNT/tmp/u$i" && rm "$MNT/tmp/u$i" || return 1
	done
	after=$(fds)
	echo "daemon fds before $before after $after"
	[ "$after" -le $((before + 4)) ]
}
ok "150 stores and 150 unlinked temp files leak no staging fd" noleak
dead=$(daemon_pid)
ok "kill -9 the daemon" kill -9 "$dead"
ok "the daemon is gone" wait_until "pid $dead exits" 30 "! kill -0 $dead 2>/dev/null"
ok "restart on the stale mountpoint" mount_cache --hit-mode=kernel
sort -u "$WORK"/committed.* >"$WORK/all"
hits() { "$ACFS_TOOL" -C "$MNT" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hits"])'; }
h0=$(hits)
ok "every acknowledged store is present and identical" "$ACFS_SIM" \
	--cache "$MNT" --corpus "$WORK/corpus" --verify-list "$WORK/all"
# Each read opens: a hit, counted from the open event (no OPEN reaches
# the daemon).
ok "hits are counted at opens ($h0 -> $(hits), $(wc -l <"$WORK/all") entries read)" \
	test "$(hits)" -ge $((h0 + $(wc -l <"$WORK/all")))
ok "unmount" unmount_cache
# Partial reads past --max-loaded: entries are spilled to mapped files;
# without RELEASE they must still not stay mapped (on the store's disk)
# until the kernel forgets the inode: idle ones are let go.
ok "mount --hit-mode=kernel --max-loaded=256K" mount_fg --hit-mode=kernel --max-loaded=256K --validate=none
for i in 1 2 3 4 5 6; do
	head -c 1000000 /dev/urandom >"$WORK/big$i"
	cp "$WORK/big$i" "$MNT/tmp/b$i" && mv "$MNT/tmp/b$i" "$MNT/monomorph/ee/00000000000b0$i.bc"
done
echo 3 >/proc/sys/vm/drop_caches
for i in 1 2 3 4 5 6; do head -c 4096 "$MNT/monomorph/ee/00000000000b0$i.bc" >/dev/null; done
maps() { grep -c 'staging.*(deleted)' "/proc/$(cat "$WORK/pid")/maps"; }
ok "partial reads keep their entries loaded a while ($(maps) mappings: a read in pieces loads once)" \
	test "$(maps)" -ge 1
ok "and let go of them once no read came for 5 s (housekeeping)" \
	wait_until "no spill file mapped" 30 "[ \$(maps) = 0 ]"
ok "and the entries read back whole" sh -c "for i in 1 2 3 4 5 6; do cmp '$WORK/big'\$i '$MNT/monomorph/ee/00000000000b0'\$i.bc || exit 1; done"
ok "unmount" unmount_fg
# Direct creates past the budget: each commit at its close event waits
# for an eviction pass, whose drain of the event queue must not wait for
# that commit (it held the queue's lock: each commit waited 3 x 60 s for
# room and was refused).
ok "mount --max-size 1M --validate=none" mount_fg --max-size 1M --validate=none
over_budget() {
	python3 - "$MNT" <<'PY'
import os, sys
mnt = sys.argv[1]
for i in range(8):
    data = os.urandom(300000)
    p = os.path.join(mnt, 'monomorph', 'ef', '%014x.bc' % (0xd0 + i))
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.close(fd)
    pid = os.fork()
    if pid == 0:
        os._exit(0 if open(p, 'rb').read() == data else 1)
    assert os.waitpid(pid, 0)[1] == 0, 'direct create %d not there after close' % i
PY
}
ok "8 direct creates of 300 KB into a 1 MB budget: each there once close returned" over_budget
ok "and older ones were evicted to make room" sh -c \
	"[ \$('$ACFS_TOOL' -C '$MNT' stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(int(d[\"evictions\"] > 0 and d[\"stored_bytes\"] <= 1048576 + 300100))') = 1 ]"
ok "unmount" unmount_fg
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
