// SPDX-License-Identifier: MIT
// The guard on a database's open, for kv.c: while RocksDB opens a
// database it deletes every table (.sst) and blob (.blob) file its
// MANIFEST does not name. A history cut short or damaged (a case the
// check of kv-history.c may not see: bytes lost after the copy was last
// taken) makes that a deletion of entries. While the guard is up, such a
// file is moved into DIR/unreferenced/ instead, whole: never deleted. A
// file RocksDB leaves behind in normal life (the inputs of a compaction
// that a kill -9 interrupted) is kept there too, and counted: what it
// holds can be read back by repair; it is garbage only once proven so.
// Part of kv.c's boundary: no RocksDB type leaves this file.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <sys/stat.h>

#include <rocksdb/c.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>

struct rocksdb_options_t {
	rocksdb::Options rep;
};

namespace {

bool is_data(const std::string &f)
{
	auto ends = [&](const char *s) {
		size_t l = strlen(s);
		return f.size() > l && f.compare(f.size() - l, l, s) == 0;
	};
	return ends(".sst") || ends(".blob");
}

class GuardFS : public rocksdb::FileSystemWrapper {
public:
	explicit GuardFS(const std::shared_ptr<rocksdb::FileSystem> &t)
		: rocksdb::FileSystemWrapper(t)
	{
	}
	static const char *kClassName() { return "AcfsGuardFS"; }
	const char *Name() const override { return kClassName(); }

	rocksdb::IOStatus DeleteFile(const std::string &f,
				     const rocksdb::IOOptions &o,
				     rocksdb::IODebugContext *dbg) override
	{
		if (!guarding.load() || !is_data(f))
			return target()->DeleteFile(f, o, dbg);
		size_t slash = f.rfind('/');
		std::string dir = slash == std::string::npos ? "." : f.substr(0, slash);
		std::string aside = dir + "/unreferenced";
		mkdir(aside.c_str(), 0755);
		std::string to = aside + "/" + f.substr(slash + 1);
		if (rename(f.c_str(), to.c_str()) != 0)
			return rocksdb::IOStatus::IOError(
				"keeping " + f + " in " + aside + ": " +
				strerror(errno));
		kept.fetch_add(1);
		return rocksdb::IOStatus::OK();
	}

	std::atomic<bool> guarding{false};
	std::atomic<unsigned> kept{0};
};

} // namespace

struct acfs_kv_guard {
	std::shared_ptr<GuardFS> fs;
	std::unique_ptr<rocksdb::Env> env;
};

extern "C" struct acfs_kv_guard *acfs_kv_guard_install(rocksdb_options_t *opts)
{
	auto *g = new (std::nothrow) acfs_kv_guard;

	if (!g)
		return nullptr;
	g->fs = std::make_shared<GuardFS>(rocksdb::FileSystem::Default());
	g->env = rocksdb::NewCompositeEnv(g->fs);
	opts->rep.env = g->env.get();
	return g;
}

// Raises (@on) or lowers the guard; returns how many files it kept since
// it was raised last.
extern "C" unsigned acfs_kv_guard_set(struct acfs_kv_guard *g, int on)
{
	if (!g)
		return 0;
	if (on)
		g->fs->kept.store(0);
	g->fs->guarding.store(on != 0);
	return g->fs->kept.load();
}

extern "C" void acfs_kv_guard_free(struct acfs_kv_guard *g)
{
	delete g;
}
