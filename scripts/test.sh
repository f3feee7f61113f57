#!/usr/bin/env bash
# Runs every test: the README's test command, and what .ci/run calls.
#   1. installs missing Debian packages and the pinned npm packages,
#   2. generates golden vectors from the JS reference,
#   3. builds with -Werror and runs ctest: unit/property tests, amrepo end-to-end tests, the
#      examples and the JS interop matrix (tools/jsref/interop.mjs, incl. headless Chromium),
#   4. the API reference (Doxygen; any warning fails), then the install/package/consumer test,
#      and the README's run command on a fresh clone (tests/install/first_run_test.sh),
#   5. the tests under AddressSanitizer + UndefinedBehaviorSanitizer, and the repo core,
#      runtime and transport tests under ThreadSanitizer with 4 io threads,
#   6. a short libFuzzer run of every fuzz target (AM_FUZZ_SECONDS each, default 20),
#   7. reduced C++-vs-JS benchmark runs (bench/compare, bench/battery, bench/server), the Google Benchmark
#      micro-benchmarks (bench/*.cc, one short pass) and the PostgreSQL
#      cluster benchmark (bench/cluster): everything works, no timing assertions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# CI builds a fresh clone in a new folder: hash paths relative to the clone so the cache hits.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
start=$(date +%s)
step() { echo "== [$(( $(date +%s) - start ))s] $*"; }

step "dependencies"
bash scripts/install-deps.sh test  # the run set and the test set
bash scripts/npm-deps.sh tools/jsref

step "golden vectors from the JS reference"
mkdir -p build/vectors
node tools/jsref/gen-vectors.mjs build/vectors >/dev/null
export AM_VECTORS_DIR="$root/build/vectors"

step "house limits: files within 900 lines, functions within 150 (tools/checks/sizes.mjs)"
node tools/checks/sizes.mjs

step "release build and tests"
bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAM_WARNINGS_AS_ERRORS=ON -DAM_BUILD_BENCH=ON
ctest --test-dir build/release --output-on-failure -j2

step "API reference (Doxygen; any warning, such as an undocumented public item, fails)"
doxygen docs/Doxyfile

step "install, package and consumer test"
bash tests/install/consumer_test.sh

step "first run: scripts/run.sh on a fresh clone with an empty compiler cache (time printed, not asserted)"
bash tests/install/first_run_test.sh

step "ASan+UBSan build and tests"
bash scripts/build.sh asan -DCMAKE_BUILD_TYPE=Debug -DAM_WARNINGS_AS_ERRORS=ON \
  "-DAM_SANITIZE=address;undefined" -DAM_BUILD_TOOLS=OFF -DCMAKE_CXX_FLAGS=-O1
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure -j2

step "ThreadSanitizer: repo core, runtime and transport tests with 4 io threads"
AM_BUILD_TARGET=am_repo_tests bash scripts/build.sh tsan -DCMAKE_BUILD_TYPE=Debug -DAM_WARNINGS_AS_ERRORS=ON \
  -DAM_SANITIZE=thread -DAM_BUILD_TOOLS=OFF -DAM_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS=-O1
AM_TEST_IO_THREADS=4 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  build/tsan/tests/am_repo_tests --gtest_filter='*RepoOverTransport*:Repo.*:*Transport*:RepoSim.*:Hub.*:PresenceTest.*:RemoteHeads*:DocHandleHistory.*'

step "fuzz smoke (${AM_FUZZ_SECONDS:-20}s per target)"
CXX=clang++ bash scripts/build.sh fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAM_BUILD_FUZZ=ON -DAM_BUILD_EXAMPLES=OFF \
  -DAM_BUILD_TESTS=OFF -DAM_BUILD_TOOLS=OFF
bash scripts/fuzz-smoke.sh build/fuzz "${AM_FUZZ_SECONDS:-20}"

step "benchmark smoke (reduced; no timing assertions)"
bash bench/compare/run.sh --limit 2000 --reps 1
# The upstream battery, fast tier reduced to the real-document benchmarks (godot-modeled: load,
# reload, fork, save), one sample each; and the per-document table on two small documents. Both
# sides must run and write valid JSON (compare.mjs and docs_table.mjs check the shape).
bash bench/battery/run.sh --tier fast --filter godot-modeled --sample-count 1 --warmup-count 0 --min-ran 4
bash bench/battery/docs.sh --runs 2 --require-both data/battery/interop-exemplar.automerge data/battery/c-brave-ape-49.automerge
build/release/bench/am_core_bench --benchmark_min_time=0.01
build/release/bench/am_sequence_index_bench --benchmark_min_time=0.01
bash bench/server/run.sh --workloads docs,clients,bigdoc,connections --docs 50 --clients 20 --client-docs 5 --seconds 2 \
  --fetchers 3 --big-edits 2000 --connections 200 --conn-docs 10 --conn-idle 1
bash bench/cluster/run.sh --docs 20 --edits 10  # says "skipped" without PostgreSQL server binaries

step "all tests passed"
