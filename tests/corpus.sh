# The test and benchmark corpus of real bitcode. Sourced, not run.
# Needs GEN_BITCODE: the path of gen-bitcode (LLVM-C).

# make_corpus DIR COUNT SEED: COUNT bitcode files named <16 hex>.bc, sizes
# from ~1 KiB to ~300 KiB (a third of them 16 KiB or more, which LLVM
# mmaps). The same SEED gives the same keys and bytes.
make_corpus() {
	local dir=$1 count=$2 seed=$3 i key n
	local sizes=(1 3 8 20 60 150 400 1500)
	mkdir -p "$dir"
	for ((i = 0; i < count; i++)); do
		key=$(printf 'corpus-%s-%d' "$seed" "$i" | sha256sum | cut -c1-16)
		n=${sizes[$((i % ${#sizes[@]}))]}
		"$GEN_BITCODE" "$dir/$key.bc" "k$key" "$n" || return 1
	done
}

# make_variants SRC DST: for every key of corpus SRC, other real bitcode
# under the same key in DST (a different module), so that stores of one
# key can race with different bytes.
make_variants() {
	local src=$1 dst=$2 f key i=0
	local sizes=(2 5 12 40 90 250)
	mkdir -p "$dst"
	for f in "$src"/*.bc; do
		key=$(basename "$f" .bc)
		"$GEN_BITCODE" "$dst/$key.bc" "v$key" "${sizes[$((i % ${#sizes[@]}))]}" || return 1
		i=$((i + 1))
	done
}
