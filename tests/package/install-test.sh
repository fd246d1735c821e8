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
