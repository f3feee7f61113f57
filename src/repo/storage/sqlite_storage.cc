// SQLite StorageAdapter (see include/am/repo/storage_sqlite.h): one WITHOUT ROWID table keyed by
// the '/'-joined key, a pool of connections each used by one thread at a time.
#include <sqlite3.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "am/repo/storage_sqlite.h"
#include "repo/storage/storage_util.h"

namespace am::repo {
namespace {

enum Stmt : std::size_t { kLoad, kSave, kRemove, kRange, kAll, kRemoveRange, kRemoveAll, kKeysRange, kKeysAll, kCount };

// ?1 = joined prefix P, ?2 = P + "/", ?3 = P + "0" ('0' is '/' + 1): the keys equal to P or
// starting with P + "/", i.e. the component-wise prefix P, as two primary-key range scans.
constexpr std::array<const char*, kCount> kSql = {
    "SELECT data FROM chunks WHERE key = ?1",
    "INSERT OR REPLACE INTO chunks(key, data) VALUES(?1, ?2)",
    "DELETE FROM chunks WHERE key = ?1",
    "SELECT key, data FROM chunks WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
    "SELECT key, data FROM chunks",
    "DELETE FROM chunks WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
    "DELETE FROM chunks",
    "SELECT key, NULL FROM chunks WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
    "SELECT key, NULL FROM chunks",
};

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS chunks(key TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID";

Error sqlite_error(const std::string& path, std::string_view op, sqlite3* db, int rc) {
  std::string msg = path + ": " + std::string(op) + ": " +
                    (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Error::corruption("sqlite storage", msg);
    case SQLITE_TOOBIG:
      return Error::resource_limit("sqlite storage", msg);
    default:
      return Error::io_error("sqlite storage", msg);
  }
}

// One open database handle with its prepared statements. Used by one thread at a time.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  // Opens `path`; `setup` (the first connection of a store) also switches to WAL and creates the
  // table.
  static Result<std::unique_ptr<Connection>> open(const std::string& path,
                                                  const SqliteStorageOptions& options,
                                                  bool setup) {
    auto c = std::make_unique<Connection>();
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                      SQLITE_OPEN_EXRESCODE;
    if (const int rc = sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr); rc != SQLITE_OK) {
      return fail(sqlite_error(path, "open", c->db_, rc));
    }
    sqlite3_busy_timeout(c->db_, options.busy_timeout_ms);
    if (setup) {
      AM_TRY_ASSIGN(const std::string mode, c->query_text(path, "PRAGMA journal_mode=WAL"));
      if (mode != "wal") {
        return fail(Error::io_error("sqlite storage",
                                    path + ": cannot use WAL mode (journal_mode is " + mode + ")"));
      }
      AM_TRY_STATUS(c->exec(path, kSchema));
    }
    AM_TRY_STATUS(c->exec(path, options.full_sync ? "PRAGMA synchronous=FULL"
                                                  : "PRAGMA synchronous=NORMAL"));
    for (std::size_t i = 0; i < kCount; ++i) {
      const int rc = sqlite3_prepare_v3(c->db_, kSql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                        &c->stmts_[i], nullptr);
      if (rc != SQLITE_OK) return fail(sqlite_error(path, kSql[i], c->db_, rc));
    }
    return c;
  }

  sqlite3* db() const { return db_; }
  sqlite3_stmt* stmt(Stmt s) const { return stmts_[s]; }

 private:
  Status exec(const std::string& path, const char* sql) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(path, sql, db_, rc));
    return {};
  }

  Result<std::string> query_text(const std::string& path, const char* sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(path, sql, db_, rc));
    rc = sqlite3_step(s);
    std::string out;
    if (rc == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(s, 0);
      if (text != nullptr) out = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(sqlite_error(path, sql, db_, rc));
    return out;
  }

  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kCount> stmts_{};
};

// Resets a statement (and drops its bindings) when a call is done with it, however it ends.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* s) : s_(s) {}
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  ~StmtUse() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

// The text bound to ?n must outlive the statement's use (SQLITE_STATIC).
void bind_text(sqlite3_stmt* s, int index, const std::string& text) {
  sqlite3_bind_text64(s, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

Bytes column_bytes(sqlite3_stmt* s, int col) {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, col));
  const int n = sqlite3_column_bytes(s, col);
  if (data == nullptr || n <= 0) return {};
  return Bytes(data, data + n);
}

class SqliteStorage final : public StorageAdapter {
 public:
  SqliteStorage(std::string path, SqliteStorageOptions options,
                std::unique_ptr<Connection> first)
      : path_(std::move(path)), options_(options) {
    idle_.push_back(std::move(first));
  }

  Result<std::optional<Bytes>> load(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    AM_TRY_ASSIGN(Lease lease, acquire());
    const std::string joined = storage_key_to_string(key);
    StmtUse use(lease.conn->stmt(kLoad));
    bind_text(use.get(), 1, joined);
    const int rc = sqlite3_step(use.get());
    if (rc == SQLITE_ROW) return std::optional<Bytes>(column_bytes(use.get(), 0));
    if (rc == SQLITE_DONE) return std::optional<Bytes>();
    return fail(error(lease, "load " + joined, rc));
  }

  Status save(const StorageKey& key, ByteView data) override {
    AM_TRY_STATUS(validate_storage_key(key));
    AM_TRY_ASSIGN(Lease lease, acquire());
    const std::string joined = storage_key_to_string(key);
    StmtUse use(lease.conn->stmt(kSave));
    bind_text(use.get(), 1, joined);
    if (data.empty()) {
      sqlite3_bind_zeroblob(use.get(), 2, 0);  // a null pointer would bind NULL, not a blob
    } else {
      sqlite3_bind_blob64(use.get(), 2, data.data(), data.size(), SQLITE_STATIC);
    }
    return step_done(lease, use, "save " + joined);
  }

  Status remove(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    AM_TRY_ASSIGN(Lease lease, acquire());
    const std::string joined = storage_key_to_string(key);
    StmtUse use(lease.conn->stmt(kRemove));
    bind_text(use.get(), 1, joined);
    return step_done(lease, use, "remove " + joined);
  }

  Result<std::vector<StorageEntry>> load_range(const StorageKey& prefix) override {
    return scan(prefix, true);
  }

  Result<std::vector<StorageKey>> list_keys(const StorageKey& prefix) override {
    AM_TRY_ASSIGN(auto entries, scan(prefix, false));
    return storage::keys_of(std::move(entries));
  }

  // The entries under `prefix`, with their values or (with_data false) empty values.
  Result<std::vector<StorageEntry>> scan(const StorageKey& prefix, bool with_data) {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    AM_TRY_ASSIGN(Lease lease, acquire());
    const std::string joined = storage_key_to_string(prefix);
    const std::string lo = joined + "/";
    const std::string hi = joined + "0";
    StmtUse use(lease.conn->stmt(with_data ? (prefix.empty() ? kAll : kRange) : (prefix.empty() ? kKeysAll : kKeysRange)));
    if (!prefix.empty()) {
      bind_text(use.get(), 1, joined);
      bind_text(use.get(), 2, lo);
      bind_text(use.get(), 3, hi);
    }
    std::vector<StorageEntry> out;
    for (;;) {
      const int rc = sqlite3_step(use.get());
      if (rc == SQLITE_DONE) return out;
      if (rc != SQLITE_ROW) return fail(error(lease, "scan " + joined, rc));
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(use.get(), 0));
      const int len = sqlite3_column_bytes(use.get(), 0);
      if (text == nullptr || len <= 0) continue;
      out.emplace_back(storage_key_from_string(std::string_view(text, static_cast<std::size_t>(len))),
                       with_data ? column_bytes(use.get(), 1) : Bytes{});
    }
  }

  Status remove_range(const StorageKey& prefix) override {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    AM_TRY_ASSIGN(Lease lease, acquire());
    const std::string joined = storage_key_to_string(prefix);
    const std::string lo = joined + "/";
    const std::string hi = joined + "0";
    StmtUse use(lease.conn->stmt(prefix.empty() ? kRemoveAll : kRemoveRange));
    if (!prefix.empty()) {
      bind_text(use.get(), 1, joined);
      bind_text(use.get(), 2, lo);
      bind_text(use.get(), 3, hi);
    }
    return step_done(lease, use, "remove_range " + joined);
  }

 private:
  // A connection taken from the pool for one call; returned to it on destruction.
  struct Lease {
    SqliteStorage* owner = nullptr;
    std::unique_ptr<Connection> conn;
    Lease(SqliteStorage* o, std::unique_ptr<Connection> c) : owner(o), conn(std::move(c)) {}
    Lease(Lease&& other) noexcept : owner(other.owner), conn(std::move(other.conn)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn) owner->release(std::move(conn));
    }
  };

  Result<Lease> acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
      }
    }
    AM_TRY_ASSIGN(auto c, Connection::open(path_, options_, false));
    return Lease(this, std::move(c));
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(c));
  }

  Error error(const Lease& lease, const std::string& op, int rc) const {
    return sqlite_error(path_, op, lease.conn->db(), rc);
  }

  Status step_done(const Lease& lease, const StmtUse& use, const std::string& op) const {
    const int rc = sqlite3_step(use.get());
    if (rc != SQLITE_DONE) return fail(error(lease, op, rc));
    return {};
  }

  const std::string path_;
  const SqliteStorageOptions options_;
  std::mutex mutex_;                               // guards idle_
  std::vector<std::unique_ptr<Connection>> idle_;  // open connections no call is using
};

}  // namespace

Result<std::unique_ptr<StorageAdapter>> open_sqlite_storage(const std::string& path,
                                                            SqliteStorageOptions options) {
  if (path.empty() || path == ":memory:") {
    return fail(Error::invalid_argument("sqlite storage", "needs a database file path"));
  }
  AM_TRY_ASSIGN(auto first, Connection::open(path, options, true));
  return std::unique_ptr<StorageAdapter>(
      std::make_unique<SqliteStorage>(path, options, std::move(first)));
}

}  // namespace am::repo
