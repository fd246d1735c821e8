# Shared by the mount benchmarks that mount a fresh store: sourced after
# NAME is set. Makes $WORK (store, mountpoint $M, plain directory $P),
# removed at exit with the mount, and umount_acfs, which returns once the
# daemon has exited.
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-$NAME.XXXXXX")
M=$WORK/mnt P=$WORK/plain
cleanup() {
	fusermount3 -u -z "$M" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "$NAME: $*" >&2; }
umount_acfs() {
	local pid
	[ -e "$WORK/store/daemon.lock" ] || return 0
	pid=$(awk '{print $2}' "$WORK/store/daemon.lock")
	fusermount3 -u "$M" 2>/dev/null || return 0
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
