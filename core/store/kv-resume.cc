// SPDX-License-Identifier: MIT
// DB::Resume(), allow_fallocate and the version for kv.c. RocksDB 7.8's C API has no rocksdb_resume, and
// without an SstFileManager (also absent from the C API) a flush or write
// that met a full disk leaves the database stopped: every later write
// fails with the saved "No space left" error, whatever space returns,
// until Resume() or a reopen. This file is part of kv.c's boundary: only
// kv.c calls it, and no RocksDB type leaves it.
#include <cstdlib>
#include <cstring>

#include <rocksdb/c.h>
#include <rocksdb/db.h>
#include <rocksdb/version.h>

#include <vector>

// The C API's handle: one pointer to the DB (rocksdb/db/c.cc, unchanged
// since the C API began).
struct rocksdb_t {
	rocksdb::DB *rep;
};

extern "C" int acfs_kv_rocksdb_resume(rocksdb_t *db, char **errptr)
{
	rocksdb::Status s = db->rep->Resume();

	if (s.ok())
		return 0;
	*errptr = strdup(s.ToString().c_str());
	return -1;
}

// The C API's options handle (rocksdb/db/c.cc): the Options themselves.
struct rocksdb_options_t {
	rocksdb::Options rep;
};

// RocksDB preallocates its WAL, table and blob files (fallocate, about
// 1.1x the write buffer: ~70 MiB here) and fails a write, a flush and its
// own recovery with "No space" when the disk has less free, however
// little the write needs. Free space is the store's budget to watch
// (acfs_store_room), not RocksDB's to reserve, so preallocation is off.
extern "C" void acfs_kv_rocksdb_no_fallocate(rocksdb_options_t *opts)
{
	opts->rep.allow_fallocate = false;
}

// --version (core/util/version.c): the RocksDB this build was compiled with.
#define ACFS_STR2(x) #x
#define ACFS_STR(x) ACFS_STR2(x)
extern "C" const char *acfs_kv_version(void)
{
	return ACFS_STR(ROCKSDB_MAJOR) "." ACFS_STR(ROCKSDB_MINOR) "."
		ACFS_STR(ROCKSDB_PATCH);
}

// RocksDB's repair told every column family of the store (the C API's
// rocksdb_repair_db knows only the default one: the others are made anew
// at the next open, numbered as the repaired history allows, which can
// clash with the numbers its tables carry).
extern "C" int acfs_kv_rocksdb_repair(const char *dir,
				      const rocksdb_options_t *db_opts,
				      int n, const char *const *names,
				      const rocksdb_options_t *const *cf_opts,
				      char **errptr)
{
	std::vector<rocksdb::ColumnFamilyDescriptor> cfs;

	for (int i = 0; i < n; i++)
		cfs.emplace_back(names[i],
				 rocksdb::ColumnFamilyOptions(cf_opts[i]->rep));
	rocksdb::Status s = rocksdb::RepairDB(
		dir, rocksdb::DBOptions(db_opts->rep), cfs);
	if (s.ok())
		return 0;
	*errptr = strdup(s.ToString().c_str());
	return -1;
}
