#!/usr/bin/env bash
# scripts/fuzz-smoke.sh BUILD_DIR SECONDS: replays every kept regression input, then fuzzes each
# target for SECONDS from its seed corpus. Fails on the first crash, leak, or timeout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$1"
seconds="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
targets=$(find "$build/fuzz" -maxdepth 1 -type f -executable -name 'fuzz_*' | sort)
[ -n "$targets" ] || { echo "fuzz-smoke: no fuzz targets in $build/fuzz" >&2; exit 1; }
passed=0
for t in $targets; do
  name=$(basename "$t")
  regress="$root/fuzz/regressions/$name"
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    "$t" -runs=0 "$regress"/* >"$work/$name.replay.log" 2>&1 ||
      { cat "$work/$name.replay.log"; echo "fuzz-smoke: $name regression input failed" >&2; exit 1; }
  fi
  mkdir -p "$work/$name"
  seeds="$root/fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  if ! "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/" "$work/$name" $seeds >"$work/$name.log" 2>&1; then
    tail -50 "$work/$name.log"
    echo "fuzz-smoke: $name FAILED; the crashing input is kept in fuzz/regressions/$name/" >&2
    mkdir -p "$regress"
    cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$regress"/ 2>/dev/null || true
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz-smoke: $name ok ($runs executions)"
  passed=$((passed + 1))
done
echo "fuzz: $passed passed, 0 failed"
