#!/usr/bin/env bash
# scripts/release-amrepo.sh: makes build/release/tools/amrepo/amrepo current for the benchmark
# runners (bench/compare, bench/battery): an existing release build's amrepo is brought up to
# date (a no-op when it is), otherwise build/release is configured and built.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -f build/release/build.ninja ]; then
  cmake --build build/release --target amrepo -- -j"${AM_JOBS:-$(nproc)}" >/dev/null
else
  bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAM_WARNINGS_AS_ERRORS=ON >/dev/null
fi
