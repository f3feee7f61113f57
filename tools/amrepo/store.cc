#include "store.h"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "am/repo/storage_fs.h"
#include "am/repo/storage_memory.h"
#include "am/repo/storage_sqlite.h"
#ifdef AM_HAVE_POSTGRES
#include "am/repo/storage_postgres.h"
#endif

namespace amrepo {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kPostgresPrefix = "postgres:";
constexpr std::string_view kMemoryName = "memory:";

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

am::Error bad_store(const std::string& text, const std::string& why) {
  return am::Error::invalid_argument("store", "\"" + text + "\": " + why +
                                                  " (expected DIR, sqlite:FILE, postgres:CONNINFO or memory:)");
}

template <typename Adapter>
std::shared_ptr<am::repo::StorageAdapter> share(std::unique_ptr<Adapter> adapter) {
  return std::shared_ptr<am::repo::StorageAdapter>(std::move(adapter));
}

}  // namespace

std::string StoreSpec::to_string() const {
  switch (kind) {
    case Kind::kFiles: return location;
    case Kind::kSqlite: return std::string(kSqlitePrefix) + location;
    case Kind::kPostgres: return std::string(kPostgresPrefix) + location;
    case Kind::kMemory: return std::string(kMemoryName);
  }
  return location;
}

std::string StoreSpec::display_name() const {
  if (kind != Kind::kPostgres) return to_string();
  // password=VALUE (quoted or not) in key=value strings; user:PASSWORD@ in URIs.
  static const std::regex kKeyValue(R"((password\s*=\s*)('[^']*'|\S+))");
  static const std::regex kUri(R"((://[^:/@]+:)[^@]*@)");
  std::string out = std::regex_replace(to_string(), kKeyValue, "$1***");
  return std::regex_replace(out, kUri, "$1***@");
}

am::Result<StoreSpec> parse_store(const std::string& text) {
  if (text.empty()) return am::fail(bad_store(text, "empty"));
  StoreSpec spec;
  if (text == kMemoryName) {
    spec.kind = StoreSpec::Kind::kMemory;
    return spec;
  }
  if (starts_with(text, kSqlitePrefix)) {
    spec.kind = StoreSpec::Kind::kSqlite;
    spec.location = text.substr(kSqlitePrefix.size());
  } else if (starts_with(text, kPostgresPrefix)) {
    spec.kind = StoreSpec::Kind::kPostgres;
    spec.location = text.substr(kPostgresPrefix.size());
    // A postgres:// or postgresql:// URI is a connection string as it stands.
    if (starts_with(spec.location, "//")) spec.location = text;
  } else if (starts_with(text, "postgresql://")) {
    spec.kind = StoreSpec::Kind::kPostgres;
    spec.location = text;
  } else {
    spec.location = text;
  }
  if (spec.location.empty()) return am::fail(bad_store(text, "nothing after the prefix"));
  return spec;
}

am::Result<StoreSpec> legacy_store(const std::string& kind, const std::string& dir, const std::string& pg) {
  if (kind == "fs") return parse_store(dir);
  if (kind == "sqlite") return StoreSpec{StoreSpec::Kind::kSqlite, (std::filesystem::path(dir) / "amrepo.sqlite").string()};
  if (kind == "postgres") {
    if (pg.empty()) {
      return am::fail(am::Error::invalid_argument(
          "--storage", "postgres needs --pg CONNINFO (e.g. \"host=127.0.0.1 dbname=amrepo\"), or --data postgres:CONNINFO"));
    }
    return StoreSpec{StoreSpec::Kind::kPostgres, pg};
  }
  return am::fail(am::Error::invalid_argument("--storage", "must be fs, sqlite or postgres"));
}

am::Result<std::shared_ptr<am::repo::StorageAdapter>> open_store(const StoreSpec& spec, const OpenStoreOptions& options) {
  std::error_code ec;
  switch (spec.kind) {
    case StoreSpec::Kind::kMemory: return share(am::repo::make_memory_storage());
    case StoreSpec::Kind::kPostgres: {
#ifdef AM_HAVE_POSTGRES
      am::repo::PostgresStorageOptions pg_options;
      pg_options.notify_saves = options.notify_saves;
      auto s = am::repo::open_postgres_storage(spec.location, pg_options);
      if (!s) return am::fail(s.error());
      return share(std::move(*s));
#else
      return am::fail(am::Error::unsupported("postgres: store", "this amrepo was built without libpq"));
#endif
    }
    case StoreSpec::Kind::kSqlite: {
      const auto parent = std::filesystem::path(spec.location).parent_path();
      if (options.create && !parent.empty()) std::filesystem::create_directories(parent, ec);
      auto s = am::repo::open_sqlite_storage(spec.location);
      if (!s) return am::fail(s.error());
      return share(std::move(*s));
    }
    case StoreSpec::Kind::kFiles: {
      if (options.create) std::filesystem::create_directories(spec.location, ec);
      auto s = am::repo::open_fs_storage(spec.location);
      if (!s) return am::fail(s.error());
      return share(std::move(*s));
    }
  }
  return am::fail(am::Error::internal("open_store", "unknown store kind"));
}

am::Result<std::vector<am::repo::DocumentId>> list_store_documents(am::repo::StorageAdapter& storage) {
  auto keys = storage.list_keys({});
  if (!keys) return am::fail(keys.error());
  std::set<std::string> names;
  for (const auto& key : *keys) {
    if (am::repo::is_document_chunk_key(key)) names.insert(key[0]);
  }
  std::vector<am::repo::DocumentId> out;
  for (const auto& name : names) {
    if (auto id = am::repo::DocumentId::parse(name)) out.push_back(*id);
  }
  return out;
}

}  // namespace amrepo
