#!/bin/bash
# Every operation of the foundation issue through a real mount (test-ops),
# plus ls/du/cat and LLVM's own tools reading straight from the mount.
. "$(dirname "$0")/lib.sh"

"$ACFS_GEN" "$WORK/small.bc" small 3
"$ACFS_GEN" "$WORK/large.bc" large 300
"$ACFS_GEN" "$WORK/other.bc" other 350

ok "mount in the background at a fresh mountpoint" mount_cache
ok "test-ops: every operation and errno" "$ACFS_OPS" "$MNT" \
	"$WORK/small.bc" "$WORK/large.bc" "$WORK/other.bc"

key=5a00000000000abc
cp_entry() {
	cp "$WORK/large.bc" "$MNT/tmp/${key}_1.tmp" &&
		mv "$MNT/tmp/${key}_1.tmp" "$MNT/monomorph/5a/00000000000abc.bc"
}
ok "cp + mv store an entry" cp_entry
# The kernel forgets dentries and inodes under memory pressure: a closed
# temp file must survive that until its rename.
forgotten_tmp() {
	cp "$WORK/small.bc" "$MNT/tmp/forgotten.tmp" &&
		sync && echo 2 >/proc/sys/vm/drop_caches &&
		mv "$MNT/tmp/forgotten.tmp" "$MNT/monomorph/5a/00000000000abd.bc" &&
		cmp "$WORK/small.bc" "$MNT/monomorph/5a/00000000000abd.bc"
}
ok "a temp file the kernel forgot (drop_caches) is still there to rename" forgotten_tmp
ok "cat reads it back byte for byte" \
	cmp "$WORK/large.bc" "$MNT/monomorph/5a/00000000000abc.bc"
ok "llvm-dis reads bitcode straight from the mount" \
	sh -c "llvm-dis '$MNT/monomorph/5a/00000000000abc.bc' -o - | grep -q 'define i32 @aria_max_large_0'"
ok "clang -c compiles bitcode straight from the mount" \
	clang -c "$MNT/monomorph/5a/00000000000abc.bc" -o "$WORK/out.o"
ls_size() {
	local size
	size=$(ls -l "$MNT/monomorph/5a/" | awk '/00000000000abc.bc/ {print $5}')
	[ "$size" = "$(stat -c %s "$WORK/large.bc")" ]
}
ok "ls -l shows the entry's size" ls_size
ok "du counts the entry" sh -c "[ \$(du -sk '$MNT/monomorph/5a' | cut -f1) -gt 0 ]"
ok "find walks the tree (exact nlink)" \
	sh -c "find '$MNT' -name '*.bc' | grep -q 00000000000abc.bc"
ok "unmount" unmount_cache
ok "store invariants hold after unmount" "$ACFS_CHECK" "$STORE/db"
ok "remount" mount_cache
ok "entries survive unmount and remount" \
	cmp "$WORK/large.bc" "$MNT/monomorph/5a/00000000000abc.bc"
ok "tmp/ is empty after remount (staging is discarded)" \
	sh -c "[ -z \"\$(ls -A '$MNT/tmp')\" ]"
ok "unmount" unmount_cache

# Direct creates commit once, with everything written to them: a shell
# group writing one file from two processes commits at its end, not at
# the first writer's exit; of two O_CREAT|O_EXCL creators one gets EEXIST.
"$ACFS_GEN" "$WORK/big.bc" big 3000 # ~570 KB: head writes only a part
for v in magic none; do
	ok "mount --validate=$v" mount_cache --validate=$v
	D=$MNT/monomorph/e7/5c1a00000000d$([ $v = magic ] && echo 1 || echo 2).bc
	{ head -c 100000 "$WORK/big.bc"; tail -c +100001 "$WORK/big.bc"; } >"$D"
	ok "--validate=$v: { head; tail; } > entry commits all of it" cmp "$WORK/big.bc" "$D"
	ok "unmount" unmount_cache
done
ok "mount" mount_cache
excl() {
	python3 - "$MNT/monomorph/e7/5c1a00000000e3.bc" "$WORK/small.bc" <<'PY'
import errno, os, sys
path, data = sys.argv[1], open(sys.argv[2], 'rb').read()
a = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
try:
    b = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    sys.exit('the second O_EXCL create succeeded too')
except OSError as e:
    assert e.errno == errno.EEXIST, e
os.write(a, data)
os.close(a)
try:
    os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    sys.exit('O_EXCL over a committed entry succeeded')
except OSError as e:
    assert e.errno == errno.EEXIST, e
assert open(path, 'rb').read() == data
PY
}
ok "O_CREAT|O_EXCL: the second creator of a key gets EEXIST" excl
# touch -d before 1970, on an entry and on an ordinary file: kept as set.
E=$MNT/monomorph/e7/5c1a00000000e3.bc
mkdir -p "$MNT/globs" && echo x >"$MNT/globs/old"
for f in "$E" "$MNT/globs/old"; do
	touch -d '1960-01-01 00:00:00.25 UTC' "$f"
	ok "touch -d 1960 on ${f#$MNT/}: its mtime is -315619200 (got $(stat -c %Y "$f"))" \
		test "$(stat -c %Y "$f")" = -315619200
	ok "... with its fraction (.25)" sh -c "stat -c %y '$f' | grep -q '00:00:00.250000000'"
done
stale_pin() {
	python3 - "$MNT" "$WORK/small.bc" "$WORK/large.bc" <<'PY'
import errno, os, sys
mnt, a, b = sys.argv[1], open(sys.argv[2], 'rb').read(), open(sys.argv[3], 'rb').read()
e = os.path.join(mnt, 'monomorph/e7/5c1a00000000f4.bc')
def store(data):
    t = os.path.join(mnt, 'tmp/pin.tmp')
    with open(t, 'wb') as f:
        f.write(data)
    os.rename(t, e)
store(a)
fd = os.open(e, os.O_RDONLY)
store(b)  # the entry is another version now; fd still reads the first
try:
    os.setxattr(fd, 'user.aria.pin', b'1')
    sys.exit('a pin through the old version\'s fd succeeded')
except OSError as x:
    assert x.errno == errno.ESTALE, x
assert os.read(fd, len(a) + 1) == a
os.close(fd)
assert os.getxattr(e, 'user.aria.pin') == b'0', 'the new version got pinned'
os.setxattr(e, 'user.aria.pin', b'1')
assert os.getxattr(e, 'user.aria.pin') == b'1'
PY
}
ok "a pin through a descriptor of a replaced version: ESTALE, the new version unpinned" stale_pin
ok "unmount" unmount_cache
ok "remount" mount_cache
ok "the entry's time before 1970 survives a remount" test "$(stat -c %Y "$E")" = -315619200
ok "unmount" unmount_cache
finish
