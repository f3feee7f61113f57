// The JS side of bench/compare: the workloads of `amrepo bench trace` / `amrepo bench load`, run
// with the pinned reference @automerge/automerge (package-lock.json) in Node. Prints one JSON line
// with the same field names as amrepo.
//
//   node worker.mjs trace TRACE.json[.gz] [--single|--per-edit] [--limit N] [--save-to FILE] [--no-sync]
//   node worker.mjs load FILE [--unchecked]
//
// trace: replays the trace (one A.change per edit, or every edit in one A.change), then A.save,
//        A.load of those bytes in this process, and a sync of the document to an empty peer
//        (fresh sync states; messages passed both ways until neither side sends).
// load:  A.load of a saved document in this fresh process; rss after loading and the peak.
// Same actor ("aa"x16) and {time: 0} as amrepo, so both sides build byte-identical changes.
import * as A from "@automerge/automerge"
import { readFileSync, writeFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import { performance } from "node:perf_hooks"

const ACTOR = "aa".repeat(16)
const PEER_ACTOR = "bb".repeat(16)
const version = JSON.parse(
  readFileSync(new URL("./node_modules/@automerge/automerge/package.json", import.meta.url), "utf8"),
).version

function die(msg) {
  process.stderr.write(`worker: ${msg}\n`)
  process.exit(1)
}

function parseArgs(argv) {
  const o = { cmd: argv[0], file: argv[1], single: false, limit: -1, saveTo: "", noSync: false, unchecked: false, observe: false }
  if (!o.cmd || !o.file) die("usage: worker.mjs trace TRACE [--single|--per-edit] [--observe] [--limit N] [--save-to FILE] [--no-sync] | load FILE [--unchecked]")
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]
    if (a === "--single") o.single = true
    else if (a === "--per-edit") o.single = false
    else if (a === "--limit") o.limit = Number(argv[++i])
    else if (a === "--save-to") o.saveTo = argv[++i]
    else if (a === "--no-sync") o.noSync = true
    else if (a === "--observe") o.observe = true
    else if (a === "--unchecked") o.unchecked = true
    else die(`unknown option ${a}`)
  }
  return o
}

const rssKb = () => Math.round(process.memoryUsage().rss / 1024)
const peakRssKb = () => process.resourceUsage().maxRSS // kilobytes
const heads = doc => [...A.getHeads(doc)].sort()
const textLen = doc => (typeof doc.text === "string" ? doc.text.length : -1)

function readEdits(file, limit) {
  let raw = readFileSync(file)
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw)
  const trace = JSON.parse(raw.toString("utf8"))
  const edits = []
  for (const txn of trace.txns) {
    for (const p of txn.patches) {
      if (limit >= 0 && edits.length >= limit) return edits
      edits.push(p)
    }
  }
  return edits
}

function syncToEmptyPeer(doc) {
  let peer = A.init({ actor: PEER_ACTOR })
  let ours = A.initSyncState()
  let theirs = A.initSyncState()
  let bytes = 0
  let messages = 0
  const t = performance.now()
  for (let round = 0; round < 1000; round++) {
    let a, b
    ;[ours, a] = A.generateSyncMessage(doc, ours)
    if (a) {
      bytes += a.byteLength
      messages++
      ;[peer, theirs] = A.receiveSyncMessage(peer, theirs, a)
    }
    ;[theirs, b] = A.generateSyncMessage(peer, theirs)
    if (b) {
      bytes += b.byteLength
      messages++
      ;[doc, ours] = A.receiveSyncMessage(doc, ours, b)
    }
    if (!a && !b) break
  }
  const ms = performance.now() - t
  if (JSON.stringify(heads(peer)) !== JSON.stringify(heads(doc))) die("peer heads differ after sync")
  if (textLen(peer) !== textLen(doc)) die("peer text differs after sync")
  return { ms, bytes, messages }
}

function trace(o) {
  const edits = readEdits(o.file, o.limit)
  let doc = A.init({ actor: ACTOR })
  const opts = { time: 0 }
  let observed = null
  const t0 = performance.now()
  if (o.single) {
    doc = A.change(doc, opts, d => {
      d.text = ""
      for (const [pos, del, ins] of edits) A.splice(d, ["text"], pos, del, ins)
    })
  } else {
    // The first change also creates the text object, as amrepo's does. With --observe every
    // change reports its patches to a patchCallback (what an editor's view would apply), and the
    // mean cost of an observed edit early and late in the trace is kept.
    let patches = 0
    if (o.observe) opts.patchCallback = p => { patches += p.length }
    const window = Math.min(2000, edits.length >> 1)
    let early = 0, late = 0
    edits.forEach(([pos, del, ins], i) => {
      const t = o.observe ? performance.now() : 0
      doc = A.change(doc, opts, d => {
        if (i === 0) d.text = ""
        A.splice(d, ["text"], pos, del, ins)
      })
      if (o.observe) {
        const ms = performance.now() - t
        if (i < window) early += ms
        if (i >= edits.length - window) late += ms
      }
    })
    if (o.observe) observed = { patches, first: (early * 1000) / window, last: (late * 1000) / window }
    if (edits.length === 0) doc = A.change(doc, opts, d => { d.text = "" })
  }
  const applyMs = performance.now() - t0
  const observedOut = observed
    ? { patches: observed.patches, observed_edit_us_first: observed.first, observed_edit_us_last: observed.last }
    : {}
  const out = {
    impl: "js",
    version,
    mode: o.single ? "single" : "per-edit",
    edits: edits.length,
    apply_ms: applyMs,
    changes: 0, // filled in last: A.getAllChanges copies every change out of wasm
    text_len: textLen(doc),
    heads: heads(doc),
    ...observedOut,
  }
  edits.length = 0

  let t = performance.now()
  const saved = A.save(doc)
  out.save_ms = performance.now() - t
  out.save_bytes = saved.byteLength
  if (o.saveTo) writeFileSync(o.saveTo, saved)
  t = performance.now()
  const loaded = A.load(saved)
  out.load_ms = performance.now() - t
  if (JSON.stringify(heads(loaded)) !== JSON.stringify(out.heads) || textLen(loaded) !== out.text_len) {
    die("the loaded document differs from the saved one")
  }
  A.free(loaded)

  if (!o.noSync) {
    const s = syncToEmptyPeer(doc)
    out.sync_ms = s.ms
    out.sync_bytes = s.bytes
    out.sync_round_trips = s.messages
  }
  out.rss_kb = rssKb()
  out.peak_rss_kb = peakRssKb()
  out.changes = A.getAllChanges(doc).length
  return out
}

function load(o) {
  const data = readFileSync(o.file)
  const rssBefore = rssKb()
  const t = performance.now()
  const doc = A.load(data, o.unchecked ? { unchecked: true } : undefined)
  const loadMs = performance.now() - t
  const rss = rssKb()
  const peak = peakRssKb()
  return {
    impl: "js",
    version,
    mode: "load",
    file_bytes: data.byteLength,
    load_ms: loadMs,
    changes: A.getAllChanges(doc).length, // after the RSS readings: it copies every change out
    text_len: textLen(doc),
    heads: heads(doc),
    rss_before_kb: rssBefore,
    rss_kb: rss,
    peak_rss_kb: peak,
  }
}

const o = parseArgs(process.argv.slice(2))
let out
if (o.cmd === "trace") out = trace(o)
else if (o.cmd === "load") out = load(o)
else die(`unknown command ${o.cmd}`)
process.stdout.write(JSON.stringify(out) + "\n")
