#!/usr/bin/env bash
# bench/battery/run.sh [--tier fast|slow|all] [--filter S] [--sample-count N] [--max-seconds S]
#                      [--warmup-count N] [--amrepo PATH] [--out DIR] [--min-ran N]
# The reference's benchmark battery on both implementations, from a clean clone: installs the
# pinned @automerge/automerge (npm ci, once) and brings amrepo up to date as bench/compare/run.sh
# does, runs `amrepo bench battery` and bench/battery/battery.mjs with the same options (C++
# first, then JS), writes DIR/cpp.json and DIR/js.json (default: a fresh temporary folder) and
# prints the Markdown comparison (compare.mjs). Exit status: non-zero when a side fails or writes
# malformed JSON, or (--min-ran N) when fewer than N benchmarks ran on both sides; timings are
# never judged. See docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
amrepo=build/release/tools/amrepo/amrepo
out=""
min_ran=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tier|--filter|--sample-count|--max-seconds|--warmup-count) args+=("$1" "$2"); shift 2 ;;
    --amrepo) amrepo="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --min-ran) min_ran="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bash scripts/npm-deps.sh bench/compare
if [ "$amrepo" = build/release/tools/amrepo/amrepo ]; then bash scripts/release-amrepo.sh; fi
[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"
echo "battery: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$amrepo" bench battery "${args[@]}" --data data --output "$out/cpp.json"
node bench/battery/battery.mjs "${args[@]}" --data data --output "$out/js.json"
echo "battery: load average after: $(cut -d' ' -f1-3 /proc/loadavg); results in $out" >&2
node bench/battery/compare.mjs "$out/cpp.json" "$out/js.json" --min-ran "$min_ran"
