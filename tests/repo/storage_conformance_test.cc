// One conformance suite for every StorageAdapter (house style rule 11, after automerge-repo's
// helpers/tests/storage-adapter-tests.ts), then what only one adapter promises: the nodefs
// layout on disk, crashed writes, several instances and processes on one directory or file.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/test_bytes.h"
#include "am/repo/storage.h"
#include "am/repo/storage_fs.h"
#include "am/repo/storage_memory.h"
#include "am/repo/storage_sqlite.h"
#ifdef AM_HAVE_POSTGRES
#include <libpq-fe.h>

#include "am/repo/storage_postgres.h"
#include "support/pg_test_server.h"
#endif

namespace am::repo {
namespace {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* env = std::getenv("TMPDIR");
    std::string tmpl = std::string(env != nullptr && *env != '\0' ? env : "/tmp") +
                       "/am-storage-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- data helpers --------------------------------------------------------------------------

// Deterministic pseudo-random bytes (xorshift32), different for each seed.
using am::test::pattern;
using am::test::text;

// A 64-hex-digit string like the repo's chunk hashes.
std::string hash_name(std::uint32_t n) { return to_hex(pattern(32, n + 1000)); }

// A value that carries its own checksum: 8 bytes (id, size) then pattern(size, id). A reader can
// tell a complete value from a torn one without knowing which write it came from.
Bytes self_checking(std::uint32_t id, std::size_t size) {
  Bytes out(8);
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(id >> (8 * i));
  const auto size32 = static_cast<std::uint32_t>(size);
  for (int i = 0; i < 4; ++i) {
    out[static_cast<std::size_t>(4 + i)] = static_cast<std::uint8_t>(size32 >> (8 * i));
  }
  const Bytes body = pattern(size, id);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

bool is_self_checking(const Bytes& v) {
  if (v.size() < 8) return false;
  std::uint32_t id = 0;
  std::uint32_t size = 0;
  for (int i = 3; i >= 0; --i) id = (id << 8) | v[static_cast<std::size_t>(i)];
  for (int i = 7; i >= 4; --i) size = (size << 8) | v[static_cast<std::size_t>(i)];
  return v.size() == 8 + std::size_t{size} && Bytes(v.begin() + 8, v.end()) == pattern(size, id);
}

std::string show(const StorageKey& key) { return "[" + storage_key_to_string(key) + "]"; }

// load_range as a map; fails the test on an error or a key returned twice.
std::map<StorageKey, Bytes> range(StorageAdapter& s, const StorageKey& prefix) {
  auto r = s.load_range(prefix);
  EXPECT_TRUE(r) << show(prefix) << ": " << r.error().to_string();
  std::map<StorageKey, Bytes> out;
  if (!r) return out;
  for (auto& [k, v] : *r) {
    EXPECT_TRUE(out.emplace(k, std::move(v)).second) << "duplicate key " << show(k);
  }
  return out;
}

std::set<StorageKey> range_keys(StorageAdapter& s, const StorageKey& prefix) {
  std::set<StorageKey> out;
  for (auto& [k, v] : range(s, prefix)) out.insert(k);
  return out;
}

std::optional<Bytes> load(StorageAdapter& s, const StorageKey& key) {
  auto r = s.load(key);
  EXPECT_TRUE(r) << show(key) << ": " << r.error().to_string();
  return r ? *r : std::nullopt;
}

void save(StorageAdapter& s, const StorageKey& key, const Bytes& data) {
  const auto r = s.save(key, data);
  EXPECT_TRUE(r) << show(key) << ": " << r.error().to_string();
}

// Real-looking document ids (bs58check of 16 bytes).
const std::string kDocA = "2tdna9voKYp8AofPknxjEkWkhG3";
const std::string kDocB = "3uDkPC2U9s6LbFqkrCSsqNkyhFTE";

// ---- the adapters --------------------------------------------------------------------------

struct AdapterCase {
  std::string name;
  bool persistent;  // a second open() of the same dir sees the first one's data
  std::function<Result<std::unique_ptr<StorageAdapter>>(const std::string& dir)> open;
  bool needs_postgres = false;  // uses the test binary's PostgreSQL server (support/pg_test_server.h)
};

std::ostream& operator<<(std::ostream& os, const AdapterCase& c) { return os << c.name; }

const AdapterCase kMemory{"memory", false, [](const std::string&) {
                            return Result<std::unique_ptr<StorageAdapter>>(make_memory_storage());
                          }};
const AdapterCase kFs{"fs", true,
                      [](const std::string& dir) { return open_fs_storage(dir + "/data"); }};
const AdapterCase kSqlite{"sqlite", true, [](const std::string& dir) {
                            return open_sqlite_storage(dir + "/store.sqlite");
                          }};

#ifdef AM_HAVE_POSTGRES
// A table of its own for each test, named after the test's temporary directory, so that tests
// do not see each other's data; open() twice with one directory opens the same table.
std::string table_for(const std::string& dir) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016zx", std::hash<std::string>{}(dir));
  return std::string("conformance_") + hex;
}

const AdapterCase kPostgres{"postgres", true,
                            [](const std::string& dir) {
                              PostgresStorageOptions options;
                              options.table = table_for(dir);
                              return open_postgres_storage(
                                  am::test::PostgresTestServer::get().conninfo(), options);
                            },
                            true};
#endif

std::vector<AdapterCase> all_adapters() {
  std::vector<AdapterCase> out{kMemory, kFs, kSqlite};
#ifdef AM_HAVE_POSTGRES
  out.push_back(kPostgres);
#endif
  return out;
}

class StorageConformanceTest : public ::testing::TestWithParam<AdapterCase> {
 protected:
  void SetUp() override {
#ifdef AM_HAVE_POSTGRES
    if (GetParam().needs_postgres) AM_REQUIRE_POSTGRES();
#endif
    auto s = open_another();
    ASSERT_TRUE(s) << s.error().to_string();
    store_ = std::move(*s);
  }

  Result<std::unique_ptr<StorageAdapter>> open_another() { return GetParam().open(dir_.path()); }

  StorageAdapter& store() { return *store_; }

  TempDir dir_;
  std::unique_ptr<StorageAdapter> store_;
};

INSTANTIATE_TEST_SUITE_P(Adapters, StorageConformanceTest,
                         ::testing::ValuesIn(all_adapters()),
                         [](const ::testing::TestParamInfo<AdapterCase>& info) {
                           return info.param.name;
                         });

// ---- basic operations ----------------------------------------------------------------------

TEST_P(StorageConformanceTest, SaveThenLoadReturnsTheBytes) {
  const StorageKey key{kDocA, "incremental", hash_name(1)};
  save(store(), key, text("hello"));
  EXPECT_EQ(load(store(), key), text("hello"));
  const StorageKey single{"storage-adapter-id"};
  save(store(), single, text("030dec61-9573-4874-b500-729d48165c43"));
  EXPECT_EQ(load(store(), single), text("030dec61-9573-4874-b500-729d48165c43"));
}

TEST_P(StorageConformanceTest, MissingKeysLoadAsNothing) {
  EXPECT_EQ(load(store(), {kDocA, "snapshot", hash_name(1)}), std::nullopt);
  EXPECT_EQ(load(store(), {"storage-adapter-id"}), std::nullopt);
  save(store(), {kDocA, "incremental", hash_name(1)}, text("x"));
  EXPECT_EQ(load(store(), {kDocA, "incremental", hash_name(2)}), std::nullopt);
  EXPECT_EQ(load(store(), {kDocA, "snapshot", hash_name(1)}), std::nullopt);
  EXPECT_EQ(load(store(), {kDocB, "incremental", hash_name(1)}), std::nullopt);
  EXPECT_EQ(load(store(), {kDocA, "incremental", hash_name(1), "deeper"}), std::nullopt);
  EXPECT_TRUE(range(store(), {kDocB}).empty());
  EXPECT_TRUE(range(store(), {kDocA, "snapshot"}).empty());
}

TEST_P(StorageConformanceTest, SaveOverwritesTheWholeValue) {
  const StorageKey key{kDocA, "snapshot", hash_name(7)};
  save(store(), key, pattern(1000, 1));
  save(store(), key, text("abc"));
  EXPECT_EQ(load(store(), key), text("abc"));
  save(store(), key, pattern(5000, 2));
  EXPECT_EQ(load(store(), key), pattern(5000, 2));
  const auto all = range(store(), {kDocA});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.begin()->second, pattern(5000, 2));
}

TEST_P(StorageConformanceTest, EmptyValueIsStoredAndDiffersFromMissing) {
  const StorageKey key{kDocA, "incremental", hash_name(3)};
  save(store(), key, {});
  const auto v = load(store(), key);
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->empty());
  const auto all = range(store(), {kDocA, "incremental"});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all.begin()->second.empty());
}

TEST_P(StorageConformanceTest, RemoveDeletesOnlyThatKey) {
  const StorageKey a{kDocA, "incremental", hash_name(1)};
  const StorageKey b{kDocA, "incremental", hash_name(2)};
  save(store(), a, text("a"));
  save(store(), b, text("b"));
  ASSERT_TRUE(store().remove(a));
  EXPECT_EQ(load(store(), a), std::nullopt);
  EXPECT_EQ(load(store(), b), text("b"));
  EXPECT_EQ(range_keys(store(), {kDocA}), std::set<StorageKey>{b});
  // Missing keys, twice-removed keys and keys under missing prefixes are fine.
  EXPECT_TRUE(store().remove(a));
  EXPECT_TRUE(store().remove({kDocB, "snapshot", hash_name(9)}));
  EXPECT_TRUE(store().remove({"storage-adapter-id"}));
  // And a removed key can be saved again.
  save(store(), a, text("again"));
  EXPECT_EQ(load(store(), a), text("again"));
}

// ---- ranges --------------------------------------------------------------------------------

TEST_P(StorageConformanceTest, LoadRangeMatchesWholeComponentsOnly) {
  // Neighbours of "incremental" that sort right around "incremental/" in joined text form:
  // '-' and '.' sort before '/', '0' right after it.
  const std::vector<StorageKey> keys = {
      {kDocA, "incremental", hash_name(1)},  {kDocA, "incremental", hash_name(2)},
      {kDocA, "incremental-old", hash_name(3)}, {kDocA, "incremental.v2", hash_name(4)},
      {kDocA, "incremental0", hash_name(5)},  {kDocA, "incrementalX", hash_name(6)},
      {kDocA, "snapshot", hash_name(7)},     {kDocA + "x", "incremental", hash_name(8)},
      {kDocA + "-", "incremental", hash_name(9)}, {"abc", "snapshot", hash_name(10)},
      {"abcd", "snapshot", hash_name(11)},
  };
  for (std::uint32_t i = 0; i < keys.size(); ++i) save(store(), keys[i], pattern(10, i));

  EXPECT_EQ(range_keys(store(), {kDocA, "incremental"}),
            (std::set<StorageKey>{keys[0], keys[1]}));
  EXPECT_EQ(range_keys(store(), {kDocA}),
            (std::set<StorageKey>(keys.begin(), keys.begin() + 7)));
  EXPECT_EQ(range_keys(store(), {kDocA + "x"}), std::set<StorageKey>{keys[7]});
  EXPECT_EQ(range_keys(store(), {"abc"}), std::set<StorageKey>{keys[9]});
  EXPECT_EQ(range_keys(store(), {"abcd"}), std::set<StorageKey>{keys[10]});
  // {"ab"} is not a prefix of {"abc", ...}, nor "incr" of "incremental".
  EXPECT_TRUE(range(store(), {"ab"}).empty());
  EXPECT_TRUE(range(store(), {kDocA, "incr"}).empty());
  EXPECT_TRUE(range(store(), {kDocA.substr(0, kDocA.size() - 1)}).empty());
  // A whole key is its own prefix; nothing is below it.
  const auto self = range(store(), keys[2]);
  ASSERT_EQ(self.size(), 1u);
  EXPECT_EQ(self.begin()->second, pattern(10, 2));
  EXPECT_TRUE(range(store(), {kDocA, "incremental", hash_name(1), "deeper"}).empty());
  EXPECT_TRUE(range(store(), {kDocB}).empty());
  // The values come back with their keys.
  const auto inc = range(store(), {kDocA, "incremental"});
  EXPECT_EQ(inc.at(keys[0]), pattern(10, 0));
  EXPECT_EQ(inc.at(keys[1]), pattern(10, 1));
}

TEST_P(StorageConformanceTest, EveryNestedPrefixAgreesWithAModel) {
  std::map<StorageKey, Bytes> model;
  std::uint32_t n = 0;
  for (const std::string& doc : {kDocA, kDocB, kDocA + "2", std::string("storage-adapter-id")}) {
    if (doc == "storage-adapter-id") {
      model[{doc}] = pattern(36, n++);
      continue;
    }
    for (const std::string kind : {"snapshot", "incremental", "sync-state"}) {
      for (int i = 0; i < 3; ++i, ++n) model[{doc, kind, hash_name(n)}] = pattern(n % 50, n);
    }
    model[{doc, "deep", "a", "b", "c"}] = pattern(5, n++);
    model[{doc, "deep", "a", "bb"}] = pattern(6, n++);
  }
  for (const auto& [k, v] : model) save(store(), k, v);

  std::set<StorageKey> prefixes{{}};
  for (const auto& [k, v] : model) {
    for (std::size_t len = 1; len <= k.size(); ++len) prefixes.insert(StorageKey(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(len)));
  }
  for (const StorageKey& prefix : prefixes) {
    std::map<StorageKey, Bytes> want;
    for (const auto& [k, v] : model) {
      if (storage_key_has_prefix(k, prefix)) want.emplace(k, v);
    }
    EXPECT_EQ(range(store(), prefix), want) << "prefix " << show(prefix);
    // list_keys names exactly the keys load_range returns, each once.
    auto listed = store().list_keys(prefix);
    ASSERT_TRUE(listed) << show(prefix) << ": " << listed.error().to_string();
    std::set<StorageKey> listed_set(listed->begin(), listed->end());
    EXPECT_EQ(listed_set.size(), listed->size()) << "a key listed twice under " << show(prefix);
    std::set<StorageKey> want_keys;
    for (const auto& [k, v] : want) want_keys.insert(k);
    EXPECT_EQ(listed_set, want_keys) << "prefix " << show(prefix);
  }
}

TEST_P(StorageConformanceTest, EmptyPrefixLoadsEverything) {
  EXPECT_TRUE(range(store(), {}).empty());
  const std::set<StorageKey> keys{{"storage-adapter-id"},
                                  {kDocA, "snapshot", hash_name(1)},
                                  {kDocB, "sync-state", "030dec61-9573-4874-b500-729d48165c43"}};
  for (const StorageKey& k : keys) save(store(), k, text(storage_key_to_string(k)));
  const auto all = range(store(), {});
  ASSERT_EQ(all.size(), keys.size());
  for (const auto& [k, v] : all) {
    EXPECT_TRUE(keys.count(k)) << show(k);
    EXPECT_EQ(v, text(storage_key_to_string(k)));
  }
}

TEST_P(StorageConformanceTest, RemoveRangeRemovesExactlyThePrefix) {
  const std::vector<StorageKey> keys = {
      {kDocA, "incremental", hash_name(1)}, {kDocA, "incremental", hash_name(2)},
      {kDocA, "incremental-old", hash_name(3)}, {kDocA, "incremental0", hash_name(4)},
      {kDocA, "snapshot", hash_name(5)},    {kDocA + "x", "incremental", hash_name(6)},
      {kDocB, "snapshot", hash_name(7)},    {"storage-adapter-id"},
  };
  for (std::uint32_t i = 0; i < keys.size(); ++i) save(store(), keys[i], pattern(20, i));

  ASSERT_TRUE(store().remove_range({kDocA, "incremental"}));
  EXPECT_EQ(range_keys(store(), {}), (std::set<StorageKey>(keys.begin() + 2, keys.end())));

  ASSERT_TRUE(store().remove_range({kDocA, "snapshot", hash_name(5)}));  // a whole key
  EXPECT_EQ(load(store(), keys[4]), std::nullopt);

  ASSERT_TRUE(store().remove_range({kDocA}));
  EXPECT_EQ(range_keys(store(), {}), (std::set<StorageKey>{keys[5], keys[6], keys[7]}));

  // Missing prefixes are fine; a removed range can be filled again.
  EXPECT_TRUE(store().remove_range({kDocA}));
  EXPECT_TRUE(store().remove_range({"nothing-here", "at", "all"}));
  save(store(), keys[0], text("back"));
  EXPECT_EQ(load(store(), keys[0]), text("back"));

  ASSERT_TRUE(store().remove_range({}));
  EXPECT_TRUE(range(store(), {}).empty());
  save(store(), keys[7], text("after everything"));
  EXPECT_EQ(load(store(), keys[7]), text("after everything"));
}

// ---- values --------------------------------------------------------------------------------

TEST_P(StorageConformanceTest, BinaryDataWithNulBytesRoundTrips) {
  Bytes data;
  data.push_back(0);
  for (int rep = 0; rep < 4; ++rep) {
    for (int b = 0; b < 256; ++b) data.push_back(static_cast<std::uint8_t>(b));
  }
  data.push_back(0);
  data.push_back(0);
  const StorageKey key{kDocA, "incremental", hash_name(1)};
  save(store(), key, data);
  EXPECT_EQ(load(store(), key), data);
  EXPECT_EQ(range(store(), {kDocA}).at(key), data);
  const StorageKey zeros{kDocA, "snapshot", hash_name(2)};
  save(store(), zeros, Bytes(1000, 0));
  EXPECT_EQ(load(store(), zeros), Bytes(1000, 0));
}

TEST_P(StorageConformanceTest, LargeValuesRoundTrip) {
  const Bytes big = pattern(8 * 1024 * 1024 + 3, 42);
  const StorageKey key{kDocA, "snapshot", hash_name(1)};
  save(store(), key, big);
  EXPECT_EQ(load(store(), key), big);
  EXPECT_EQ(range(store(), {kDocA}).at(key), big);
  const Bytes other = pattern(8 * 1024 * 1024, 43);
  save(store(), key, other);
  EXPECT_EQ(load(store(), key), other);
}

TEST_P(StorageConformanceTest, ManyKeys) {
  constexpr std::uint32_t kDocs = 20;
  constexpr std::uint32_t kPerDoc = 100;
  auto doc = [](std::uint32_t d) { return "doc-" + std::to_string(d) + "-" + kDocA; };
  // Written from 4 threads: with fsync on every save the file system's group commit keeps this
  // test short; what is checked is the reading back.
  std::vector<std::thread> writers;
  for (std::uint32_t t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (std::uint32_t d = t; d < kDocs; d += 4) {
        for (std::uint32_t i = 0; i < kPerDoc; ++i) {
          save(store(), {doc(d), "incremental", hash_name(i)}, pattern(16 + i, d * kPerDoc + i));
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(range(store(), {}).size(), std::size_t{kDocs * kPerDoc});
  for (std::uint32_t d = 0; d < kDocs; ++d) {
    const auto r = range(store(), {doc(d), "incremental"});
    ASSERT_EQ(r.size(), std::size_t{kPerDoc}) << doc(d);
    for (std::uint32_t i = 0; i < kPerDoc; ++i) {
      EXPECT_EQ(r.at({doc(d), "incremental", hash_name(i)}), pattern(16 + i, d * kPerDoc + i));
    }
  }
  for (std::uint32_t d = 0; d < kDocs; d += 2) ASSERT_TRUE(store().remove_range({doc(d)}));
  EXPECT_EQ(range(store(), {}).size(), std::size_t{kDocs * kPerDoc / 2});
  EXPECT_EQ(load(store(), {doc(1), "incremental", hash_name(5)}), pattern(21, kPerDoc + 5));
  EXPECT_EQ(load(store(), {doc(2), "incremental", hash_name(5)}), std::nullopt);
}

TEST_P(StorageConformanceTest, ConcurrentWritersFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr std::uint32_t kKeys = 100;
  const StorageKey shared{"shared-doc", "snapshot", "latest"};
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string doc = "thread-" + std::to_string(t) + "-" + kDocA;
      for (std::uint32_t i = 0; i < kKeys; ++i) {
        const auto id = static_cast<std::uint32_t>(t) * 10000 + i;
        EXPECT_TRUE(store().save({doc, "incremental", hash_name(i)}, self_checking(id, 100 + i)));
        if (i % 10 == 0) {
          // Every thread overwrites the same key; readers must only ever see whole values.
          EXPECT_TRUE(store().save(shared, self_checking(id, 64 * 1024 + i)));
          const auto v = store().load(shared);
          ASSERT_TRUE(v && v->has_value());
          if (!is_self_checking(**v)) ++torn;
          const auto r = store().load_range({"shared-doc"});
          ASSERT_TRUE(r);
          for (const auto& [k, val] : *r) {
            if (!is_self_checking(val)) ++torn;
          }
        }
        if (i % 7 == 3) {
          EXPECT_TRUE(store().remove({doc, "incremental", hash_name(i - 1)}));
        }
      }
      const auto mine = store().load_range({doc});
      ASSERT_TRUE(mine);
      for (const auto& [k, v] : *mine) {
        if (!is_self_checking(v)) ++torn;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(torn.load(), 0);

  for (int t = 0; t < kThreads; ++t) {
    const std::string doc = "thread-" + std::to_string(t) + "-" + kDocA;
    std::map<StorageKey, Bytes> want;
    for (std::uint32_t i = 0; i < kKeys; ++i) {
      const bool removed = (i + 1) % 7 == 3 && i + 1 < kKeys;
      if (!removed) {
        want[{doc, "incremental", hash_name(i)}] =
            self_checking(static_cast<std::uint32_t>(t) * 10000 + i, 100 + i);
      }
    }
    EXPECT_EQ(range(store(), {doc}), want) << doc;
  }
  const auto last = load(store(), shared);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(is_self_checking(*last));
  EXPECT_EQ(range(store(), {}).size(), kThreads * (kKeys - kKeys / 7) + 1);
}

// ---- invalid keys --------------------------------------------------------------------------

void expect_invalid(const Status& s, const StorageKey& key, const char* op) {
  ASSERT_FALSE(s) << op << " " << show(key);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << op << ": " << s.error().to_string();
}

TEST_P(StorageConformanceTest, InvalidKeysAreRejected) {
  const std::vector<StorageKey> bad = {
      {""},
      {kDocA, ""},
      {kDocA, "incremental", ""},
      {"a/b", "snapshot"},
      {kDocA, "x/y"},
      {kDocA, "/"},
      {std::string("doc\0id", 6), "snapshot"},
      {kDocA, std::string("\0", 1)},
      {"."},
      {".."},
      {kDocA, "."},
      {kDocA, "..", "x"},
      {kDocA, "\xff\xfe"},           // not UTF-8
      {kDocA, "\xed\xa0\x80"},       // an encoded surrogate
      {kDocA, "\xc0\xaf"},           // overlong '/'
      {kDocA, "ok\xe2\x82"},         // truncated sequence
  };
  for (const StorageKey& key : bad) {
    SCOPED_TRACE(show(key));
    const auto loaded = store().load(key);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument);
    expect_invalid(store().save(key, text("x")), key, "save");
    expect_invalid(store().remove(key), key, "remove");
    const auto ranged = store().load_range(key);
    ASSERT_FALSE(ranged);
    EXPECT_EQ(ranged.error().code, ErrorCode::kInvalidArgument);
    expect_invalid(store().remove_range(key), key, "remove_range");
  }
  // The empty key is no key (but the empty prefix is valid: see EmptyPrefixLoadsEverything).
  const StorageKey none{};
  EXPECT_FALSE(store().load(none));
  expect_invalid(store().save(none, text("x")), none, "save");
  expect_invalid(store().remove(none), none, "remove");
  EXPECT_TRUE(range(store(), {}).empty());
}

TEST_P(StorageConformanceTest, UnicodeKeysRoundTrip) {
  const std::vector<StorageKey> keys = {
      {"\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9-doc", "snapshot", "\xe6\x97\xa5\xe6\x9c\xac"},
      {"\xf0\x9f\x98\x80-doc", "incremental", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80"},
      {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "sync-state", "x"},
  };
  for (std::uint32_t i = 0; i < keys.size(); ++i) save(store(), keys[i], pattern(10, i));
  for (std::uint32_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(load(store(), keys[i]), pattern(10, i)) << show(keys[i]);
    EXPECT_EQ(range_keys(store(), {keys[i][0]}), std::set<StorageKey>{keys[i]});
  }
  EXPECT_EQ(range(store(), {}).size(), keys.size());
}

// ---- persistent adapters: instances, processes, crashes --------------------------------------

TEST_P(StorageConformanceTest, SecondInstanceSeesTheFirstOnesWrites) {
  if (!GetParam().persistent) GTEST_SKIP() << "nothing persists";
  auto other = open_another();
  ASSERT_TRUE(other) << other.error().to_string();
  StorageAdapter& second = **other;
  const StorageKey a{kDocA, "snapshot", hash_name(1)};
  const StorageKey b{kDocA, "incremental", hash_name(2)};
  save(store(), a, text("from first"));
  save(store(), b, text("also first"));
  EXPECT_EQ(load(second, a), text("from first"));
  EXPECT_EQ(range_keys(second, {kDocA}), (std::set<StorageKey>{a, b}));
  save(second, a, text("from second"));
  ASSERT_TRUE(second.remove(b));
  EXPECT_EQ(load(store(), a), text("from second"));
  EXPECT_EQ(load(store(), b), std::nullopt);
  store_.reset();  // closed and opened again: still there
  auto third = open_another();
  ASSERT_TRUE(third) << third.error().to_string();
  EXPECT_EQ(load(**third, a), text("from second"));
}

// The fork tests close every adapter before forking and open new ones on both sides after it:
// SQLite must not see a connection (or its per-file lock bookkeeping) carried across fork.

// Runs `body` in a forked child (which must open its own adapter) and returns its exit status;
// the child exits 0 when body returns true.
int run_in_child(const std::function<bool()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) _exit(body() ? 0 : 1);
  if (pid < 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_P(StorageConformanceTest, SecondProcessSeesTheFirstOnesWrites) {
  if (!GetParam().persistent) GTEST_SKIP() << "nothing persists";
  const StorageKey a{kDocA, "snapshot", hash_name(1)};
  const StorageKey b{kDocA, "incremental", hash_name(2)};
  save(store(), a, text("parent wrote this"));
  store_.reset();
  const int status = run_in_child([&] {
    auto s = open_another();
    if (!s) return false;
    auto got = (*s)->load(a);
    if (!got || *got != text("parent wrote this")) return false;
    return (*s)->save(b, text("child wrote this")).has_value() && (*s)->remove(a).has_value();
  });
  ASSERT_EQ(status, 0);
  auto reopened = open_another();
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  store_ = std::move(*reopened);
  EXPECT_EQ(load(store(), b), text("child wrote this"));
  EXPECT_EQ(load(store(), a), std::nullopt);
  EXPECT_EQ(range_keys(store(), {}), std::set<StorageKey>{b});
}

TEST_P(StorageConformanceTest, TwoProcessesWritingAtOnce) {
  if (!GetParam().persistent) GTEST_SKIP() << "nothing persists";
  constexpr std::uint32_t kKeys = 100;
  const StorageKey shared{kDocA, "snapshot", "latest"};
  auto writer = [&](StorageAdapter& s, std::uint32_t who) {
    bool ok = true;
    for (std::uint32_t i = 0; i < kKeys; ++i) {
      ok &= s.save({kDocA, "incremental", hash_name(who * 1000 + i)}, self_checking(who * 1000 + i, 50)).has_value();
      ok &= s.save(shared, self_checking(who * 1000 + i, 20000)).has_value();
      const auto r = s.load_range({kDocA});
      ok &= r.has_value();
      if (r) {
        for (const auto& [k, v] : *r) ok &= is_self_checking(v);
      }
    }
    return ok;
  };
  store_.reset();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto s = open_another();
    _exit(s && writer(**s, 2) ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  auto reopened = open_another();
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  store_ = std::move(*reopened);
  EXPECT_TRUE(writer(store(), 1));
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const auto all = range(store(), {kDocA});
  EXPECT_EQ(all.size(), 2 * kKeys + 1);
  for (const auto& [k, v] : all) EXPECT_TRUE(is_self_checking(v)) << show(k);
}

TEST_P(StorageConformanceTest, KilledWriterLeavesOnlyWholeValues) {
  if (!GetParam().persistent) GTEST_SKIP() << "nothing persists";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  store_.reset();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    auto s = open_another();
    if (!s) _exit(1);
    for (std::uint32_t i = 0;; ++i) {
      // Large values so that the kill lands in the middle of a write most of the time.
      if (!(*s)->save({kDocA, "snapshot", "latest"}, self_checking(i, 1 << 20))) _exit(2);
      if (!(*s)->save({kDocA, "incremental", hash_name(i)}, self_checking(i, 300000))) _exit(3);
      if (i == 2 && ::write(ready[1], "r", 1) != 1) _exit(4);
    }
  }
  ::close(ready[1]);
  ASSERT_GT(pid, 0);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the writer died before writing";
  ::close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself: " << status;

  auto after = open_another();
  ASSERT_TRUE(after) << after.error().to_string();
  const auto latest = load(**after, {kDocA, "snapshot", "latest"});
  ASSERT_TRUE(latest.has_value());
  EXPECT_TRUE(is_self_checking(*latest));
  const auto all = range(**after, {});
  EXPECT_GE(all.size(), 4u);
  for (const auto& [k, v] : all) {
    EXPECT_EQ(k[0], kDocA);
    EXPECT_TRUE(is_self_checking(v)) << show(k) << " is torn (" << v.size() << " bytes)";
  }
}

// ---- the file-system adapter: the nodefs layout ---------------------------------------------

// Every regular file below `base` as "relative/path" -> contents, skipping the temp folder.
std::map<std::string, Bytes> files_below(const std::string& base) {
  std::map<std::string, Bytes> out;
  for (auto it = fs::recursive_directory_iterator(base); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path().filename() == kFsStorageTempDir) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out[fs::relative(it->path(), base).string()] = data;
  }
  return out;
}

std::unique_ptr<StorageAdapter> open_fs(const std::string& base) {
  auto s = open_fs_storage(base);
  EXPECT_TRUE(s) << s.error().to_string();
  return s ? std::move(*s) : nullptr;
}

TEST(FsStorage, LayoutOnDiskIsTheNodefsOne) {
  TempDir dir;
  const std::string base = dir.path() + "/automerge-repo-data";
  auto store = open_fs(base);
  ASSERT_TRUE(store);
  const std::string snap = "a61943b8c5e1f0d7c1c1c6d1bd1b6e8d2e4a0e1bd4b1f3b0e9a3ac6b7f2ddb3a";
  save(*store, {"storage-adapter-id"}, text("030dec61-9573-4874-b500-729d48165c43"));
  save(*store, {kDocA, "snapshot", snap}, text("S"));
  save(*store, {kDocA, "incremental", hash_name(1)}, text("I"));
  save(*store, {kDocA, "sync-state", "030dec61-9573-4874-b500-729d48165c43"}, text("Y"));
  save(*store, {"\xc3\xa9t\xc3\xa9-doc", "snapshot", "h"}, text("U"));  // "été-doc": 2 UTF-16 units
  save(*store, {"\xf0\x9f\x98\x80-doc", "snapshot", "h"}, text("E"));  // an emoji is 2 units
  const std::map<std::string, Bytes> want = {
      {"st/orage-adapter-id", text("030dec61-9573-4874-b500-729d48165c43")},
      {"2t/dna9voKYp8AofPknxjEkWkhG3/snapshot/" + snap, text("S")},
      {"2t/dna9voKYp8AofPknxjEkWkhG3/incremental/" + hash_name(1), text("I")},
      {"2t/dna9voKYp8AofPknxjEkWkhG3/sync-state/030dec61-9573-4874-b500-729d48165c43", text("Y")},
      {"\xc3\xa9t/\xc3\xa9-doc/snapshot/h", text("U")},
      {"\xf0\x9f\x98\x80/-doc/snapshot/h", text("E")},
  };
  EXPECT_EQ(files_below(base), want);
  // Nothing is left in the temp folder after successful writes, and nothing else exists.
  EXPECT_TRUE(fs::is_empty(base + "/" + std::string(kFsStorageTempDir)));
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(base)) top.insert(e.path().filename().string());
  EXPECT_EQ(top, (std::set<std::string>{".am-tmp", "st", "2t", "\xc3\xa9t", "\xf0\x9f\x98\x80"}));
}

TEST(FsStorage, ReadsFilesPlacedInTheLayoutByOthers) {
  TempDir dir;
  auto store = open_fs(dir.path());
  ASSERT_TRUE(store);
  fs::create_directories(dir.path() + "/3u/DkPC2U9s6LbFqkrCSsqNkyhFTE/incremental");
  std::ofstream(dir.path() + "/3u/DkPC2U9s6LbFqkrCSsqNkyhFTE/incremental/abcd", std::ios::binary)
      << std::string("\x00\x01", 2);
  std::ofstream(dir.path() + "/README") << "not a key";               // not in the layout
  fs::create_directories(dir.path() + "/abc/def");                     // a 3-unit splay dir
  std::ofstream(dir.path() + "/abc/def/x") << "not a key";
  const StorageKey key{kDocB, "incremental", "abcd"};
  EXPECT_EQ(load(*store, key), (Bytes{0, 1}));
  EXPECT_EQ(range(*store, {}), (std::map<StorageKey, Bytes>{{key, Bytes{0, 1}}}));
  ASSERT_TRUE(store->remove_range({}));
  EXPECT_TRUE(fs::exists(dir.path() + "/README"));  // only layout directories are removed
  EXPECT_FALSE(fs::exists(dir.path() + "/3u"));
}

TEST(FsStorage, CrashedWriteIsInvisible) {
  TempDir dir;
  auto store = open_fs(dir.path());
  ASSERT_TRUE(store);
  const StorageKey key{kDocA, "snapshot", hash_name(1)};
  save(*store, key, text("whole"));
  // What a writer killed between creating and renaming its temp file leaves behind.
  const std::string tmp_dir = dir.path() + "/" + std::string(kFsStorageTempDir);
  std::ofstream(tmp_dir + "/999999-0", std::ios::binary) << "torn half of a val";
  std::ofstream(tmp_dir + "/999999-1", std::ios::binary) << "an old orphan";
  EXPECT_EQ(load(*store, key), text("whole"));
  EXPECT_EQ(range(*store, {}), (std::map<StorageKey, Bytes>{{key, text("whole")}}));
  EXPECT_EQ(range(*store, {kDocA}), (std::map<StorageKey, Bytes>{{key, text("whole")}}));
  save(*store, key, text("newer"));
  EXPECT_EQ(load(*store, key), text("newer"));

  // Opening a store sweeps orphans older than an hour, and only those.
  const std::string old = tmp_dir + "/999999-1";
  const timespec two_hours_ago[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old.c_str(), two_hours_ago, 0), 0);
  auto reopened = open_fs(dir.path());
  ASSERT_TRUE(reopened);
  EXPECT_FALSE(fs::exists(old));
  EXPECT_TRUE(fs::exists(tmp_dir + "/999999-0"));
  EXPECT_EQ(range(*reopened, {}), (std::map<StorageKey, Bytes>{{key, text("newer")}}));

  // Saves recreate the temp folder if someone deleted it.
  fs::remove_all(tmp_dir);
  save(*reopened, key, text("newest"));
  EXPECT_EQ(load(*store, key), text("newest"));
}

TEST(FsStorage, KeysTheLayoutCannotHoldAreRefusedAndNeverFound) {
  TempDir dir;
  auto store = open_fs(dir.path());
  ASSERT_TRUE(store);
  const std::vector<StorageKey> unrepresentable = {
      {"ab"},                                  // the file would be a splay directory
      {"ab", "snapshot", "h"},                 // JS would read it back as {"absnapshot", "h"}
      {"x"},
      {"a\xf0\x9f\x98\x80x", "snapshot"},      // the split would cut the emoji's surrogate pair
      {"..x", "snapshot"},                     // the first half would be ".."
      {"x..", "snapshot"},                     // ... or the second half "."
      {kDocA, std::string(256, 'h')},          // longer than a file name may be
  };
  for (const StorageKey& key : unrepresentable) {
    SCOPED_TRACE(show(key));
    const auto saved = store->save(key, text("x"));
    ASSERT_FALSE(saved);
    EXPECT_EQ(saved.error().code, ErrorCode::kInvalidArgument) << saved.error().to_string();
    EXPECT_EQ(load(*store, key), std::nullopt);
    EXPECT_TRUE(store->remove(key));
    EXPECT_TRUE(range(*store, key).empty());
    EXPECT_TRUE(store->remove_range(key));
  }
  EXPECT_TRUE(range(*store, {}).empty());
  EXPECT_EQ(files_below(dir.path()).size(), 0u);
}

TEST(FsStorage, AKeyCannotAlsoBeAPrefixOfAnotherKey) {
  TempDir dir;
  auto store = open_fs(dir.path());
  ASSERT_TRUE(store);
  const StorageKey key{kDocA, "snapshot", hash_name(1)};
  save(*store, key, text("v"));
  const auto shorter = store->save({kDocA, "snapshot"}, text("x"));
  ASSERT_FALSE(shorter);
  EXPECT_EQ(shorter.error().code, ErrorCode::kInvalidArgument) << shorter.error().to_string();
  const auto longer = store->save({kDocA, "snapshot", hash_name(1), "more"}, text("x"));
  ASSERT_FALSE(longer);
  EXPECT_EQ(longer.error().code, ErrorCode::kInvalidArgument) << longer.error().to_string();
  EXPECT_EQ(load(*store, {kDocA, "snapshot"}), std::nullopt);  // a directory is not a key
  EXPECT_TRUE(store->remove({kDocA, "snapshot"}));
  EXPECT_EQ(range(*store, {}), (std::map<StorageKey, Bytes>{{key, text("v")}}));
  EXPECT_TRUE(fs::is_empty(dir.path() + "/" + std::string(kFsStorageTempDir)));
}

TEST(FsStorage, IOErrorsNameThePath) {
  TempDir dir;
  const std::string file = dir.path() + "/plain-file";
  std::ofstream(file) << "x";
  const auto bad = open_fs_storage(file + "/sub");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kIOError);
  EXPECT_NE(bad.error().message.find(file), std::string::npos) << bad.error().message;
  if (::geteuid() == 0) return;  // root ignores permissions: nothing more to provoke
  auto store = open_fs(dir.path() + "/store");
  ASSERT_TRUE(store);
  ::chmod((dir.path() + "/store").c_str(), 0500);
  const auto saved = store->save({kDocA, "snapshot", "h"}, text("x"));
  ::chmod((dir.path() + "/store").c_str(), 0700);
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, ErrorCode::kIOError);
  EXPECT_NE(saved.error().message.find("Permission denied"), std::string::npos);
}

// A removed chunk's file is reused by the next write (no new inode), invisibly to readers; a
// store closed with spares left in its temp folder removes them.
TEST(FsStorage, ARemovedFileIsReusedByTheNextWrite) {
  TempDir dir;
  const std::string base = dir.path() + "/store";
  const std::string tmp_dir = base + "/" + std::string(kFsStorageTempDir);
  {
    auto store = open_fs(base);
    ASSERT_TRUE(store);
    save(*store, {kDocA, "snapshot", "old"}, text("first value, longer than the next"));
    const std::string old_path = base + "/2t/dna9voKYp8AofPknxjEkWkhG3/snapshot/old";
    struct stat before {};
    ASSERT_EQ(::stat(old_path.c_str(), &before), 0);
    ASSERT_TRUE(store->remove({kDocA, "snapshot", "old"}));
    EXPECT_FALSE(fs::exists(old_path));
    EXPECT_EQ(range(*store, {kDocA}), (std::map<StorageKey, Bytes>{}));
    save(*store, {kDocA, "snapshot", "new"}, text("second"));
    struct stat after {};
    ASSERT_EQ(::stat((base + "/2t/dna9voKYp8AofPknxjEkWkhG3/snapshot/new").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino);
    EXPECT_EQ(range(*store, {kDocA}), (std::map<StorageKey, Bytes>{{{kDocA, "snapshot", "new"}, text("second")}}));
    EXPECT_TRUE(fs::is_empty(tmp_dir));
    // A removed directory key is not a file: never recycled, and the remove still succeeds.
    save(*store, {kDocA, "incremental", "x"}, text("i"));
    ASSERT_TRUE(store->remove({kDocA, "incremental"}));
    EXPECT_TRUE(fs::exists(base + "/2t/dna9voKYp8AofPknxjEkWkhG3/incremental/x"));
    ASSERT_TRUE(store->remove({kDocA, "incremental", "x"}));
    EXPECT_FALSE(fs::is_empty(tmp_dir));  // the spare waits for the next write
  }
  EXPECT_TRUE(fs::is_empty(tmp_dir));  // and goes with the store
}

// ---- the SQLite adapter ----------------------------------------------------------------------

TEST(SqliteStorage, UsesWriteAheadLogging) {
  TempDir dir;
  const std::string path = dir.path() + "/store.sqlite";
  auto store = open_sqlite_storage(path);
  ASSERT_TRUE(store) << store.error().to_string();
  save(**store, {kDocA, "snapshot", "h"}, text("x"));
  EXPECT_TRUE(fs::exists(path + "-wal"));
  // The header's byte 18/19 = 2 marks a WAL database.
  std::ifstream in(path, std::ios::binary);
  char header[20] = {};
  in.read(header, sizeof header);
  EXPECT_EQ(header[18], 2);
  EXPECT_EQ(header[19], 2);
}

TEST(SqliteStorage, RefusesFilesThatAreNotDatabases) {
  TempDir dir;
  const std::string path = dir.path() + "/not-a-db";
  std::ofstream(path) << std::string(4096, 'x');
  const auto store = open_sqlite_storage(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kCorruption) << store.error().to_string();
  EXPECT_NE(store.error().message.find(path), std::string::npos);
  EXPECT_FALSE(open_sqlite_storage(":memory:"));
  const auto missing_dir = open_sqlite_storage(dir.path() + "/no/such/dir/db");
  ASSERT_FALSE(missing_dir);
  EXPECT_EQ(missing_dir.error().code, ErrorCode::kIOError);
}

#ifdef AM_HAVE_POSTGRES
// ---- the PostgreSQL adapter ----------------------------------------------------------------

// A libpq connection of the test itself, to look at and tamper with what the adapter sees.
class PgSession {
 public:
  explicit PgSession(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {}
  ~PgSession() { PQfinish(c_); }
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  // The rows of `sql` as text (one string per row, columns joined with '|'); fails the test on
  // an error.
  std::vector<std::string> query(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    const auto st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) << sql << ": " << PQresultErrorMessage(r);
    std::vector<std::string> rows;
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string row;
      for (int j = 0; j < PQnfields(r); ++j) row += (j ? "|" : "") + std::string(PQgetvalue(r, i, j));
      rows.push_back(row);
    }
    PQclear(r);
    return rows;
  }

 private:
  PGconn* c_;
};

class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AM_REQUIRE_POSTGRES();
    auto db = am::test::PostgresTestServer::get().create_database();
    ASSERT_TRUE(db) << db.error().to_string();
    conninfo_ = *db;
  }
  std::unique_ptr<StorageAdapter> open(const std::string& table = "automerge_chunks",
                                       std::size_t max_connections = 8) {
    PostgresStorageOptions options;
    options.table = table;
    options.max_connections = max_connections;
    auto s = open_postgres_storage(conninfo_, options);
    EXPECT_TRUE(s) << s.error().to_string();
    return s ? std::move(*s) : nullptr;
  }
  std::string conninfo_;
};

TEST_F(PostgresStorageTest, TableHasTheDocumentedSchemaAndJoinedKeys) {
  auto store = open();
  ASSERT_TRUE(store);
  save(*store, {kDocA, "snapshot", hash_name(1)}, text("S"));
  save(*store, {"storage-adapter-id"}, text("id"));
  PgSession db(conninfo_);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db.query("SELECT column_name, data_type, collation_name, is_nullable FROM "
                     "information_schema.columns WHERE table_name = 'automerge_chunks' "
                     "ORDER BY ordinal_position"),
            (std::vector<std::string>{"key|text|C|NO", "data|bytea||NO"}));
  EXPECT_EQ(db.query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                     "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = "
                     "'automerge_chunks'::regclass AND i.indisprimary"),
            std::vector<std::string>{"key"});
  EXPECT_EQ(db.query("SELECT key, encode(data, 'escape') FROM automerge_chunks ORDER BY key"),
            (std::vector<std::string>{kDocA + "/snapshot/" + hash_name(1) + "|S", "storage-adapter-id|id"}));
}

TEST_F(PostgresStorageTest, TablesInOneDatabaseAreSeparateStores) {
  auto a = open("store_a");
  auto b = open("store_b");
  ASSERT_TRUE(a && b);
  const StorageKey key{kDocA, "incremental", hash_name(1)};
  save(*a, key, text("in a"));
  EXPECT_EQ(load(*b, key), std::nullopt);
  save(*b, key, text("in b"));
  ASSERT_TRUE(a->remove_range({}));
  EXPECT_EQ(load(*b, key), text("in b"));
  EXPECT_EQ(load(*a, key), std::nullopt);
}

TEST_F(PostgresStorageTest, ManyProcessesCreatingTheTableAtOnceAllSucceed) {
  // Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog; the adapter retries.
  constexpr int kProcs = 6;
  std::vector<pid_t> pids;
  std::fflush(nullptr);
  for (int i = 0; i < kProcs; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      PostgresStorageOptions options;
      options.table = "created_at_once";
      auto s = open_postgres_storage(conninfo_, options);
      if (!s) {
        std::fprintf(stderr, "process %d: %s\n", i, s.error().to_string().c_str());
        _exit(1);
      }
      const auto saved = (*s)->save({"p" + std::to_string(i), "x"}, text("v"));
      if (!saved) std::fprintf(stderr, "process %d: %s\n", i, saved.error().to_string().c_str());
      _exit(saved ? 0 : 2);
    }
    ASSERT_GT(pid, 0);
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  auto store = open("created_at_once");
  ASSERT_TRUE(store);
  EXPECT_EQ(range(*store, {}).size(), std::size_t{kProcs});
}

TEST_F(PostgresStorageTest, ReconnectsAfterTheServerDropsItsConnections) {
  auto store = open();
  ASSERT_TRUE(store);
  const StorageKey key{kDocA, "snapshot", hash_name(1)};
  save(*store, key, text("before"));
  PgSession admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  // What a server restart or an idle-connection reaper does to the pooled connection.
  const auto killed = admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'amrepo' "
      "AND datname = current_database()");
  ASSERT_EQ(killed, std::vector<std::string>{"t"});
  EXPECT_EQ(load(*store, key), text("before"));
  save(*store, key, text("after"));
  EXPECT_EQ(load(*store, key), text("after"));

  // Without retries the same cut is an error, and the call after it works on a new connection.
  store.reset();
  PostgresStorageOptions once;
  once.max_attempts = 1;
  auto no_retry = open_postgres_storage(conninfo_, once);
  ASSERT_TRUE(no_retry) << no_retry.error().to_string();
  ASSERT_EQ(admin.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                "'amrepo' AND datname = current_database()"),
            std::vector<std::string>{"t"});
  const auto failed = (*no_retry)->load(key);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kIOError);
  EXPECT_EQ(load(**no_retry, key), text("after"));
}

TEST_F(PostgresStorageTest, ServerErrorsCarryTheServersMessage) {
  auto store = open();
  ASSERT_TRUE(store);
  PgSession admin(conninfo_);
  ASSERT_TRUE(admin.ok());
  admin.query("DROP TABLE automerge_chunks");
  const auto saved = store->save({kDocA, "snapshot", "h"}, text("x"));
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, ErrorCode::kIOError);
  EXPECT_NE(saved.error().message.find("\"automerge_chunks\" does not exist"), std::string::npos)
      << saved.error().message;
  EXPECT_NE(saved.error().message.find("42P01"), std::string::npos) << saved.error().message;
  EXPECT_NE(saved.error().message.find(kDocA + "/snapshot/h"), std::string::npos) << saved.error().message;
}

TEST_F(PostgresStorageTest, OneConnectionServesManyThreads) {
  auto store = open("automerge_chunks", 1);
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint32_t i = 0; i < 25; ++i) save(*store, {kDocA, "incremental", hash_name(t * 100 + i)}, pattern(8, i));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(range(*store, {kDocA}).size(), 100u);
  PgSession admin(conninfo_);
  EXPECT_EQ(admin.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'amrepo' "
                        "AND datname = current_database()"),
            std::vector<std::string>{"1"});
}

// Collects what a change feed reports.
class FeedLog {
 public:
  std::function<void(const StorageKey&)> callback() {
    return [this](const StorageKey& key) {
      std::lock_guard lock(mutex_);
      keys_.push_back(key);
      cv_.notify_all();
    };
  }
  // Waits (up to 10 s) until `key` was reported; true if it was.
  bool wait_for(const StorageKey& key) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] { return std::find(keys_.begin(), keys_.end(), key) != keys_.end(); });
  }
  std::vector<StorageKey> keys() {
    std::lock_guard lock(mutex_);
    return keys_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<StorageKey> keys_;
};

TEST_F(PostgresStorageTest, ChangeFeedReportsOtherInstancesSavesOfTheSameTable) {
  PostgresStorageOptions notifying;
  notifying.notify_saves = true;
  auto writer = open_postgres_storage(conninfo_, notifying);
  auto watcher = open_postgres_storage(conninfo_, notifying);
  notifying.table = "other_table";
  auto elsewhere = open_postgres_storage(conninfo_, notifying);
  ASSERT_TRUE(writer && watcher && elsewhere);
  auto silent = open();  // notify_saves off
  ASSERT_TRUE(silent);
  ASSERT_NE((*watcher)->change_feed(), nullptr);
  FeedLog log;
  auto watch = (*watcher)->change_feed()->watch(log.callback());
  ASSERT_TRUE(watch) << watch.error().to_string();

  const StorageKey own{kDocA, "incremental", hash_name(1)};
  const StorageKey other_table{kDocA, "incremental", hash_name(2)};
  const StorageKey quiet{kDocA, "incremental", hash_name(3)};
  const StorageKey theirs{kDocA, "snapshot", hash_name(4)};
  save(**watcher, own, text("mine"));                 // its own save: not reported to itself
  save(**elsewhere, other_table, text("elsewhere"));  // another table: not reported
  save(*silent, quiet, text("quiet"));                // no NOTIFY at all
  save(**writer, theirs, text("theirs"));             // committed last, so reported last
  ASSERT_TRUE(log.wait_for(theirs));
  EXPECT_EQ(log.keys(), std::vector<StorageKey>{theirs});
  EXPECT_EQ(load(**watcher, theirs), text("theirs"));  // committed before it was reported
}

TEST_F(PostgresStorageTest, ChangeFeedReportsALostConnectionThenResumes) {
  PostgresStorageOptions notifying;
  notifying.notify_saves = true;
  auto writer = open_postgres_storage(conninfo_, notifying);
  auto watcher = open_postgres_storage(conninfo_);
  ASSERT_TRUE(writer && watcher);
  FeedLog log;
  auto watch = (*watcher)->change_feed()->watch(log.callback());
  ASSERT_TRUE(watch) << watch.error().to_string();
  const StorageKey first{kDocA, "incremental", hash_name(1)};
  save(**writer, first, text("1"));
  ASSERT_TRUE(log.wait_for(first));
  PgSession admin(conninfo_);
  const auto killed = admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
      "AND datname = current_database()");
  ASSERT_EQ(killed, std::vector<std::string>{"t"});
  ASSERT_TRUE(log.wait_for({})) << "no 'changes may have been missed' report";
  const StorageKey second{kDocA, "incremental", hash_name(2)};
  save(**writer, second, text("2"));
  ASSERT_TRUE(log.wait_for(second));
  watch->reset();  // stops reporting
  const StorageKey third{kDocA, "incremental", hash_name(3)};
  save(**writer, third, text("3"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto keys = log.keys();
  EXPECT_EQ(std::find(keys.begin(), keys.end(), third), keys.end());
}

TEST(PostgresStorage, UnreachableServerIsAClearIOErrorWithoutThePassword) {
  // A port nobody listens on: bind one, note it, close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  ::close(fd);
  const auto store = open_postgres_storage("host=127.0.0.1 port=" + port +
                                           " dbname=nowhere user=someone password=s3cret-pw");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kIOError);
  const std::string& m = store.error().message;
  EXPECT_NE(m.find("cannot connect to PostgreSQL"), std::string::npos) << m;
  EXPECT_NE(m.find("host=127.0.0.1 port=" + port + " dbname=nowhere user=someone"), std::string::npos) << m;
  EXPECT_NE(m.find("refused"), std::string::npos) << m;
  EXPECT_EQ(m.find("s3cret-pw"), std::string::npos) << m;
}

TEST(PostgresStorage, BadOptionsAreInvalidArguments) {
  for (const std::string& table : std::vector<std::string>{"", "Chunks", "1chunks", "chunks;drop", "a-b", "\"q\"",
                                  std::string(64, 'a')}) {
    PostgresStorageOptions options;
    options.table = table;
    const auto store = open_postgres_storage("host=127.0.0.1", options);
    ASSERT_FALSE(store) << table;
    EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument) << table;
  }
  EXPECT_TRUE(validate_postgres_table_name("automerge_chunks_2"));
  EXPECT_TRUE(validate_postgres_table_name("select"));  // quoted in SQL
  EXPECT_TRUE(validate_postgres_table_name(std::string(63, 'a')));
  const auto bad = open_postgres_storage("host=127.0.0.1 no_such_option=1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument) << bad.error().to_string();
  EXPECT_NE(bad.error().message.find("no_such_option"), std::string::npos) << bad.error().message;
}
#endif  // AM_HAVE_POSTGRES

}  // namespace
}  // namespace am::repo
