#!/bin/bash
# A damaged store is refused, never replaced by an empty one: with the
# RocksDB CURRENT file gone, or the MANIFEST cut short), the daemon and
# aria-cache fail naming the store and the damage, and no file of the
# store changes. aria-cache repair works on a copy and brings every entry
# back when CURRENT was lost; a store it cannot repair stays as it was.
. "$(dirname "$0")/lib.sh"

CACHE() { "$ACFS_TOOL" --store "$STORE" "$@"; }
path_of() { echo "$MNT/monomorph/${1:0:2}/${1:2}.bc"; }
files() { (cd "$STORE/db" && find . -maxdepth 1 -type f ! -name 'LOG*' ! -name LOCK -printf '%f %s\n' | sort); }
keys=()
for i in 1 2 3 4 5; do
	k=$(printf 'dmg-%d' "$i" | sha256sum | cut -c1-16)
	"$ACFS_GEN" "$WORK/$k.bc" "m$i" $((i * 40)) || exit 1
	keys+=("$k")
done
all_identical() {
	local k
	for k in "${keys[@]}"; do cmp "$WORK/$k.bc" "$(path_of "$k")" || return 1; done
}

ok "mount" mount_fg
for k in "${keys[@]}"; do
	cp "$WORK/$k.bc" "$MNT/tmp/$k" && mv "$MNT/tmp/$k" "$(path_of "$k")"
done
ok "5 entries stored" all_identical
ok "unmount" unmount_fg

rm "$STORE/db/CURRENT"
files >"$WORK/files.before"
ok "the daemon refuses the store without CURRENT" sh -c \
	"! '$ACFS_DAEMON' -f --store '$STORE' '$MNT' 2>'$WORK/refused'"
ok "... naming the store, the damage and the way back" sh -c \
	"grep -q '$STORE/db is damaged' '$WORK/refused' && grep -q 'no CURRENT' '$WORK/refused' && grep -q 'aria-cache --store STORE repair' '$WORK/refused'"
ok "aria-cache stats refuses it too (exit 1)" sh -c \
	"CODE=0; '$ACFS_TOOL' --store '$STORE' stats >/dev/null 2>'$WORK/refused' || CODE=\$?; [ \$CODE = 1 ] && grep -q 'is damaged' '$WORK/refused'"
ok "no file of the store changed" sh -c "files() { cd '$STORE/db' && find . -maxdepth 1 -type f ! -name 'LOG*' ! -name LOCK -printf '%f %s\n' | sort; }; files | diff '$WORK/files.before' -"
ok "repair refuses without --yes and without a terminal (exit 2)" sh -c \
	"CODE=0; '$ACFS_TOOL' --store '$STORE' repair </dev/null 2>/dev/null || CODE=\$?; [ \$CODE = 2 ]"
ok "aria-cache repair --yes: every entry back" sh -c \
	"'$ACFS_TOOL' --store '$STORE' repair --yes >'$WORK/repair.out' 2>&1; grep -q '5 entries readable of 5 recorded (0 lost)' '$WORK/repair.out'"
ok "the damaged files are kept beside the store" sh -c "ls -d '$STORE'/db.damaged-* >/dev/null"
ok "repair --json of a store that opens: nothing to do" CACHE repair --yes --json
ok "mount the repaired store" mount_fg
ok "every entry reads back identical" all_identical
ok "verify: clean" "$ACFS_TOOL" -C "$MNT" verify
ok "unmount" unmount_fg

# A MANIFEST cut short (it still parses, as a shorter history): the copy
# of it kept beside it tells, the store is refused with nothing deleted,
# and repair writes the copy back: every entry returns.
m=$(cat "$STORE/db/CURRENT")
truncate -s $(( $(stat -c %s "$STORE/db/$m") / 2 )) "$STORE/db/$m"
files >"$WORK/files.before"
ok "the daemon refuses a store whose MANIFEST is cut short" sh -c \
	"! '$ACFS_DAEMON' -f --store '$STORE' '$MNT' 2>'$WORK/refused' && grep -q 'is damaged' '$WORK/refused' && grep -q 'cut short' '$WORK/refused'"
ok "aria-cache stats refuses it too" sh -c \
	"! '$ACFS_TOOL' --store '$STORE' stats >/dev/null 2>'$WORK/refused' && grep -q 'cut short' '$WORK/refused'"
ok "no file of the store changed" sh -c "files() { cd '$STORE/db' && find . -maxdepth 1 -type f ! -name 'LOG*' ! -name LOCK -printf '%f %s\n' | sort; }; files | diff '$WORK/files.before' -"
ok "aria-cache repair --yes: the MANIFEST written back from its copy, every entry back" sh -c \
	"'$ACFS_TOOL' --store '$STORE' repair --yes >'$WORK/repair.out' 2>&1; cat '$WORK/repair.out'; grep -q 'written back from the copy' '$WORK/repair.out' && grep -q '5 entries readable of 5 recorded (0 lost)' '$WORK/repair.out'"
ok "mount the repaired store" mount_fg
ok "every entry reads back identical" all_identical
ok "unmount" unmount_fg

# One flipped byte in the newest entry's blob (the last record of the
# newest blob file): the store still opens (start-up reads no entry's
# bytes), that entry fails with EIO and is quarantined, the rest serve.
newest=$(ls "$STORE"/db/*.blob | sort | tail -n1)
off=$(( $(stat -c %s "$newest") - 32 - 200 ))
printf '\xff' | dd of="$newest" bs=1 seek="$off" conv=notrunc status=none
ok "the daemon opens the store with the newest blob damaged" mount_fg
some_identical() {
	local k good=0
	for k in "${keys[@]:0:4}"; do cmp "$WORK/$k.bc" "$(path_of "$k")" && good=$((good + 1)); done
	[ "$good" -eq 4 ]
}
ok "the four older entries read back identical" some_identical
ok "the newest fails with EIO" sh -c \
	"! cat '$(path_of "${keys[4]}")' >/dev/null 2>'$WORK/eio' && grep -q 'Input/output error' '$WORK/eio'"
ok "unmount" unmount_fg
ok "aria-cache stats opens it" "$ACFS_TOOL" --store "$STORE" stats
ok "verify --repair quarantines the damaged entry" sh -c \
	"'$ACFS_TOOL' --store '$STORE' verify --repair >'$WORK/v.out' 2>&1; cat '$WORK/v.out'; grep -q '${keys[4]:0:2}/${keys[4]:2}' '$WORK/v.out'"
ok "verify is clean after" "$ACFS_TOOL" --store "$STORE" verify
finish
