// Stores named by one syntax everywhere in amrepo (serve --data, ls, rm, cat --data, migrate):
//   DIR               files in the JS nodefs layout (what `@automerge/automerge-repo-storage-nodefs` reads)
//   sqlite:FILE       one SQLite database file
//   postgres:CONNINFO a PostgreSQL database (libpq connection string or postgres:// URI)
//   memory:           nothing kept (serve only)
// A directory whose name starts with one of these prefixes is written ./NAME.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "am/repo/ids.h"
#include "am/repo/storage.h"
#include "am/result.h"

namespace amrepo {

/// A parsed store name. `location` is the directory, the SQLite file or the connection string.
struct StoreSpec {
  enum class Kind { kFiles, kSqlite, kPostgres, kMemory };
  Kind kind = Kind::kFiles;
  std::string location;
  /// The store's name in the syntax above (the connection string of postgres: is kept whole).
  std::string to_string() const;
  /// to_string() with any password in a postgres: connection string masked, for messages and logs.
  std::string display_name() const;
};

/// Parses a store name; kInvalidArgument naming the syntax for an empty name or an empty location.
am::Result<StoreSpec> parse_store(const std::string& text);

/// The store `serve --storage KIND --data DIR --pg CONNINFO` named before store names existed:
/// fs -> DIR, sqlite -> sqlite:DIR/amrepo.sqlite, postgres -> postgres:CONNINFO.
am::Result<StoreSpec> legacy_store(const std::string& kind, const std::string& dir, const std::string& pg);

struct OpenStoreOptions {
  /// PostgreSQL: publish saves so that other servers on the database reload (serve).
  bool notify_saves = false;
  /// Files and SQLite: create the directory (of the file) when missing.
  bool create = true;
};

/// Opens the store (kUnsupported for postgres: in a build without libpq).
am::Result<std::shared_ptr<am::repo::StorageAdapter>> open_store(const StoreSpec& spec, const OpenStoreOptions& options = {});

/// The documents of a store (those with a snapshot or incremental chunk), sorted, read from its keys
/// only (no document bytes are loaded).
am::Result<std::vector<am::repo::DocumentId>> list_store_documents(am::repo::StorageAdapter& storage);

}  // namespace amrepo
