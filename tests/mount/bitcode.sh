#!/bin/bash
# Only valid bitcode is ever committed: through a real mount, bad bitcode
# fails the rename (or the close) with EINVAL, leaves the previous version
# readable, is logged with key and LLVM's reason and counted as rejected;
# module info shows through getfattr and aria-cache inspect.
. "$(dirname "$0")/lib.sh"

start() { mount_fg "$@"; }
stop() { unmount_fg; }
G() { "$ACFS_GEN" "$WORK/$1.bc" "$1" "${@:2}"; }
G good 300
G other 40
G arm 5 --triple aarch64-unknown-linux-gnu
G broken 2 --invalid 1
head -c 20000 "$WORK/good.bc" >"$WORK/truncated.bc"
head -c 30000 /dev/urandom >"$WORK/random.bc"
llvm-dis "$WORK/good.bc" -o "$WORK/text.ll"
python3 - "$WORK/wrapped.bc" <<'PY'
import struct, sys, os
garbage = os.urandom(4000)
open(sys.argv[1], 'wb').write(struct.pack('<5I', 0x0B17C0DE, 0, 20, len(garbage), 0) + garbage)
PY

K=c4aaaaaaaaaaaa01
P=$MNT/monomorph/c4/aaaaaaaaaaaa01.bc
try_store() { # try_store FILE: tmp + rename onto $P; prints rename's errno
	cp "$1" "$MNT/tmp/t.tmp" || return 1
	python3 -c "
import os, sys
try:
    os.rename(sys.argv[1], sys.argv[2]); print('OK')
except OSError as e:
    print(os.strerror(e.errno)); os.unlink(sys.argv[1])
" "$MNT/tmp/t.tmp" "$P"
}
CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
field() { CACHE stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

ok "mount (default --validate=parse)" start
r=$(try_store "$WORK/good.bc"); ok "valid bitcode commits (got $r)" test "$r" = OK
for bad in truncated random wrapped; do
	r=$(try_store "$WORK/$bad.bc")
	ok "$bad bitcode: rename fails with EINVAL (got $r)" test "$r" = "Invalid argument"
	ok "$bad bitcode: the previous version is intact" cmp "$WORK/good.bc" "$P"
done
cp "$WORK/text.ll" "$WORK/text.bc"
r=$(try_store "$WORK/text.bc"); ok "a text .ll is refused (got $r)" test "$r" = "Invalid argument"
# A module on which LLVM's reader aborts (report_fatal_error): LLVM runs
# in a helper process, so the commit is refused and the daemon stays up.
python3 "$(dirname "$0")/../llvm-abort.py" "$WORK/abort.bc"
for i in 1 2; do
	r=$(try_store "$WORK/abort.bc")
	ok "LLVM aborts on it (#$i): the rename fails with EINVAL (got $r)" test "$r" = "Invalid argument"
done
ok "the daemon is still up" sh -c "mountpoint -q '$MNT' && stat '$MNT/monomorph' >/dev/null"
ok "the log names the key and LLVM's fatal error" sh -c \
	"grep 'refused commit of monomorph/c4/aaaaaaaaaaaa01.bc' '$LOG' | grep -q 'LLVM gave up on it (fatal error: '"
ok "the previous version is intact" cmp "$WORK/good.bc" "$P"
r=$(try_store "$WORK/other.bc"); ok "the next valid commit works (a new helper; got $r)" test "$r" = OK
ok "and reads back" cmp "$WORK/other.bc" "$P"
r=$(try_store "$WORK/good.bc"); ok "restore the first version (got $r)" test "$r" = OK
ok "no temp file is left behind" sh -c "[ -z \"\$(ls -A '$MNT/tmp')\" ]"
ok "the log names the key and LLVM's reason" sh -c \
	"grep 'refused commit of monomorph/c4/aaaaaaaaaaaa01.bc' '$LOG' | grep -q 'LLVM'"
ok "the log names the bad magic" sh -c "grep -q 'bitcode magic' '$LOG'"
ok "rejected stores are counted" test "$(field rejected_stores)" -eq 6
# A direct write of garbage never appears. In the default kernel hit mode
# no FLUSH reaches the daemon, so close(2) cannot carry the refusal (it
# comes at the close event, to the log; --hit-mode=open fails the close
# with EINVAL): the lookup after close waits for that verdict.
direct() {
	python3 - "$MNT/monomorph/c4/aaaaaaaaaaaa02.bc" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd, b'not bitcode at all' * 100)
os.close(fd)
assert not os.path.exists(sys.argv[1]), "a refused entry exists"
PY
}
ok "a direct write of garbage never appears" direct
ok "the log names it and why" sh -c \
	"grep 'refused commit of monomorph/c4/aaaaaaaaaaaa02.bc' '$LOG' | grep -q 'bitcode magic'"
r=$(try_store "$WORK/arm.bc"); ok "another target is accepted without --target (got $r)" test "$r" = OK
r=$(try_store "$WORK/broken.bc"); ok "verifier-invalid IR passes --validate=parse (got $r)" test "$r" = OK
r=$(try_store "$WORK/good.bc"); ok "good again (got $r)" test "$r" = OK
ok "getfattr shows the module's triple" sh -c \
	"getfattr -n user.aria.triple --only-values '$P' | grep -qx x86_64-pc-linux-gnu"
ok "getfattr shows the number of defined functions" sh -c \
	"getfattr -n user.aria.functions --only-values '$P' | grep -qx 300"
ok "getfattr -d lists the module attributes" sh -c "getfattr -d '$P' | grep -q user.aria.datalayout"
inspect() {
	CACHE inspect "$K" --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['triple'] == 'x86_64-pc-linux-gnu', d
assert d['function_count'] == 300 and len(d['functions']) == 300
assert d['functions'][0] == 'aria_max_good_0'
assert d['size'] == $(stat -c %s "$WORK/good.bc")
"
}
ok "aria-cache inspect --json" inspect
ok "aria-cache inspect by path" sh -c "'$ACFS_TOOL' -C '$MNT' inspect '$P' | grep -q 'functions   300'"
ok "aria-cache inspect --disassemble prints textual IR" sh -c \
	"'$ACFS_TOOL' -C '$MNT' inspect $K --disassemble | grep -q 'define i32 @aria_max_good_299'"
ok "inspect --disassemble --json: the record with the IR in one JSON value" sh -c \
	"'$ACFS_TOOL' -C '$MNT' inspect $K --disassemble --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert \"define i32 @aria_max_good_299\" in d[\"disassembly\"], d.keys(); assert d[\"kind\"] == \"bc\"'"
meta() {
	local m=$MNT/monomorph/c4/aaaaaaaaaaaa01.meta
	printf '{"signature":"func<T>:max","types":["int32"],"hash":"x"}' >"$WORK/m.json"
	cp "$WORK/m.json" "$MNT/tmp/m.tmp" && mv "$MNT/tmp/m.tmp" "$m" &&
		cmp "$WORK/m.json" "$m" || return 1
	printf '{"signature": ' >"$MNT/tmp/bad.tmp"
	! mv "$MNT/tmp/bad.tmp" "$m" 2>/dev/null && cmp "$WORK/m.json" "$m"
}
ok ".meta: valid JSON is kept byte for byte, invalid JSON refused" meta
ok "unmount" stop

ok "mount with --validate=verify --target x86_64-pc-linux-gnu" start --validate=verify --target x86_64-pc-linux-gnu
P=$MNT/monomorph/c4/aaaaaaaaaaaa03.bc
r=$(try_store "$WORK/broken.bc"); ok "verify refuses IR the verifier rejects (got $r)" test "$r" = "Invalid argument"
ok "the log has the verifier's reason" sh -c "grep -q 'LLVM verifier' '$LOG'"
r=$(try_store "$WORK/arm.bc"); ok "--target refuses another triple (got $r)" test "$r" = "Invalid argument"
ok "the log names both triples" sh -c "grep 'aarch64-unknown-linux-gnu' '$LOG' | grep -q 'x86_64-pc-linux-gnu'"
r=$(try_store "$WORK/other.bc"); ok "valid bitcode for the target commits (got $r)" test "$r" = OK
ok "unmount" stop

ok "mount with --validate=none" start --validate=none
P=$MNT/monomorph/c4/aaaaaaaaaaaa04.bc
r=$(try_store "$WORK/random.bc"); ok "none takes anything (got $r)" test "$r" = OK
ok "and keeps it byte for byte" cmp "$WORK/random.bc" "$P"
ok "unmount" stop
# LLVM helpers' memory is bounded: with a 12 MiB limit, parsing a module
# of 30000 functions (6 MB) exceeds it; the helper dies, the commit is refused,
# the daemon and the next small commit are fine. Not under ASan (whose
# shadow memory the limit would count; the helpers run unlimited there).
if ! ldd "$ACFS_DAEMON" | grep -Eq "libasan|libtsan"; then
	G huge 30000
	export ARIA_CACHE_HELPER_MEMORY=12M
	ok "mount with ARIA_CACHE_HELPER_MEMORY=12M" start
	unset ARIA_CACHE_HELPER_MEMORY
	P=$MNT/monomorph/c4/aaaaaaaaaaaa05.bc
	r=$(try_store "$WORK/huge.bc"); ok "a module that needs more refused: EINVAL (got $r)" test "$r" = "Invalid argument"
	ok "the log says the bitcode reader died on it" sh -c \
		"grep 'refused commit of monomorph/c4/aaaaaaaaaaaa05.bc' '$LOG' | grep -q 'died on it\|out of memory\|LLVM gave up'"
	r=$(try_store "$WORK/other.bc"); ok "a small module commits next (got $r)" test "$r" = OK
	ok "unmount" stop
fi
ok "bad --validate value is a usage error" sh -c \
	"'$ACFS_DAEMON' --store '$STORE' --validate=full '$MNT' 2>&1 | grep -q 'none, magic'"
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
