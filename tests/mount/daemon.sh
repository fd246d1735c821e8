#!/bin/bash
# The command line: --help/--version, default store, refusals with clear
# messages, one daemon per store, SIGTERM/SIGINT unmount cleanly, -f, -o.
. "$(dirname "$0")/lib.sh"

ok "--help" sh -c "'$ACFS_DAEMON' --help | grep -q -- '--store'"
ok "--version names the commit and libfuse, RocksDB, LLVM" sh -c \
	"'$ACFS_DAEMON' --version | tee '$WORK/v' && grep -q '^aria-cachefs .* (commit ' '$WORK/v' && grep -q 'libfuse 3\..*RocksDB [0-9].*LLVM [0-9]' '$WORK/v' &&
	 '$ACFS_TOOL' --version | grep -q 'RocksDB [0-9].*LLVM [0-9]'"
ok "no mountpoint: usage error (exit 2)" \
	sh -c "'$ACFS_DAEMON' --store '$STORE'; [ \$? -eq 2 ]"
ok "an unknown option is a usage error (exit 2), said before anything starts" sh -c \
	"'$ACFS_DAEMON' --store '$STORE' --max-szie 5G '$MNT' 2>'$WORK/opt.err'; [ \$? -eq 2 ] && grep -q 'unknown option' '$WORK/opt.err' && [ ! -e '$STORE/db' ]"
ok "an unknown -o option too (exit 2)" sh -c \
	"'$ACFS_DAEMON' --store '$STORE' -o max_szie=5G '$MNT' 2>/dev/null; [ \$? -eq 2 ]"
ok "aria-cache: a mistyped command names the closest one (exit 2)" sh -c \
	"'$ACFS_TOOL' stat 2>'$WORK/typo.err'; [ \$? -eq 2 ] && grep -q 'did you mean stats?' '$WORK/typo.err'"
ok "aria-cache help and help COMMAND print the usage (exit 0); help of no command is a usage error" sh -c \
	"'$ACFS_TOOL' help | grep -q '^commands:' && '$ACFS_TOOL' help gc | grep -q '^usage: aria-cache gc' && { '$ACFS_TOOL' help nope 2>/dev/null; [ \$? -eq 2 ]; }"
ok "a usage error of aria-cachefs leaves no mountpoint behind" sh -c \
	"'$ACFS_DAEMON' --store '$STORE' --max-size 100 '$WORK/never' 2>'$WORK/budget.err'; [ \$? -eq 2 ] && [ ! -e '$WORK/never' ]"
ok "a budget without its unit (--max-size 100) is refused, with the likely meaning" \
	grep -q 'did you mean 100M or 100G' "$WORK/budget.err"
ok "a regular file as mountpoint: not a directory (exit 2)" sh -c \
	"touch '$WORK/afile'; '$ACFS_DAEMON' --store '$STORE' '$WORK/afile' 2>'$WORK/file.err'; [ \$? -eq 2 ] && grep -q 'is not a directory' '$WORK/file.err'"
ok "aria-cache: -C without its argument is a usage error (exit 2)" sh -c \
	"'$ACFS_TOOL' -C 2>'$WORK/noarg.err'; [ \$? -eq 2 ] && grep -q -- '-C needs an argument' '$WORK/noarg.err'"
ok "aria-cache: an unknown option is a usage error (exit 2)" sh -c \
	"'$ACFS_TOOL' --frobnicate stats 2>/dev/null; [ \$? -eq 2 ]"
ok "bad --max-entry-size refused (exit 2)" \
	sh -c "'$ACFS_DAEMON' --store '$STORE' --max-entry-size lots '$MNT' 2>&1 | grep -q 'not a size'"
inside() {
	local out
	out=$("$ACFS_DAEMON" --store "$MNT/store" "$MNT" 2>&1)
	[ $? -eq 2 ] && echo "$out" | grep -q "inside the mountpoint" &&
		! mountpoint -q "$MNT"
}
ok "a store inside the mountpoint is refused" inside

bg_says() {
	"$ACFS_DAEMON" --store "$STORE" "$MNT" 2>"$WORK/bg.err" || return 1
	cat "$WORK/bg.err"
	grep -q "^aria-cachefs: mounted $MNT (store $STORE, pid $(daemon_pid))" "$WORK/bg.err"
}
ok "mount (default options): says where, with which store and pid" bg_says
# Another mountpoint of the same store joins the daemon serving it (one
# RocksDB, one budget): tests/mount/multi.sh tests that in depth.
second() {
	local out rc=0
	out=$("$ACFS_DAEMON" --store "$STORE" "$WORK/mnt2" 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -eq 0 ] || return 1
	echo "$out" | grep -q "served by the daemon already running: pid $(daemon_pid) version [^ ]* mountpoint $MNT" &&
		mountpoint -q "$WORK/mnt2" && fusermount3 -u "$WORK/mnt2" &&
		kill -0 "$(daemon_pid)" && stat -f "$MNT" >/dev/null
}
ok "a second mountpoint of the store joins its daemon (named, pid and mountpoint); unmounting it leaves the first" second
sigterm() {
	local pid
	pid=$(daemon_pid)
	kill -TERM "$pid" &&
		wait_until "daemon exits on SIGTERM" 30 "! kill -0 $pid 2>/dev/null" &&
		! mountpoint -q "$MNT"
}
ok "SIGTERM unmounts cleanly" sigterm
# A compiler wrote into the bare mountpoint while no daemon served it:
# the mount refuses to hide the files, naming the count and a path, and
# offers the import; --nonempty mounts over them, saying so.
mkdir -p "$MNT/monomorph/ab" && echo stray >"$MNT/monomorph/ab/00000000000001.bc" && echo x >"$MNT/tmp.1"
hidden() {
	local rc=0
	"$ACFS_DAEMON" --store "$STORE" "$MNT" 2>"$WORK/hidden.err" || rc=$?
	cat "$WORK/hidden.err"
	[ "$rc" -ne 0 ] && ! mountpoint -q "$MNT" &&
		grep -q "$MNT holds a plain cache: 1 entries in the compiler's layout ($MNT/monomorph/ab/00000000000001.bc, ...), 2 files in all" "$WORK/hidden.err" &&
		grep -q "aria-cache --store $STORE import $MNT" "$WORK/hidden.err" || return 1
	"$ACFS_DAEMON" --store "$STORE" --nonempty "$MNT" 2>"$WORK/hidden.err" || return 1
	cat "$WORK/hidden.err"
	grep -q "2 files were in the bare mountpoint $MNT" "$WORK/hidden.err"
}
ok "a mount over files in the bare mountpoint is refused (offering the import); --nonempty mounts over them" hidden
ok "unmount" unmount_cache
ok "they are still there, untouched" sh -c "[ \"\$(cat '$MNT/monomorph/ab/00000000000001.bc')\" = stray ]"
rm -rf "$MNT/monomorph" "$MNT/tmp.1"

# After kill -9 the mountpoint stays a stale mount (ENOTCONN: a compiler
# fails loudly) until the new daemon has its store open and mounts at
# once; a start that fails before mounting (here: a damaged store) leaves
# it stale, never a bare directory taking files the next mount hides.
stale_kept() {
	local pid
	mount_cache || return 1
	pid=$(daemon_pid)
	kill -9 "$pid" && wait_until "daemon $pid dies" 30 "! kill -0 $pid 2>/dev/null" || return 1
	mkdir -p "$WORK/badstore/db" && : >"$WORK/badstore/db/MANIFEST-000001"
	if "$ACFS_DAEMON" --store "$WORK/badstore" "$MNT" 2>"$WORK/bad.err"; then
		return 1
	fi
	cat "$WORK/bad.err"
	grep -q "is damaged" "$WORK/bad.err" || return 1
	if stat -f "$MNT" >/dev/null 2>"$WORK/stat.err"; then
		echo "# the mountpoint is bare while no daemon serves it"
		return 1
	fi
	grep -q "not connected" "$WORK/stat.err" || return 1
	! touch "$MNT/stray" 2>/dev/null || return 1
	mount_cache && stat -f "$MNT" >/dev/null && unmount_cache &&
		[ ! -e "$MNT/stray" ]
}
ok "a failed start leaves a stale mount stale, not a bare directory" stale_kept

# Job control on, so the background daemon does not start with SIGINT
# ignored (what a non-interactive shell does to its & commands).
start_fg() {
	(set -m; "$ACFS_DAEMON" -f -o fsname=acfs-test --store "$STORE" "$MNT" \
		2>>"$WORK/daemon.err" & echo $! >"$WORK/fg.pid")
}
ok "mount in the foreground with -f and -o options" start_fg
ok "foreground mount becomes live" wait_until "mounted" 30 "mountpoint -q '$MNT'"
ok "-o fsname passed through to the kernel" sh -c "grep -q '^acfs-test $MNT ' /proc/mounts"
sigint() {
	local pid
	pid=$(cat "$WORK/fg.pid")
	kill -INT "$pid" &&
		wait_until "daemon exits on SIGINT" 30 "! kill -0 $pid 2>/dev/null" &&
		! mountpoint -q "$MNT"
}
ok "SIGINT unmounts cleanly" sigint
# In the foreground, a clean stop by SIGTERM exits 0 (it exited 1).
fg_exit() {
	local pid rc=0
	"$ACFS_DAEMON" -f --store "$STORE" "$MNT" 2>>"$WORK/daemon.err" &
	pid=$!
	wait_until "mounted" 30 "[ \"\$(daemon_pid)\" = $pid ] && mountpoint -q '$MNT' && stat -f '$MNT' >/dev/null 2>&1" || return 1
	"$ACFS_TOOL" -C"$MNT" stats >/dev/null # -CDIR, as getopt reads it
	local cdir=$?
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	echo "exit status $rc"
	[ "$rc" -eq 0 ] && ! mountpoint -q "$MNT" && [ "$cdir" -eq 0 ]
}
ok "foreground: SIGTERM exits 0 after unmounting" fg_exit
# systemd's Type=notify: READY=1 arrives on $NOTIFY_SOCKET when the mount
# answers (checked the moment it arrives), naming the mountpoint, the
# store and the daemon's pid; STOPPING=1 at SIGTERM.
sd_notify() {
	python3 - "$ACFS_DAEMON" "$STORE" "$MNT" "$WORK/notify.sock" "$WORK/daemon.err" <<'PY'
import os, signal, socket, subprocess, sys
daemon, store, mnt, path, log = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
env = dict(os.environ, NOTIFY_SOCKET=path)
p = subprocess.Popen([daemon, '-f', '--store', store, mnt], env=env,
                     stderr=open(log, 'a'))
msg = s.recv(4096).decode()
live = os.path.ismount(mnt) and os.statvfs(mnt) is not None
print(repr(msg))
fields = dict(l.split('=', 1) for l in msg.splitlines())
assert fields.get('READY') == '1', fields
assert live, 'READY=1 before the mount answered'
assert fields.get('MAINPID') == str(p.pid), fields
assert mnt in fields.get('STATUS', '') and store in fields['STATUS'], fields
p.send_signal(signal.SIGTERM)
msg = s.recv(4096).decode()
print(repr(msg))
assert 'STOPPING=1' in msg.splitlines(), msg
assert p.wait(60) == 0
PY
}
ok "systemd notify: READY=1 once the mount answers, STOPPING=1 at SIGTERM" sd_notify

default_store() {
	ARIA_CACHE_STORE="$WORK/envstore" "$ACFS_DAEMON" "$MNT" &&
		[ -d "$WORK/envstore/db" ] && unmount_default
}
unmount_default() {
	local pid
	pid=$(awk '{print $2}' "$WORK/envstore/daemon.lock")
	fusermount3 -u "$MNT" &&
		wait_until "exit" 30 "! kill -0 $pid 2>/dev/null"
}
ok "\$ARIA_CACHE_STORE is the default store" default_store
xdg_store() {
	env -u ARIA_CACHE_STORE XDG_CACHE_HOME="$WORK/xdg" "$ACFS_DAEMON" "$MNT" &&
		[ -d "$WORK/xdg/aria-cachefs/db" ] &&
		{ local pid; pid=$(awk '{print $2}' "$WORK/xdg/aria-cachefs/daemon.lock");
		  fusermount3 -u "$MNT" && wait_until "exit" 30 "! kill -0 $pid 2>/dev/null"; }
}
ok "then \$XDG_CACHE_HOME/aria-cachefs" xdg_store
home_store() {
	env -u ARIA_CACHE_STORE -u XDG_CACHE_HOME HOME="$WORK/home" "$ACFS_DAEMON" "$MNT" &&
		[ -d "$WORK/home/.cache/aria-cachefs/db" ] &&
		{ local pid; pid=$(awk '{print $2}' "$WORK/home/.cache/aria-cachefs/daemon.lock");
		  fusermount3 -u "$MNT" && wait_until "exit" 30 "! kill -0 $pid 2>/dev/null"; }
}
ok "then \$HOME/.cache/aria-cachefs" home_store
# Settings: command line > environment > user config > system config.
budget_is() { # budget_is SIZE ENV...: mount with ENV, check the budget
	local want=$1 pid
	shift
	env "$@" "$ACFS_DAEMON" --store "$STORE" "$MNT" || return 1
	pid=$(daemon_pid)
	"$ACFS_TOOL" -C "$MNT" stats | grep "budget"
	"$ACFS_TOOL" -C "$MNT" stats | grep -q "budget  *$want\$"
	local rc=$?
	fusermount3 -u "$MNT" && wait_until "exit" 30 "! kill -0 $pid 2>/dev/null"
	return $rc
}
mkdir -p "$WORK/xdgc/aria-cachefs"
echo "max_size = 5M" >"$WORK/sys.conf"
echo "max_size = 6M" >"$WORK/xdgc/aria-cachefs/config"
ok "the system config sets the budget" budget_is 5.0M ARIA_CACHE_SYSTEM_CONFIG="$WORK/sys.conf" XDG_CONFIG_HOME="$WORK/none"
ok "the user config wins over it" budget_is 6.0M ARIA_CACHE_SYSTEM_CONFIG="$WORK/sys.conf" XDG_CONFIG_HOME="$WORK/xdgc"
ok "the environment wins over both" budget_is 7.0M ARIA_CACHE_SYSTEM_CONFIG="$WORK/sys.conf" XDG_CONFIG_HOME="$WORK/xdgc" ARIA_CACHE_MAX_SIZE=7M
cmdline_wins() {
	ARIA_CACHE_MAX_SIZE=7M XDG_CONFIG_HOME="$WORK/xdgc" "$ACFS_DAEMON" --store "$STORE" --max-size 8M "$MNT" || return 1
	local pid
	pid=$(daemon_pid)
	"$ACFS_TOOL" -C "$MNT" stats | grep -q "budget  *8.0M" &&
		# config through the mount: the daemon's settings and sources
		# (it printed the defaults a new daemon would use).
		"$ACFS_TOOL" -C "$MNT" config | tee "$WORK/dconfig" | grep -q "^max_size *= 8M *# command line" &&
		grep -q "^store *= $STORE *# command line" "$WORK/dconfig" &&
		grep -q "^# the settings of the daemon serving $STORE" "$WORK/dconfig" &&
		"$ACFS_TOOL" -C "$MNT" config --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["max_size"]==dict(value="8M", source="command line"), d'
	local rc=$?
	fusermount3 -u "$MNT" && wait_until "exit" 30 "! kill -0 $pid 2>/dev/null"
	return $rc
}
ok "the command line wins over everything" cmdline_wins
echo "max_size = lots" >"$WORK/bad.conf"
ok "a bad config value is refused naming the file (exit 2)" sh -c \
	"ARIA_CACHE_SYSTEM_CONFIG='$WORK/bad.conf' '$ACFS_DAEMON' --store '$STORE' '$MNT' 2>&1 | grep -q '$WORK/bad.conf: max_size = lots is not a size'"
ok "aria-cache config names each source" sh -c \
	"ARIA_CACHE_SYSTEM_CONFIG='$WORK/sys.conf' XDG_CONFIG_HOME='$WORK/none' ARIA_CACHE_VALIDATE=verify '$ACFS_TOOL' config --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"max_size\"]==dict(value=\"5M\", source=\"$WORK/sys.conf\"), d; assert d[\"validate\"][\"source\"]==\"environment (ARIA_CACHE_VALIDATE)\"; assert d[\"sync\"][\"source\"]==\"default\"'"

# --compress-level: 0 keeps entries raw, the default compresses them.
stored_vs_logical() { # stored_vs_logical LEVEL: prints stored and logical bytes
	local pid k=$MNT/monomorph/cd/00000000000001.bc
	rm -rf "$WORK/cstore"
	"$ACFS_DAEMON" --store "$WORK/cstore" --compress-level "$1" "$MNT" || return 1
	pid=$(awk '{print $2}' "$WORK/cstore/daemon.lock")
	"$ACFS_GEN" "$WORK/c.bc" comp 200
	cp "$WORK/c.bc" "$MNT/tmp/c" && mv "$MNT/tmp/c" "$k" && cmp "$WORK/c.bc" "$k" || return 1
	"$ACFS_TOOL" -C "$MNT" stats --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["stored_bytes"], d["logical_bytes"])'
	fusermount3 -u "$MNT" && wait_until "exit" 30 "! kill -0 $pid 2>/dev/null"
}
raw_kept() { set -- $(stored_vs_logical 0); echo "stored $1 logical $2"; [ "$1" -gt "$2" ]; }
compressed() { set -- $(stored_vs_logical 3); echo "stored $1 logical $2"; [ "$1" -lt "$2" ]; }
ok "--compress-level 0 stores entries raw" raw_kept
ok "the default level compresses them" compressed
ok "a bad --compress-level is a usage error" sh -c \
	"'$ACFS_DAEMON' --store '$STORE' --compress-level 42 '$MNT' 2>&1 | grep -q '0 (no compression) to 19'"

# ARIA_CACHE_TRACE=1: one line per miss, store, hit and eviction.
trace() {
	local log=$WORK/trace.log k=$MNT/monomorph/ab/00000000000077.bc
	(set -m; ARIA_CACHE_TRACE=1 "$ACFS_DAEMON" -f --store "$STORE" "$MNT" 2>"$log" &
	 echo $! >"$WORK/tr.pid")
	wait_until "mounted" 30 "mountpoint -q '$MNT'" || return 1
	"$ACFS_GEN" "$WORK/t.bc" traced 3
	stat "$k" 2>/dev/null
	cp "$WORK/t.bc" "$MNT/tmp/t" && mv "$MNT/tmp/t" "$k" && cat "$k" >/dev/null &&
		"$ACFS_TOOL" -C "$MNT" gc --max-size 1 --yes >/dev/null 2>&1
	fusermount3 -u "$MNT"
	wait_until "exit" 30 "! kill -0 $(cat "$WORK/tr.pid") 2>/dev/null"
	cat "$log"
	for ev in miss store hit evict; do
		grep -q "trace $ev monomorph/ab/00000000000077.bc .* us" "$log" || return 1
	done
}
ok "ARIA_CACHE_TRACE=1 logs miss, store, hit, evict with key and time" trace

# Discovery: inside a project whose .aria/cache is mounted, aria-cache
# without -C or --store addresses that mount (it fell back to the default
# store and failed "no store at ~/.cache/aria-cachefs").
discover() {
	local proj=$WORK/proj pid a b c
	mkdir -p "$proj/src/deep"
	"$ACFS_DAEMON" --store "$WORK/pstore" "$proj/.aria/cache" || return 1
	pid=$(awk '{print $2}' "$WORK/pstore/daemon.lock")
	where() { # where DIR: store and daemon_running of aria-cache stats run in DIR
		(cd "$1" && env -u ARIA_CACHE_STORE HOME="$WORK/nohome" XDG_CACHE_HOME= \
			"$ACFS_TOOL" stats --json) | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["store"], d["daemon_running"])'
	}
	a=$(where "$proj/src/deep")
	b=$(where "$proj/.aria/cache/monomorph")
	c=$(where "$proj")
	echo "from src/deep: $a; from the cache: $b; from the project: $c"
	fusermount3 -u "$proj/.aria/cache" && wait_until "exit" 30 "! kill -0 $pid 2>/dev/null" || return 1
	[ "$a" = "$WORK/pstore True" ] && [ "$b" = "$a" ] && [ "$c" = "$a" ]
}
ok "aria-cache finds the project's mount from the current directory" discover
ok "outside any project it falls back to the default store" sh -c \
	"cd / && ! env -u ARIA_CACHE_STORE HOME='$WORK/nohome' XDG_CACHE_HOME= '$ACFS_TOOL' stats 2>&1 | grep -q '$WORK/pstore'"
finish
