#!/usr/bin/env bash
# bench/compare/run.sh [--limit N] [--reps N] [--amrepo PATH] [--trace FILE] [--json FILE]
# One command from a clean clone: installs the pinned @automerge/automerge (npm ci, once), builds
# amrepo in build/release unless --amrepo is given, then runs compare.mjs (C++ and JS alternating,
# medians, Markdown table on stdout). See docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash scripts/npm-deps.sh bench/compare
custom_amrepo=0
for a in "$@"; do [ "$a" = "--amrepo" ] && custom_amrepo=1; done
if [ "$custom_amrepo" = 0 ]; then bash scripts/release-amrepo.sh; fi
exec node bench/compare/compare.mjs "$@"
