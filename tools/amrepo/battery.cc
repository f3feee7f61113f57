// `amrepo bench battery`: the runner and the schema-2 JSON writer (the reference battery's
// runner.rs and scenarios/mod.rs), over the scenarios of battery_scenarios_*.cc.
#include "battery.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <numeric>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace amrepo {
namespace {

using battery::Kind;
using battery::Scenario;
using Json = nlohmann::ordered_json;

// The battery's hard-coded fast tier (scenarios/mod.rs is_fast); everything else is slow.
bool is_fast(const std::string& name) {
  static const std::set<std::string> kFast = {
      "build/build_big_paste", "build/build_text_splice_100", "egwalker_paper/get_text/A1",
      "length/text_len_now", "length/text_len_at", "length/list_len_now", "length/map_len_now",
      "length/map_len_at", "list/list_cursor_now", "list/list_cursor_at", "list/list_update_now",
      "list/list_update_at", "list/list_splice_index_now", "list/list_splice_index_at",
      "load_save/load_big_paste", "load_save/save_big_paste", "load_save/load_text_splice_100",
      "load_save/save_text_splice_100", "load_save/save_typing", "map/increasing_put/1000",
      "map/decreasing_put/1000", "map/repeated_put/1000", "map/repeated_increment/1000",
      "map/deep_history/1000", "marks/add_mark", "marks/splice_without_marks", "range/range/10000",
      "range/range_at/10000", "sync/full_many_tx", "sync/full_one_tx", "sync/full_one_tx/100",
      "sync/full_one_tx/1000", "sync/every_change/100", "sync/big_chunky_sync_message",
      "typing/single_char_100_bulk_incremental_load"};
  return name.find("godot-modeled") != std::string::npos || kFast.count(name) > 0;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kSampled: return "sampled";
    case Kind::kSeries: return "series";
    case Kind::kMemory: return "memory";
  }
  return "sampled";
}

const char* unit_of(Kind k) {
  switch (k) {
    case Kind::kSampled: return "ns/iter";
    case Kind::kSeries: return "ns/step";
    case Kind::kMemory: return "bytes";
  }
  return "ns/iter";
}

std::uint64_t median_sorted(const std::vector<std::uint64_t>& v) {
  const std::size_t n = v.size();
  return n % 2 == 0 ? (v[n / 2 - 1] + v[n / 2]) / 2 : v[n / 2];
}

std::uint64_t since_ns(std::chrono::steady_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count());
}

Json not_run_entry(const Scenario& s, const std::string& reason) {
  Json j;
  j["kind"] = "not_run";
  j["name"] = s.name;
  j["group"] = s.group;
  j["unit"] = unit_of(s.kind);
  j["benchmark_kind"] = kind_name(s.kind);
  if (!reason.empty()) j["reason"] = reason;  // our addition: why it did not run
  return j;
}

Json run_sampled(const Scenario& s, const BatteryOptions& o) {
  const auto setup_start = std::chrono::steady_clock::now();
  battery::SampleFn iteration = s.sampled();
  const std::uint64_t setup_ns = since_ns(setup_start);
  const auto start = std::chrono::steady_clock::now();
  const auto budget = std::chrono::duration<double>(o.max_seconds);
  // Warm-up iterations and samples stop early once the budget is spent (heavy benchmarks still
  // get one warm-up and three samples); `samples` records how many were taken.
  for (std::size_t i = 0; i < o.warmup_count; ++i) {
    iteration();
    if (std::chrono::steady_clock::now() - start > budget) break;
  }
  std::vector<std::uint64_t> samples;
  for (std::size_t i = 0; i < o.sample_count; ++i) {
    samples.push_back(iteration());
    if (samples.size() >= 3 && std::chrono::steady_clock::now() - start > budget) break;
  }
  std::vector<std::uint64_t> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  Json j;
  j["kind"] = "sampled";
  j["name"] = s.name;
  j["group"] = s.group;
  j["unit"] = "ns/iter";
  j["setup_duration_ns"] = setup_ns;
  j["min"] = sorted.front();
  j["median"] = median_sorted(sorted);
  j["mean"] = std::accumulate(sorted.begin(), sorted.end(), std::uint64_t{0}) / sorted.size();
  j["max"] = sorted.back();
  j["samples"] = samples.size();
  j["iters_per_sample"] = 1;
  j["sample_values"] = samples;
  return j;
}

Json run_series(const Scenario& s) {
  const auto setup_start = std::chrono::steady_clock::now();
  battery::StepFn step = s.series();
  const std::uint64_t setup_ns = since_ns(setup_start);
  std::vector<std::uint64_t> points;
  points.reserve(s.steps);
  for (std::size_t i = 0; i < s.steps; ++i) points.push_back(battery::time_ns([&] { step(i); }));
  const std::uint64_t total = std::accumulate(points.begin(), points.end(), std::uint64_t{0});
  std::vector<std::uint64_t> sorted = points;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t window = std::max<std::size_t>(points.size() / 10, 1);
  std::vector<std::uint64_t> last(points.end() - static_cast<std::ptrdiff_t>(window), points.end());
  std::sort(last.begin(), last.end());
  Json j;
  j["kind"] = "series";
  j["name"] = s.name;
  j["group"] = s.group;
  j["unit"] = "ns/step";
  j["setup_duration_ns"] = setup_ns;
  j["points"] = points;
  j["summary"] = {{"total", total},
                  {"mean", total / points.size()},
                  {"median", median_sorted(sorted)},
                  {"last_window_median", median_sorted(last)}};
  return j;
}

Json run_memory(const Scenario& s) {
  const auto setup_start = std::chrono::steady_clock::now();
  auto measure = s.memory();
  const std::uint64_t setup_ns = since_ns(setup_start);
  const battery::MemoryMeasurement m = measure();
  Json j;
  j["kind"] = "memory";
  j["name"] = s.name;
  j["group"] = s.group;
  j["unit"] = "bytes";
  j["setup_duration_ns"] = setup_ns;
  j["peak_bytes"] = m.peak_bytes;
  j["steady_bytes"] = m.steady_bytes;
  return j;
}

std::string command_output(const char* command) {
  std::string out;
  if (std::FILE* p = popen(command, "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    if (pclose(p) != 0) return {};
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::vector<Scenario> all_scenarios(const battery::DataFiles& data) {
  std::vector<Scenario> all;
  battery::add_apply_to_edit_trace(all, data);
  battery::add_egwalker_to_load_save(all, data);
  battery::add_map_to_typing(all, data);
  return all;
}

bool selected(const Scenario& s, const BatteryOptions& o) {
  const bool fast = is_fast(s.name);
  if (o.tier == "fast" && !fast) return false;
  if (o.tier == "slow" && fast) return false;
  return o.filter.empty() || s.group.find(o.filter) != std::string::npos ||
         s.name.find(o.filter) != std::string::npos;
}

Json run_header(const BatteryOptions& o) {
  Json run;
  run["schema"] = 2;
  run["suite"] = "benchmark-battery";
  const std::string commit = command_output("git rev-parse HEAD 2>/dev/null");
  run["commit"] = commit.empty() ? Json(nullptr) : Json(commit);
  run["timestamp_unix_seconds"] = static_cast<std::uint64_t>(std::time(nullptr));
  run["rustc"] = nullptr;
  utsname u{};
  run["target"] = uname(&u) == 0 ? Json(std::string(u.machine) + "-" + u.sysname) : Json(nullptr);
  run["profile"] = "release";
  run["sample_count"] = o.sample_count;
  run["implementation"] = "amrepo (C++)";  // our addition: which side wrote the file
  return run;
}

}  // namespace

int bench_battery(const BatteryOptions& options) {
  if (options.tier != "fast" && options.tier != "slow" && options.tier != "all") {
    std::cerr << "amrepo bench battery: --tier must be fast, slow or all\n";
    return 2;
  }
  if (options.sample_count == 0) {
    std::cerr << "amrepo bench battery: --sample-count must be at least 1\n";
    return 2;
  }
  battery::DataFiles data{options.data_dir};
  if (data.dir.empty()) {
    const char* env = std::getenv("AM_SHARED_DATA_DIR");
    data.dir = env && *env ? env : "data";
  }
  const std::vector<Scenario> all = all_scenarios(data);
  if (options.list) {
    for (const Scenario& s : all) {
      std::cout << s.name << "\t" << kind_name(s.kind) << "\t" << (is_fast(s.name) ? "fast" : "slow")
                << (s.not_run_reason.empty() ? "" : "\tnot_run: " + s.not_run_reason) << "\n";
    }
    return 0;
  }
  Json run = run_header(options);
  Json results = Json::array();
  std::size_t matched = 0, failed = 0;
  for (const Scenario& s : all) {
    if (!selected(s, options)) {
      results.push_back(not_run_entry(s, ""));
      continue;
    }
    ++matched;
    if (!s.not_run_reason.empty()) {
      std::cerr << "not running " << s.name << " (" << s.not_run_reason << ")\n";
      results.push_back(not_run_entry(s, s.not_run_reason));
      continue;
    }
    std::cerr << "running " << s.name << "\n";
    try {
      results.push_back(s.kind == Kind::kSampled ? run_sampled(s, options)
                        : s.kind == Kind::kSeries ? run_series(s)
                                                  : run_memory(s));
    } catch (const std::exception& e) {
      ++failed;
      std::cerr << "amrepo bench battery: " << s.name << " failed: " << e.what() << "\n";
      results.push_back(not_run_entry(s, std::string("failed: ") + e.what()));
    }
  }
  run["results"] = std::move(results);
  if (matched == 0) {
    std::cerr << "amrepo bench battery: no benchmark matches the filter and tier\n";
    return 2;
  }
  const std::string text = run.dump(2) + "\n";
  if (options.output.empty()) {
    std::cout << text;
  } else {
    std::ofstream out(options.output);
    out << text;
    if (!out) {
      std::cerr << "amrepo bench battery: cannot write " << options.output << "\n";
      return 4;
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace amrepo
