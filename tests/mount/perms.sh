#!/bin/bash
# Who may do what. With -o allow_other, other users may read entries but
# not store, replace or remove them (the daemon adds default_permissions,
# so the kernel checks modes and owners); with --group, members of that
# group may store and remove too; without allow_other, other users cannot
# reach the mount at all. Other users are played by setpriv(1) as nobody.
. "$(dirname "$0")/lib.sh"

chmod 755 "$WORK"        # others must reach the mountpoint
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
GID=100                  # "users" on Debian
MEMBER=(setpriv --reuid=65534 --regid=65534 --groups=$GID)
"$ACFS_GEN" "$WORK/a.bc" a 20 && "$ACFS_GEN" "$WORK/b.bc" b 30 && chmod 644 "$WORK"/*.bc
E=$MNT/monomorph/c4/00000000000001.bc
E2=$MNT/monomorph/c4/00000000000002.bc
store() { cp "$1" "$MNT/tmp/s.$$" && mv "$MNT/tmp/s.$$" "$2"; }
as() { "$@" 2>"$WORK/as.err"; }
denied() { grep -q 'Permission denied' "$WORK/as.err"; }

ok "mount -o allow_other" mount_fg -o allow_other
ok "root stores an entry" store "$WORK/a.bc" "$E"
ok "directories are 0755, entries 0444" sh -c \
	"[ \$(stat -c %a '$MNT/monomorph/c4') = 755 ] && [ \$(stat -c %a '$E') = 444 ]"
ok "others read entries" sh -c "$(printf '%q ' "${NOBODY[@]}") cat '$E' | cmp - '$WORK/a.bc'"
ok "others cannot create temp files (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") sh -c 'echo x > $MNT/tmp/evil' 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'"
ok "others cannot create in a shard (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") cp '$WORK/b.bc' '$E2' 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'"
ok "others cannot remove an entry (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") rm -f '$E' 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'"
cp "$WORK/b.bc" "$MNT/tmp/roots.tmp"
ok "others cannot rename root's temp file over an entry (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") mv '$MNT/tmp/roots.tmp' '$E' 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'"
ok "others cannot pin entries" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") setfattr -n user.aria.pin -v 1 '$E' 2>/dev/null"
ok "the entry is untouched" cmp "$WORK/a.bc" "$E"
rm -f "$MNT/tmp/roots.tmp"
ok "unmount" unmount_fg

ok "mount -o allow_other --group=$GID" mount_fg -o allow_other --group=$GID
ok "directories are 0775 of group $GID" sh -c \
	"[ \$(stat -c %a:%g '$MNT/tmp') = 775:$GID ]"
ok "a member stores by tmp + rename" "${MEMBER[@]}" sh -c \
	"cp '$WORK/b.bc' '$MNT/tmp/m.tmp' && [ \$(stat -c %u '$MNT/tmp/m.tmp') = 65534 ] && mv '$MNT/tmp/m.tmp' '$E2'"
ok "root reads the member's entry" cmp "$WORK/b.bc" "$E2"
ok "a non-member still cannot store" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") sh -c 'echo x > $MNT/tmp/evil' 2>/dev/null"
ok "a member removes an entry" "${MEMBER[@]}" rm -f "$E2"
ok "it is gone" sh -c "! stat '$E2' 2>/dev/null"
ok "unmount" unmount_fg

ok "mount without allow_other" mount_fg
ok "others cannot even look inside" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") stat '$MNT/monomorph' >/dev/null 2>&1"
ok "root still can" cmp "$WORK/a.bc" "$E"
ok "unmount" unmount_fg
# Options are options, not substrings: a mountpoint and an fsname= that
# merely contain "default_permissions" must not stand in for it.
MNT=$WORK/default_permissions
ok "mount -o allow_other,fsname=default_permissions on .../default_permissions" \
	mount_fg -o allow_other,fsname=default_permissions
ok "the kernel checks permissions (default_permissions in the mount's options)" \
	sh -c "awk '\$2 == \"$MNT\" {print \$4}' /proc/mounts | tr , '\\n' | grep -qx default_permissions"
ok "others cannot create temp files (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") sh -c 'echo x > $MNT/tmp/evil' 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'"
ok "others cannot remove an entry (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") rm -f '$MNT/monomorph/c4/00000000000001.bc' 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'"
ok "unmount" unmount_fg

# Paths hold any byte: a TAB, newline, comma, '=', quotes and a byte that is
# not UTF-8 in the mount's and the store's paths. The record of mounts
# (STORE/mounts) keeps each argument whole, so after kill -9 the mount comes
# back with the options it had: with allow_other, the kernel still checks
# permissions, and another user still cannot read a root-only file.
ODD=$(printf 'o\t-oallow_other,\ny=1 "q'"'"'\377')
STORE=$WORK/store-$ODD
MNT=$WORK/mnt-$ODD
A=$WORK/plain-a
secret() { echo secret >"$MNT/notes.txt" && chmod 600 "$MNT/notes.txt"; }
ok "mount -o allow_other at a path with TAB, newline, comma, =, quotes, \\377" \
	mount_cache -o allow_other
ok "root stores an entry and a 0600 file there" sh -c \
	"$(declare -f store secret); MNT=\$1; store '$WORK/a.bc' \"\$1/monomorph/c4/00000000000001.bc\" && secret" _ "$MNT"
ok "a second mount of the store joins the daemon" \
	"$ACFS_DAEMON" --store "$STORE" "$A"
odd_restart() {
	local pid
	pid=$(daemon_pid)
	kill -9 "$pid" && wait_until "the daemon is gone" 30 "! kill -0 $pid 2>/dev/null" || return 1
	fusermount3 -u -z "$A" || return 1
	"$ACFS_DAEMON" --store "$STORE" "$A" 2>"$WORK/restart.err"
	cat "$WORK/restart.err"
	wait_until "the odd mount answers" 30 "stat -f \"\$MNT\" >/dev/null 2>&1" &&
		grep -q "brought back the mount at" "$WORK/restart.err"
}
ok "kill -9, a restart through the other mount brings the odd one back" odd_restart
ok "after the restart, others still cannot read the 0600 file (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") cat \"\$1/notes.txt\" 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'" _ "$MNT"
ok "others cannot remove an entry (EACCES)" sh -c \
	"! $(printf '%q ' "${NOBODY[@]}") rm -f \"\$1/monomorph/c4/00000000000001.bc\" 2>'$WORK/as.err' && grep -q 'Permission denied' '$WORK/as.err'" _ "$MNT"
ok "others still read the entry" sh -c \
	"$(printf '%q ' "${NOBODY[@]}") cat \"\$1/monomorph/c4/00000000000001.bc\" | cmp - '$WORK/a.bc'" _ "$MNT"
ok "the record holds no raw TAB or newline of a path" sh -c \
	"[ \"\$(head -n1 \"\$1/mounts\")\" = 'aria-cachefs mounts 2' ] && [ \"\$(wc -l <\"\$1/mounts\")\" -eq 3 ]" _ "$STORE"
odd_unmount() { fusermount3 -u "$A" && unmount_cache; }
ok "unmount both" odd_unmount
finish
