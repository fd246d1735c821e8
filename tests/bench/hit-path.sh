#!/bin/bash
# hit-path: the same workloads on an aria-cachefs mount, on a plain
# directory on the same disk, and on the FUSE floor (floorfs, which answers
# every request at once), in one run; prints each figure and the ratios.
#
#   tests/bench/hit-path.sh [BUILD_DIR]       (root: it drops page caches)
set -eu
BUILD=$(cd "${1:-build}" && pwd)
B=$BUILD/tests
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-hitpath.XXXXXX")
M=$WORK/mnt F=$WORK/floor P=$WORK/plain
cleanup() {
	fusermount3 -u -z "$M" 2>/dev/null || true
	fusermount3 -u -z "$F" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "hit-path: $*" >&2; }
pid_of_store() { awk '{print $2}' "$WORK/store/daemon.lock"; }
mount_acfs() { "$BUILD/fs/aria-cachefs" --store "$WORK/store" "$@" "$M"; }
umount_acfs() {
	local pid
	pid=$(pid_of_store)
	fusermount3 -u "$M"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
floor() { # floor SIZE: (re)mount the floor with files of SIZE bytes
	fusermount3 -u "$F" 2>/dev/null || true
	mkdir -p "$F"
	"$B/floorfs" "$1" "$F"
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
row() { printf '%-34s %12s %12s %12s %10s %10s\n' "$@"; }

say "bitcode of 4 KiB, 64 KiB and 1 MiB (LLVM-C)"
"$B/gen-bitcode" "$WORK/s4k.bc" s4k 14
"$B/gen-bitcode" "$WORK/s64k.bc" s64k 330
"$B/gen-bitcode" "$WORK/s1m.bc" s1m 5300
mkdir -p "$P/monomorph" "$P/tmp"
mount_acfs
N=200
for s in 4k 64k 1m; do
	case $s in 4k) pre=a4 ;; 64k) pre=b6 ;; 1m) pre=c1 ;; esac
	"$B/fsbench" populate "$M" "$WORK/s$s.bc" $N $pre
	"$B/fsbench" populate "$P" "$WORK/s$s.bc" $N $pre
done

row "workload" "plain dir" "mount" "FUSE floor" "mnt/plain" "mnt/floor"
for s in 4k 64k 1m; do
	case $s in 4k) pre=a4 ;; 64k) pre=b6 ;; 1m) pre=c1 ;; esac
	size=$(stat -c %s "$WORK/s$s.bc")
	floor "$size"
	say "warm hits, $s"
	for d in "$P" "$M" "$F"; do "$B/fsbench" hit "$d" $pre $N $N >/dev/null; done
	p=$("$B/fsbench" hit "$P" $pre $N 20000)
	m=$("$B/fsbench" hit "$M" $pre $N 20000)
	f=$("$B/fsbench" hit "$F" $pre $N 20000)
	row "warm hit $s (ns/op)" "$p" "$m" "$f" "$(ratio "$m" "$p")" "$(ratio "$m" "$f")"
	say "cold hits, $s"
	umount_acfs; mount_acfs; floor "$size"; drop
	p=$("$B/fsbench" hit "$P" $pre $N $N)
	m=$("$B/fsbench" hit "$M" $pre $N $N)
	f=$("$B/fsbench" hit "$F" $pre $N $N)
	row "cold hit $s (ns/op)" "$p" "$m" "$f" "$(ratio "$m" "$p")" "$(ratio "$m" "$f")"
done
say "misses"
p=$("$B/fsbench" miss "$P" 20000)
m=$("$B/fsbench" miss "$M" 20000)
f=$("$B/fsbench" miss "$F" 20000)
row "miss: stat of absent (ns/op)" "$p" "$m" "$f" "$(ratio "$m" "$p")" "$(ratio "$m" "$f")"
for w in 1 4; do
	say "stores, $w writer(s)"
	p=$("$B/fsbench" store "$P" "$WORK/s64k.bc" 4000 $w)
	m=$("$B/fsbench" store "$M" "$WORK/s64k.bc" 4000 $w)
	row "store 64k, $w writer(s) (ops/s)" "$p" "$m" "-" "$(ratio "$m" "$p")" "-"
done

say "compile-like mix: 4 processes, probe then hit or store"
GEN_BITCODE=$B/gen-bitcode
. "$(dirname "$0")/../corpus.sh"
make_corpus "$WORK/corpus" 100 mix
mix() {
	local t0 t1
	t0=$(date +%s.%N)
	for i in 1 2 3 4; do
		"$B/ariac-sim" --cache "$1" --corpus "$WORK/corpus" --ops 3000 --seed $i >/dev/null &
	done
	wait
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1e9 / 12000 }'
}
p=$(mix "$P"); m=$(mix "$M")
row "compile mix (ns/op, 4 procs)" "$p" "$m" "-" "$(ratio "$m" "$p")" "-"

say "the same with --hit-mode=kernel (no OPEN/FLUSH/RELEASE round trips)"
umount_acfs; mount_acfs --hit-mode=kernel
for s in 4k 64k 1m; do
	case $s in 4k) pre=a4 ;; 64k) pre=b6 ;; 1m) pre=c1 ;; esac
	"$B/fsbench" hit "$M" $pre $N $N >/dev/null
	"$B/fsbench" hit "$P" $pre $N $N >/dev/null
	p=$("$B/fsbench" hit "$P" $pre $N 20000)
	m=$("$B/fsbench" hit "$M" $pre $N 20000)
	row "warm hit $s, kernel mode (ns/op)" "$p" "$m" "-" "$(ratio "$m" "$p")" "-"
done
p=$("$B/fsbench" miss "$P" 20000)
m=$("$B/fsbench" miss "$M" 20000)
row "miss, kernel mode (ns/op)" "$p" "$m" "-" "$(ratio "$m" "$p")" "-"
p=$("$B/fsbench" store "$P" "$WORK/s64k.bc" 4000 1)
m=$("$B/fsbench" store "$M" "$WORK/s64k.bc" 4000 1)
row "store 64k, kernel mode (ops/s)" "$p" "$m" "-" "$(ratio "$m" "$p")" "-"
p=$(mix "$P"); m=$(mix "$M")
row "compile mix, kernel mode (ns/op)" "$p" "$m" "-" "$(ratio "$m" "$p")" "-"
umount_acfs; mount_acfs

say "stored bytes: the same real bitcode (this project compiled by clang)"
mkdir -p "$WORK/real"
cflags="$(pkg-config --cflags fuse3 rocksdb) -I$BUILD -I$BUILD/../core/include -I$BUILD/../core/store -I$BUILD/../tools -I$BUILD/../fs -I/usr/lib/llvm-14/include -D_GNU_SOURCE"
n=0
for f in "$BUILD"/../core/*/*.c "$BUILD"/../fs/*/*.c "$BUILD"/../tools/*.c; do
	for o in -O0 -O2 "-O0 -g" "-O2 -g"; do
		key=$(printf '%s %s' "$f" "$o" | sha256sum | cut -c1-16)
		clang -c -emit-llvm $o $cflags "$f" -o "$WORK/real/$key.bc" 2>/dev/null && n=$((n + 1))
	done
done
for f in "$WORK"/real/*.bc; do
	k=$(basename "$f" .bc)
	mkdir -p "$P/monomorph/${k:0:2}"
	cp "$f" "$P/tmp/x" && mv "$P/tmp/x" "$P/monomorph/${k:0:2}/${k:2}.bc"
	cp "$f" "$M/tmp/x" && mv "$M/tmp/x" "$M/monomorph/${k:0:2}/${k:2}.bc"
done
logical=$(cat "$WORK"/real/*.bc | wc -c)
plain_du=$(du -sk "$WORK/real" | cut -f1)
stored=$("$BUILD/tools/aria-cache" -C "$M" ls --json | python3 -c "
import json, sys, os
real = set(os.path.basename(p)[:-3] for p in sys.argv[1:])
print(sum(e['stored'] for e in json.load(sys.stdin) if e['key'] in real))" "$WORK"/real/*.bc)
printf '%-34s %12s %12s %12s %10s\n' "stored bytes, $n real modules" "$((plain_du * 1024))" "$stored" "(logical $logical)" "$(ratio "$stored" "$((plain_du * 1024))")"
umount_acfs

say "scale: 1M entries"
mkdir -p "$WORK/big"
"$B/evict-scale" "$WORK/big/db" 1000000 fill-only >/dev/null
t0=$(date +%s.%N)
"$BUILD/fs/aria-cachefs" --store "$WORK/big" "$M"
stat "$M/monomorph/00" >/dev/null
t1=$(date +%s.%N)
bpid=$(awk '{print $2}' "$WORK/big/daemon.lock")
for s in 00 40 80 c0; do ls -l "$M/monomorph/$s" >/dev/null; done
rss=$(awk '/VmRSS/ {print $2}' "/proc/$bpid/status")
printf '%-34s %12s\n' "mount ready at 1M entries (s)" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
printf '%-34s %12s\n' "daemon RSS at 1M entries (MiB)" "$((rss / 1024))"
fusermount3 -u "$M"
