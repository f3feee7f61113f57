// `amrepo bench`: reproducible performance measurements (docs/benchmarks.md).
#pragma once

#include <sys/resource.h>

#include <string>

namespace amrepo {

/// Minor page faults and system CPU time this process spent since construction (getrusage):
/// fresh pages cost 10-15 us each on some virtual machines (docs/benchmarks.md), so the load
/// and save benchmarks report both next to their times.
class FaultCounter {
 public:
  FaultCounter() { getrusage(RUSAGE_SELF, &start_); }
  struct Figures {
    long minor_faults = 0;
    double system_ms = 0;
  };
  [[nodiscard]] Figures since_start() const {
    rusage now{};
    getrusage(RUSAGE_SELF, &now);
    return {now.ru_minflt - start_.ru_minflt,
            static_cast<double>(now.ru_stime.tv_sec - start_.ru_stime.tv_sec) * 1e3 +
                static_cast<double>(now.ru_stime.tv_usec - start_.ru_stime.tv_usec) / 1e3};
  }

 private:
  rusage start_{};
};

struct TraceBenchOptions {
  std::string file;        // editing-traces JSON, gzip or plain
  bool single = false;     // the whole trace as one change (else one change per edit)
  long limit = -1;         // replay only the first N edits (CI's reduced run)
  std::string save_to;     // also write the saved document here (for `bench load`)
  bool no_sync = false;    // skip the sync-to-an-empty-peer measurement
  bool observe = false;    // per edit, also take the patches since the last edit (diff_incremental)
};

/// Replays an editing trace, then saves the document, loads the saved bytes and syncs the
/// document to an empty peer; prints one JSON line of measurements. Returns the exit code.
int bench_trace(const TraceBenchOptions& options);

struct LoadBenchOptions {
  std::string file;        // a saved document (Document::save() output or any load() input)
  bool unchecked = false;  // skip head verification (the JS `load(bytes, {unchecked: true})`)
};

/// Loads a saved document in this (fresh) process and prints one JSON line: load time and the
/// process's resident set after loading. Returns the exit code.
int bench_load(const LoadBenchOptions& options);

}  // namespace amrepo
