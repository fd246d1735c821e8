# Shared helpers of the mount tests. Sourced, not run.
# Needs: ACFS_DAEMON, ACFS_GEN, ACFS_SIM, ACFS_OPS, ACFS_CHECK (meson sets
# them). Each test gets its own directory and mountpoint, removed at exit.
set -u

if [ ! -e /dev/fuse ]; then
	echo "########################################################" >&2
	echo "# SKIPPED: /dev/fuse is absent, so the mount tests     #" >&2
	echo "# cannot mount anything on this machine.               #" >&2
	echo "########################################################" >&2
	# CI must never skip: it sets ACFS_REQUIRE_FUSE=1.
	[ -n "${ACFS_REQUIRE_FUSE:-}" ] && exit 1
	exit 77
fi

WORK=$(mktemp -d /tmp/acfs-test.XXXXXX)
# What a daemon in the background logs (else syslog), shown on failures.
export ARIA_CACHE_LOG_FILE=$WORK/daemon.err
MNT=$WORK/mnt
STORE=$WORK/store
# Sanitizer reports of every process (the daemon's stderr is /dev/null in
# the background) go to files here; finish() fails if there are any.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$WORK/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$WORK/sanitizer"
export TSAN_OPTIONS="${TSAN_OPTIONS:-}:log_path=$WORK/sanitizer"
TESTS_RUN=0
TESTS_FAILED=0

cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null || ! stat "$MNT" >/dev/null 2>&1; then
		fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	local pid
	pid=$(daemon_pid 2>/dev/null)
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	# A test's own mounts under $WORK (e.g. a small tmpfs for the store).
	local m
	for m in ${EXTRA_MOUNTS:-}; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# Prints the pid of the daemon serving $STORE (from its lock file).
daemon_pid() {
	awk 'NR == 1 {print $2}' "$STORE/daemon.lock" 2>/dev/null
}

# Mounts in the background; aria-cachefs returns once the mount is live.
mount_cache() {
	"$ACFS_DAEMON" --store "$STORE" "$@" "$MNT" 2>>"$WORK/daemon.err"
}

# mount_fg [OPTIONS]: the daemon in the foreground (-f) with job control
# on, its log (stderr) appended to $LOG; returns once the mount is live.
LOG=$WORK/daemon.log
mount_fg() {
	(set -m; "$ACFS_DAEMON" -f --store "$STORE" "$@" "$MNT" 2>>"$LOG" &
	 echo $! >"$WORK/pid")
	# Live and ours: the store's lock names this daemon, and statfs (which
	# a stale mount of a dead daemon fails with ENOTCONN, where stat and
	# mountpoint(1) may be answered from the kernel's cache) succeeds.
	wait_until "mounted" 30 "[ \"\$(daemon_pid)\" = \"\$(cat '$WORK/pid')\" ] && mountpoint -q '$MNT' && stat -f '$MNT' >/dev/null 2>&1"
}
unmount_fg() {
	local pid
	pid=$(cat "$WORK/pid")
	fusermount3 -u "$MNT" && wait_until "daemon exits" 30 "! kill -0 $pid 2>/dev/null"
}

unmount_cache() {
	local pid
	pid=$(daemon_pid)
	fusermount3 -u "$MNT" || return 1
	# The daemon exits once the kernel has closed the session; wait for it
	# so the next mount finds the store unlocked.
	wait_until "daemon $pid exits" 30 "! kill -0 $pid 2>/dev/null"
}

# wait_until DESC SECONDS CONDITION: polls a condition (never a fixed sleep)
# until it holds or the deadline passes.
wait_until() {
	local desc=$1 secs=$2 cond=$3 deadline
	deadline=$(($(date +%s) + secs))
	until eval "$cond"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "# timed out waiting until $desc" >&2
			return 1
		fi
		sleep 0.05
	done
}

# ok DESC COMMAND...: runs a check and prints a TAP line.
ok() {
	local desc=$1
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	local rc=0
	"$@" >"$WORK/ok.out" 2>&1 || rc=$?
	# Nested output becomes TAP comments.
	sed 's/^/# /' "$WORK/ok.out"
	if [ "$rc" -eq 0 ]; then
		echo "ok $TESTS_RUN - $desc"
	else
		echo "not ok $TESTS_RUN - $desc"
		TESTS_FAILED=$((TESTS_FAILED + 1))
		local f
		for f in "$WORK/daemon.err" "$WORK/daemon.log"; do
			[ -s "$f" ] || continue
			echo "# daemon log (last lines of ${f##*/}):"
			tail -n 8 "$f" | sed 's/^/#   /'
		done
	fi
}

finish() {
	TESTS_RUN=$((TESTS_RUN + 1))
	if ls "$WORK"/sanitizer.* >/dev/null 2>&1; then
		sed 's/^/# /' "$WORK"/sanitizer.*
		echo "not ok $TESTS_RUN - no sanitizer reports"
		TESTS_FAILED=$((TESTS_FAILED + 1))
	else
		echo "ok $TESTS_RUN - no sanitizer reports"
	fi
	echo "1..$TESTS_RUN"
	echo "# $((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
	[ "$TESTS_FAILED" -eq 0 ]
}

GEN_BITCODE=$ACFS_GEN
. "$(dirname "${BASH_SOURCE[0]}")/../corpus.sh"
