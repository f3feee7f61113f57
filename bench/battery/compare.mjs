// Prints a Markdown table of two battery result files (schema 2) side by side: the C++ run
// (`amrepo bench battery`) and the JS run (battery.mjs), with the ratio JS / C++ (above 1: C++ is
// faster or smaller). Sampled rows compare medians, series rows totals, memory rows peak and
// steady heap; rows not run on either side show why. Validates both files' shape first and
// exits 1 when either is malformed, so CI can use it as the check that both sides produced
// valid output. It never judges timings.
//
//   node bench/battery/compare.mjs CPP.json JS.json [--all] [--min-ran N]
//
// --all also lists benchmarks that neither side selected (tier/filter); --min-ran N exits 1
// when fewer than N benchmarks ran on both sides (CI's check that both sides really ran).
import { readFileSync } from "node:fs"

function die(msg) {
  process.stderr.write(`compare.mjs: ${msg}\n`)
  process.exit(1)
}

const KINDS = ["sampled", "series", "memory", "not_run"]
function validate(run, file) {
  if (run.schema !== 2 || run.suite !== "benchmark-battery" || !Array.isArray(run.results)) die(`${file}: not a schema-2 battery run`)
  const names = new Set()
  for (const r of run.results) {
    if (!KINDS.includes(r.kind) || typeof r.name !== "string" || typeof r.group !== "string") die(`${file}: bad entry ${JSON.stringify(r).slice(0, 120)}`)
    if (names.has(r.name)) die(`${file}: duplicate ${r.name}`)
    names.add(r.name)
    const num = (v) => Number.isFinite(v) && v >= 0
    if (r.kind === "sampled" && !(num(r.median) && Array.isArray(r.sample_values) && r.sample_values.length === r.samples)) die(`${file}: bad sampled ${r.name}`)
    if (r.kind === "series" && !(Array.isArray(r.points) && r.points.length > 0 && num(r.summary?.total))) die(`${file}: bad series ${r.name}`)
    if (r.kind === "memory" && !(num(r.peak_bytes) && num(r.steady_bytes))) die(`${file}: bad memory ${r.name}`)
  }
  return new Map(run.results.map((r) => [r.name, r]))
}

export function formatDuration(ns) {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns} ns`
}
export function formatBytes(b) {
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(2)} MiB`
  if (b >= 1 << 10) return `${(b / (1 << 10)).toFixed(2)} KiB`
  return `${b} B`
}
const ratio = (js, cpp) => (cpp > 0 ? `${(js / cpp).toFixed(2)}x` : "–")
const why = (r) => (r?.reason ? `not run: ${r.reason}` : "not selected")

function rows(name, c, j) {
  if (c?.kind === "not_run" || j?.kind === "not_run" || !c || !j) {
    const cell = (r) => (!r ? "absent" : r.kind === "not_run" ? why(r) : "ran")
    const reason = c?.reason && c?.reason === j?.reason ? `not run on both: ${c.reason}` : `C++: ${cell(c)}; JS: ${cell(j)}`
    return [`| \`${name}\` | – | – | – | – | ${reason} |`]
  }
  if (c.kind === "sampled") {
    return [`| \`${name}\` | median | ${formatDuration(c.median)} | ${formatDuration(j.median)} | ${ratio(j.median, c.median)} | ${c.samples}/${j.samples} samples |`]
  }
  if (c.kind === "series") {
    return [`| \`${name}\` | series total | ${formatDuration(c.summary.total)} | ${formatDuration(j.summary.total)} | ${ratio(j.summary.total, c.summary.total)} | last-window median ${formatDuration(c.summary.last_window_median)} / ${formatDuration(j.summary.last_window_median)} |`]
  }
  return [
    `| \`${name}\` | peak heap | ${formatBytes(c.peak_bytes)} | ${formatBytes(j.peak_bytes)} | ${ratio(j.peak_bytes, c.peak_bytes)} | |`,
    `| \`${name}\` | steady heap | ${formatBytes(c.steady_bytes)} | ${formatBytes(j.steady_bytes)} | ${ratio(j.steady_bytes, c.steady_bytes)} | |`,
  ]
}

function main() {
  const args = process.argv.slice(2)
  let all = false, minRan = 0
  const files = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--all") all = true
    else if (args[i] === "--min-ran") minRan = Number(args[++i])
    else files.push(args[i])
  }
  if (files.length !== 2 || !(minRan >= 0)) die("usage: node compare.mjs CPP.json JS.json [--all] [--min-ran N]")
  const runs = files.map((f) => {
    let run
    try { run = JSON.parse(readFileSync(f, "utf8")) } catch (e) { die(`${f}: ${e.message}`) }
    return validate(run, f)
  })
  const [cpp, js] = runs
  const names = [...new Set([...cpp.keys(), ...js.keys()])]
  const out = ["| benchmark | figure | C++ (amrepo) | JS (@automerge/automerge) | JS / C++ | notes |", "|---|---|---:|---:|---:|---|"]
  let ran = 0
  for (const name of names) {
    const c = cpp.get(name), j = js.get(name)
    const selected = (r) => r && (r.kind !== "not_run" || r.reason)
    if (!all && !selected(c) && !selected(j)) continue
    if (c?.kind !== "not_run" && j?.kind !== "not_run" && c && j) ran++
    out.push(...rows(name, c, j))
  }
  console.log(out.join("\n"))
  console.log(`\n${ran} benchmarks ran on both sides.`)
  if (ran < minRan) die(`only ${ran} benchmarks ran on both sides; expected at least ${minRan}`)
}

main()
