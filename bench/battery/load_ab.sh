#!/usr/bin/env bash
# bench/battery/load_ab.sh [--runs N] FILE BINARY...
# Cold loads of FILE by each amrepo BINARY (`amrepo bench load`, a fresh process each time),
# interleaved N times (default 10) so that the machine's drift hits every binary alike; prints
# per binary the minimum and median load_ms, the median page faults and system time of the
# load, and the resident memory after it. For before/after comparisons of a change (build the
# "before" binary from a worktree). Timings are never judged. See docs/benchmarks.md.
set -euo pipefail
runs=10
if [ "${1:-}" = "--runs" ]; then runs="$2"; shift 2; fi
if [ $# -lt 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then sed -n '2,7p' "$0"; exit 2; fi
file="$1"; shift
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq "$runs"); do
  for bin in "$@"; do
    printf '%s\t%s\n' "$bin" "$("$bin" bench load "$file")" >> "$results"
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
console.log("| binary | load ms min | load ms median | page faults (median) | system ms (median) | RSS after load MB |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [bin, rs] of by) {
  const ms = rs.map((r) => r.load_ms);
  console.log(`| ${bin} | ${Math.min(...ms).toFixed(0)} | ${med(ms).toFixed(0)} | ${med(rs.map((r) => r.load_minor_faults))} | ` +
    `${med(rs.map((r) => r.load_system_ms)).toFixed(0)} | ${(med(rs.map((r) => r.rss_kb - r.rss_before_kb)) / 1024).toFixed(1)} |`);
}' "$results"
