// `amrepo bench battery` and `amrepo bench doc` run as a user would (the real binary): the
// battery's schema-2 JSON shape, tier/filter selection, not_run reasons, the memory figures,
// and the per-document line; bad options and unloadable files are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/server_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using am::test::CliRun;
using am::test::run_amrepo;

std::string data_dir() {
  if (const char* env = std::getenv("AM_SHARED_DATA_DIR"); env && *env) return env;
  return std::string(AM_SOURCE_DIR) + "/data";
}

class AmrepoBench : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("amrepo-bench-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Runs the battery with `args` into out.json and returns the parsed run.
  json battery(const std::string& args, int want_exit = 0) {
    const std::string out = (dir_ / "out.json").string();
    CliRun r = run_amrepo("bench battery --data " + data_dir() + " --output " + out + " " + args, dir_);
    EXPECT_EQ(r.exit_code, want_exit) << r.err;
    std::ifstream in(out);
    return json::parse(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), nullptr, false);
  }
  static const json* find(const json& run, const std::string& name) {
    for (const json& r : run["results"]) {
      if (r["name"] == name) return &r;
    }
    return nullptr;
  }
  fs::path dir_;
};

TEST_F(AmrepoBench, BatteryWritesSchemaTwoWithEveryBenchmark) {
  const json run = battery("--tier all --filter full_one_tx/1000 --sample-count 4 --warmup-count 0");
  ASSERT_FALSE(run.is_discarded());
  EXPECT_EQ(run["schema"], 2);
  EXPECT_EQ(run["suite"], "benchmark-battery");
  EXPECT_EQ(run["sample_count"], 4);
  // Every benchmark of the battery is listed once (137 in the reference battery).
  EXPECT_EQ(run["results"].size(), 137u);
  std::size_t ran = 0;
  for (const json& r : run["results"]) {
    if (r["kind"] != "not_run") ++ran;
  }
  // The filter matches sync/full_one_tx/1000 only (a substring of no other name).
  EXPECT_EQ(ran, 1u);
  const json* s = find(run, "sync/full_one_tx/1000");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ((*s)["kind"], "sampled");
  EXPECT_EQ((*s)["unit"], "ns/iter");
  ASSERT_EQ((*s)["sample_values"].size(), 4u);
  EXPECT_LE((*s)["min"].get<std::uint64_t>(), (*s)["median"].get<std::uint64_t>());
  EXPECT_LE((*s)["median"].get<std::uint64_t>(), (*s)["max"].get<std::uint64_t>());
  EXPECT_GT((*s)["max"].get<std::uint64_t>(), 0u);
  // Unselected benchmarks are not_run without a reason, with their kind and unit.
  const json* other = find(run, "sync/tiny_text");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ((*other)["kind"], "not_run");
  EXPECT_EQ((*other)["benchmark_kind"], "series");
  EXPECT_EQ((*other)["unit"], "ns/step");
  EXPECT_FALSE(other->contains("reason"));
}

TEST_F(AmrepoBench, BatterySeriesAndMissingApiAreReported) {
  const json run = battery("--tier all --filter list_cursor_at");
  const json* s = find(run, "list/list_cursor_at");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ((*s)["kind"], "not_run");
  EXPECT_NE((*s)["reason"].get<std::string>().find("historical heads"), std::string::npos);
  const json series = battery("--tier all --filter typing/single_char_100_incremental_loads");
  const json* t = find(series, "typing/single_char_100_incremental_loads");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ((*t)["kind"], "series");
  ASSERT_EQ((*t)["points"].size(), 100u);
  std::uint64_t total = 0;
  for (const json& p : (*t)["points"]) total += p.get<std::uint64_t>();
  EXPECT_EQ((*t)["summary"]["total"].get<std::uint64_t>(), total);
}

TEST_F(AmrepoBench, BatteryMemoryCountsTheLoadedDocument) {
  const json run = battery("--tier all --filter memory/load/stephen");
  const json* m = find(run, "memory/load/stephen");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ((*m)["kind"], "memory");
  const auto peak = (*m)["peak_bytes"].get<std::uint64_t>(), steady = (*m)["steady_bytes"].get<std::uint64_t>();
  // The document's text alone is more than the file's 189,474 bytes; the peak includes the steady state.
  EXPECT_GT(steady, 189'474u);
  EXPECT_GE(peak, steady);
}

TEST_F(AmrepoBench, BatteryRefusesBadOptions) {
  CliRun r = run_amrepo("bench battery --tier medium", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tier"), std::string::npos);
  r = run_amrepo("bench battery --filter no-such-benchmark --tier all", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no benchmark matches"), std::string::npos);
}

TEST_F(AmrepoBench, DocPrintsLoadSaveSyncAndMemory) {
  const std::string file = data_dir() + "/battery/c-brave-ape-49.automerge";
  CliRun r = run_amrepo("bench doc " + file, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json line = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(line.is_discarded()) << r.out;
  EXPECT_EQ(line["file_bytes"], 47'789);
  EXPECT_GT(line["save_bytes"].get<std::size_t>(), 0u);
  EXPECT_GE(line["sync_round_trips"].get<int>(), 2);
  EXPECT_GT(line["sync_bytes"].get<std::size_t>(), 0u);
  EXPECT_EQ(line["heads"].size(), 1u);
  EXPECT_GE(line["peak_rss_kb"].get<long>(), line["rss_after_load_kb"].get<long>());
  EXPECT_GT(line["heap_peak_bytes"].get<long>(), 0);
  EXPECT_GT(line["heap_after_load_bytes"].get<long>(), 0);
  for (const char* field : {"load_ms", "save_ms", "sync_ms", "rss_before_kb"}) EXPECT_TRUE(line.contains(field)) << field;
}

TEST_F(AmrepoBench, DocRefusesWhatDoesNotLoad) {
  CliRun r = run_amrepo("bench doc " + data_dir() + "/battery/crasher-too_many_ops.automerge", dir_);
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("corruption"), std::string::npos) << r.err;
  r = run_amrepo("bench doc " + (dir_ / "absent.automerge").string(), dir_);
  EXPECT_EQ(r.exit_code, 4);
}

}  // namespace
