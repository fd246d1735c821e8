#!/bin/bash
# general-ops: the ordinary tree beside monomorph/ and tmp/ against a plain
# directory on the same disk, in one run: manifest rewrites (temp file +
# rename, one writer), creating 2000 small files, stat'ing and reading them
# all back (find + cat), and writing then reading one 64 MiB file.
#
#   tests/bench/general-ops.sh [BUILD_DIR]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-general.XXXXXX")
trap 'fusermount3 -u -z "$WORK/mnt" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/plain" "$WORK/mnt"
"$BUILD/fs/aria-cachefs" --store "$WORK/store" "$WORK/mnt"
head -c $((64 << 20)) /dev/urandom >"$WORK/big"

secs() { # secs COMMAND...: wall seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	python3 -c "print($t1 - $t0)"
}
small_files() {
	mkdir -p "$1/many"
	for i in $(seq 1 2000); do echo "file $i" >"$1/many/f$i"; done
}
read_back() { find "$1/many" -type f -exec cat {} + >/dev/null; }
big_write() { cp "$WORK/big" "$1/big" && sync -f "$1/big"; }
big_read() { echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; cat "$1/big" >/dev/null; }

printf '%-38s %10s %10s %8s\n' "workload" "plain dir" "mount" "ratio"
for w in manifests small_files read_back big_write big_read; do
	echo "general-ops: $w" >&2
	for side in plain mnt; do
		case $w in
		manifests) t=$(secs python3 "$HERE/../mount/manifests.py" "$WORK/$side" 1 1000 0) ;;
		*) t=$(secs $w "$WORK/$side") ;;
		esac
		eval "t_$side=$t"
	done
	case $w in
	manifests) what="1000 manifest rewrites (tmp + rename)" ;;
	small_files) what="create 2000 small files" ;;
	read_back) what="find + cat 2000 small files" ;;
	big_write) what="write 64 MiB + fsync" ;;
	big_read) what="read 64 MiB (cold)" ;;
	esac
	printf '%-38s %9.3fs %9.3fs %7.2fx\n' "$what" "$t_plain" "$t_mnt" \
		"$(python3 -c "print($t_mnt / $t_plain)")"
done
