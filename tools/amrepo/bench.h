// `amrepo bench`: reproducible performance measurements (docs/benchmarks.md).
#pragma once

#include <string>

namespace amrepo {

struct TraceBenchOptions {
  std::string file;        // editing-traces JSON, gzip or plain
  bool single = false;     // the whole trace as one change (else one change per edit)
  long limit = -1;         // replay only the first N edits (CI's reduced run)
};

/// Replays an editing trace and prints one JSON line of measurements. Returns the exit code.
int bench_trace(const TraceBenchOptions& options);

}  // namespace amrepo
