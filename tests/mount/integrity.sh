#!/bin/bash
# Nothing wrong is ever read back: every entry carries a SHA-256 digest;
# bytes damaged in the store (as bit rot would) fail the read with EIO and
# are quarantined, logged with key and both digests, counted, and listed
# by `aria-cache verify`; `verify --repair` removes bad entries and fixes
# damaged indexes and counters. Damage is done with store-check --inject
# while no daemon holds the store.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
field() { CACHE stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
INJECT() { "$ACFS_CHECK" --inject "$1" "$2" "$STORE/db"; }

ok "make a corpus of 24 real bitcode modules" make_corpus "$WORK/corpus" 24 integrity
keys=($(ls "$WORK/corpus" | sed 's/\.bc$//'))
path_of() { echo "$MNT/monomorph/${1:0:2}/${1:2}.bc"; }
store_all() {
	local k
	for k in "${keys[@]}"; do
		cp "$WORK/corpus/$k.bc" "$MNT/tmp/$k.tmp" &&
			mv "$MNT/tmp/$k.tmp" "$(path_of "$k")" || return 1
	done
}
all_identical() { # all_identical [SKIP_KEY...]
	local k
	for k in "${keys[@]}"; do
		case " $* " in *" $k "*) continue ;; esac
		cmp "$WORK/corpus/$k.bc" "$(path_of "$k")" || return 1
	done
}

ok "mount" mount_fg
ok "store ${#keys[@]} entries" store_all
k0=${keys[0]}
want="sha256:$(sha256sum <"$WORK/corpus/$k0.bc" | cut -c1-64)"
got=$(getfattr --absolute-names --only-values -n user.aria.digest "$(path_of "$k0")" 2>&1)
ok "user.aria.digest is the SHA-256 of the bytes ($got)" test "$got" = "$want"
ok "getfattr -d lists user.aria.digest" sh -c \
	"getfattr -d '$(path_of "$k0")' | grep -q '^user.aria.digest='"
ok "reads verify: all entries identical" all_identical
ok "verify: clean store, exit 0" CACHE verify

# verify under load: writers replace entries while readers hold them open
# (each replaced version is kept as an orphan until its reader closes it,
# then dropped); 20 verify runs meanwhile all find the store clean. A
# check must not race the writers it checks (it reported "orphans row
# without its blob" on about 1 run in 8).
verify_under_load() {
	local i rc=0 load
	python3 - "$MNT" "$WORK/corpus" "$WORK/load.stop" "${keys[@]:0:6}" <<'PY' &
import os, sys, threading
mnt, corpus, stop = sys.argv[1], sys.argv[2], sys.argv[3]
keys = sys.argv[4:]
data = [open(os.path.join(corpus, k + '.bc'), 'rb').read() for k in keys]
path = lambda k: os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc')
def writer(n):
    i = 0
    while not os.path.exists(stop):
        j = (i + n) % len(keys)
        t = os.path.join(mnt, 'tmp', 'load-%d-%d.tmp' % (n, i))
        with open(t, 'wb') as f:
            f.write(data[j])
        os.rename(t, path(keys[j]))
        i += 1
def reader(n):
    i = 0
    while not os.path.exists(stop):
        j = (i + n) % len(keys)
        with open(path(keys[j]), 'rb') as f:
            assert f.read() == data[j]
        i += 1
ts = [threading.Thread(target=writer, args=(n,)) for n in range(3)] + \
     [threading.Thread(target=reader, args=(n,)) for n in range(3)]
for t in ts: t.start()
for t in ts: t.join()
PY
	load=$!
	for i in $(seq 20); do
		CACHE verify >"$WORK/vl.out" 2>&1 || { rc=1; cat "$WORK/vl.out"; }
	done
	touch "$WORK/load.stop"
	wait "$load" || rc=1
	return $rc
}
ok "verify under load: 20 runs, each exit 0" verify_under_load
ok "unmount" unmount_fg

# Bit rot in one entry's bytes: same size, record and digest unchanged.
bad=${keys[3]}
ok "inject: flip a byte of $bad" INJECT flip-byte "$bad"
ok "remount (--verify-reads=first)" mount_fg
ok "a read of the damaged entry fails with EIO" sh -c \
	"cat '$(path_of "$bad")' 2>&1 >/dev/null | grep -q 'Input/output error'"
ok "the log names the key and both digests" sh -c \
	"grep 'quarantined monomorph/${bad:0:2}/${bad:2}.bc' '$LOG' | grep 'recorded sha256:' | grep -q 'bytes read have sha256:'"
ok "the damaged entry left the namespace (ENOENT)" sh -c \
	"! stat '$(path_of "$bad")' 2>/dev/null"
ok "stats count 1 quarantined" test "$(field quarantined)" = 1
ok "every other entry reads back identical" all_identical "$bad"
ok "a store of the same key succeeds again" sh -c \
	"cp '$WORK/corpus/$bad.bc' '$MNT/tmp/x' && mv '$MNT/tmp/x' '$(path_of "$bad")' && cmp '$WORK/corpus/$bad.bc' '$(path_of "$bad")'"
CACHE verify >"$WORK/v1.out" 2>&1; rc=$?
ok "verify lists the quarantined version, exit 1 (got $rc)" sh -c \
	"[ $rc -eq 1 ] && grep -q '^quarantined *monomorph/${bad:0:2}/${bad:2}.bc: quarantined: digest mismatch' '$WORK/v1.out'"
ok "verify --json parses and counts 1 problem" sh -c \
	"CACHE() { '$ACFS_TOOL' -C '$MNT' \"\$@\"; }; CACHE verify --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"problem_count\"]==1 and d[\"problems\"][0][\"kind\"]==\"quarantined\", d'"
ok "verify --repair drops it, exit 0" CACHE verify --repair
ok "verify afterwards: no problems" CACHE verify

# --verify-reads: first checks a version once per daemon, always on every load.
v0=$(field verified_reads)
cat "$(path_of "$k0")" >/dev/null; cat "$(path_of "$k0")" >/dev/null
ok "first: a version read again is not checked again" test "$(field verified_reads)" = "$v0"
ok "unmount" unmount_fg
ok "remount --verify-reads=always" mount_fg --verify-reads=always
v0=$(field verified_reads)
for i in 1 2 3; do cat "$(path_of "$k0")" >/dev/null; echo 3 >/proc/sys/vm/drop_caches; done
ok "always: each load is checked ($(field verified_reads) - $v0 >= 3)" \
	test $(( $(field verified_reads) - v0 )) -ge 3
ok "unmount" unmount_fg

# A lost blob: the read fails with EIO and the entry is quarantined.
gone=${keys[5]}
ok "inject: drop the blob of $gone" INJECT drop-blob "$gone"
ok "remount --verify-reads=never" mount_fg --verify-reads=never
ok "a read of an entry whose bytes are lost fails with EIO" sh -c \
	"! cat '$(path_of "$gone")' >/dev/null 2>&1"
ok "the log names it" grep -q "monomorph/${gone:0:2}/${gone:2}.bc: reading version" "$LOG"
ok "and quarantines it" grep -q "quarantined monomorph/${gone:0:2}/${gone:2}.bc" "$LOG"
ok "unmount" unmount_fg

# Index and counter damage, found and fixed by verify --repair.
ok "inject: counters off" INJECT counters "$k0"
ok "inject: lru row of an absent entry" INJECT dangling-lru 00000000000000aa
ok "inject: info row of an absent entry" INJECT dangling-info 00000000000000bb
ok "inject: lru row of ${keys[7]} lost" INJECT drop-lru "${keys[7]}"
ok "inject: a blob nobody owns" INJECT stray-blob "$k0"
ok "the invariant check sees the damage" sh -c "! '$ACFS_CHECK' '$STORE/db'"
ok "remount" mount_fg
CACHE verify >"$WORK/v2.out" 2>&1; rc=$?
ok "verify reports counters, 5 index problems (one the quarantined lost blob), exit 1 (got $rc)" sh -c \
	"[ $rc -eq 1 ] && [ \$(grep -c '^index' '$WORK/v2.out') -eq 5 ] && grep -q '^counters' '$WORK/v2.out' && grep -q '^quarantined' '$WORK/v2.out'"
ok "verify --repair fixes them all" CACHE verify --repair
ok "verify afterwards: no problems" CACHE verify
ok "entries still identical" all_identical "$gone"
ok "unmount" unmount_fg
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"

# Invalid bitcode committed without validation is found by verify.
ok "mount --validate=none" mount_fg --validate=none
head -c 5000 /dev/urandom >"$WORK/junk.bc"
ok "junk commits when nothing validates" sh -c \
	"cp '$WORK/junk.bc' '$MNT/tmp/j' && mv '$MNT/tmp/j' '$MNT/monomorph/ee/eeeeeeeeeeeeee.bc'"
CACHE verify >"$WORK/v3.out" 2>&1; rc=$?
ok "verify (parse) reports it as invalid bitcode, exit 1" sh -c \
	"[ $rc -eq 1 ] && grep -q '^entry *monomorph/ee/eeeeeeeeeeeeee.bc: invalid bitcode' '$WORK/v3.out'"
ok "verify --repair removes it" CACHE verify --repair
ok "it is gone from the mount" sh -c "! stat '$MNT/monomorph/ee/eeeeeeeeeeeeee.bc' 2>/dev/null"
python3 "$(dirname "$0")/../llvm-abort.py" "$WORK/abort.bc"
ok "a module LLVM aborts on commits when nothing validates" sh -c \
	"cp '$WORK/abort.bc' '$MNT/tmp/a' && mv '$MNT/tmp/a' '$MNT/monomorph/ef/eeeeeeeeeeeeee.bc'"
ok "unmount" unmount_fg
"$ACFS_TOOL" --store "$STORE" verify >"$WORK/v4.out" 2>&1; rc=$?
ok "verify without a daemon (LLVM in the tool's helpers) refuses it, exit 1" sh -c \
	"[ $rc -eq 1 ] && grep -q '^entry *monomorph/ef/eeeeeeeeeeeeee.bc: invalid bitcode: LLVM gave up on it' '$WORK/v4.out'"
ok "verify --repair without a daemon removes it" "$ACFS_TOOL" --store "$STORE" verify --repair
ok "and then finds nothing" "$ACFS_TOOL" --store "$STORE" verify
# The ordinary tree beside monomorph/ and tmp/ is verified too.
ok "inject: a name with no inode in the ordinary tree" INJECT tree-name "$k0"
ok "inject: its counters off" INJECT tree-counters "$k0"
"$ACFS_TOOL" --store "$STORE" verify >"$WORK/v5.out" 2>&1; rc=$?
ok "verify reports both, exit 1" sh -c \
	"[ $rc -eq 1 ] && grep -q '^index .*ordinary tree: the name ghost' '$WORK/v5.out' && grep -q '^counters .*ordinary tree: counters say' '$WORK/v5.out'"
ok "verify --repair fixes them" "$ACFS_TOOL" --store "$STORE" verify --repair
ok "store invariants hold after it" "$ACFS_CHECK" "$STORE/db"
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
