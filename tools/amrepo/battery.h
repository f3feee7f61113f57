// `amrepo bench battery`: the reference's benchmark battery (rust/benchmark-battery in the
// public automerge/automerge repository) ported to our public API, writing its stable JSON
// shape (schema 2: sampled / series / memory / not_run results). bench/battery/battery.mjs runs
// the same scenarios on the pinned @automerge/automerge; bench/battery/run.sh runs both and
// prints them side by side (docs/benchmarks.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "am/document.h"
#include "am/sync.h"

namespace amrepo {

/// Options of `amrepo bench battery`.
struct BatteryOptions {
  std::string filter;          // substring of a benchmark's group or name; empty = all
  std::string tier = "fast";   // fast | slow | all
  std::string output;          // JSON file to write; empty = stdout
  std::string data_dir;        // the repository's data/ (battery/ and the paper trace inside)
  std::size_t sample_count = 30;  // measured samples per sampled benchmark (the battery's default)
  std::size_t warmup_count = 3;   // unmeasured iterations first
  double max_seconds = 10;     // stop sampling a benchmark after this long (at least 3 samples)
  bool list = false;           // print name, kind and tier of every benchmark instead of running
};

/// Runs the selected benchmarks; every known benchmark appears in the output (unselected or
/// unavailable ones as not_run). Returns the exit code.
int bench_battery(const BatteryOptions& options);

namespace battery {

/// What a benchmark measures (the battery's three kinds).
enum class Kind { kSampled, kSeries, kMemory };

/// One timed iteration of a sampled benchmark: does its own untimed preparation, returns ns.
using SampleFn = std::function<std::uint64_t()>;
/// One step of a series benchmark (the runner times each call).
using StepFn = std::function<void(std::size_t)>;

/// Heap figures of one memory benchmark (see heap_tracker.h for what they count).
struct MemoryMeasurement {
  std::uint64_t peak_bytes = 0;
  std::uint64_t steady_bytes = 0;
};

/// One benchmark of the battery. Exactly one of sampled/series/memory is set, unless
/// not_run_reason is non-empty (the benchmark is then always recorded as not_run, with it).
struct Scenario {
  std::string group;
  std::string name;
  Kind kind = Kind::kSampled;
  std::string not_run_reason;
  std::function<SampleFn()> sampled;  // set-up (measured as setup_duration_ns) -> iteration
  std::size_t steps = 0;
  std::function<StepFn()> series;     // set-up -> step
  std::function<std::function<MemoryMeasurement()>()> memory;  // set-up -> measurement
};

/// Where the input files are.
struct DataFiles {
  std::string dir;  // data/
  std::string battery(const std::string& name) const { return dir + "/battery/" + name; }
};

/// The scenario groups (battery_scenarios_*.cc), appended in the battery's order.
void add_apply_to_edit_trace(std::vector<Scenario>& out, const DataFiles& data);
void add_egwalker_to_load_save(std::vector<Scenario>& out, const DataFiles& data);
void add_map_to_typing(std::vector<Scenario>& out, const DataFiles& data);
void add_sync_and_typing(std::vector<Scenario>& out, const DataFiles& data);

// ---- shared helpers (battery_docs.cc) -------------------------------------------------------

/// A small deterministic generator (mulberry32); bench/battery/battery.mjs has the same one, so
/// both sides build the same documents.
class Rng {
 public:
  explicit Rng(std::uint32_t seed) : state_(seed) {}
  std::uint32_t next();
  std::size_t below(std::size_t n) { return n == 0 ? 0 : next() % n; }

 private:
  std::uint32_t state_;
};

/// n characters from [A-Za-z0-9].
std::string random_string(Rng& rng, std::size_t n);
/// A new document with the fixed benchmark actor (0xaa x16) so both sides write the same changes.
am::Document new_doc();
/// The id at a root key (aborts the benchmark with a message if absent).
am::ObjId root_obj(const am::Document& doc, const std::string& key);
/// A copy with the same actor (the Rust battery's clone()).
am::Document clone_doc(const am::Document& doc);
/// Loads bytes that must load (aborts with a message otherwise).
am::Document must_load(am::ByteView bytes);
/// Reads a whole file (aborts with a message when it cannot).
am::Bytes read_file(const std::string& path);
/// Aborts the run with a message when a benchmark's operation fails.
void check(const am::Status& status, const char* what);

// The battery's document builders (its lib.rs), on our API.
am::Document maps_in_maps_doc(std::uint64_t n);
am::Document big_paste_doc(std::uint64_t n, Rng& rng);
am::Document big_random_doc(std::uint64_t n, Rng& rng);
am::Document text_splice_100(std::uint64_t n, Rng& rng);
am::Document list_splice_100(std::uint64_t n, Rng& rng);
am::Document poorly_simulated_typing_doc(std::uint64_t n, Rng& rng);
am::Document deep_history_doc(std::uint64_t n);
/// The typing group's text document: one change of n single-character inserts at random places.
am::Document gen_text_doc(std::uint64_t n, Rng& rng);

/// A document and its sync state for one peer (the battery's DocWithSync).
struct SyncPeer {
  am::Document doc;
  am::SyncState state;
};
/// The battery's DocWithSync::sync: a sends while it has something; b answers each message.
void sync_pair(SyncPeer& a, SyncPeer& b);

/// Time of `op` in ns.
template <class F>
std::uint64_t time_ns(F&& op) {
  const auto t = std::chrono::steady_clock::now();
  op();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count());
}

/// Keeps a value observable so the optimiser cannot drop the work that made it.
template <class T>
void keep(const T& value) {
  asm volatile("" : : "r"(&value) : "memory");
}

/// A sampled scenario: `setup` runs once (timed as its set-up) and returns the iteration.
inline Scenario sampled(std::string group, std::string name, std::function<SampleFn()> setup) {
  Scenario s;
  s.group = std::move(group);
  s.name = std::move(name);
  s.sampled = std::move(setup);
  return s;
}

/// A scenario recorded as not run, with the reason (both sides record the same).
inline Scenario not_run(std::string group, std::string name, std::string reason, Kind kind = Kind::kSampled) {
  Scenario s;
  s.group = std::move(group);
  s.name = std::move(name);
  s.kind = kind;
  s.not_run_reason = std::move(reason);
  return s;
}

/// An iteration that needs no per-iteration preparation: the time of `op`.
inline SampleFn whole(std::function<void()> op) {
  return [op = std::move(op)] { return time_ns(op); };
}

/// Shares a prepared input between iterations.
template <class T>
std::shared_ptr<T> shared(T value) {
  return std::make_shared<T>(std::move(value));
}

}  // namespace battery
}  // namespace amrepo
