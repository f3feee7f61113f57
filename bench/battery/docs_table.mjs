// Markdown table of `amrepo bench doc` (C++) and doc.mjs (JS) JSON lines, one row per document,
// with ratios JS / C++ (above 1: C++ is faster or smaller). Several lines of one file (docs.sh
// --runs) make one row of each figure's median per side; a side that failed in any run shows
// its first error. Used by docs.sh; validates every line (exit 1 on a malformed one) and never
// judges timings.
//
//   node bench/battery/docs_table.mjs RESULTS.jsonl
//
// RESULTS.jsonl holds lines {"file", "cpp": <amrepo line or {"error"}>, "js": <doc.mjs line or {"error"}>}.
import { readFileSync } from "node:fs"
import { basename } from "node:path"

const FIELDS = ["file_bytes", "load_ms", "save_ms", "save_bytes", "sync_ms", "sync_bytes", "sync_round_trips",
  "rss_before_kb", "rss_after_load_kb", "peak_rss_kb", "heap_after_load_bytes", "heap_peak_bytes"]

function die(msg) {
  process.stderr.write(`docs_table.mjs: ${msg}\n`)
  process.exit(1)
}
function check(side, file) {
  if (side.error !== undefined) return
  for (const f of FIELDS) if (typeof side[f] !== "number" || !Number.isFinite(side[f])) die(`${file}: field ${f} missing or not a number`)
}

const lines = readFileSync(process.argv[2] || die("usage: docs_table.mjs RESULTS.jsonl"), "utf8").split("\n").filter(Boolean)
const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
const mb = (kb) => (kb / 1024).toFixed(1)
const mib = (b) => (b / 1048576).toFixed(1)
const r = (js, cpp) => (cpp > 0 ? `${(js / cpp).toFixed(2)}x` : "–")
const out = [
  "| document | bytes | load ms C++ / JS | ratio | save ms C++ / JS | ratio | sync ms C++ / JS | ratio | sync bytes C++ / JS | load peak RSS MB (peak − before) C++ / JS | ratio | RSS after load MB (after − before) C++ / JS | heap after load MiB C++ / JS | heap peak MiB C++ / JS | ratio |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
// The runs of each file, in the order the files first appear.
const runsByFile = new Map()
for (const line of lines) {
  let row
  try { row = JSON.parse(line) } catch { die(`bad line ${line.slice(0, 80)}`) }
  check(row.cpp, row.file)
  check(row.js, row.file)
  if (!runsByFile.has(row.file)) runsByFile.set(row.file, [])
  runsByFile.get(row.file).push(row)
}
const median = (values) => {
  const v = [...values].sort((a, b) => a - b)
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}
// One side over its runs: the first error if any run failed, else each field's median.
function merged(sides) {
  const failed = sides.find((s) => s.error !== undefined)
  if (failed) return failed
  return Object.fromEntries(FIELDS.map((f) => [f, median(sides.map((s) => s[f]))]))
}
for (const [file, runs] of runsByFile) {
  const cpp = merged(runs.map((run) => run.cpp))
  const js = merged(runs.map((run) => run.js))
  const name = runs.length > 1 ? `${basename(file)} (median of ${runs.length})` : basename(file)
  if (cpp.error !== undefined || js.error !== undefined) {
    out.push(`| ${name} | | C++: ${cpp.error ?? "loads"}; JS: ${js.error ?? "loads"} | | | | | | | | | | | | |`)
    continue
  }
  const peakC = cpp.peak_rss_kb - cpp.rss_before_kb, peakJ = js.peak_rss_kb - js.rss_before_kb
  const resC = cpp.rss_after_load_kb - cpp.rss_before_kb, resJ = js.rss_after_load_kb - js.rss_before_kb
  out.push(`| ${name} | ${cpp.file_bytes} | ${ms(cpp.load_ms)} / ${ms(js.load_ms)} | ${r(js.load_ms, cpp.load_ms)} | ` +
    `${ms(cpp.save_ms)} / ${ms(js.save_ms)} | ${r(js.save_ms, cpp.save_ms)} | ${ms(cpp.sync_ms)} / ${ms(js.sync_ms)} | ${r(js.sync_ms, cpp.sync_ms)} | ` +
    `${cpp.sync_bytes} / ${js.sync_bytes} | ${mb(peakC)} / ${mb(peakJ)} | ${r(peakJ, peakC)} | ${mb(resC)} / ${mb(resJ)} | ` +
    `${mib(cpp.heap_after_load_bytes)} / ${mib(js.heap_after_load_bytes)} | ${mib(cpp.heap_peak_bytes)} / ${mib(js.heap_peak_bytes)} | ${r(js.heap_peak_bytes, cpp.heap_peak_bytes)} |`)
}
console.log(out.join("\n"))
