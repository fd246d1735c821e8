#!/bin/bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and
# runs each for ACFS_FUZZ_SECONDS (default 15) from seeds made here, then
# prints TAP: executions per target, and any crash with its reproducer.
# Our own parsers must never crash. fuzz-bitcode runs LLVM's reader
# in-process, where it aborts on many inputs (report_fatal_error): those
# findings are collected (-fork=1 -ignore_crashes=1) and replayed through
# the helper processes the daemon validates with (ACFS_REPLAY), each of
# which must be refused there without harm to the caller.
#
#   tests/fuzz/run.sh [OUTDIR]      (meson runs it as the "fuzz" test)
# A longer local run: ACFS_FUZZ_SECONDS=600 tests/fuzz/run.sh
# Reproduce a finding: OUTDIR/fuzz-NAME CRASH-FILE
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$SRC/build/tests/fuzz}
SECS=${ACFS_FUZZ_SECONDS:-15}
GEN=${ACFS_GEN:-}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/acfs-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
n=0
failed=0
tap() { # tap OK|FAIL DESC
	n=$((n + 1))
	if [ "$1" = OK ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-D_GNU_SOURCE -I"$SRC/core/include" -I"$SRC/core/util" -I"$SRC/core/config" -I"$SRC/core/store" -I"$SRC/core/llvm" -I"$SRC/core/remote" -I"$SRC/tools"
	$(llvm-config --cflags) $(pkg-config --cflags jansson inih libzstd libcurl))
LIBS=($(llvm-config --ldflags --libs core bitreader bitwriter analysis)
	$(pkg-config --libs jansson inih libzstd libcrypto libcurl) -lstdc++ -lpthread)
build() { # build NAME SOURCES...
	local name=$1
	shift
	clang "${CFLAGS[@]}" "$SRC/tests/fuzz/$name.c" "$@" -o "$OUT/$name" \
		"${LIBS[@]}" 2>"$WORK/$name.build"
}
C=$SRC/core
TARGETS=(fuzz-names fuzz-meta fuzz-options fuzz-control fuzz-store-values fuzz-remote fuzz-bitcode)
declare -A SOURCES=(
	[fuzz-names]="$C/util/key.c"
	[fuzz-meta]="$C/llvm/bitcode.c"
	[fuzz-options]="$C/config/config.c $C/util/size.c $C/config/paths.c $C/llvm/bitcode.c $C/remote/remote-format.c $C/util/digest.c"
	[fuzz-remote]="$C/remote/remote-format.c $C/util/size.c $C/util/digest.c"
	[fuzz-control]="$SRC/tools/control.c"
	[fuzz-store-values]="$C/store/blob.c $C/llvm/bitcode.c"
	[fuzz-bitcode]="$C/llvm/bitcode.c"
)

# Seeds: valid inputs of each kind, so the fuzzer starts from the grammar.
seed() { mkdir -p "$WORK/seed/$1"; printf "$2" >"$WORK/seed/$1/$3"; }
seed fuzz-names 'c4' a; seed fuzz-names '9a2b7f8e123456.bc' b
seed fuzz-names 'monomorph/c4/9a2b7f8e123456.meta' c; seed fuzz-names 'c49a2b7f8e123456' d
seed fuzz-meta '{"key": "c49a2b7f8e123456", "deps": [1, 2.5e3, null, true]}' a
seed fuzz-meta '[{"a": {"b": ["\\u00e9"]}}]' b
seed fuzz-options '\x0110G' a; seed fuzz-options '\x0390s' b
seed fuzz-options '\x80max_size = 5G\nvalidate = verify\n# c\nhit_mode = kernel\n' c
seed fuzz-options '\x80[section]\nstore=/x\nverify_reads=always\n' d
# a request: P 1, A "stats", A "--json", E
seed fuzz-control '\x00P\x01\x00\x00\x00\x01A\x05\x00\x00\x00statsA\x06\x00\x00\x00--jsonE\x00\x00\x00\x00' a
# a response: O "hi\n", X 0
seed fuzz-control '\x01O\x03\x00\x00\x00hi\nX\x04\x00\x00\x00\x00\x00\x00\x00' b
seed fuzz-remote '\x01redis://:pw@127.0.0.1:6379/2' a
seed fuzz-remote '\x01https://user:pw@cache.example:9090/prefix/' b
# an action result of key c49a2b7f8e123456.bc (as acfs_remote_ac_encode writes it)
seed fuzz-remote '\x00\x12\x5c\x0a\x13c49a2b7f8e123456.bc\x12\x45\x0a\x40'"$(printf '%064d' 0)"'\x10\x80\x08' c
seed fuzz-store-values '\x00\x00raw bytes' a
seed fuzz-store-values '\x02BC\xc0\xde\x35\x14\x00\x00' b
seed fuzz-store-values '\x01\x01\x00\x00\x00' c
if [ -n "$GEN" ]; then
	mkdir -p "$WORK/seed/fuzz-bitcode" "$WORK/seed/fuzz-store-values"
	"$GEN" "$WORK/seed/fuzz-bitcode/small.bc" small 2 &&
		"$GEN" "$WORK/seed/fuzz-bitcode/medium.bc" medium 20 &&
		"$GEN" "$WORK/seed/fuzz-bitcode/arm.bc" arm 3 --triple aarch64-unknown-linux-gnu ||
		tap FAIL "gen-bitcode makes bitcode seeds"
	{ printf '\x02'; cat "$WORK/seed/fuzz-bitcode/small.bc"; } >"$WORK/seed/fuzz-store-values/bc"
else
	seed fuzz-bitcode 'BC\xc0\xde' a
fi

for t in "${TARGETS[@]}"; do
	if ! build "$t" ${SOURCES[$t]}; then
		sed 's/^/# /' "$WORK/$t.build" | head -20
		tap FAIL "$t builds with clang -fsanitize=fuzzer"
		continue
	fi
	mkdir -p "$WORK/corpus/$t" "$WORK/art/$t"
	extra=()
	[ "$t" = fuzz-bitcode ] && extra=(-fork=1 -ignore_crashes=1)
	(cd "$WORK" && "$OUT/$t" "$WORK/corpus/$t" "$WORK/seed/$t" \
		-max_total_time="$SECS" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
		-artifact_prefix="$WORK/art/$t/" >"$WORK/$t.log" 2>&1)
	rc=$?
	execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$WORK/$t.log")
	[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$WORK/$t.log" | tail -1 | tr -d '#')
	cov=$(grep -o 'cov: [0-9]*' "$WORK/$t.log" | tail -1)
	if [ "$t" = fuzz-bitcode ]; then
		found=$(ls "$WORK/art/$t" | wc -l)
		kinds=$(grep -o 'LLVM ERROR: .*' "$WORK/$t.log" | sort | uniq -c | sort -rn)
		echo "$kinds" | sed 's/^/# /'
		tap OK "$t (LLVM's reader, in-process): ${execs:-?} executions in ${SECS}s, $found inputs on which LLVM aborts"
		if [ "$found" -gt 0 ] && [ -n "${ACFS_REPLAY:-}" ] && [ -n "${ACFS_DAEMON:-}" ]; then
			"$ACFS_REPLAY" "$ACFS_DAEMON" "$WORK/art/$t"/* >"$WORK/replay.log" 2>&1
			rrc=$?
			summary=$(tail -1 "$WORK/replay.log")
			echo "# $summary"
			if [ $rrc -eq 0 ] && echo "$summary" | grep -q " 0 unexpected"; then
				tap OK "all $found refused by the daemon's bitcode helpers, the caller unharmed"
			else
				tail -20 "$WORK/replay.log" | sed 's/^/# /'
				tap FAIL "replay of LLVM's aborts through the helpers"
			fi
		fi
		continue
	fi
	if [ $rc -eq 0 ]; then
		tap OK "$t: ${execs:-?} executions in ${SECS}s, ${cov:-cov: ?}, no crash"
	else
		mkdir -p "$OUT/findings"
		cp "$WORK/art/$t/"* "$OUT/findings/" 2>/dev/null
		grep -E 'ERROR|SUMMARY|==[0-9]+==|#[0-9] ' "$WORK/$t.log" | head -30 | sed 's/^/# /'
		tap FAIL "$t: finding after ${execs:-?} executions (kept in $OUT/findings; reproduce with $OUT/$t FILE)"
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
