// The JS twin of `amrepo bench battery`: the reference's benchmark battery on the pinned
// @automerge/automerge (bench/compare/package-lock.json), writing the same schema-2 JSON.
//
//   node bench/battery/battery.mjs [--filter S] [--tier fast|slow|all] [--output F] [--data DIR]
//        [--sample-count N] [--warmup-count N] [--max-seconds S] [--list]
//
// Sampling as the C++ runner: warm-ups, then up to --sample-count samples of one iteration,
// stopping early (after at least 3 samples) once --max-seconds are spent on the benchmark.
// Memory benchmarks run in a fresh child process each (node --expose-gc), because the wasm heap
// never shrinks: peak_bytes = growth of the wasm linear memory during the load (its high-water
// mark, 64 KiB pages) + growth of V8's used heap; steady_bytes = the same after a full GC with
// the document alive. Neither counts what the wasm allocator holds free inside its memory.
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { arch, platform } from "node:os"
import { A, root, version, wasmMemoryBytes } from "./automerge.mjs"
import { timeNs } from "./scenarios.mjs"
import * as s1 from "./scenarios.mjs"
import * as s2 from "./scenarios2.mjs"

const FAST = new Set([
  "build/build_big_paste", "build/build_text_splice_100", "egwalker_paper/get_text/A1",
  "length/text_len_now", "length/text_len_at", "length/list_len_now", "length/map_len_now",
  "length/map_len_at", "list/list_cursor_now", "list/list_cursor_at", "list/list_update_now",
  "list/list_update_at", "list/list_splice_index_now", "list/list_splice_index_at",
  "load_save/load_big_paste", "load_save/save_big_paste", "load_save/load_text_splice_100",
  "load_save/save_text_splice_100", "load_save/save_typing", "map/increasing_put/1000",
  "map/decreasing_put/1000", "map/repeated_put/1000", "map/repeated_increment/1000",
  "map/deep_history/1000", "marks/add_mark", "marks/splice_without_marks", "range/range/10000",
  "range/range_at/10000", "sync/full_many_tx", "sync/full_one_tx", "sync/full_one_tx/100",
  "sync/full_one_tx/1000", "sync/every_change/100", "sync/big_chunky_sync_message",
  "typing/single_char_100_bulk_incremental_load",
])
const isFast = (name) => name.includes("godot-modeled") || FAST.has(name)
const UNIT = { sampled: "ns/iter", series: "ns/step", memory: "bytes" }

function usage(msg) {
  if (msg) process.stderr.write(`battery.mjs: ${msg}\n`)
  process.stderr.write("usage: node battery.mjs [--filter S] [--tier fast|slow|all] [--output F] [--data DIR]\n" +
    "         [--sample-count N] [--warmup-count N] [--max-seconds S] [--list]\n")
  process.exit(2)
}

function parseArgs(argv) {
  const o = { filter: "", tier: "fast", output: "", data: process.env.AM_SHARED_DATA_DIR || `${root}/data`,
    sampleCount: 30, warmupCount: 3, maxSeconds: 10, list: false, memoryChild: "" }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`))
    if (a === "--filter") o.filter = val()
    else if (a === "--tier") o.tier = val()
    else if (a === "--output") o.output = val()
    else if (a === "--data") o.data = val()
    else if (a === "--sample-count") o.sampleCount = Number(val())
    else if (a === "--warmup-count") o.warmupCount = Number(val())
    else if (a === "--max-seconds") o.maxSeconds = Number(val())
    else if (a === "--list") o.list = true
    else if (a === "--memory-child") o.memoryChild = val()
    else usage(`unknown option ${a}`)
  }
  if (!["fast", "slow", "all"].includes(o.tier)) usage("--tier must be fast, slow or all")
  if (!(o.sampleCount >= 1) || !(o.warmupCount >= 0) || !(o.maxSeconds > 0)) usage("bad number")
  return o
}

function allScenarios(data) {
  return [
    ...s1.applyGroup(), ...s1.bestiaryGroup(data), ...s1.buildGroup(),
    s1.notRun("diff", "diff/diff", s1.missing("essay.amrg")), ...s1.editTraceGroup(data),
    ...s1.egwalkerGroup(data), ...s1.lengthGroup(), ...s1.listGroup(), ...s1.loadSaveGroup(),
    ...s2.mapGroup(), ...s2.marksGroup(), ...s2.memoryGroup(), ...s2.rangeGroup(), ...s2.syncGroup(data),
    ...s2.typingGroup(),
  ]
}

const medianSorted = (v) => (v.length % 2 === 0 ? Math.floor((v[v.length / 2 - 1] + v[v.length / 2]) / 2) : v[(v.length - 1) / 2])
const sum = (v) => v.reduce((a, b) => a + b, 0)

function runSampled(s, o) {
  let setupNs = 0
  let iteration
  setupNs = timeNs(() => { iteration = s.sampled() })
  const start = performance.now()
  const spent = () => (performance.now() - start) / 1000 > o.maxSeconds
  for (let i = 0; i < o.warmupCount; i++) { iteration(); if (spent()) break }
  const samples = []
  for (let i = 0; i < o.sampleCount; i++) {
    samples.push(iteration())
    if (samples.length >= 3 && spent()) break
  }
  const sorted = [...samples].sort((a, b) => a - b)
  return { kind: "sampled", name: s.name, group: s.group, unit: "ns/iter", setup_duration_ns: setupNs,
    min: sorted[0], median: medianSorted(sorted), mean: Math.floor(sum(sorted) / sorted.length),
    max: sorted[sorted.length - 1], samples: samples.length, iters_per_sample: 1, sample_values: samples }
}

function runSeries(s) {
  let step
  const setupNs = timeNs(() => { step = s.series() })
  const points = []
  for (let i = 0; i < s.steps; i++) points.push(timeNs(() => step(i)))
  const total = sum(points)
  const sorted = [...points].sort((a, b) => a - b)
  const window = Math.max(Math.floor(points.length / 10), 1)
  const last = points.slice(points.length - window).sort((a, b) => a - b)
  return { kind: "series", name: s.name, group: s.group, unit: "ns/step", setup_duration_ns: setupNs, points,
    summary: { total, mean: Math.floor(total / points.length), median: medianSorted(sorted), last_window_median: medianSorted(last) } }
}

// In the child: prepare the input, then measure one load (see the header comment).
function memoryChild(label, o) {
  let input
  const setupNs = timeNs(() => { input = s2.memoryInput(label, o.data) })
  globalThis.gc()
  const wasm0 = wasmMemoryBytes(), heap0 = process.memoryUsage().heapUsed
  const doc = A.load(input)
  const wasm1 = wasmMemoryBytes(), heap1 = process.memoryUsage().heapUsed
  globalThis.gc()
  const heap2 = process.memoryUsage().heapUsed
  if (A.getHeads(doc).length === 0) throw new Error("empty document")
  const grow = wasm0 < 0 ? 0 : wasm1 - wasm0
  process.stdout.write(JSON.stringify({ setup_duration_ns: setupNs, peak_bytes: grow + Math.max(heap1 - heap0, 0),
    steady_bytes: grow + Math.max(heap2 - heap0, 0) }) + "\n")
}

function runMemory(s, o) {
  const r = spawnSync(process.execPath, ["--expose-gc", new URL(import.meta.url).pathname, "--memory-child", s.memory,
    "--data", o.data], { encoding: "utf8", maxBuffer: 1 << 20 })
  if (r.status !== 0) throw new Error(`memory child failed: ${r.stderr.trim()}`)
  const m = JSON.parse(r.stdout)
  return { kind: "memory", name: s.name, group: s.group, unit: "bytes", setup_duration_ns: m.setup_duration_ns,
    peak_bytes: m.peak_bytes, steady_bytes: m.steady_bytes }
}

function notRunEntry(s, reason) {
  const e = { kind: "not_run", name: s.name, group: s.group, unit: UNIT[s.kind], benchmark_kind: s.kind }
  if (reason) e.reason = reason
  return e
}

function main() {
  const o = parseArgs(process.argv.slice(2))
  if (o.memoryChild) return memoryChild(o.memoryChild, o)
  const all = allScenarios(o.data)
  if (o.list) {
    for (const s of all) console.log(`${s.name}\t${s.kind}\t${isFast(s.name) ? "fast" : "slow"}${s.notRun ? `\tnot_run: ${s.notRun}` : ""}`)
    return
  }
  const results = []
  let matched = 0, failed = 0
  for (const s of all) {
    const fast = isFast(s.name)
    const inTier = o.tier === "all" || (o.tier === "fast") === fast
    if (!inTier || (o.filter && !s.group.includes(o.filter) && !s.name.includes(o.filter))) {
      results.push(notRunEntry(s, ""))
      continue
    }
    matched++
    if (s.notRun) {
      process.stderr.write(`not running ${s.name} (${s.notRun})\n`)
      results.push(notRunEntry(s, s.notRun))
      continue
    }
    process.stderr.write(`running ${s.name}\n`)
    try {
      results.push(s.kind === "sampled" ? runSampled(s, o) : s.kind === "series" ? runSeries(s) : runMemory(s, o))
    } catch (e) {
      failed++
      process.stderr.write(`battery.mjs: ${s.name} failed: ${e.stack || e}\n`)
      results.push(notRunEntry(s, `failed: ${e.message || e}`))
    }
  }
  if (matched === 0) usage("no benchmark matches the filter and tier")
  const commit = spawnSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" })
  const run = { schema: 2, suite: "benchmark-battery", commit: commit.status === 0 ? commit.stdout.trim() : null,
    timestamp_unix_seconds: Math.floor(Date.now() / 1000), rustc: null, target: `${arch()}-${platform()}`,
    profile: "release", sample_count: o.sampleCount,
    implementation: `@automerge/automerge ${version} (Node ${process.version})`, results }
  const text = JSON.stringify(run, null, 2) + "\n"
  if (o.output) writeFileSync(o.output, text)
  else process.stdout.write(text)
  if (failed) process.exit(1)
}

main()
