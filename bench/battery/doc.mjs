// The JS twin of `amrepo bench doc FILE`: the same figures for one document with the pinned
// @automerge/automerge, in this fresh Node process (the load is the first thing it does after
// reading the file). Prints one JSON line with the same field names.
//
//   node --expose-gc bench/battery/doc.mjs FILE
//
// Memory figures: rss_* and peak_rss_kb are VmRSS / VmHWM of this process (/proc/self/status;
// Node itself is ~40-60 MB of it, counted in rss_before_kb). The heap figures count the wasm
// linear memory plus V8's used heap: heap_peak_bytes = growth of the wasm memory during the load
// (it never shrinks, so this is the wasm heap's high-water mark at 64 KiB granularity) + growth
// of V8 heapUsed; heap_after_load_bytes = the wasm growth + growth of V8 heapUsed after a full GC
// (with --expose-gc) with the document alive. The wasm part cannot see memory freed inside the
// wasm allocator, so heap_after_load_bytes is an upper bound for the wasm side.
import { readFileSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { A, wasmMemoryBytes } from "./automerge.mjs"

function statusKb(field) {
  const m = readFileSync("/proc/self/status", "utf8").match(new RegExp(`^${field}:\\s+(\\d+)`, "m"))
  return m ? Number(m[1]) : -1
}

const file = process.argv[2]
if (!file) {
  process.stderr.write("usage: node --expose-gc doc.mjs FILE\n")
  process.exit(2)
}
let data
try {
  data = readFileSync(file)
} catch (e) {
  process.stderr.write(`doc.mjs: cannot read ${file}\n`)
  process.exit(4)
}
if (globalThis.gc) globalThis.gc()
const rssBefore = statusKb("VmRSS")
const wasm0 = wasmMemoryBytes(), heap0 = process.memoryUsage().heapUsed
let doc
const t0 = performance.now()
try {
  doc = A.load(data)
} catch (e) {
  process.stderr.write(`doc.mjs: ${file}: ${e.message || e}\n`)
  process.exit(5)
}
const loadMs = performance.now() - t0
const wasm1 = wasmMemoryBytes(), heap1 = process.memoryUsage().heapUsed
const rssAfter = statusKb("VmRSS"), peakRss = statusKb("VmHWM")
if (globalThis.gc) globalThis.gc()
const heap2 = process.memoryUsage().heapUsed
const wasmGrowth = wasm0 < 0 ? 0 : wasm1 - wasm0

const t1 = performance.now()
const saved = A.save(doc)
const saveMs = performance.now() - t1

// As amrepo: each round the document's side generates and the empty peer receives, then the
// other way, until neither sends; every message counts.
let peer = A.init({ actor: "bb".repeat(16) })
let ours = A.initSyncState(), theirs = A.initSyncState()
let bytes = 0, messages = 0
const t2 = performance.now()
for (let round = 0; round < 100000; round++) {
  let a, b
  ;[ours, a] = A.generateSyncMessage(doc, ours)
  if (a) { bytes += a.byteLength; messages++; [peer, theirs] = A.receiveSyncMessage(peer, theirs, a) }
  ;[theirs, b] = A.generateSyncMessage(peer, theirs)
  if (b) { bytes += b.byteLength; messages++; [doc, ours] = A.receiveSyncMessage(doc, ours, b) }
  if (!a && !b) break
}
const syncMs = performance.now() - t2
const heads = A.getHeads(doc)
if (JSON.stringify(A.getHeads(peer)) !== JSON.stringify(heads)) {
  process.stderr.write("doc.mjs: peer heads differ after sync\n")
  process.exit(1)
}
console.log(JSON.stringify({
  impl: "js", file, file_bytes: data.length, load_ms: loadMs, save_ms: saveMs, save_bytes: saved.length,
  sync_ms: syncMs, sync_bytes: bytes, sync_round_trips: messages, changes: A.getAllChanges(doc).length, heads,
  rss_before_kb: rssBefore, rss_after_load_kb: rssAfter, peak_rss_kb: peakRss,
  heap_after_load_bytes: wasmGrowth + Math.max(heap2 - heap0, 0), heap_peak_bytes: wasmGrowth + Math.max(heap1 - heap0, 0),
}))
