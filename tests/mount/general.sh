#!/bin/bash
# Ordinary files and directories beside monomorph/ and tmp/: the POSIX
# conformance suite (test-posix), a build-tool-like workload (manifests
# written to a temp file and renamed over the old one, under concurrency),
# remount and kill -9, fsync'ed data, and the budget: never evicted unless
# --evict-general, counted apart from entries.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
field() { CACHE stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
tree_sum() { # a digest of every ordinary file and its path, and symlinks
	(cd "$MNT" && find . -path ./monomorph -prune -o -path ./tmp -prune -o \
		\( -type f -o -type l \) -print | sort | while read -r f; do
			if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"
			else echo "$f $(sha256sum <"$f" | cut -c1-64)"; fi
		done) | sha256sum | cut -c1-64
}
WORKLOAD=$(dirname "$0")/manifests.py
check_manifest() {
	python3 -c "
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if hashlib.sha256(m['body'].encode()).hexdigest() == m['sha'] else 1)" "$MNT/globs/manifest.json"
}

ok "mount" mount_fg
ok "POSIX conformance (test-posix)" "$ACFS_POSIX" "$MNT"
ok "4 build tools rewrite a manifest 200 times each while 2 read it: no torn read" \
	python3 "$WORKLOAD" "$MNT" 4 200 2
mkdir -p "$MNT/globs/deep/er" && echo hi >"$MNT/globs/deep/er/f" && ln -s ../manifest.json "$MNT/globs/deep/link"
head -c 300000 /dev/urandom >"$MNT/globs/blob"
ok "stats count general files apart from entries" sh -c \
	"[ \$(CACHE() { '$ACFS_TOOL' -C '$MNT' \"\$@\"; }; CACHE stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"general_files\"] >= 6 and d[\"general_bytes\"] >= 300000 and d[\"entries\"] == 0)') = True ]"
sum1=$(tree_sum)
far_times() { # times past 2262 or before 1677 are refused, never wrapped
	local f=$MNT/far.txt e=$MNT/monomorph/fa/00000000000001.bc d
	echo x >"$f" && "$ACFS_GEN" "$WORK/far.bc" far 10 &&
		cp "$WORK/far.bc" "$MNT/tmp/far.tmp" && mkdir -p "${e%/*}" &&
		mv "$MNT/tmp/far.tmp" "$e" || return 1
	for d in 2300-01-01 1600-01-01; do
		for p in "$f" "$e"; do
			local before
			before=$(stat -c %Y "$p")
			if touch -d "$d" "$p" 2>"$WORK/touch.err"; then
				# Kept: then it must read back as given.
				[ "$(date -u -d @"$(stat -c %Y "$p")" +%Y)" = "${d%%-*}" ] ||
					{ echo "$p: $d became $(stat -c %y "$p")"; return 1; }
			else
				# touch names its open's EACCES for an entry.
				grep -Eq 'Value too large|Permission denied' "$WORK/touch.err" &&
					[ "$(stat -c %Y "$p")" = "$before" ] ||
					{ cat "$WORK/touch.err"; return 1; }
			fi
		done
	done
	[ "$(grep -c 'refused a time outside 1677-2262' "$LOG")" -ge 4 ] || return 1
	rm -f "$f" "$e"
}
ok "touch -d 2300 and 1600: EOVERFLOW, the time unchanged (never wrapped)" far_times
# user.* extended attributes on ordinary files and directories, kept in
# the store as ext4 keeps them: set, replace, list, remove, the
# XATTR_CREATE/XATTR_REPLACE rules, other namespaces refused; cp -a,
# rsync -aX and tar --xattrs keep them; they survive a remount (below).
xattrs() {
	python3 - "$MNT" "$WORK" <<'PY'
import errno, os, sys
mnt, work = sys.argv[1], sys.argv[2]
d = os.path.join(mnt, 'xa'); os.makedirs(d, exist_ok=True)
f = os.path.join(d, 'f'); open(f, 'w').write('x')
os.setxattr(f, 'user.a', b'1')
os.setxattr(d, 'user.dir', b'on a directory')
os.setxattr(f, 'user.big', b'v' * 65536)
assert os.getxattr(f, 'user.a') == b'1'
assert os.getxattr(f, 'user.big') == b'v' * 65536
assert os.getxattr(d, 'user.dir') == b'on a directory'
assert sorted(os.listxattr(f)) == ['user.a', 'user.big'], os.listxattr(f)
os.setxattr(f, 'user.a', b'22')                     # replace
assert os.getxattr(f, 'user.a') == b'22'
def err(fn, *a):
    try:
        fn(*a)
    except OSError as e:
        return e.errno
    return 0
assert err(os.setxattr, f, 'user.a', b'3', os.XATTR_CREATE) == errno.EEXIST
assert err(os.setxattr, f, 'user.new', b'3', os.XATTR_REPLACE) == errno.ENODATA
assert err(os.setxattr, f, 'trusted.x', b'3') in (errno.EOPNOTSUPP, errno.EPERM)
assert err(os.getxattr, f, 'user.none') == errno.ENODATA
os.removexattr(f, 'user.big')
assert err(os.removexattr, f, 'user.big') == errno.ENODATA
assert os.listxattr(f) == ['user.a']
# A file made again under the same name has none of the old ones.
os.unlink(f); open(f, 'w').write('y')
assert os.listxattr(f) == []
os.setxattr(f, 'user.a', b'22')
# The tools: from a plain directory in, and back out.
src = os.path.join(work, 'xsrc'); os.makedirs(src, exist_ok=True)
open(os.path.join(src, 'g'), 'w').write('g')
os.setxattr(os.path.join(src, 'g'), 'user.tool', b'kept')
PY
	cp -a "$WORK/xsrc" "$MNT/xa/cp" && [ "$(getfattr --only-values -n user.tool "$MNT/xa/cp/g")" = kept ] || return 1
	rsync -aX "$WORK/xsrc/" "$MNT/xa/rs/" && [ "$(getfattr --only-values -n user.tool "$MNT/xa/rs/g")" = kept ] || return 1
	tar --xattrs -C "$MNT/xa" -cf "$WORK/x.tar" rs 2>"$WORK/tar.err" && [ ! -s "$WORK/tar.err" ] || { cat "$WORK/tar.err"; return 1; }
	mkdir -p "$MNT/xa/tar" && tar --xattrs --xattrs-include='user.*' -C "$MNT/xa/tar" -xf "$WORK/x.tar" 2>"$WORK/tar.err" &&
		[ ! -s "$WORK/tar.err" ] && [ "$(getfattr --only-values -n user.tool "$MNT/xa/tar/rs/g")" = kept ] || { cat "$WORK/tar.err"; return 1; }
	rsync -aX "$MNT/xa/" "$WORK/xback/" && [ "$(getfattr --only-values -n user.a "$WORK/xback/f")" = 22 ]
}
ok "user.* extended attributes: set, replace, list, remove; cp -a, rsync -aX, tar --xattrs keep them" xattrs
sum1=$(tree_sum) # with the new files
ok "unmount" unmount_fg
ok "remount" mount_fg
ok "extended attributes survive the remount" sh -c "[ \"\$(getfattr --only-values -n user.a '$MNT/xa/f')\" = 22 ] && [ \"\$(getfattr --only-values -n user.dir '$MNT/xa')\" = 'on a directory' ]"
ok "every file, directory and symlink is back" test "$(tree_sum)" = "$sum1"
ok "the manifest is whole" check_manifest

# kill -9 in the middle of the workload, at a random moment.
python3 "$WORKLOAD" "$MNT" 3 100000 0 "$WORK/progress" >/dev/null 2>&1 &
wl=$!
ok "the build tools get going" wait_until "renames" 30 "[ -s '$WORK/progress' ] && [ \$(cat '$WORK/progress') -ge $((50 + RANDOM % 200)) ]"
python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, open(sys.argv[2], 'rb').read()); os.fsync(fd); os.close(fd)" "$MNT/globs/synced" "$MNT/globs/blob"
cp "$MNT/globs/blob" "$WORK/blob"
ok "kill -9 the daemon" kill -9 "$(cat "$WORK/pid")"
wait $wl
ok "restart on the stale mountpoint" mount_fg
ok "the manifest is whole after the kill" check_manifest
ok "fsync'ed data survived kill -9" cmp "$WORK/blob" "$MNT/globs/synced"
ok "the rest of the tree too" sh -c "[ \"\$(cat '$MNT/globs/deep/er/f')\" = hi ] && cmp '$WORK/blob' '$MNT/globs/blob'"
rm -f "$MNT"/globs/.manifest.*.tmp
ok "unmount" unmount_fg

# The budget: general files are not evicted unless --evict-general.
mkdir -p "$WORK/big"
for i in $(seq 1 6); do
	"$ACFS_GEN" "$WORK/big/$i.bc" "m$i" 3 --data 400000 || exit 1
done
ok "mount --max-size=1M" mount_fg --max-size=1M
sum2=$(tree_sum)
for i in $(seq 1 6); do
	cp "$WORK/big/$i.bc" "$MNT/tmp/e" && mv "$MNT/tmp/e" "$MNT/monomorph/ab/00000000000$((100 + i)).bc"
done
ok "entries over the budget are evicted" wait_until "eviction" 30 \
	"[ \$(CACHE stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"stored_bytes\"])') -le 1048576 ]"
ok "general files are not" test "$(tree_sum)" = "$sum2"
for i in 1 2 3 4; do
	head -c 400000 /dev/urandom >"$MNT/globs/gen$i"
	touch -d "@$((1000000 + i))" "$MNT/globs/gen$i"
done
head -c 400000 /dev/urandom >"$MNT/globs/newest"
ok "unmount" unmount_fg
ok "mount --max-size=1M --evict-general" mount_fg --max-size=1M --evict-general
ok "a write over the budget" sh -c "echo now >'$MNT/globs/trigger'"
ok "with --evict-general, general files are evicted to the budget" wait_until "general eviction" 30 \
	"[ \$(CACHE stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"stored_bytes\"] + d[\"general_bytes\"])') -le 1048576 ]"
ok "oldest first: the newest file stays" test -s "$MNT/globs/newest"
ok "and gen1, the oldest, went" sh -c "! stat '$MNT/globs/gen1' 2>/dev/null"
# A sparse file is not a big one: truncate to 1 TiB stores nothing and
# must evict nothing; past the largest size, truncate fails like write.
gb() { CACHE stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["stored_bytes"] + d["general_bytes"])'; }
"$ACFS_GEN" "$WORK/small.bc" small 3 || exit 1
cp "$WORK/small.bc" "$MNT/tmp/e" && mv "$MNT/tmp/e" "$MNT/monomorph/cd/00000000000201.bc"
CACHE stats >/dev/null
before=$(gb)
ok "truncate -s 1T of an ordinary file succeeds" truncate -s 1T "$MNT/globs/sparse"
ok "it has that size" test "$(stat -c %s "$MNT/globs/sparse")" = $((1 << 40))
ok "the budget counts what it stores, not its size ($before -> $(gb) bytes)" test "$(gb)" -le $((before + 65536))
ok "nothing was evicted for it: the entry and the newest file stay" sh -c \
	"cmp '$WORK/small.bc' '$MNT/monomorph/cd/00000000000201.bc' && test -s '$MNT/globs/newest'"
printf x | dd of="$MNT/globs/sparse" bs=1 seek=5000000 conv=notrunc 2>/dev/null
after=$(gb)
ok "writing one byte into it counts the block written, not the size ($before -> $after)" \
	sh -c "[ $after -gt $before ] && [ $after -le $((before + 65536)) ]"
ok "truncate past 1 TiB fails with EFBIG" sh -c \
	"! truncate -s 1025G '$MNT/globs/sparse' 2>'$WORK/t.err' && grep -q 'File too large' '$WORK/t.err'"
rm -f "$MNT/globs/sparse"
ok "verify: the tree's counters are right" CACHE verify --validate=none
ok "unmount" unmount_fg
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
