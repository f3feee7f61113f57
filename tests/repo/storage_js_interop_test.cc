// The file-system adapter against the JS reference's NodeFSStorageAdapter
// (@automerge/automerge-repo-storage-nodefs 2.5.6, driven by tools/jsref/nodefs-storage.mjs):
// one writes a data directory, the other reads it, keys and bytes must be identical.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/repo/storage.h"
#include "am/repo/storage_fs.h"

namespace am::repo {
namespace {

using nlohmann::json;
using Entries = std::map<StorageKey, Bytes>;

class TempDir {
 public:
  TempDir() {
    const char* env = std::getenv("TMPDIR");
    std::string tmpl = std::string(env != nullptr && *env != '\0' ? env : "/tmp") +
                       "/am-storage-js-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// Runs `node tools/jsref/nodefs-storage.mjs ARGS...` and parses its one line of JSON output.
// Records a test failure and returns null when node fails.
json run_script(const std::vector<std::string>& args) {
  const std::string dir = std::string(AM_SOURCE_DIR) + "/tools/jsref";
  std::string cmd = "cd " + shell_quote(dir) + " && node nodefs-storage.mjs";
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << cmd;
    return nullptr;
  }
  std::string out;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (status != 0) {
    ADD_FAILURE() << cmd << " exited with " << status << " (did scripts/npm-deps.sh tools/jsref run?)";
    return nullptr;
  }
  json parsed = json::parse(out, nullptr, false);
  if (parsed.is_discarded()) {
    ADD_FAILURE() << "unparsable output of " << cmd << ": " << out.substr(0, 300);
    return nullptr;
  }
  return parsed;
}

Entries entries_from_json(const json& list) {
  Entries out;
  for (const json& e : list) {
    Bytes data;
    EXPECT_TRUE(from_hex(e.at("hex").get<std::string>(), data));
    const auto key = e.at("key").get<StorageKey>();
    EXPECT_TRUE(out.emplace(key, std::move(data)).second)
        << "duplicate key " << storage_key_to_string(key);
  }
  return out;
}

Entries our_range(StorageAdapter& s, const StorageKey& prefix) {
  auto r = s.load_range(prefix);
  EXPECT_TRUE(r) << r.error().to_string();
  Entries out;
  if (r) {
    for (auto& [k, v] : *r) out.emplace(k, std::move(v));
  }
  return out;
}

Entries with_prefix(const Entries& all, const StorageKey& prefix) {
  Entries out;
  for (const auto& [k, v] : all) {
    if (storage_key_has_prefix(k, prefix)) out.emplace(k, v);
  }
  return out;
}

// JS loadRange(prefix) for each prefix, in one node run: prefix -> entries.
std::map<StorageKey, Entries> js_ranges(const std::string& dir,
                                        const std::vector<StorageKey>& prefixes) {
  std::vector<std::string> args{"read", dir};
  for (const StorageKey& p : prefixes) args.push_back(storage_key_to_string(p));
  const json out = run_script(args);
  std::map<StorageKey, Entries> ranges;
  if (out.is_null()) return ranges;
  for (const json& r : out.at("ranges")) {
    ranges[r.at("prefix").get<StorageKey>()] = entries_from_json(r.at("entries"));
  }
  return ranges;
}

const std::string kDocA = "2tdna9voKYp8AofPknxjEkWkhG3";
const std::string kDocB = "3uDkPC2U9s6LbFqkrCSsqNkyhFTE";

// The first components JS wrote (see chunksToWrite in the script).
const std::vector<StorageKey> kJsDocs = {
    {kDocA}, {kDocB}, {"\xc3\xa9t\xc3\xa9-doc"}, {"\xf0\x9f\x98\x80-doc"}};

TEST(StorageJsInterop, JsWritesWeReadIdentically) {
  TempDir dir;
  const json written = run_script({"write", dir.path()});
  ASSERT_FALSE(written.is_null());
  const Entries js = entries_from_json(written.at("entries"));
  ASSERT_GE(js.size(), 9u);

  auto opened = open_fs_storage(dir.path());
  ASSERT_TRUE(opened) << opened.error().to_string();
  StorageAdapter& ours = **opened;
  for (const auto& [key, data] : js) {
    const auto loaded = ours.load(key);
    ASSERT_TRUE(loaded) << loaded.error().to_string();
    EXPECT_EQ(*loaded, std::optional<Bytes>(data)) << storage_key_to_string(key);
  }
  EXPECT_EQ(our_range(ours, {}), js);
  for (const StorageKey& doc : kJsDocs) {
    EXPECT_EQ(our_range(ours, doc), with_prefix(js, doc)) << doc[0];
  }
  EXPECT_EQ(our_range(ours, {kDocA, "incremental"}), with_prefix(js, {kDocA, "incremental"}));
  EXPECT_EQ(our_range(ours, {"storage-adapter-id"}), with_prefix(js, {"storage-adapter-id"}));

  // Then we change the directory and JS sees exactly our view of it.
  const StorageKey snapshot_a = with_prefix(js, {kDocA, "snapshot"}).begin()->first;
  ASSERT_TRUE(ours.remove(snapshot_a));
  ASSERT_TRUE(ours.remove_range({kDocB, "incremental"}));
  ASSERT_TRUE(ours.save({kDocA, "incremental", "ff00"}, Bytes{0, 0, 7}));
  ASSERT_TRUE(ours.save(with_prefix(js, {kDocA, "sync-state"}).begin()->first, Bytes{9, 9}));
  const auto seen = js_ranges(dir.path(), kJsDocs);
  for (const StorageKey& doc : kJsDocs) {
    ASSERT_TRUE(seen.count(doc)) << doc[0];
    EXPECT_EQ(seen.at(doc), our_range(ours, doc)) << doc[0];
  }
  EXPECT_FALSE(seen.at({kDocA}).count(snapshot_a));
  EXPECT_EQ(seen.at({kDocA}).at({kDocA, "incremental", "ff00"}), (Bytes{0, 0, 7}));
}

TEST(StorageJsInterop, WeWriteJsReadsIdentically) {
  TempDir dir;
  auto opened = open_fs_storage(dir.path());
  ASSERT_TRUE(opened) << opened.error().to_string();
  StorageAdapter& ours = **opened;

  Bytes all256(256);
  for (std::size_t i = 0; i < all256.size(); ++i) all256[i] = static_cast<std::uint8_t>(i);
  Bytes big(3 * 1024 * 1024 + 5);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>((i * 131) >> 3);
  const std::string uuid = "030dec61-9573-4874-b500-729d48165c43";
  const Entries mine = {
      {{"storage-adapter-id"}, Bytes(uuid.begin(), uuid.end())},
      {{kDocA, "snapshot", std::string(64, 'a')}, all256},
      {{kDocA, "incremental", std::string(64, 'b')}, Bytes{0, 0, 0}},
      {{kDocA, "incremental", std::string(64, 'c')}, Bytes{}},
      {{kDocA, "sync-state", uuid}, Bytes{1, 2, 3}},
      {{kDocA + "x", "incremental", std::string(64, 'd')}, Bytes{4}},  // a neighbouring doc id
      {{kDocB, "snapshot", std::string(64, 'e')}, big},
      {{"\xc3\xa9t\xc3\xa9-doc", "snapshot", "h1"}, Bytes{5, 0}},
      {{"\xf0\x9f\x98\x80-doc", "incremental", "h2"}, Bytes{6}},
  };
  for (const auto& [k, v] : mine) ASSERT_TRUE(ours.save(k, v)) << storage_key_to_string(k);
  ASSERT_TRUE(ours.save({kDocA, "incremental", std::string(64, 'b')}, Bytes{0, 0, 0}));  // again
  // A temporary file a crashed writer left behind must not show up in JS either.
  std::ofstream(dir.path() + "/" + std::string(kFsStorageTempDir) + "/999999-0") << "torn";

  const std::vector<StorageKey> prefixes = {
      {kDocA}, {kDocA + "x"}, {kDocB}, {kDocA, "incremental"}, {kDocA, "sync-state"},
      {"\xc3\xa9t\xc3\xa9-doc"}, {"\xf0\x9f\x98\x80-doc"}, {kDocA, "missing"}};
  const auto seen = js_ranges(dir.path(), prefixes);
  ASSERT_EQ(seen.size(), prefixes.size());
  for (const StorageKey& p : prefixes) {
    SCOPED_TRACE(storage_key_to_string(p));
    EXPECT_EQ(seen.at(p), with_prefix(mine, p));
    EXPECT_EQ(seen.at(p), our_range(ours, p));
  }
}

}  // namespace
}  // namespace am::repo
