#!/bin/bash
# One daemon serves every mount of a store: three projects' mounts of one
# store share entries at once (an entry stored through one reads through
# the others right after they probed it as absent), compiler-like clients
# in all three at once, one unmounted while the others are busy, a mount
# stacked on a live one refused, per-mount counters in stats, kill -9 and
# a restart that brings every mount back with every acknowledged entry,
# and the daemon gone with its last mount.
. "$(dirname "$0")/lib.sh"

OPS=${ACFS_SIM_OPS:-300}
A=$MNT
B=$WORK/b
C=$WORK/c
mkdir -p "$B" "$C"
# cleanup (lib.sh) unmounts $MNT; these two as well.
EXTRA_MOUNTS="$B $C"

CACHE() { "$ACFS_TOOL" -C "$A" "$@"; }
# mounts_of DIR: how many mounts the kernel has at DIR.
mounts_of() { awk -v d="$1" '$5 == d' /proc/self/mountinfo | wc -l; }
# serving DIR: a live mount (statfs reaches the daemon).
serving() { mountpoint -q "$1" && stat -f "$1" >/dev/null 2>&1; }
# daemons: the aria-cachefs processes serving $STORE.
daemons() { pgrep -f -- "--store $STORE " | wc -l; }

ok "make a corpus of 64 real bitcode modules" make_corpus "$WORK/corpus" 64 m
ok "mount A (starts the daemon)" mount_cache
PID=$(daemon_pid)
join() { # join DIR: another project's mount of the same store
	"$ACFS_DAEMON" --store "$STORE" "$1" 2>"$WORK/join.err" || { cat "$WORK/join.err"; return 1; }
	cat "$WORK/join.err"
	grep -q "served by the daemon already running: pid $PID" "$WORK/join.err" && serving "$1"
}
ok "mount B of the same store joins the daemon" join "$B"
ok "the same build joining says nothing of versions" sh -c "! grep -q 'runs another build' '$WORK/join.err'"
# A daemon of another build (its lock names its version): the joining
# binary says that the running code serves its mount.
older_daemon() {
	# Rewritten in place (>: the same file, whose lock the daemon holds).
	local saved rc
	saved=$(cat "$STORE/daemon.lock")
	printf '%s' "${saved/ version / version 0.0.1+0ld }" >"$STORE/daemon.lock"
	join "$C"
	rc=$?
	printf '%s' "$saved" >"$STORE/daemon.lock"
	[ $rc -eq 0 ] && grep -q 'the daemon serving the store runs another build (pid .* version 0.0.1+0ld' "$WORK/join.err"
}
ok "mount C: a daemon of another build serves it, and the join says so" older_daemon
ok "a store inside another project's cache mount is refused (exit 2), nothing made" sh -c \
	"'$ACFS_DAEMON' --store '$MNT/globs/st' '$WORK/inner' 2>'$WORK/inner.err'; [ \$? -eq 2 ] && grep -q 'is inside the aria-cachefs mount $MNT' '$WORK/inner.err' && [ ! -e '$MNT/globs/st' ] && [ ! -e '$WORK/inner' ]"
ok "one daemon serves the three (its pid unchanged)" sh -c \
	"[ \"\$(awk '{print \$2}' '$STORE/daemon.lock')\" = $PID ] && [ $(daemons) -eq 1 ]"

# Stacking a second mount on a live one is refused, naming store and daemon.
stacked() { # stacked DIR STORE
	local rc=0
	"$ACFS_DAEMON" --store "$2" "$1" >"$WORK/stack.err" 2>&1 || rc=$?
	cat "$WORK/stack.err"
	[ "$rc" -ne 0 ] && grep -q "$1 is already a live aria-cachefs mount (store $STORE, daemon pid $PID" "$WORK/stack.err" &&
		[ "$(mounts_of "$1")" -eq 1 ]
}
ok "mounting on B again is refused (same store), naming store and daemon" stacked "$B" "$STORE"
ok "so is another store's mount on C" stacked "$C" "$WORK/other-store"

# Probed as absent through B and C (the kernel caches the answer for a
# day), stored through A, then read at once through B and C.
"$ACFS_GEN" "$WORK/e1.bc" multi1 3 && "$ACFS_GEN" "$WORK/e2.bc" multi2 5 || exit 1
K=monomorph/6d/000000000000a1.bc
absent_everywhere() { ! stat "$B/$K" 2>/dev/null && ! stat "$C/$K" 2>/dev/null && ! cat "$C/$K" 2>/dev/null; }
ok "the key is absent through B and C" absent_everywhere
store_in() { cp "$2" "$1/tmp/s.$$" && mv "$1/tmp/s.$$" "$1/$K"; }
ok "store it through A" store_in "$A" "$WORK/e1.bc"
ok "B and C read it at once, byte for byte" sh -c "cmp '$WORK/e1.bc' '$B/$K' && cmp '$WORK/e1.bc' '$C/$K'"
# A reader in B holds the first version while A replaces it and C removes it.
held_version() {
	python3 - "$B/$K" "$WORK/e1.bc" "$A" "$K" "$WORK/e2.bc" "$C" <<'PY'
import os, shutil, sys
path, v1, a, key, v2, c = sys.argv[1:]
f = open(path, 'rb')
first = f.read(100)
tmp = os.path.join(a, 'tmp', 'r')
shutil.copyfile(v2, tmp)
os.rename(tmp, os.path.join(a, key))           # A replaces it
assert open(os.path.join(c, key), 'rb').read() == open(v2, 'rb').read(), 'C sees the new version'
rest = f.read()
assert first + rest == open(v1, 'rb').read(), 'the reader in B kept its version whole'
assert open(path, 'rb').read() == open(v2, 'rb').read(), 'a new open in B gets the new version'
os.unlink(os.path.join(c, key))                # C removes it
assert not os.path.exists(path), 'B sees the removal'
assert not os.path.exists(os.path.join(a, key)), 'A sees the removal'
f.close()
PY
}
ok "replaced through A, removed through C: B's reader keeps its version, new opens follow" held_version

# Compilers in the three mounts at once, over the same keys.
run_sims() {
	local pids=() m i=0 rc=0
	for m in "$@"; do
		i=$((i + 1))
		"$ACFS_SIM" --cache "$m" --corpus "$WORK/corpus" --ops "$OPS" \
			--seed "$i$RANDOM" --committed "$WORK/committed.$i.$RANDOM" \
			>"$WORK/sim.$i.$RANDOM" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || rc=1
	done
	return $rc
}
ok "compilers in A, B and C at once: every read byte-identical" run_sims "$A" "$B" "$C" "$A" "$B" "$C"
ok "they stored and hit through every mount" sh -c \
	"grep -h 'hits' '$WORK'/sim.* | awk '{h+=\$4; s+=\$9} END {print h\" hits \"s\" stores\"; exit !(h>0 && s>0)}'"

# Readers in B and C while A replaces the same keys without pause: every
# replace drops B's and C's dentries, so their kernels FORGET inodes right
# after the replies to READs on them (a READ's pin, RELEASE and FORGET
# racing freed an inode twice before).
race_forget() {
	python3 - "$A" "$B" "$C" "$WORK/e1.bc" "$WORK/e2.bc" <<'PY'
import os, sys, threading, time
a, b, c, v1, v2 = sys.argv[1:]
vs = [open(v1, 'rb').read(), open(v2, 'rb').read()]
keys = ['monomorph/5e/%014x.bc' % i for i in range(16)]
for i, k in enumerate(keys):
    t = os.path.join(a, 'tmp', 'w%d' % i)
    open(t, 'wb').write(vs[0]); os.rename(t, os.path.join(a, k))
stop = time.monotonic() + 6
bad = []
def writer():
    n = 0
    while time.monotonic() < stop:
        k = keys[n % len(keys)]
        t = os.path.join(a, 'tmp', 'w')
        open(t, 'wb').write(vs[n % 2]); os.rename(t, os.path.join(a, k))
        n += 1
def reader(m):
    n = 0
    while time.monotonic() < stop:
        for k in keys:
            with open(os.path.join(m, k), 'rb') as f:
                d = f.read()
            if d not in vs:
                bad.append(k)
            n += 1
    print(m, n, 'reads')
ts = [threading.Thread(target=writer)] + [threading.Thread(target=reader, args=(m,)) for m in (b, c, b, c)]
for t in ts: t.start()
for t in ts: t.join()
assert not bad, bad
PY
	kill -0 "$PID" && serving "$B" && serving "$C"
}
ok "readers in B and C while A replaces their keys: every read whole, the daemon alive" race_forget

# B unmounted while compilers work in A and C.
unmount_b_while_busy() {
	run_sims "$A" "$C" "$A" "$C" &
	local sims=$!
	wait_until "the compilers are at work" 30 "ls '$WORK'/committed.* 2>/dev/null | xargs cat 2>/dev/null | grep -q ." || return 1
	fusermount3 -u "$B" || return 1
	wait "$sims" || { echo "a compiler in A or C failed"; return 1; }
	! mountpoint -q "$B" && serving "$A" && serving "$C" && kill -0 "$PID"
}
ok "B unmounted while A and C are busy: they go on, the daemon stays" unmount_b_while_busy
ok "B mounts again" join "$B"

per_mount_stats() {
	CACHE stats --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = {x["mountpoint"]: x for x in s["mounts"]}
print(m)
assert set(m) == set(sys.argv[1:]), m
assert m[sys.argv[1]]["hits"] > 0 and m[sys.argv[1]]["stores"] > 0, m
assert sum(x["hits"] for x in m.values()) <= s["hits"]
' "$A" "$B" "$C" && CACHE stats | grep -q "^mount  *$C: "
}
ok "stats: totals, and each mount's hits, misses and stores" per_mount_stats
ok "aria-cache reaches the store through C too" sh -c "'$ACFS_TOOL' -C '$C' stats --json | grep -q '\"entries\"'"

# A project whose cache directory predates the mount: a plain cache in the
# compiler's layout, with good, truncated and invalid entries.
P=$WORK/p
plain_cache() {
	mkdir -p "$P/monomorph/7a" "$P/monomorph/7b" || return 1
	"$ACFS_GEN" "$P/monomorph/7a/000000000000b1.bc" plain1 3 &&
		"$ACFS_GEN" "$P/monomorph/7a/000000000000b2.bc" plain2 4 &&
		"$ACFS_GEN" "$P/monomorph/7b/000000000000b3.bc" plain3 5 || return 1
	head -c 600 "$P/monomorph/7a/000000000000b1.bc" >"$P/monomorph/7b/000000000000b4.bc"
	echo "not bitcode" >"$P/monomorph/7b/000000000000b5.bc"
	echo '{"generic": "Vec<T>"}' >"$P/monomorph/7b/000000000000b6.meta"
	touch -d '2026-01-02 03:04:05' "$P/monomorph/7a/000000000000b1.bc"
}
ok "a project's plain cache from before the mount (good, truncated, invalid)" plain_cache
refuse_plain() {
	local rc=0
	"$ACFS_DAEMON" --store "$STORE" "$P" >"$WORK/plain.err" 2>&1 || rc=$?
	cat "$WORK/plain.err"
	[ "$rc" -ne 0 ] && ! mountpoint -q "$P" &&
		grep -q "$P holds a plain cache: 6 entries" "$WORK/plain.err" &&
		grep -q "aria-cache --store $STORE import $P" "$WORK/plain.err"
}
ok "mounting over it is refused, offering aria-cache import" refuse_plain
ok "its keys are absent through A (probed)" sh -c "! stat '$A/monomorph/7a/000000000000b1.bc' 2>/dev/null && ! stat '$A/monomorph/7b/000000000000b6.meta' 2>/dev/null"
import_plain() {
	local rc=0
	CACHE import --json "$P" >"$WORK/import.json" 2>&1 || rc=$?
	cat "$WORK/import.json"
	[ "$rc" -eq 1 ] || return 1 # two refused
	python3 - "$WORK/import.json" "$P" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = sys.argv[2]
assert r['imported'] == 4, r
refused = {x['path']: x['reason'] for x in r['refused']}
assert set(refused) == {p + '/monomorph/7b/000000000000b4.bc', p + '/monomorph/7b/000000000000b5.bc'}, refused
assert 'bitcode' in refused[p + '/monomorph/7b/000000000000b5.bc'], refused
PY
}
ok "aria-cache import through A: four imported, the truncated and invalid ones refused with reasons" import_plain
imported_visible() {
	local f
	for f in 7a/000000000000b1.bc 7a/000000000000b2.bc 7b/000000000000b3.bc 7b/000000000000b6.meta; do
		cmp "$P/monomorph/$f" "$A/monomorph/$f" && cmp "$P/monomorph/$f" "$C/monomorph/$f" || return 1
	done
	! stat "$A/monomorph/7b/000000000000b4.bc" 2>/dev/null
}
ok "an imported entry's last use is its modification time" sh -c \
	"'$ACFS_TOOL' -C '$A' ls --json | python3 -c 'import json,sys; e={x[\"key\"]: x for x in json.load(sys.stdin)}; assert e[\"7a000000000000b1\"][\"atime_ns\"] == 1767323045 * 10**9, e[\"7a000000000000b1\"]'"
ok "imported entries read at once through A and C (after A probed them absent)" imported_visible
ok "importing again imports nothing new" sh -c \
	"'$ACFS_TOOL' -C '$A' import '$P' | grep -q '^imported 0 entries .* 4 already in the store, 2 refused'"
ok "the plain cache is untouched" sh -c "[ -s '$P/monomorph/7a/000000000000b1.bc' ] && [ \$(find '$P' -type f | wc -l) -eq 6 ]"
mv "$P/monomorph" "$WORK/old-plain"
ok "moved aside, the project mounts (joining the daemon)" join "$P"
ok "and reads what was imported" cmp "$WORK/old-plain/7a/000000000000b2.bc" "$P/monomorph/7a/000000000000b2.bc"
ok "unmount it" fusermount3 -u "$P"
N=$WORK/notes
nonempty() {
	local rc=0
	mkdir -p "$N" && echo keep >"$N/notes.txt" || return 1
	"$ACFS_DAEMON" --store "$STORE" "$N" >"$WORK/ne.err" 2>&1 || rc=$?
	cat "$WORK/ne.err"
	[ "$rc" -ne 0 ] && grep -q "$N is not empty (1 files" "$WORK/ne.err" && ! mountpoint -q "$N" || return 1
	"$ACFS_DAEMON" --store "$STORE" --nonempty "$N" 2>"$WORK/ne.err" || return 1
	cat "$WORK/ne.err"
	serving "$N" && [ ! -e "$N/notes.txt" ] && fusermount3 -u "$N" &&
		[ "$(cat "$N/notes.txt")" = keep ]
}
ok "another non-empty directory: refused; --nonempty mounts over it, the file kept" nonempty

# kill -9, then a restart for A brings back B and C, entries intact.
sort -u "$WORK"/committed.* >"$WORK/committed.all"
crash_and_restart() {
	kill -9 "$PID" && wait_until "the daemon is gone" 30 "! kill -0 $PID 2>/dev/null" || return 1
	! stat -f "$B" >/dev/null 2>&1 || { echo "B still answers"; return 1; }
	"$ACFS_DAEMON" --store "$STORE" "$A" 2>"$WORK/restart.err"
	cat "$WORK/restart.err"
	PID=$(daemon_pid)
	serving "$A" && serving "$B" && serving "$C" &&
		[ "$(mounts_of "$B")" -eq 1 ] && [ "$(mounts_of "$C")" -eq 1 ] &&
		grep -q "brought back the mount at $B" "$WORK/restart.err"
}
ok "kill -9; a restart brings back every mount, stale mounts cleared" crash_and_restart
echo "$PID" >/dev/null
for m in "$A" "$B" "$C"; do
	ok "every acknowledged entry intact through $m" "$ACFS_SIM" --cache "$m" \
		--corpus "$WORK/corpus" --verify-list "$WORK/committed.all"
done

# A unit in the foreground joins and stays until its mount is gone.
D=$WORK/d
fg_join() {
	mkdir -p "$D"
	"$ACFS_DAEMON" -f --store "$STORE" "$D" 2>"$WORK/fg.err" &
	local fg=$!
	wait_until "D is served" 30 "serving '$D'" || return 1
	kill -0 "$fg" || { echo "the foreground aria-cachefs left"; return 1; }
	fusermount3 -u "$D" || return 1
	wait "$fg" || { echo "exit $?"; cat "$WORK/fg.err"; return 1; }
}
ok "aria-cachefs -f of a served store stays until its mount is gone, then exits 0" fg_join

last_mount() {
	fusermount3 -u "$B" && fusermount3 -u "$C" && kill -0 "$PID" &&
		fusermount3 -u "$A" &&
		wait_until "the daemon exits with its last mount" 30 "! kill -0 $PID 2>/dev/null" &&
		[ ! -e "$STORE/mounts" ]
}
ok "the daemon exits when its last mount is gone" last_mount
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
