// `amrepo bench`: reproducible performance measurements (docs/benchmarks.md).
#pragma once

#include <string>

namespace amrepo {

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
