#!/usr/bin/env bash
# The README's run command: installs what building and running amrepo needs (only that: the
# test dependencies are scripts/test.sh's), builds the amrepo target alone in build/run
# (optimized, no debug info; tests, examples and benchmarks off), and runs it.
# With no arguments it starts the sync server; arguments are passed to amrepo instead.
# Build progress goes to stderr; stdout is amrepo's alone (e.g. `listening ws://...`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh run
binary="$root/build/run/tools/amrepo/amrepo"
if [ ! -x "$binary" ]; then
  echo "run.sh: building amrepo in build/run (the first time takes a few minutes)" >&2
fi
# -O2, as the RelWithDebInfo builds the benchmarks in docs/ were measured with, without -g.
AM_BUILD_TARGET=amrepo bash scripts/build.sh run -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
  -DAM_BUILD_TESTS=OFF -DAM_BUILD_EXAMPLES=OFF -DAM_BUILD_BENCH=OFF -DAM_BUILD_FUZZ=OFF >&2
# No arguments: the sync server on its defaults (ws://127.0.0.1:3030, ./amrepo-data).
if [ $# -eq 0 ]; then set -- serve; fi
exec "$binary" "$@"
