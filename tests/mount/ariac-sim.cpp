// SPDX-License-Identifier: MIT
//
// ariac-sim: behaves exactly like the unmodified Aria compiler's
// monomorphization cache (SPEC.md), with std::filesystem and plain POSIX
// I/O, and checks every byte it reads back.
//
//   ariac-sim --cache DIR --corpus DIR [--corpus DIR...] [--ops N]
//             [--seed S] [--mode mixed|store|hit] [--committed FILE]
//             [--touch] [--verify-list FILE] [--verify-all]
//
// mixed: probe, hit or store (the compiler); store: always tmp + rename;
// hit: always probe + read, and a miss is an error.
//
// The corpus holds <16 hex>.bc files (real bitcode). Each further --corpus
// holds other bytes for the same keys (variants): a store writes one of
// them at random, so concurrent stores of one key race with different
// bytes, and a read must match one variant exactly (never a mix).
// --committed appends each key whose rename returned success.
// --verify-list checks that every key listed is present and equal to one
// of its variants; --verify-all that every entry in the cache is.
// Exit 0 when every read matched, 1 on any mismatch, 2 on usage errors.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;

struct Counters {
	unsigned long probes = 0, hits = 0, misses = 0, stores = 0;
	unsigned long store_failures = 0, mismatches = 0, future = 0;
	unsigned long long bytes_verified = 0;
};

static std::string read_file(const fs::path &p)
{
	std::ifstream in(p, std::ios::binary);
	return std::string(std::istreambuf_iterator<char>(in), {});
}

static fs::path entry_path(const fs::path &cache, const std::string &key)
{
	return cache / "monomorph" / key.substr(0, 2) / (key.substr(2) + ".bc");
}

// Reads the whole file the way LLVM's MemoryBuffer does: mmap at 16 KiB
// and more, read() below. Returns false if it vanished meanwhile.
static bool load(const fs::path &p, std::string &out)
{
	int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return false;
	}
	size_t size = (size_t)st.st_size;
	out.clear();
	if (size >= 16384) {
		void *m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			std::perror(("mmap " + p.string()).c_str());
			close(fd);
			return false;
		}
		out.assign(static_cast<const char *>(m), size);
		munmap(m, size);
	} else {
		out.resize(size);
		size_t done = 0;
		while (done < size) {
			ssize_t n = read(fd, &out[done], size - done);
			if (n < 0) {
				// An I/O error (the daemon was killed) is a
				// failed read, not wrong bytes.
				std::fprintf(stderr, "ariac-sim: read %s: %s\n",
					     p.c_str(), std::strerror(errno));
				close(fd);
				return false;
			}
			if (n == 0)
				break; // short: compared, and reported
			done += (size_t)n;
		}
		out.resize(done);
	}
	close(fd);
	return true;
}

static bool store(const fs::path &cache, const std::string &key,
		  const std::string &bytes, std::mt19937_64 &rng)
{
	char nonce[32];
	std::snprintf(nonce, sizeof(nonce), "%016llx",
		      (unsigned long long)rng());
	fs::path tmp = cache / "tmp" / (key + "_" + nonce + ".tmp");
	{
		std::ofstream out(tmp, std::ios::binary);
		if (!out)
			return false;
		out.write(bytes.data(), (std::streamsize)bytes.size());
		out.close();
		if (!out) {
			std::error_code ec;
			fs::remove(tmp, ec);
			return false;
		}
	}
	fs::path dst = entry_path(cache, key);
	std::error_code ec;
	fs::create_directories(dst.parent_path(), ec);
	fs::rename(tmp, dst, ec);
	if (ec) {
		std::fprintf(stderr, "ariac-sim: rename %s -> %s: %s\n",
			     tmp.c_str(), dst.c_str(), ec.message().c_str());
		fs::remove(tmp, ec);
		return false;
	}
	return true;
}

static void usage()
{
	std::fprintf(stderr,
		     "usage: ariac-sim --cache DIR --corpus DIR [--ops N] "
		     "[--seed S] [--mode mixed|store|hit] [--committed FILE] "
		     "[--touch] "
		     "[--verify-list FILE] [--verify-all]\n");
}

int main(int argc, char **argv)
{
	fs::path cache, committed_file, verify_list;
	std::vector<fs::path> corpus_dirs;
	bool verify_all = false;
	unsigned long ops = 1000;
	unsigned long long seed = 1;
	bool touch = false;
	std::string mode = "mixed";

	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto next = [&]() -> std::string {
			if (i + 1 >= argc) {
				usage();
				std::exit(2);
			}
			return argv[++i];
		};
		if (a == "--cache")
			cache = next();
		else if (a == "--corpus")
			corpus_dirs.push_back(next());
		else if (a == "--verify-all")
			verify_all = true;
		else if (a == "--ops")
			ops = std::stoul(next());
		else if (a == "--seed")
			seed = std::stoull(next());
		else if (a == "--committed")
			committed_file = next();
		else if (a == "--verify-list")
			verify_list = next();
		else if (a == "--mode")
			mode = next();
		else if (a == "--touch")
			touch = true;
		else if (a == "--help") {
			usage();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (cache.empty() || corpus_dirs.empty()) {
		usage();
		return 2;
	}

	// key -> its variants; the first corpus names the keys.
	std::map<std::string, std::vector<std::string>> corpus;
	for (auto &de : fs::directory_iterator(corpus_dirs[0]))
		if (de.path().extension() == ".bc")
			corpus[de.path().stem().string()].push_back(
				read_file(de.path()));
	if (corpus.empty()) {
		std::fprintf(stderr, "ariac-sim: empty corpus %s\n",
			     corpus_dirs[0].c_str());
		return 2;
	}
	for (size_t d = 1; d < corpus_dirs.size(); d++)
		for (auto &kv : corpus)
			kv.second.push_back(read_file(
				corpus_dirs[d] / (kv.first + ".bc")));
	auto is_variant = [&](const std::string &key, const std::string &b) {
		auto it = corpus.find(key);
		if (it == corpus.end())
			return false;
		for (auto &v : it->second)
			if (v == b)
				return true;
		return false;
	};
	std::vector<std::string> keys;
	for (auto &kv : corpus)
		keys.push_back(kv.first);

	Counters c;
	std::string got;
	if (!verify_list.empty() || verify_all) {
		std::vector<std::string> list;
		std::string key;
		if (!verify_list.empty()) {
			std::ifstream in(verify_list);
			while (in >> key)
				list.push_back(key);
		}
		size_t listed = list.size();
		if (verify_all)
			for (auto &d : fs::recursive_directory_iterator(
				     cache / "monomorph"))
				if (d.is_regular_file())
					list.push_back(
						d.path().parent_path()
							.filename().string() +
						d.path().stem().string());
		unsigned long bad = 0;
		for (auto &k : list) {
			if (!load(entry_path(cache, k), got)) {
				std::fprintf(stderr, "ariac-sim: %s is "
					     "missing\n", k.c_str());
				bad++;
			} else if (!is_variant(k, got)) {
				std::fprintf(stderr, "ariac-sim: %s (%zu bytes) "
					     "differs from every variant "
					     "written\n", k.c_str(), got.size());
				bad++;
			}
		}
		std::printf("ariac-sim: verified %zu committed and %zu present "
			    "entries, %lu bad\n", listed, list.size() - listed,
			    bad);
		return bad ? 1 : 0;
	}

	// Startup, as the compiler does it: caching is off if this fails.
	std::error_code ec;
	fs::create_directories(cache / "monomorph", ec);
	if (!ec)
		fs::create_directories(cache / "tmp", ec);
	if (ec) {
		std::fprintf(stderr, "ariac-sim: caching disabled: %s\n",
			     ec.message().c_str());
		return 1;
	}

	FILE *log = committed_file.empty()
			    ? nullptr
			    : std::fopen(committed_file.c_str(), "a");
	std::mt19937_64 rng(seed);
	auto t0 = std::chrono::steady_clock::now();
	for (unsigned long op = 0; op < ops; op++) {
		const std::string &key = keys[rng() % keys.size()];
		const auto &variants = corpus[key];
		const std::string &want = variants[rng() % variants.size()];
		fs::path p = entry_path(cache, key);
		c.probes++;
		bool hit = false;
		if (mode != "store" && fs::exists(p, ec)) {
			auto mt = fs::last_write_time(p, ec);
			if (!ec && mt > fs::file_time_type::clock::now()) {
				c.future++;
			} else if (load(p, got)) {
				hit = true;
				c.hits++;
				if (!is_variant(key, got)) {
					c.mismatches++;
					std::fprintf(stderr, "ariac-sim: %s: read "
						     "%zu bytes that differ "
						     "from the %zu stored\n",
						     p.c_str(), got.size(),
						     want.size());
				} else {
					c.bytes_verified += got.size();
				}
				if (touch)
					fs::last_write_time(
						p,
						fs::file_time_type::clock::now(),
						ec);
			}
		}
		if (hit)
			continue;
		c.misses++;
		if (mode == "hit") {
			std::fprintf(stderr, "ariac-sim: %s: expected a hit\n",
				     p.c_str());
			c.mismatches++;
			continue;
		}
		if (store(cache, key, want, rng)) {
			c.stores++;
			if (log) {
				std::fprintf(log, "%s\n", key.c_str());
				std::fflush(log);
			}
		} else {
			c.store_failures++;
		}
	}
	double secs = std::chrono::duration<double>(
			      std::chrono::steady_clock::now() - t0)
			      .count();
	if (log)
		std::fclose(log);
	std::printf("ariac-sim: %lu probes, %lu hits (%llu bytes verified), "
		    "%lu stores, %lu failed stores, %lu future-dated, %lu "
		    "mismatches, %.3f s\n",
		    c.probes, c.hits, c.bytes_verified, c.stores,
		    c.store_failures, c.future, c.mismatches, secs);
	return c.mismatches ? 1 : 0;
}
