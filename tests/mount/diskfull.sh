#!/bin/bash
# The store's disk fills up: with the store on a 40 MiB tmpfs, stores
# fail with ENOSPC and a log line naming the entry and the space, before
# RocksDB ever meets a full disk; the daemon keeps serving every committed
# entry; aria-cache gc gives the space back and stores succeed again.
# Three such cycles, then verify and the invariant check.
. "$(dirname "$0")/lib.sh"

SMALL=$WORK/small
mkdir -p "$SMALL"
ok "a 40 MiB tmpfs for the store" mount -t tmpfs -o size=40m tmpfs "$SMALL"
EXTRA_MOUNTS=$SMALL
STORE=$SMALL/store
CACHE() { "$ACFS_TOOL" -C "$MNT" "$@"; }
field() { CACHE stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
free_kib() { df -k --output=avail "$SMALL" | tail -1 | tr -d ' '; }

# 90 modules of real bitcode, each with ~1 MiB that does not compress.
mkdir -p "$WORK/big"
for i in $(seq 1 90); do
	key=$(printf 'full-%d' "$i" | sha256sum | cut -c1-16)
	"$ACFS_GEN" "$WORK/big/$key.bc" "m$key" 3 --data 1000000 || exit 1
done
keys=($(ls "$WORK/big" | sed 's/\.bc$//'))
path_of() { echo "$MNT/monomorph/${1:0:2}/${1:2}.bc"; }

# store_until_full: stores the next keys until one fails; appends the
# stored keys to $WORK/stored and prints the errno of the failure.
next=0
store_until_full() {
	python3 - "$MNT" "$WORK/big" "$WORK/stored" "$next" "${keys[@]}" <<'PY'
import os, sys
mnt, src, log, start, keys = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
with open(log, 'a') as out:
    for i in range(start, len(keys)):
        k = keys[i]
        tmp = os.path.join(mnt, 'tmp', k + '.tmp')
        dst = os.path.join(mnt, 'monomorph', k[:2], k[2:] + '.bc')
        try:
            with open(os.path.join(src, k + '.bc'), 'rb') as f:
                data = f.read()
            with open(tmp, 'wb') as f:
                f.write(data)
            os.rename(tmp, dst)
            out.write(k + '\n'); out.flush()
        except OSError as e:
            try: os.unlink(tmp)
            except OSError: pass
            print(i, os.strerror(e.errno)); sys.exit(0)
print(len(keys), 'none')
PY
}
all_identical() {
	local k
	while read -r k; do
		cmp "$WORK/big/$k.bc" "$(path_of "$k")" || return 1
	done <"$WORK/gc-survivors"
}

ok "mount (budget 1G: far more than the disk)" mount_fg --max-size=1G
: >"$WORK/stored"
for cycle in 1 2 3; do
	before=$(wc -l <"$WORK/stored")
	read -r next err < <(store_until_full)
	got=$(( $(wc -l <"$WORK/stored") - before ))
	ok "cycle $cycle: $got stores succeed, then one fails with ENOSPC (got: $err)" \
		sh -c "[ $got -ge 3 ] && [ '$err' = 'No space left on device' ]"
	ok "cycle $cycle: the log names the entry and the space" sh -c \
		"grep -E '(write to tmp/|commit of monomorph/).*no space: the store.s filesystem has' '$LOG' >/dev/null"
	ok "cycle $cycle: the daemon still serves" mountpoint -q "$MNT"
	# What is still committed: everything stored minus what gc removed.
	for k in $(cat "$WORK/stored"); do
		[ -e "$(path_of "$k")" ] && echo "$k"
	done >"$WORK/gc-survivors"
	ok "cycle $cycle: all $(wc -l <"$WORK/gc-survivors") committed entries read back identical" all_identical
	ok "cycle $cycle: no temp file left" sh -c "[ -z \"\$(ls -A '$MNT/tmp')\" ]"
	f0=$(free_kib)
	stored=$(field stored_bytes)
	ok "cycle $cycle: aria-cache gc --max-size $((stored / 2))" CACHE gc --max-size $((stored / 2)) --yes
	f1=$(free_kib)
	ok "cycle $cycle: gc gave disk space back (${f0} KiB -> ${f1} KiB free)" \
		test "$f1" -gt $((f0 + 4096))
	ok "cycle $cycle: a store succeeds again" sh -c \
		"cp '$WORK/big/${keys[$next]}.bc' '$MNT/tmp/again' && mv '$MNT/tmp/again' '$(path_of "${keys[$next]}")' && echo ${keys[$next]} >>'$WORK/stored'"
	next=$((next + 1))
done
# Another program fills the disk to the last byte: RocksDB's own writes
# (recorded uses, written when aria-cache asks for stats) meet a full disk
# too; the daemon must survive that and recover once space is back.
ok "another program fills the disk" sh -c "dd if=/dev/zero of='$SMALL/filler' bs=1M 2>/dev/null; [ \$(df -k --output=avail '$SMALL' | tail -1 | tr -d ' ') -eq 0 ]"
ok "a store fails with ENOSPC" sh -c "! cp '$WORK/big/${keys[$next]}.bc' '$MNT/tmp/full' 2>/dev/null"
rm -f "$MNT/tmp/full"
# Twice: reads record uses, stats writes them and meets the full disk;
# the second write must not close the database it cannot reopen (reads
# of committed entries go on whatever writes cannot).
for round in 1 2; do
	for k in $(cat "$WORK/stored"); do
		[ -e "$(path_of "$k")" ] && cat "$(path_of "$k")" >/dev/null
	done
	CACHE stats >/dev/null 2>&1
done
ok "the daemon survived its own writes on a full disk" mountpoint -q "$MNT"
for k in $(cat "$WORK/stored"); do
	[ -e "$(path_of "$k")" ] && echo "$k"
done >"$WORK/gc-survivors"
ok "reads go on: $(wc -l <"$WORK/gc-survivors") entries identical" all_identical
rm -f "$SMALL/filler"
ok "space back: a store succeeds" sh -c \
	"cp '$WORK/big/${keys[$next]}.bc' '$MNT/tmp/again' && mv '$MNT/tmp/again' '$(path_of "${keys[$next]}")'"
ok "rejected stores were counted" test "$(field rejected_stores)" -ge 3
# A short disk-full: once a third of the disk is free again, the next
# store succeeds (memtables already in the WAL are not new space needed,
# and RocksDB's own error state from the full disk must not stick).
next=$((next + 1))
ok "another program fills the disk again" sh -c "dd if=/dev/zero of='$SMALL/filler' bs=1M 2>/dev/null; [ \$(df -k --output=avail '$SMALL' | tail -1 | tr -d ' ') -eq 0 ]"
for i in 1 2; do
	cp "$WORK/big/${keys[$next]}.bc" "$MNT/tmp/full$i" 2>/dev/null && mv "$MNT/tmp/full$i" "$(path_of "${keys[$next]}")" 2>/dev/null
	rm -f "$MNT/tmp/full$i"
done
CACHE stats >/dev/null 2>&1
# gc on the full disk: its flush and compaction meet the full disk inside
# RocksDB (a background error that stops every later write until resumed).
CACHE gc --max-size $(( $(field stored_bytes) - 1 )) --yes >/dev/null 2>&1
truncate -s $(( $(stat -c %s "$SMALL/filler") - 14 * 1024 * 1024 )) "$SMALL/filler"
ok "a third of the disk free again ($(free_kib) KiB)" test "$(free_kib)" -ge $((13 * 1024))
next=$((next + 1))
ok "the next store succeeds" sh -c \
	"cp '$WORK/big/${keys[$next]}.bc' '$MNT/tmp/again' && mv '$MNT/tmp/again' '$(path_of "${keys[$next]}")'"
ok "and reads back identical" cmp "$WORK/big/${keys[$next]}.bc" "$(path_of "${keys[$next]}")"
rm -f "$SMALL/filler"
ok "verify: digests, indexes and counters right" CACHE verify --validate=parse
ok "unmount" unmount_fg

# Reads on a full disk with --max-loaded below an entry's size: the
# entry would be spilled to a mapped file, which a full disk cannot back
# (SIGBUS). The read fails alone, with a logged reason; the daemon lives.
ok "mount --max-loaded=256K" mount_fg --max-size=1G --max-loaded=256K
for k in $(cat "$WORK/stored"); do
	[ -e "$(path_of "$k")" ] && echo "$k"
done >"$WORK/gc-survivors"
victim=$(head -1 "$WORK/gc-survivors")
ok "another program fills the disk" sh -c "dd if=/dev/zero of='$SMALL/filler' bs=1M 2>/dev/null; [ \$(df -k --output=avail '$SMALL' | tail -1 | tr -d ' ') -eq 0 ]"
ok "reading a 1 MB entry fails (EIO), it does not kill the daemon" sh -c \
	"! cat '$(path_of "$victim")' >/dev/null 2>'$WORK/read.err' && grep -q 'Input/output error' '$WORK/read.err'"
ok "the daemon still serves" sh -c "mountpoint -q '$MNT' && stat -f '$MNT' >/dev/null"
ok "the log names the entry and the full disk" grep -q "read of monomorph/${victim:0:2}/${victim:2}.bc failed: .*the disk is full" "$LOG"
rm -f "$SMALL/filler"
ok "space back: the entry reads back identical" cmp "$WORK/big/$victim.bc" "$(path_of "$victim")"
ok "nothing quarantined" test "$(field quarantined)" = 0
ok "unmount" unmount_fg
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
