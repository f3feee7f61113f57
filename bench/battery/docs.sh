#!/usr/bin/env bash
# bench/battery/docs.sh [--amrepo PATH] [--runs N] [--require-both] [FILE...]
# `amrepo bench doc` and its JS twin (doc.mjs, pinned @automerge/automerge) over every document of
# data/battery (or the FILEs given), each in a fresh process, then a Markdown table of both with
# ratios (docs_table.mjs). --runs N (default 1) runs each side N times, alternating, and the
# table shows each figure's median: one run can land on cold memory (see docs/benchmarks.md). A file that one side refuses to load gets a row saying so; one that
# neither loads (the fuzz crashers, the sync message) is left out. Prepares the npm packages and
# amrepo as bench/compare/run.sh does. --require-both (CI): exit 1 unless both sides load every
# FILE. Timings are never judged. See docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
amrepo=build/release/tools/amrepo/amrepo
files=()
require_both=0
runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --amrepo) amrepo="$2"; shift 2 ;;
    --require-both) require_both=1; shift ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || files=(data/battery/*.am data/battery/*.amrg data/battery/*.automerge)
bash scripts/npm-deps.sh bench/compare
if [ "$amrepo" = build/release/tools/amrepo/amrepo ]; then bash scripts/release-amrepo.sh; fi
results=$(mktemp)
trap 'rm -f "$results"' EXIT
# One side's result as JSON, or {"error": "..."} with the first line of its complaint.
side() {
  local out err rc
  err=$(mktemp)
  set +e
  out=$("$@" 2>"$err")
  rc=$?
  set -e
  if [ $rc -eq 0 ]; then
    printf '%s' "$out"
  else
    node -e 'const m=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").pop()||"exit "+process.argv[2]; process.stdout.write(JSON.stringify({error: m.slice(0,120)}))' "$err" "$rc"
  fi
  rm -f "$err"
}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "docs.sh: --runs takes a positive count" >&2; exit 2; }
for f in "${files[@]}"; do
  for ((run = 1; run <= runs; run++)); do
    cpp=$(side "$amrepo" bench doc "$f")
    js=$(side node --expose-gc bench/battery/doc.mjs "$f")
    if [ "$require_both" = 1 ] && [[ "$cpp" == '{"error"'* || "$js" == '{"error"'* ]]; then
      echo "docs.sh: $f does not load on both sides: C++ $cpp; JS $js" >&2
      exit 1
    fi
    if [[ "$cpp" == '{"error"'* && "$js" == '{"error"'* ]]; then
      echo "docs.sh: neither side loads $f; left out" >&2
      break
    fi
    printf '{"file":"%s","cpp":%s,"js":%s}\n' "$f" "$cpp" "$js" >>"$results"
  done
done
[ -s "$results" ] || { echo "docs.sh: no document loaded on either side" >&2; exit 1; }
node bench/battery/docs_table.mjs "$results"
