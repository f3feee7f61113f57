#!/usr/bin/env bash
# bench/battery/load_ab.sh [--runs N] [--cpu C] FILE BINARY...
# Cold loads of FILE by each amrepo BINARY (`amrepo bench load`, a fresh process each time),
# interleaved N times (default 10) so that the machine's drift hits every binary alike; prints
# per binary the minimum and median load_ms, the median page faults and system time of the
# load, and the resident memory after it. --cpu C pins every run to CPU C (taskset): on the
# 2-vCPU machine of docs/benchmarks.md one vCPU runs ~40% slower than the other, which made
# unpinned timings bimodal. For before/after comparisons of a change (build the
# "before" binary from a worktree). AB_ALL=1 also prints every load time. Timings are never
# judged. See docs/benchmarks.md.
set -euo pipefail
runs=10
pin=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --cpu) pin=(taskset -c "$2"); shift 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,7p' "$0"; exit 2; fi
file="$1"; shift
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq "$runs"); do
  for bin in "$@"; do
    printf '%s\t%s\n' "$bin" "$("${pin[@]}" "$bin" bench load "$file")" >> "$results"
  done
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
const by = new Map();
for (const line of lines) {
  const [bin, json] = line.split("\t");
  if (!by.has(bin)) by.set(bin, []);
  by.get(bin).push(JSON.parse(json));
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
// A binary older than the page-fault fields prints "–" for them.
const fmt = (x, digits) => (x === undefined || Number.isNaN(x) ? "–" : x.toFixed(digits));
console.log("| binary | load ms min | load ms median | page faults (median) | system ms (median) | RSS after load MB |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [bin, rs] of by) {
  const ms = rs.map((r) => r.load_ms);
  console.log(`| ${bin} | ${fmt(Math.min(...ms), 0)} | ${fmt(med(ms), 0)} | ${fmt(med(rs.map((r) => r.load_minor_faults)), 0)} | ` +
    `${fmt(med(rs.map((r) => r.load_system_ms)), 0)} | ${fmt(med(rs.map((r) => r.rss_kb - r.rss_before_kb)) / 1024, 1)} |`);
  if (process.env.AB_ALL) console.log(`|   all load ms | ${ms.map((x) => x.toFixed(0)).join(" ")} |`);
}' "$results"
