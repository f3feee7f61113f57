// PostgreSQL StorageAdapter (see include/am/repo/storage_postgres.h): one table keyed by the
// '/'-joined key, reached through a pool of libpq connections each used by one thread at a time.
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "am/repo/storage_postgres.h"
#include "repo/storage/storage_util.h"

namespace am::repo {
namespace {

constexpr std::string_view kWhat = "postgres storage";
// Pause before retry n (n from 1) of a transient failure: kRetryBasePause << n (40, 80, 160 ms...).
constexpr std::chrono::milliseconds kRetryBasePause{20};

// The NOTIFY channel of every store; the payload names the table (see notify_payload).
constexpr const char* kChannel = "amrepo_changes";

// Owns a PGresult.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// Owns a PGconn.
struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, ConnDeleter>;

// libpq prints server notices ("relation ... already exists, skipping") to stderr by default.
void ignore_notice(void*, const char*) {}

std::string trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "host=... port=... dbname=... user=..." of a connection (also of a failed one), never the
// password: for messages.
std::string describe(const PGconn* c) {
  std::string out;
  auto add = [&](const char* name, const char* value) {
    if (value == nullptr || *value == '\0') return;
    if (!out.empty()) out += ' ';
    out += name;
    out += '=';
    out += value;
  };
  add("host", PQhost(c));
  add("port", PQport(c));
  add("dbname", PQdb(c));
  add("user", PQuser(c));
  return out;
}

// Whether a failed statement may succeed when run again (on a reset connection if it broke).
bool is_transient(const char* sqlstate, bool connection_bad) {
  if (connection_bad) return true;
  if (sqlstate == nullptr) return false;
  const std::string_view s(sqlstate);
  return s == "40001" ||            // serialization_failure
         s == "40P01" ||            // deadlock_detected
         s.substr(0, 2) == "08" ||  // connection_exception
         s == "57P01" ||            // admin_shutdown (the server is restarting)
         s == "57P02" ||            // crash_shutdown
         s == "57P03";              // cannot_connect_now (still starting up)
}

// Parameters of one statement: binary values with explicit lengths.
class Params {
 public:
  void add(std::string_view v) { add_raw(v.data(), v.size()); }
  void add(ByteView v) { add_raw(reinterpret_cast<const char*>(v.data()), v.size()); }
  int count() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void add_raw(const char* data, std::size_t size) {
    // A null pointer would be SQL NULL; an empty value needs some non-null address.
    static const char kEmpty = 0;
    values_.push_back(size == 0 ? &kEmpty : data);
    lengths_.push_back(static_cast<int>(size));
    formats_.push_back(1);
  }
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// The SQL of one table. The name is validated, and quoted anyway.
struct Statements {
  explicit Statements(const std::string& table) {
    const std::string t = "\"" + table + "\"";
    // $1 = joined prefix P, $2 = P + "/", $3 = P + "0" ('0' is '/' + 1): the keys equal to P or
    // starting with P + "/", i.e. the component-wise prefix P, as two primary-key range scans.
    const std::string range = " WHERE key = $1 OR (key >= $2 AND key < $3)";
    schema = "CREATE TABLE IF NOT EXISTS " + t +
             "(key TEXT COLLATE \"C\" PRIMARY KEY, data BYTEA NOT NULL)";
    load = "SELECT data FROM " + t + " WHERE key = $1";
    save = "INSERT INTO " + t + "(key, data) VALUES($1, $2) ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data";
    // The same upsert, plus a notification ($3) that is sent when it commits.
    save_notify = "WITH saved AS (" + save + " RETURNING key) SELECT pg_notify('" + kChannel +
                  "', $3) FROM saved";
    remove = "DELETE FROM " + t + " WHERE key = $1";
    load_range = "SELECT key, data FROM " + t + range;
    load_all = "SELECT key, data FROM " + t;
    keys_range = "SELECT key FROM " + t + range;
    keys_all = "SELECT key FROM " + t;
    remove_range = "DELETE FROM " + t + range;
    remove_all = "DELETE FROM " + t;
  }
  std::string schema, load, save, save_notify, remove, load_range, load_all, keys_range, keys_all, remove_range,
      remove_all;
};

// The parameters of a prefix query (see Statements) for `prefix`, none for the empty prefix:
// the joined key P itself, and the range [P + '/', P + '0') of the keys below it. Params points
// into the strings here, so this object stays where it was made.
struct PrefixRange {
  explicit PrefixRange(const StorageKey& prefix)
      : joined(storage_key_to_string(prefix)), lo(joined + "/"), hi(joined + "0") {
    if (prefix.empty()) return;
    params.add(joined);
    params.add(lo);
    params.add(hi);
  }
  PrefixRange(const PrefixRange&) = delete;
  PrefixRange& operator=(const PrefixRange&) = delete;
  const std::string joined, lo, hi;
  Params params;
};

Bytes value_bytes(const PGresult* r, int row, int col) {
  const char* data = PQgetvalue(r, row, col);
  const int n = PQgetlength(r, row, col);
  if (data == nullptr || n <= 0) return {};
  const auto* p = reinterpret_cast<const std::uint8_t*>(data);
  return Bytes(p, p + n);
}

// Opens one connection: UTF-8 client encoding, notices silenced. kIOError naming the server
// (never the password) when it cannot be reached.
// TCP keepalives (on by default for the LISTEN connection, which may sit idle for hours) make a
// vanished server show up as a broken connection within about a minute.
Result<PgConn> connect(const std::string& conninfo, const PostgresStorageOptions& options) {
  const std::string timeout = std::to_string(options.connect_timeout_s);
  // Later keywords override earlier ones; `dbname` expands to the whole conninfo. So conninfo
  // may override the timeout, keepalives and application name, but not the client encoding.
  const std::array<const char*, 8> keywords = {"connect_timeout", "application_name", "keepalives_idle",
                                               "keepalives_interval", "keepalives_count", "dbname",
                                               "client_encoding", nullptr};
  const std::array<const char*, 8> values = {timeout.c_str(), "amrepo", "30", "10", "3",
                                             conninfo.c_str(), "UTF8", nullptr};
  PgConn c(PQconnectdbParams(keywords.data(), values.data(), 1));
  if (c == nullptr) return fail(Error::io_error(kWhat, "cannot connect to PostgreSQL: out of memory"));
  if (PQstatus(c.get()) != CONNECTION_OK) {
    return fail(Error::io_error(kWhat, "cannot connect to PostgreSQL (" + describe(c.get()) +
                                           "): " + trimmed(PQerrorMessage(c.get()))));
  }
  PQsetNoticeProcessor(c.get(), ignore_notice, nullptr);
  return c;
}

// "TABLE\tORIGIN\tKEY": a save of KEY in TABLE by the adapter instance ORIGIN.
std::string notify_payload(const std::string& table, const std::string& origin, const std::string& key) {
  return table + "\t" + origin + "\t" + key;
}

// A LISTEN connection on its own thread (see StorageChangeFeed::watch).
class PostgresWatch final : public StorageWatch {
 public:
  using Callback = std::function<void(const StorageKey&)>;

  PostgresWatch(std::string conninfo, PostgresStorageOptions options, std::string origin, Callback on_saved)
      : conninfo_(std::move(conninfo)), options_(std::move(options)), origin_(std::move(origin)),
        on_saved_(std::move(on_saved)) {}

  Status start() {
    if (::pipe2(wake_.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
      return fail(Error::io_error(kWhat, "listen: cannot create a pipe"));
    }
    AM_TRY_ASSIGN(conn_, listen());
    thread_ = std::thread([this] { run(); });
    return {};
  }

  ~PostgresWatch() override {
    if (thread_.joinable()) {
      stop_ = true;
      const char byte = 1;
      [[maybe_unused]] const auto n = ::write(wake_[1], &byte, 1);
      thread_.join();
    }
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }

 private:
  Result<PgConn> listen() {
    AM_TRY_ASSIGN(PgConn c, connect(conninfo_, options_));
    PgResult r(PQexec(c.get(), (std::string("LISTEN ") + kChannel).c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      return fail(Error::io_error(kWhat, "LISTEN " + std::string(kChannel) + ": " +
                                             trimmed(PQresultErrorMessage(r.get()))));
    }
    return c;
  }

  // Waits for the socket (or, with fd < 0, only for the wake pipe) up to `timeout_ms`
  // (-1: forever). False when woken to stop.
  bool wait(int fd, int timeout_ms) {
    std::array<pollfd, 2> fds{pollfd{wake_[0], POLLIN, 0}, pollfd{fd, POLLIN, 0}};
    ::poll(fds.data(), fd >= 0 ? 2 : 1, timeout_ms);
    return !stop_;
  }

  void deliver() {
    while (PGnotify* n = PQnotifies(conn_.get())) {
      const std::string_view payload(n->extra != nullptr ? n->extra : "");
      const auto tab1 = payload.find('\t');
      const auto tab2 = tab1 == std::string_view::npos ? tab1 : payload.find('\t', tab1 + 1);
      if (tab2 != std::string_view::npos && payload.substr(0, tab1) == options_.table &&
          payload.substr(tab1 + 1, tab2 - tab1 - 1) != origin_ && tab2 + 1 < payload.size()) {
        on_saved_(storage_key_from_string(payload.substr(tab2 + 1)));
      }
      PQfreemem(n);
    }
  }

  void run() {
    int backoff_ms = 100;
    while (!stop_) {
      if (!conn_) {
        if (!wait(-1, backoff_ms)) return;
        backoff_ms = std::min(backoff_ms * 2, 5000);
        auto c = listen();
        if (!c) continue;
        conn_ = std::move(*c);
        backoff_ms = 100;
        on_saved_({});  // saves made while we were away were not reported
        continue;
      }
      deliver();  // including any that arrived with the reply to LISTEN
      if (!wait(PQsocket(conn_.get()), -1)) return;
      if (PQconsumeInput(conn_.get()) == 0) {
        conn_.reset();  // lost: reconnect, then report that changes may have been missed
        continue;
      }
    }
  }

  const std::string conninfo_;
  const PostgresStorageOptions options_;
  const std::string origin_;
  const Callback on_saved_;
  PgConn conn_;                  // used by the thread only, once started
  std::array<int, 2> wake_{-1, -1};  // a byte in the pipe wakes the thread to stop
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A random name for one adapter instance, so that its feed can skip its own notifications.
std::string random_origin() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

class PostgresStorage final : public StorageAdapter, public StorageChangeFeed {
 public:
  PostgresStorage(std::string conninfo, PostgresStorageOptions options)
      : conninfo_(std::move(conninfo)), options_(std::move(options)), sql_(options_.table),
        origin_(random_origin()) {}

  StorageChangeFeed* change_feed() override { return this; }

  Result<std::unique_ptr<StorageWatch>> watch(std::function<void(const StorageKey&)> on_saved) override {
    auto w = std::make_unique<PostgresWatch>(conninfo_, options_, origin_, std::move(on_saved));
    AM_TRY_STATUS(w->start());
    return std::unique_ptr<StorageWatch>(std::move(w));
  }

  // Creates the table on a first connection, which then goes to the pool.
  Status start() {
    AM_TRY_ASSIGN(PgConn c, connect(conninfo_, options_));
    const char* encoding = PQparameterStatus(c.get(), "server_encoding");
    if (encoding != nullptr && std::strcmp(encoding, "UTF8") != 0 &&
        std::strcmp(encoding, "SQL_ASCII") != 0) {
      return fail(Error::io_error(kWhat, "database (" + describe(c.get()) + ") has encoding " +
                                             encoding + "; keys need UTF8"));
    }
    ++open_;
    Lease lease(this, std::move(c));
    // Two processes creating the table at once collide in the catalog (unique_violation,
    // duplicate_table or duplicate_object for the row type); the loser runs the statement again
    // and then finds the table.
    AM_TRY_ASSIGN(PgResult r, run(lease, "create table", sql_.schema, Params{},
                                  {"23505", "42P07", "42710"}));
    return {};
  }

  Result<std::optional<Bytes>> load(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    const std::string joined = storage_key_to_string(key);
    Params p;
    p.add(joined);
    AM_TRY_ASSIGN(Lease lease, acquire());
    AM_TRY_ASSIGN(PgResult r, run(lease, "load " + joined, sql_.load, p));
    if (PQntuples(r.get()) == 0) return std::optional<Bytes>();
    return std::optional<Bytes>(value_bytes(r.get(), 0, 0));
  }

  Status save(const StorageKey& key, ByteView data) override {
    AM_TRY_STATUS(validate_storage_key(key));
    const std::string joined = storage_key_to_string(key);
    Params p;
    p.add(joined);
    p.add(data);
    const std::string payload = notify_payload(options_.table, origin_, joined);
    if (options_.notify_saves) p.add(payload);
    AM_TRY_ASSIGN(Lease lease, acquire());
    AM_TRY_ASSIGN(PgResult r, run(lease, "save " + joined,
                                  options_.notify_saves ? sql_.save_notify : sql_.save, p));
    return {};
  }

  Status remove(const StorageKey& key) override {
    AM_TRY_STATUS(validate_storage_key(key));
    const std::string joined = storage_key_to_string(key);
    Params p;
    p.add(joined);
    AM_TRY_ASSIGN(Lease lease, acquire());
    AM_TRY_ASSIGN(PgResult r, run(lease, "remove " + joined, sql_.remove, p));
    return {};
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
    const PrefixRange range(prefix);
    AM_TRY_ASSIGN(Lease lease, acquire());
    AM_TRY_ASSIGN(PgResult r, run(lease, "load_range " + range.joined,
                                  with_data ? (prefix.empty() ? sql_.load_all : sql_.load_range)
                                            : (prefix.empty() ? sql_.keys_all : sql_.keys_range),
                                  range.params));
    std::vector<StorageEntry> out;
    const int rows = PQntuples(r.get());
    out.reserve(static_cast<std::size_t>(rows));
    for (int i = 0; i < rows; ++i) {
      const int len = PQgetlength(r.get(), i, 0);
      if (len <= 0) continue;
      out.emplace_back(storage_key_from_string(std::string_view(PQgetvalue(r.get(), i, 0),
                                                   static_cast<std::size_t>(len))),
                       with_data ? value_bytes(r.get(), i, 1) : Bytes{});
    }
    return out;
  }

  Status remove_range(const StorageKey& prefix) override {
    AM_TRY_STATUS(validate_storage_prefix(prefix));
    const PrefixRange range(prefix);
    AM_TRY_ASSIGN(Lease lease, acquire());
    AM_TRY_ASSIGN(PgResult r, run(lease, "remove_range " + range.joined,
                                  prefix.empty() ? sql_.remove_all : sql_.remove_range, range.params));
    return {};
  }

 private:
  // A connection taken from the pool for one call; returned to it on destruction.
  struct Lease {
    PostgresStorage* owner = nullptr;
    PgConn conn;
    Lease(PostgresStorage* o, PgConn c) : owner(o), conn(std::move(c)) {}
    Lease(Lease&& other) noexcept : owner(other.owner), conn(std::move(other.conn)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn) owner->release(std::move(conn));
    }
  };

  Result<Lease> acquire() {
    {
      std::unique_lock lock(mutex_);
      returned_.wait(lock, [&] { return !idle_.empty() || open_ < options_.max_connections; });
      if (!idle_.empty()) {
        PgConn c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
      }
      ++open_;  // reserves the slot while connecting outside the lock
    }
    auto c = connect(conninfo_, options_);
    if (!c) {
      std::lock_guard lock(mutex_);
      --open_;
      returned_.notify_one();
      return fail(std::move(c).error());
    }
    return Lease(this, std::move(*c));
  }

  void release(PgConn c) {
    std::lock_guard lock(mutex_);
    if (PQstatus(c.get()) == CONNECTION_OK && PQtransactionStatus(c.get()) == PQTRANS_IDLE) {
      idle_.push_back(std::move(c));
    } else {
      c.reset();  // broken: the next caller opens a fresh one
      --open_;
    }
    returned_.notify_one();
  }

  // Runs `sql` with binary parameters and binary results on the lease's connection, again (up
  // to max_attempts in all, with a short growing pause) while it fails transiently or with one
  // of `also_retry`. A broken connection is reset before the next attempt.
  Result<PgResult> run(Lease& lease, const std::string& op, const std::string& sql,
                       const Params& p, std::initializer_list<std::string_view> also_retry = {}) {
    PGconn* c = lease.conn.get();
    const int attempts = options_.max_attempts < 1 ? 1 : options_.max_attempts;
    Error last;
    for (int attempt = 1;; ++attempt) {
      if (PQstatus(c) != CONNECTION_OK) PQreset(c);
      if (PQstatus(c) != CONNECTION_OK) {
        last = Error::io_error(kWhat, op + ": cannot connect to PostgreSQL (" + describe(c) +
                                          "): " + trimmed(PQerrorMessage(c)));
      } else {
        PgResult r(PQexecParams(c, sql.c_str(), p.count(), nullptr, p.values(), p.lengths(),
                                p.formats(), 1));
        const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
        const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
        const bool bad = PQstatus(c) != CONNECTION_OK;
        const char* primary = r ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
        std::string message = op + ": " + (primary != nullptr ? trimmed(primary) : trimmed(PQerrorMessage(c)));
        if (state != nullptr) message += std::string(" (SQLSTATE ") + state + ")";
        const bool limit = state != nullptr && std::string_view(state).substr(0, 2) == "54";
        last = limit ? Error::resource_limit(kWhat, message) : Error::io_error(kWhat, message);
        bool retry = is_transient(state, bad);
        for (std::string_view s : also_retry) retry = retry || (state != nullptr && s == state);
        if (!retry) return fail(std::move(last));
      }
      if (attempt >= attempts) return fail(std::move(last));
      std::this_thread::sleep_for(kRetryBasePause * (1 << attempt));
    }
  }

  const std::string conninfo_;
  const PostgresStorageOptions options_;
  const Statements sql_;
  const std::string origin_;         // names this instance in its notifications
  std::mutex mutex_;                 // guards idle_ and open_
  std::condition_variable returned_; // a connection came back to idle_ or a slot was freed
  std::vector<PgConn> idle_;         // open connections no call is using
  std::size_t open_ = 0;             // connections open (idle or leased) or being opened
};

}  // namespace

Status validate_postgres_table_name(const std::string& table) {
  bool ok = !table.empty() && table.size() <= 63 && !(table[0] >= '0' && table[0] <= '9');
  for (char ch : table) ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
  if (!ok) {
    return fail(Error::invalid_argument(
        kWhat, "table name \"" + table + "\" must be 1-63 of [a-z0-9_], not starting with a digit"));
  }
  return {};
}

Result<std::unique_ptr<StorageAdapter>> open_postgres_storage(const std::string& conninfo,
                                                              PostgresStorageOptions options) {
  AM_TRY_STATUS(validate_postgres_table_name(options.table));
  if (options.max_connections == 0) options.max_connections = 1;
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error != nullptr ? trimmed(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return fail(Error::invalid_argument(kWhat, "bad connection string: " + why));
  }
  PQconninfoFree(parsed);
  auto store = std::make_unique<PostgresStorage>(conninfo, std::move(options));
  AM_TRY_STATUS(store->start());
  return std::unique_ptr<StorageAdapter>(std::move(store));
}

}  // namespace am::repo
