#!/bin/bash
# Builds the .deb, installs it with apt-get, mounts with the installed
# binary through mount(8) (fuse.aria-cachefs, as from /etc/fstab), checks
# the man pages, units and completion, unmounts and removes the package.
# Run by .ci/run as root; prints TAP and "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/acfs-pkg.XXXXXX)
MNT=$WORK/mnt
RUN=0
FAILED=0
trap 'umount "$MNT" 2>/dev/null; rm -rf "$WORK"' EXIT
ok() {
	local desc=$1 rc=0
	shift
	RUN=$((RUN + 1))
	"$@" >"$WORK/out" 2>&1 || rc=$?
	sed 's/^/# /' "$WORK/out" | tail -n 20
	if [ $rc -eq 0 ]; then echo "ok $RUN - $desc"; else
		echo "not ok $RUN - $desc"; FAILED=$((FAILED + 1)); fi
}

"$top/packaging/install-deps.sh" man-db systemd >/dev/null
ok "packaging/build-deb.sh builds a lintian-clean .deb" \
	"$top/packaging/build-deb.sh" "$WORK/dist"
deb=$(ls "$WORK"/dist/aria-cachefs_*.deb 2>/dev/null | head -n 1)
ok "apt-get install ./aria-cachefs_*.deb" \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"
ok "installed binaries" test -x /usr/bin/aria-cachefs -a -x /usr/bin/aria-cache
ok "man aria-cachefs" sh -c "man -P cat aria-cachefs 2>/dev/null | grep -q -- '--max-size'"
ok "man aria-cache" sh -c "man -P cat aria-cache 2>/dev/null | grep -q 'EXIT STATUS'"
# Formatted afresh from the installed page (-l of the page man finds):
# man-db may serve a cat page it cached from an earlier install.
ok "man aria-cache: EXAMPLES render as examples, one command a line (they ran together)" sh -c \
	"man -P cat -l \"\$(man -w aria-cache)\" 2>/dev/null | sed -n '/^EXAMPLES/,/^SEE ALSO/p' | grep -qx ' *aria-cache -C .aria/cache gc --max-size 5G --dry-run'"
ok "bash completion installed" test -f /usr/share/bash-completion/completions/aria-cache
ok "the README and docs/ in the package's doc directory" sh -c \
	"zgrep -q test-command /usr/share/doc/aria-cachefs/README.md* && ls /usr/share/doc/aria-cachefs/usage.md*"
# aria-cachefs completes its options from its --help, printed from the
# one table of settings: every --option of the table is offered.
complete_daemon() {
	bash -c 'source /usr/share/bash-completion/bash_completion
		source /usr/share/bash-completion/completions/aria-cachefs
		COMP_WORDS=(aria-cachefs --); COMP_CWORD=1
		COMP_LINE="aria-cachefs --"; COMP_POINT=${#COMP_LINE}
		_aria_cachefs aria-cachefs -- aria-cachefs
		printf "%s\n" "${COMPREPLY[@]}"'
}
completion_covers_help() {
	local offered o
	offered=$(complete_daemon) || return 1
	for o in $(aria-cachefs --help | grep -o -- '^    --[a-z-]*'); do
		grep -qx -- "$o" <<<"$offered" || { echo "# not offered: $o"; return 1; }
	done
	[ -n "$offered" ]
}
ok "bash completion of aria-cachefs offers every setting's option" completion_covers_help
fish_covers_help() {
	local offered o
	offered=$(fish -c 'complete -C "aria-cachefs --"') || return 1
	for o in $(aria-cachefs --help | grep -o -- '^    --[a-z-]*'); do
		grep -q -- "^$o\b" <<<"$offered" || { echo "# not offered: $o"; return 1; }
	done
	fish -c 'complete -C "aria-cache "' | grep -q '^stats'
}
ok "fish completion of aria-cachefs (every setting) and aria-cache (commands)" fish_covers_help
ok "zsh completions installed and parse" sh -c \
	"zsh -n /usr/share/zsh/vendor-completions/_aria-cache && zsh -n /usr/share/zsh/vendor-completions/_aria-cachefs"
units() {
	local d=$WORK/units inst
	inst=$(systemd-escape --path "$MNT")
	mkdir -p "$d"
	cp /usr/lib/systemd/user/aria-cachefs@.service "$d/aria-cachefs@$inst.service"
	cp /usr/lib/systemd/user/aria-cache-gc@.service "$d/aria-cache-gc@$inst.service"
	cp /usr/lib/systemd/user/aria-cache-gc@.timer "$d/aria-cache-gc@$inst.timer"
	systemd-analyze verify --man=no "$d/aria-cachefs@$inst.service" \
		"$d/aria-cache-gc@$inst.timer"
}
ok "systemd user units verify (systemd-analyze)" units
units_two() {
	local d=$WORK/units2 a b
	a=$(systemd-escape --path "$WORK/projA/.aria/cache")
	b=$(systemd-escape --path "$WORK/projB/.aria/cache")
	mkdir -p "$d"
	cp /usr/lib/systemd/user/aria-cachefs@.service "$d/aria-cachefs@$a.service"
	cp /usr/lib/systemd/user/aria-cachefs@.service "$d/aria-cachefs@$b.service"
	systemd-analyze verify --man=no "$d/aria-cachefs@$a.service" "$d/aria-cachefs@$b.service"
}
ok "the unit for two projects verifies (systemd-analyze)" units_two

# The unit's ExecStart and ExecStop, run as systemd runs them (Type=notify:
# READY=1 on $NOTIFY_SOCKET) for two projects of the default store: the
# first runs the daemon, the second joins it; both are ready and share
# entries; stopping the first's unit (ExecStop, then SIGTERM to what is
# left) ends the second's mount, whose process exits non-zero so that
# Restart=on-failure brings it back, now as the daemon.
wait_for() { # wait_for SECONDS CONDITION (polls, never a fixed sleep)
	local deadline=$(($(date +%s) + $1))
	until eval "$2"; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "# timed out: $2"; return 1; }
		sleep 0.05
	done
}
unit_cmd() { # unit_cmd Start|Stop MOUNTPOINT: the unit's command for it
	sed -n "s/^Exec$1=//p" /usr/lib/systemd/user/aria-cachefs@.service | sed "s|%f|$2|g"
}
two_projects() {
	local A=$WORK/projA/.aria/cache B=$WORK/projB/.aria/cache pa pb pb2 rc
	export ARIA_CACHE_STORE=$WORK/shared-store NOTIFY_SOCKET=$WORK/notify.sock
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode().replace("\n", " ") + "\n")
' "$NOTIFY_SOCKET" "$WORK/notified" &
	local listener=$!
	wait_for 10 "[ -S '$NOTIFY_SOCKET' ]" || return 1
	$(unit_cmd Start "$A") 2>"$WORK/unitA.err" & pa=$!
	wait_for 30 "grep -q READY=1 '$WORK/notified' 2>/dev/null" || return 1
	$(unit_cmd Start "$B") 2>"$WORK/unitB.err" & pb=$!
	wait_for 30 "[ \$(grep -c READY=1 '$WORK/notified') -ge 2 ]" || return 1
	cat "$WORK/unitB.err"
	grep -q "served by the daemon already running: pid $pa" "$WORK/unitB.err" || return 1
	# Real bitcode, from LLVM's assembler (llvm-14, a dependency of the
	# build's llvm-14-dev).
	printf 'define i32 @unit_%s() {\n  ret i32 7\n}\n' c1 |
		/usr/lib/llvm-14/bin/llvm-as -o "$WORK/u.bc" || return 1
	cp "$WORK/u.bc" "$A/tmp/u" && mv "$A/tmp/u" "$A/monomorph/ab/000000000000c1.bc" &&
		cmp "$WORK/u.bc" "$B/monomorph/ab/000000000000c1.bc" || return 1
	# Stop A's unit: ExecStop, then SIGTERM to its process.
	$(unit_cmd Stop "$A") && kill -TERM "$pa" && wait "$pa" || return 1
	rc=0; wait "$pb" || rc=$?
	[ "$rc" -ne 0 ] || { echo "# B's process exited 0: no restart"; return 1; }
	$(unit_cmd Start "$B") 2>>"$WORK/unitB.err" & pb2=$!
	wait_for 30 "stat -f '$B' >/dev/null 2>&1 && [ \$(grep -c READY=1 '$WORK/notified') -ge 3 ]" || return 1
	cmp "$WORK/u.bc" "$B/monomorph/ab/000000000000c1.bc" || return 1
	$(unit_cmd Stop "$B") && wait "$pb2" || return 1
	kill "$listener"
	unset ARIA_CACHE_STORE NOTIFY_SOCKET
}
ok "the unit for two projects: one daemon serves both, ready twice; stopping the first restarts the second as the daemon" two_projects
mkdir -p "$MNT"
ok "mount -t fuse.aria-cachefs STORE MOUNTPOINT -o max_size=...,noauto" \
	mount -t fuse.aria-cachefs "$WORK/store" "$MNT" -o max_size=64M,validate=verify,noauto
ok "mounted with the options from -o" sh -c \
	"aria-cache -C '$MNT' stats | grep -q 'budget  *64M'"
store_one() {
	cp /usr/bin/aria-cache "$MNT/tmp/x.tmp" || return 1
	# An ELF binary is not bitcode: refused.
	! mv "$MNT/tmp/x.tmp" "$MNT/monomorph/ab/00000000000001.bc" 2>/dev/null
}
ok "the installed daemon validates commits" store_one
# daemons_of STORE: aria-cachefs processes serving STORE (others may run
# on a shared machine)
daemons_of() {
	local p n=0
	for p in $(pgrep -x aria-cachefs); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$1" && n=$((n + 1))
	done
	echo $n
}
join_second() {
	mkdir -p "$WORK/mnt2" &&
		mount -t fuse.aria-cachefs "$WORK/store" "$WORK/mnt2" -o noauto 2>&1 |
		grep -q 'served by the daemon already running' &&
		mountpoint -q "$WORK/mnt2" && [ "$(daemons_of "$WORK/store")" -eq 1 ] &&
		umount "$WORK/mnt2" && mountpoint -q "$MNT"
}
ok "a second mount -t fuse.aria-cachefs of the store joins its daemon" join_second
ok "aria-cache config shows its sources" sh -c \
	"ARIA_CACHE_MAX_SIZE=3G aria-cache config | grep max_size | grep -q 'environment (ARIA_CACHE_MAX_SIZE)'"
ok "umount" umount "$MNT"
ok "the daemon is gone after umount" sh -c "! mountpoint -q '$MNT'"
ok "apt-get remove aria-cachefs" \
	env DEBIAN_FRONTEND=noninteractive apt-get remove -y aria-cachefs
ok "binaries removed" sh -c "[ ! -e /usr/bin/aria-cachefs ] && [ ! -e /usr/bin/aria-cache ]"
echo "1..$RUN"
echo "$((RUN - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
