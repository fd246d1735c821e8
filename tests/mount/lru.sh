#!/bin/bash
# Exact LRU to a budget through a real mount: --max-size 32M, 128 MiB
# stored; the budget is never exceeded by more than one entry; recently
# read and pinned entries survive while older ones go; gc --dry-run lists
# exactly what gc removes; stats add up; aria-cache works through the
# daemon and, unmounted, on the store itself.
. "$(dirname "$0")/lib.sh"

BUDGET=$((32 << 20))
CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
field() { # field NAME: a number from aria-cache stats --json
	CACHE stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
# Entries of ~256 KiB that do not compress: stored size ~= size.
"$ACFS_GEN" "$WORK/e.bc" lru 2 --data 262144
ESIZE=$(stat -c %s "$WORK/e.bc")
key() { printf '%s%014x\n' "$1" "$2"; }
path_of() { echo "$MNT/monomorph/${1:0:2}/${1:2}.bc"; }
store() { # store KEY: tmp write + rename, like the compiler
	cp "$WORK/e.bc" "$MNT/tmp/$1.tmp" && mv "$MNT/tmp/$1.tmp" "$(path_of "$1")"
}

ok "mount with --max-size 32M" mount_cache --max-size 32M
ok "aria-cache finds the daemon through -C" sh -c "'$ACFS_TOOL' -C '$MNT' stats | grep -q 'budget *32M'"

pins() { for i in 1 2 3 4 5; do store "$(key a1 $i)" || return 1; done
	for i in 1 2; do setfattr -n user.aria.pin -v 1 "$(path_of "$(key a1 $i)")" || return 1; done
	for i in 3 4; do CACHE pin "$(key a1 $i)" >/dev/null || return 1; done
	CACHE pin --json "$(key a1 5)" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["pinned"]) == 1 and d["pinned"][0].startswith("monomorph/"), d'; }
ok "store 5 entries and pin them (setfattr and aria-cache pin)" pins
ok "getfattr shows the pin" sh -c "getfattr -n user.aria.pin --only-values '$(path_of "$(key a1 3)")' | grep -qx 1"
hot() { for i in $(seq 1 20); do store "$(key b2 $i)" || return 1; done; }
ok "store 20 hot entries" hot
readhot() { for i in $(seq 1 20); do cat "$(path_of "$(key b2 $i)")" >/dev/null || return 1; done; }
fill() { # 512 entries of 256 KiB = 128 MiB, the hot ones read throughout
	local i
	for i in $(seq 1 512); do
		store "$(key c3 $i)" || { echo "store $i failed"; return 1; }
		if [ $((i % 32)) -eq 0 ]; then readhot || return 1; fi
	done
}
ok "store 128 MiB through a 32 MiB budget" fill
peak=$(field peak_stored_bytes)
ok "the total never exceeded the budget by more than one entry (peak $peak)" \
	test "$peak" -le $((BUDGET + ESIZE + 64))
ok "stored bytes within budget now" test "$(field stored_bytes)" -le "$BUDGET"
survive() { local k; for k in "$@"; do cmp -s "$WORK/e.bc" "$(path_of "$k")" || { echo "$k gone"; return 1; }; done; }
ok "pinned entries survive" survive $(for i in 1 2 3 4 5; do key a1 $i; done)
ok "recently read entries survive" survive $(for i in $(seq 1 20); do key b2 $i; done)
ok "the newest entries survive" survive $(for i in $(seq 500 512); do key c3 $i; done)
gone() { local k; for k in "$@"; do [ ! -e "$(path_of "$k")" ] || { echo "$k still there"; return 1; }; done; }
ok "the oldest unread entries were evicted" gone $(for i in $(seq 1 100); do key c3 $i; done)

adds_up() {
	local entries listed stores ev bytes sum
	entries=$(field entries); stores=$(field stores); ev=$(field evictions)
	bytes=$(field logical_bytes)
	listed=$(find "$MNT/monomorph" -name '*.bc' | wc -l)
	sum=$(find "$MNT/monomorph" -name '*.bc' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
	echo "entries $entries listed $listed stores $stores evictions $ev bytes $bytes sum $sum"
	[ "$entries" -eq "$listed" ] && [ "$stores" -eq 537 ] &&
		[ "$ev" -eq $((stores - entries)) ] && [ "$bytes" -eq "$sum" ] &&
		[ "$(field rejected_stores)" -eq 0 ]
}
ok "stats add up (entries = listed, evictions = stores - entries, bytes = sum of sizes)" adds_up
du_truth() { # du counts stored bytes: st_blocks of each entry
	local want got
	want=$(field stored_bytes)
	got=$(find "$MNT/monomorph" -name '*.bc' -printf '%b\n' | awk '{s+=$1*512} END {print s+0}')
	echo "stored $want, st_blocks sum $got"
	[ "$got" -ge "$want" ] && [ "$got" -le $((want + 512 * $(field entries))) ]
}
ok "du (st_blocks) tells the bytes actually stored" du_truth
# Reading an entry moves its atime; ls -ltu puts it first. In the default
# kernel hit mode the daemon learns the open from the kernel's event and
# the kernel shows the attributes it holds (refetching them would cost
# every hit's stat a round trip): aria-cache shows the use at once, stat
# once the kernel asks again (here: after it dropped its dentries).
atime_of() {
	CACHE ls --json | python3 -c "import json,sys; print(max([e['atime_ns'] for e in json.load(sys.stdin) if e['key'] == '$1'] or [0]) // 10**9)"
}
atime_truth() {
	local f t0 k
	k=$(key c3 510)
	f=$(path_of "$k")
	t0=$(date +%s)
	cat "$f" >/dev/null
	wait_until "the use recorded" 10 "[ \$(atime_of $k) -ge $t0 ]" || return 1
	echo 2 >/proc/sys/vm/drop_caches
	wait_until "atime of a read entry moves" 10 "[ \$(stat -c %X '$f') -ge $t0 ]" || return 1
	[ "$(ls -tu "$MNT/monomorph/c3" | head -n 1)" = "$(basename "$f")" ] || return 1
	[ "$(stat -c %Y "$f")" -lt "$(stat -c %X "$f")" ] || [ "$(stat -c %Y "$f")" -le "$t0" ]
}
ok "ls -lu/-ltu show the last use as atime, mtime stays the commit time" atime_truth
lsjson() {
	CACHE ls --json | python3 -c "import json,sys; d=json.load(sys.stdin); n=$(field entries); assert len(d)==n, (len(d), n); assert sum(e['pinned'] for e in d)==5"
}
ok "ls --json lists every entry and the 5 pins" lsjson
ok "ls --sort=atime lists least recently used first" sh -c \
	"'$ACFS_TOOL' -C '$MNT' ls --sort=atime --json | python3 -c 'import json,sys; a=[e[\"atime_ns\"] for e in json.load(sys.stdin)]; assert a==sorted(a) and len(a)>1'"
ok "ls --sort=size --limit 3 lists 3" sh -c "[ \$('$ACFS_TOOL' -C '$MNT' ls --sort=size --limit 3 | wc -l) -eq 4 ]"
ok "ls --limit -3 is a usage error (exit 2), not 2^64-3" sh -c "'$ACFS_TOOL' -C '$MNT' ls --limit -3 >/dev/null 2>&1; [ \$? -eq 2 ]"
# -C as git -C: the mount, its project, or any directory inside it.
mkdir -p "$WORK/proj/.aria" "$WORK/proj/src/deep" "$WORK/proj2/.aria/cache" "$WORK/proj2/src"
ln -sfn "$MNT" "$WORK/proj/.aria/cache"
ok "-C PROJECT and -C PROJECT/src/deep find the project's mount" sh -c \
	"'$ACFS_TOOL' -C '$WORK/proj' stats --json >/dev/null && '$ACFS_TOOL' -C '$WORK/proj/src/deep' stats --json | python3 -c 'import json,sys; json.load(sys.stdin)'"
ok "-C in a project whose cache is not mounted says so and how to mount it (exit 1)" sh -c \
	"'$ACFS_TOOL' -C '$WORK/proj2/src' stats 2>'$WORK/c2.err'; [ \$? -eq 1 ] && grep -q 'is not mounted: mount its cache with: aria-cachefs $WORK/proj2/.aria/cache' '$WORK/c2.err'"
ok "stats run inside an unmounted project notes it before using the default store" sh -c \
	"cd '$WORK/proj2/src' && ARIA_CACHE_STORE='$WORK/defstore' '$ACFS_TOOL' stats 2>&1 >/dev/null | grep -q 'is not mounted'"
meta_shown() { # inspect of a .meta sidecar shows its JSON
	printf '{"signature": "vec_push<i32>", "types": ["i32"]}\n' >"$MNT/tmp/m1" &&
		mv "$MNT/tmp/m1" "$MNT/monomorph/ab/00000000000777.meta" &&
		CACHE inspect monomorph/ab/00000000000777.meta | grep -q '"signature": "vec_push<i32>"' &&
		CACHE inspect --json monomorph/ab/00000000000777.meta | python3 -c 'import json,sys; d=json.load(sys.stdin); assert json.loads(d["content"])["types"] == ["i32"], d'
}
ok "inspect shows a .meta sidecar's content (text and --json)" meta_shown
ok "publish without a remote says how to add one" sh -c \
	"! '$ACFS_TOOL' -C '$MNT' publish v1 2>'$WORK/pub.err' && grep -q 'remote = URL in ~/.config/aria-cachefs/config' '$WORK/pub.err'"
ok "a mistyped option of a command names the closest one (exit 2)" sh -c \
	"'$ACFS_TOOL' -C '$MNT' ls --sotr=size 2>'$WORK/optt.err'; [ \$? -eq 2 ] && grep -q 'did you mean --sort?' '$WORK/optt.err'"

# A reader holding an entry keeps reading it while gc evicts it.
victim=$(path_of "$(key c3 512)")
reader() {
	python3 - "$victim" "$WORK/e.bc" "$ACFS_TOOL" "$MNT" <<'PY'
import subprocess, sys
path, want, tool, mnt = sys.argv[1:]
with open(path, 'rb') as f:
    head = f.read(4096)
    subprocess.run([tool, '-C', mnt, 'gc', '--max-size', '1', '--yes'], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import os
    assert not os.path.exists(path), "still present after gc --max-size 1 --yes"
    rest = f.read()
assert head + rest == open(want, 'rb').read(), "reader saw other bytes"
PY
}
ok "a reader holding an evicted entry reads it whole" reader
ok "after gc --max-size 1 --yes only the pins remain" sh -c \
	"[ \$(find '$MNT/monomorph' -name '*.bc' | wc -l) -eq 5 ]"
refill() { for i in $(seq 600 700); do store "$(key c3 $i)" || return 1; done; }
ok "store 100 more" refill
quiet_gc() { # gc prints a summary; each path only with --verbose
	CACHE gc --max-size 1 --yes >"$WORK/gcq.out" 2>"$WORK/gcq.err" &&
		[ ! -s "$WORK/gcq.out" ] && grep -q '^gc: removed 101 entries' "$WORK/gcq.err" &&
		refill &&
		CACHE gc --max-size 1 --yes --verbose >"$WORK/gcv.out" 2>/dev/null &&
		[ "$(grep -c '^monomorph/c3/' "$WORK/gcv.out")" -eq 101 ] && refill
}
ok "gc prints how many went, each path only with --verbose" quiet_gc
# --max-size 0 means no size limit, as for the daemon (it emptied the
# cache); a gc that would remove most of the cache asks first.
zero_keeps() {
	local n
	n=$(field entries)
	CACHE gc --max-size 0 </dev/null >"$WORK/gc0.out" 2>&1
	cat "$WORK/gc0.out"
	grep -q "means no size limit" "$WORK/gc0.out" && [ "$(field entries)" -eq "$n" ] && [ "$n" -ge 100 ]
}
ok "gc --max-size 0 removes nothing: no size limit" zero_keeps
most_refused() {
	local n rc=0
	n=$(field entries)
	CACHE gc --max-size 1 </dev/null >"$WORK/gc1.out" 2>&1 || rc=$?
	cat "$WORK/gc1.out"
	[ "$rc" -eq 2 ] && grep -q "refusing without --yes" "$WORK/gc1.out" && [ "$(field entries)" -eq "$n" ]
}
ok "gc removing most of the cache refuses without --yes off a terminal (exit 2)" most_refused
dry() {
	CACHE gc --max-size 16M --dry-run >"$WORK/dry" 2>/dev/null &&
		CACHE gc --max-size 16M --yes --verbose >"$WORK/real" 2>/dev/null &&
		[ -s "$WORK/dry" ] && diff "$WORK/dry" "$WORK/real"
}
ok "gc --dry-run lists exactly what gc then removes" dry
ok "gc brought stored bytes under 16M" test "$(field stored_bytes)" -le $((16 << 20))
gc_json() {
	CACHE gc --max-size 8M --dry-run --json >"$WORK/gc.json" 2>/dev/null &&
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["dry_run"] and d["entries"] == len(d["removed"]) > 0 and d["bytes"] == sum(r["size"] for r in d["removed"]), d' "$WORK/gc.json" &&
		CACHE gc --max-size 0 --json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["entries"] == 0 and d["removed"] == [], d' &&
		CACHE zero-stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["zeroed_at_ns"] > 0, d'
}
ok "gc --json and zero-stats --json print JSON" gc_json
ok "unpin through aria-cache" sh -c "'$ACFS_TOOL' -C '$MNT' unpin $(key a1 1) && getfattr -n user.aria.pin --only-values '$(path_of "$(key a1 1)")' | grep -qx 0"
ok "zero-stats resets the counters" sh -c "'$ACFS_TOOL' -C '$MNT' zero-stats >/dev/null && [ \$('$ACFS_TOOL' -C '$MNT' stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"stores\"])') -eq 0 ]"
entries_before=$(field entries)
ok "unmount" unmount_cache
local_stats() {
	"$ACFS_TOOL" --store "$STORE" stats --json >"$WORK/local.json" &&
		python3 -c "import json; d=json.load(open('$WORK/local.json')); assert not d['daemon_running']; assert d['entries']==$entries_before, d"
}
ok "without a daemon, aria-cache opens the store itself" local_stats
ok "gc --dry-run works on the store itself" sh -c "'$ACFS_TOOL' --store '$STORE' gc --max-size 1M --dry-run >/dev/null 2>&1"
ok "gc on the store itself also refuses to remove most of it without --yes" sh -c \
	"'$ACFS_TOOL' --store '$STORE' gc --max-size 1 </dev/null; [ \$? -eq 2 ] && [ \$('$ACFS_TOOL' --store '$STORE' stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"entries\"])') -eq $entries_before ]"
# A store this user can only read (here a read-only bind mount of it):
# the reading commands open it read-only; the others name the cause.
read_only_store() {
	mkdir -p "$WORK/ro" && mount --bind "$STORE" "$WORK/ro" &&
		mount -o remount,bind,ro "$WORK/ro" || return 1
	local rc=0
	"$ACFS_TOOL" --store "$WORK/ro" stats --json >/dev/null &&
		"$ACFS_TOOL" --store "$WORK/ro" ls --limit 3 >/dev/null &&
		"$ACFS_TOOL" --store "$WORK/ro" verify >/dev/null 2>&1 &&
		"$ACFS_TOOL" --store "$WORK/ro" metrics >/dev/null || rc=1
	"$ACFS_TOOL" --store "$WORK/ro" gc --yes 2>"$WORK/ro.err" && rc=1
	grep -q 'cannot be written (.*Read-only file system)' "$WORK/ro.err" || rc=1
	umount "$WORK/ro"
	return $rc
}
ok "a read-only store: stats, ls, verify and metrics work; gc names the cause" read_only_store
import_new() { # --store NEWDIR import makes the store (it failed: no store)
	mkdir -p "$WORK/plain1/monomorph/ab" && cp "$WORK/e.bc" "$WORK/plain1/monomorph/ab/00000000000042.bc" &&
		"$ACFS_TOOL" --store "$WORK/newstore" import "$WORK/plain1" &&
		[ "$("$ACFS_TOOL" --store "$WORK/newstore" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')" = 1 ]
}
ok "import into a store that does not exist yet makes it" import_new
ok "clear refuses without --yes when not on a terminal (exit 2)" sh -c \
	"'$ACFS_TOOL' --store '$STORE' clear </dev/null; [ \$? -eq 2 ]"
ok "clear --yes --json empties the store and says how much it removed" sh -c \
	"n=\$('$ACFS_TOOL' --store '$STORE' stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"entries\"])') && '$ACFS_TOOL' --store '$STORE' clear --yes --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"removed\"] == '\$n' and d[\"complete\"] and d[\"removed\"] > 0, d' && [ \$('$ACFS_TOOL' --store '$STORE' stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"entries\"])') -eq 0 ]"
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
ok "-C on a directory that is no mount fails clearly (exit 1)" sh -c \
	"'$ACFS_TOOL' -C '$WORK' stats 2>&1 | grep -q 'no aria-cachefs mount at or above'; [ \$? -eq 0 ]"
ok "an unknown command is a usage error (exit 2)" sh -c \
	"'$ACFS_TOOL' --store '$STORE' frobnicate 2>/dev/null; [ \$? -eq 2 ]"
ok "every command has --help" sh -c \
	"for c in stats zero-stats gc ls inspect pin unpin clear verify sync repair config metrics top; do '$ACFS_TOOL' \$c --help | grep -q usage || exit 1; done"
finish
