// `amrepo migrate` as an operator runs it: real stores (files, SQLite, a real PostgreSQL server),
// the real binary, an interrupted run resumed, and a run while `amrepo serve` writes to the source.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "am/document.h"
#include "am/repo/repo.h"
#include "am/repo/storage_fs.h"
#include "am/repo/storage_sqlite.h"
#include "tools/server_process.h"
#ifdef AM_HAVE_POSTGRES
#include "am/repo/storage_postgres.h"
#include "support/pg_test_server.h"
#endif

namespace {

namespace fs = std::filesystem;
using am::test::run_amrepo;
using am::test::ServerProcess;
using namespace std::chrono_literals;
using Heads = std::map<std::string, std::vector<am::ChangeHash>>;  // document id -> heads

class AmrepoMigrate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("amrepo-migrate-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// The document the chunks under `id` make, as the repo loads them (snapshots first).
am::Document load_document(am::repo::StorageAdapter& s, const std::string& id) {
  auto entries = s.load_range({id});
  EXPECT_TRUE(entries) << entries.error().to_string();
  am::Document doc;
  for (const bool snapshots : {true, false}) {
    for (const auto& [key, bytes] : entries ? *entries : std::vector<am::repo::StorageEntry>{}) {
      if (key.size() != 3 || (key[1] != "snapshot" && key[1] != "incremental")) continue;
      if ((key[1] == "snapshot") != snapshots) continue;
      EXPECT_TRUE(doc.load_incremental(bytes)) << id << " " << key[1];
    }
  }
  return doc;
}

// Every document of the store with its heads (each must load with no missing dependency).
Heads heads_of(am::repo::StorageAdapter& s) {
  auto keys = s.list_keys({});
  EXPECT_TRUE(keys) << keys.error().to_string();
  Heads out;
  for (const auto& key : keys ? *keys : std::vector<am::repo::StorageKey>{}) {
    if (key.size() != 3 || (key[1] != "snapshot" && key[1] != "incremental") || out.count(key[0])) continue;
    am::Document doc = load_document(s, key[0]);
    EXPECT_TRUE(doc.get_missing_deps().empty()) << key[0] << " lacks dependencies";
    out[key[0]] = doc.heads();
  }
  return out;
}

// How many documents have at least one chunk in the store (without loading them).
std::size_t documents_present(am::repo::StorageAdapter& s) {
  auto keys = s.list_keys({});
  std::set<std::string> ids;
  for (const auto& key : keys ? *keys : std::vector<am::repo::StorageKey>{}) {
    if (key.size() == 3 && (key[1] == "snapshot" || key[1] == "incremental")) ids.insert(key[0]);
  }
  return ids.size();
}

std::size_t count_keys(am::repo::StorageAdapter& s, const std::string& kind) {
  auto keys = s.list_keys({});
  std::size_t n = 0;
  for (const auto& key : keys ? *keys : std::vector<am::repo::StorageKey>{}) n += key.size() == 3 && key[1] == kind;
  return n;
}

std::unique_ptr<am::repo::StorageAdapter> files(const std::string& dir) { return am::repo::open_fs_storage(dir).value(); }
std::unique_ptr<am::repo::StorageAdapter> sqlite(const std::string& file) {
  return am::repo::open_sqlite_storage(file).value();
}

// Writes `docs` documents into the files store `dir` as a repo stores them: a snapshot, then
// one incremental chunk per later change (0 to 5 of them), a peer's sync state, and the store's
// id. Seeded.
void make_documents(const std::string& dir, int docs, unsigned seed) {
  std::printf("make_documents seed %u\n", seed);
  auto store = files(dir);
  std::mt19937 rng(seed);
  ASSERT_TRUE(store->save({"storage-adapter-id"}, am::Bytes{'s', 't', 'o', 'r', 'e'}));
  for (int i = 0; i < docs; ++i) {
    am::repo::DocumentId::Raw raw{};
    for (auto& byte : raw) byte = static_cast<std::uint8_t>(rng());
    const std::string id = am::repo::DocumentId::uuid_v4(raw).to_string();
    am::Document doc;
    auto edit = [&] {
      (void)doc.put(am::ObjId::root(), "k" + std::to_string(rng() % 4), static_cast<std::int64_t>(rng()));
      doc.commit();
    };
    edit();
    ASSERT_TRUE(store->save({id, "snapshot", doc.heads().at(0).to_hex()}, doc.save()));
    for (int c = static_cast<int>(rng() % 6); c > 0; --c) {
      edit();
      ASSERT_TRUE(store->save({id, "incremental", doc.heads().at(0).to_hex()}, doc.save_incremental()));
    }
    ASSERT_TRUE(store->save({id, "sync-state", "0f0e0d0c-0b0a-4908-8706-050403020100"}, am::Bytes{0x42}));
  }
}

TEST_F(AmrepoMigrate, FilesToSqliteToPostgresToFilesKeepsEveryDocument) {
  make_documents(path("files"), 40, 20261205);
  auto source = files(path("files"));
  const Heads want = heads_of(*source);
  ASSERT_EQ(want.size(), 40u);
  ASSERT_GT(count_keys(*source, "incremental") + count_keys(*source, "snapshot"), 40u);

  auto r = run_amrepo("migrate --from " + path("files") + " --to sqlite:" + path("db/repo.sqlite"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("40 copied, 0 already there, 0 failed"), std::string::npos) << r.err;
  EXPECT_EQ(heads_of(*sqlite(path("db/repo.sqlite"))), want);
  EXPECT_EQ(count_keys(*sqlite(path("db/repo.sqlite")), "sync-state"), 40u);

  std::string last = "sqlite:" + path("db/repo.sqlite");
#ifdef AM_HAVE_POSTGRES
  auto& pg = am::test::PostgresTestServer::get();
  ASSERT_TRUE(pg.error().empty()) << pg.error();
  if (pg.available()) {
    auto conninfo = pg.create_database();
    ASSERT_TRUE(conninfo) << conninfo.error().to_string();
    r = run_amrepo("migrate --drop-sync-states --from " + last + " --to 'postgres:" + *conninfo + "'", dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto db = am::repo::open_postgres_storage(*conninfo).value();
    EXPECT_EQ(heads_of(*db), want);
    EXPECT_EQ(count_keys(*db, "sync-state"), 0u) << "--drop-sync-states";
    last = "'postgres:" + *conninfo + "'";
  } else {
    std::printf("PostgreSQL leg skipped: %s\n", pg.skip_reason().c_str());
  }
#endif
  r = run_amrepo("migrate --from " + last + " --to " + path("files2"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(heads_of(*files(path("files2"))), want);
  // Running it again copies nothing.
  r = run_amrepo("migrate --from " + last + " --to " + path("files2"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("0 copied, 40 already there, 0 failed"), std::string::npos) << r.err;
  // The repo's identity travels with it.
  EXPECT_EQ(source->load({"storage-adapter-id"}).value(), files(path("files2"))->load({"storage-adapter-id"}).value());
}

TEST_F(AmrepoMigrate, BadStoresAreUsageErrors) {
  EXPECT_EQ(run_amrepo("migrate --from " + path("none") + " --to " + path("x"), dir_).exit_code, 1);
  EXPECT_EQ(run_amrepo("migrate --from memory: --to " + path("x"), dir_).exit_code, 2);
  EXPECT_EQ(run_amrepo("migrate --from sqlite: --to " + path("x"), dir_).exit_code, 2);
  EXPECT_EQ(run_amrepo("migrate --from " + path("x") + " --to " + path("x"), dir_).exit_code, 2);
  const auto r = run_amrepo("migrate --from " + path("x") + " --to y --progress sometimes", dir_);
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(AmrepoMigrate, InterruptedRunResumesWhereItStopped) {
  make_documents(path("files"), 250, 7);
  const Heads want = heads_of(*files(path("files")));
  // Kill it once a few documents are at the destination (a files store: count its documents).
  ServerProcess run(0, std::string(AM_AMREPO_PATH) + " migrate --from " + path("files") + " --to " + path("copy"));
  std::size_t partial = 0;
  for (int i = 0; i < 2000 && partial < 20; ++i) {
    std::this_thread::sleep_for(5ms);
    if (fs::exists(path("copy"))) partial = documents_present(*files(path("copy")));
  }
  ::kill(run.pid(), SIGKILL);
  run.stop_after_exit();
  partial = documents_present(*files(path("copy")));
  std::printf("killed with %zu of %zu documents copied\n", partial, want.size());
  ASSERT_GE(partial, 1u);
  ASSERT_LT(partial, want.size()) << "finished before it could be interrupted";
  const auto r = run_amrepo("migrate --from " + path("files") + " --to " + path("copy"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(heads_of(*files(path("copy"))), want);
  // What the first run finished is skipped (the document it was writing when killed may be redone).
  const auto at = r.err.find(" already there");
  ASSERT_NE(at, std::string::npos) << r.err;
  const auto start = r.err.rfind(' ', at - 1) + 1;
  EXPECT_GE(std::stoul(r.err.substr(start, at - start)) + 1, partial) << r.err;
}

TEST_F(AmrepoMigrate, WhileAServerWritesEachCopyIsAStateTheSourceHad) {
  make_documents(path("files"), 20, 11);
  std::vector<am::repo::DocumentId> ids;
  for (const auto& [id, heads] : heads_of(*files(path("files")))) ids.push_back(am::repo::DocumentId::parse(id).value());
  ServerProcess server("--listen 127.0.0.1:0 --data " + path("files"), 1);
  ASSERT_EQ(server.urls(), 1u);
  // A client edits every document, round after round, while migrate runs.
  auto client = am::repo::Repo::open({}).value();
  client->connect_websocket(server.url(0));
  std::vector<am::repo::DocHandle> handles;
  for (const auto& id : ids) {
    auto h = client->find(id, 10s).get();
    ASSERT_TRUE(h) << h.error().to_string();
    handles.push_back(*h);
  }
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (std::int64_t round = 0; writing; ++round) {
      for (auto& h : handles) (void)h.change([&](am::Document& d) { (void)d.put(am::ObjId::root(), "round", round); });
      std::this_thread::sleep_for(2ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  auto r = run_amrepo("migrate --from " + path("files") + " --to sqlite:" + path("copy.sqlite"), dir_);
  writing = false;
  writer.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (auto& h : handles) ASSERT_TRUE(h.wait_synced(client->peers().at(0), 10s));
  client->stop();
  server.stop();
  const Heads final_source = heads_of(*files(path("files")));
  const Heads copied = heads_of(*sqlite(path("copy.sqlite")));
  ASSERT_EQ(copied.size(), ids.size());
  // Each copy loads whole (heads_of checked no dependency is missing) and is a past state of the
  // source: all its heads are changes the source has now.
  for (const auto& [id, heads] : copied) {
    am::Document now = load_document(*files(path("files")), id);
    for (const auto& h : heads) EXPECT_TRUE(now.has_change(h)) << id;
  }
  // A second run brings the destination up to date.
  r = run_amrepo("migrate --from " + path("files") + " --to sqlite:" + path("copy.sqlite"), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(heads_of(*sqlite(path("copy.sqlite"))), final_source);
}

}  // namespace
