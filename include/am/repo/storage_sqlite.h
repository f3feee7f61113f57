// A StorageAdapter over one SQLite 3 database file in WAL mode.
//
// Schema: `CREATE TABLE chunks(key TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID`, where key is the
// key's components joined with '/' (storage_key_to_string). Since components contain no '/', a
// component-wise prefix P is exactly `key = P OR (key >= P || '/' AND key < P || '0')` ('0' is the
// character after '/'), two range scans of the primary key.
//
// Each call is one autocommit statement, so it is atomic. With `synchronous=FULL` (the default
// here) a finished save or remove survives power loss.
//
// Threading: a small pool of connections, each used by one thread at a time; a call takes an
// idle connection (or opens a new one) and returns it when done, so there are at most as many
// connections as concurrent callers. In WAL mode readers then run in parallel with each other
// and with the one writer; writers queue on SQLite's lock, waiting up to the busy timeout. The
// same busy timeout makes two processes sharing the file wait for each other instead of failing.
#pragma once

#include <memory>
#include <string>

#include "am/repo/storage.h"

namespace am::repo {

/// How open_sqlite_storage uses the database.
struct SqliteStorageOptions {
  /// How long a call waits for another connection's (or process's) lock before failing with
  /// kIOError ("database is locked").
  int busy_timeout_ms = 10000;
  /// PRAGMA synchronous=FULL (true) or NORMAL (false: may lose the last commits on power loss,
  /// never corrupts).
  bool full_sync = true;
};

/// Opens (creating it if needed) the database file at `path`, switches it to WAL mode and
/// creates the table. kIOError if the file cannot be opened or WAL mode is unavailable (e.g.
/// ":memory:"), kCorruption if it is not a SQLite database.
/// Thread safety: as StorageAdapter.
[[nodiscard]] Result<std::unique_ptr<StorageAdapter>> open_sqlite_storage(
    const std::string& path, SqliteStorageOptions options = {});

}  // namespace am::repo
