#!/bin/bash
# Eviction cost at 100k and 1M entries, and the daemon at 1M entries:
# time from start to a usable mount, and its memory (RSS).
#
#   tests/bench/evict-scale.sh [BUILD_DIR]
set -eu
BUILD=$(cd "${1:-build}" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/acfs-evict.XXXXXX")
trap 'fusermount3 -u -z "$WORK/mnt" 2>/dev/null; rm -rf "$WORK"' EXIT

for n in 100000 1000000; do
	echo "evict-scale: $n entries, evicting 10%" >&2
	mkdir -p "$WORK/s$n"
	"$BUILD/tests/evict-scale" "$WORK/s$n/db" "$n" | tee "$WORK/r$n.json"
done
python3 - "$WORK/r100000.json" "$WORK/r1000000.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print(f"evicting 10,000 entries: {a['evict_10k_seconds']:.3f}s from 100k, "
      f"{b['evict_10k_seconds']:.3f}s from 1M (ratio "
      f"{b['evict_10k_seconds'] / a['evict_10k_seconds']:.2f}); rows visited "
      f"{a['evict_10k_visited']} and {b['evict_10k_visited']}")
print(f"evicting 10%: {a['evict_seconds']:.3f}s for {a['evicted']} entries of "
      f"100k ({a['evict_us_per_entry']:.1f} us/entry), {b['evict_seconds']:.3f}s "
      f"for {b['evicted']} of 1M ({b['evict_us_per_entry']:.1f} us/entry); "
      f"per-entry ratio 1M/100k = "
      f"{b['evict_us_per_entry'] / a['evict_us_per_entry']:.2f}")
PY

# The daemon over the store left with 890k entries.
store=$WORK/s1000000
t0=$(date +%s.%N)
"$BUILD/fs/aria-cachefs" --store "$store" --max-size 10G "$WORK/mnt"
t1=$(date +%s.%N)
stat "$WORK/mnt/monomorph/00" >/dev/null
pid=$(awk '{print $2}' "$store/daemon.lock")
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "evict-scale: listing and stat'ing every entry of 16 shards" >&2
for s in 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff; do
	ls -l "$WORK/mnt/monomorph/$s" >/dev/null
done
n=$(ls "$WORK/mnt/monomorph/"{00,11,22,33,44,55,66,77,88,99,aa,bb,cc,dd,ee,ff} | wc -l)
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
printf 'mount ready in %.3fs over %s entries; daemon RSS %d MiB idle, %d MiB after stat of %d entries\n' \
	"$(echo "$t1 - $t0" | awk '{print $1 - $3}')" 890000 $((rss0 / 1024)) $((rss1 / 1024)) "$n"
fusermount3 -u "$WORK/mnt"
