// The battery's scenarios on @automerge/automerge (the JS twin of tools/amrepo/battery_*.cc).
// Same names, order, inputs, seeds and generator as the C++ side, written with the package's
// public API (A.change / A.splice / A.save / A.load / the sync functions), as a JS application
// would. Each entry: {group, name, kind, notRun?, sampled?() -> iteration() -> ns,
// steps?, series?() -> step(i), memory?: label of the fresh-process memory measurement}.
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import { performance } from "node:perf_hooks"
import { A } from "./automerge.mjs"

const N = 100_000
const ACTOR = "aa".repeat(16)
const OPT = { time: 0 }

/// mulberry32, as battery_docs.cc.
export class Rng {
  constructor(seed) { this.s = seed >>> 0 }
  next() {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  below(n) { return n === 0 ? 0 : this.next() % n }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
export function randomString(rng, n) {
  let s = ""
  for (let i = 0; i < n; i++) s += ALPHABET[rng.below(62)]
  return s
}

export const timeNs = (fn) => {
  const t = performance.now()
  fn()
  return Math.round((performance.now() - t) * 1e6)
}
const whole = (fn) => () => timeNs(fn)
const str = (s) => new A.ImmutableString(s)
export const newDoc = () => A.init({ actor: ACTOR })
const change = (doc, fn) => A.change(doc, OPT, fn)
const sameHeads = (a, b) => {
  const x = A.getHeads(a), y = A.getHeads(b)
  return x.length === y.length && x.every((h, i) => h === y[i])
}
const mustSameHeads = (a, b) => { if (!sameHeads(a, b)) throw new Error("heads differ after the step") }

// ---- the battery's builders (lib.rs) ----------------------------------------------------------
export const mapsInMaps = (n) => change(newDoc(), (d) => {
  let m = d
  for (let i = 0; i < n; i++) { m[String(i)] = {}; m = m[String(i)] }
})
export const bigPaste = (n, rng) => change(newDoc(), (d) => { d.content = ""; A.splice(d, ["content"], 0, 0, randomString(rng, n)) })
export const bigRandom = (n, rng) => change(newDoc(), (d) => {
  d.content = ""
  for (let len = 0; len < n; len++) A.splice(d, ["content"], rng.below(len + 1), 0, randomString(rng, 1))
})
export const textSplice100 = (n, rng) => change(newDoc(), (d) => {
  d.content = ""
  for (let len = 0; len < n / 100; len++) A.splice(d, ["content"], rng.below(len + 1), 0, randomString(rng, 100))
})
export const listSplice100 = (n, rng) => change(newDoc(), (d) => {
  d.content = []
  const list = d.content
  for (let len = 0; len < n / 100; len++) {
    const pos = rng.below(len + 1)
    list.splice(pos, 0, ...Array.from(randomString(rng, 100), str))
  }
})
export function typingDoc(n, rng) {
  let doc = change(newDoc(), (d) => { d.content = "" })
  for (let i = 0; i < n; i++) doc = change(doc, (d) => A.splice(d, ["content"], i, 0, randomString(rng, 1)))
  return doc
}
export function deepHistory(n) {
  let doc = newDoc()
  for (let i = 0; i < n; i++) doc = change(doc, (d) => { d.x = str(String(i)); d.y = str(String(i)) })
  return doc
}
export const genTextDoc = (n, rng) => change(newDoc(), (d) => {
  d.content = ""
  A.splice(d, ["content"], 0, 0, randomString(rng, 1))
  for (let len = 1; len <= n; len++) A.splice(d, ["content"], rng.below(len), 0, randomString(rng, 1))
})

// ---- sync helpers -------------------------------------------------------------------------------
const peer = (doc) => ({ doc, state: A.initSyncState() })
function syncPair(a, b) {
  for (;;) {
    let m1, m2
    ;[a.state, m1] = A.generateSyncMessage(a.doc, a.state)
    if (!m1) break
    ;[b.doc, b.state] = A.receiveSyncMessage(b.doc, b.state, m1)
    ;[b.state, m2] = A.generateSyncMessage(b.doc, b.state)
    if (m2) [a.doc, a.state] = A.receiveSyncMessage(a.doc, a.state, m2)
  }
}
function syncDocs(a, b) {
  while (!sameHeads(a.doc, b.doc)) {
    let m
    ;[a.state, m] = A.generateSyncMessage(a.doc, a.state)
    if (m) [b.doc, b.state] = A.receiveSyncMessage(b.doc, b.state, m)
    ;[b.state, m] = A.generateSyncMessage(b.doc, b.state)
    if (m) [a.doc, a.state] = A.receiveSyncMessage(a.doc, a.state, m)
  }
}

const sampled = (group, name, setup) => ({ group, name, kind: "sampled", sampled: setup })
const series = (group, name, steps, setup) => ({ group, name, kind: "series", steps, series: setup })
const notRun = (group, name, reason, kind = "sampled") => ({ group, name, kind, notRun: reason })
const missing = (what) => `input ${what} is not in data/battery (see its SOURCES.md)`

function applyGroup() {
  return [series("apply", "apply/single_char_incremental_load", 1000, () => {
    const rng = new Rng(1)
    let doc = genTextDoc(N, rng)
    let remote = A.clone(doc)
    return () => {
      doc = change(doc, (d) => A.splice(d, ["content"], rng.below(N), 0, "."))
      remote = A.loadIncremental(remote, A.saveIncremental(doc))
      mustSameHeads(doc, remote)
    }
  })]
}

function bestiaryGroup(data) {
  const file = `${data}/battery/battery-godot-modeled.amrg`
  const g = "bestiary"
  const out = [
    sampled(g, "bestiary/load/godot-modeled", () => { const b = readFileSync(file); return whole(() => A.load(b)) }),
    sampled(g, "bestiary/reload/godot-modeled", () => { const s = A.save(A.load(readFileSync(file))); return whole(() => A.load(s)) }),
    sampled(g, "bestiary/fork/godot-modeled", () => { const d = A.load(readFileSync(file)); return whole(() => A.save(A.clone(d))) }),
    sampled(g, "bestiary/save/godot-modeled", () => { const d = A.load(readFileSync(file)); return whole(() => A.save(d)) }),
    notRun(g, "bestiary/iter/godot-modeled", "needs a whole-document iterator (Rust Automerge::iter); neither our API nor the JS API has one"),
  ]
  for (const op of ["load", "reload", "fork", "save", "iter"]) out.push(notRun(g, `bestiary/${op}/godot-thread`, missing("godot-thread.amrg")))
  return out
}

function buildGroup() {
  const g = "build"
  return [
    sampled(g, "build/build_typing", () => whole(() => typingDoc(N, new Rng(7)))),
    sampled(g, "build/build_big_paste", () => whole(() => bigPaste(N, new Rng(7)))),
    sampled(g, "build/build_text_splice_100", () => whole(() => textSplice100(N, new Rng(7)))),
    sampled(g, "build/build_maps_in_maps_doc", () => whole(() => mapsInMaps(N))),
    sampled(g, "build/build_deep_history_doc", () => whole(() => deepHistory(N))),
  ]
}

function paperTrace(data) {
  const trace = JSON.parse(gunzipSync(readFileSync(`${data}/automerge-paper.json.gz`)).toString("utf8"))
  const edits = []
  for (const txn of trace.txns) for (const p of txn.patches) edits.push([p[0], p[1], p[2] ?? ""])
  return edits
}

function editTraceGroup(data) {
  return [
    sampled("edit_trace", "edit_trace/edit_trace_single_tx", () => {
      const edits = paperTrace(data)
      return whole(() => change(newDoc(), (d) => {
        d.text = ""
        for (const [pos, del, ins] of edits) A.splice(d, ["text"], pos, del, ins)
      }))
    }),
    sampled("edit_trace", "edit_trace/edit_trace_many_tx", () => {
      const edits = paperTrace(data)
      return () => {
        let doc = change(newDoc(), (d) => { d.text = "" })
        return timeNs(() => {
          for (const [pos, del, ins] of edits) doc = change(doc, (d) => A.splice(d, ["text"], pos, del, ins))
        })
      }
    }),
  ]
}

function egwalkerGroup(data) {
  const out = []
  for (const label of ["S1", "S3", "A1", "A2", "C1", "C2"]) {
    if (label === "S3") {
      out.push(notRun("egwalker_paper", `egwalker_paper/load/${label}`, missing("S3.am")))
      out.push(notRun("egwalker_paper", `egwalker_paper/get_text/${label}`, missing("S3.am")))
      continue
    }
    const file = `${data}/battery/egwalker-${label}.am`
    out.push(sampled("egwalker_paper", `egwalker_paper/load/${label}`, () => { const b = readFileSync(file); return whole(() => A.load(b)) }))
    // The JS API materialises text as a JS string when the document is loaded; reading it is a property read.
    out.push(sampled("egwalker_paper", `egwalker_paper/get_text/${label}`, () => {
      const d = A.load(readFileSync(file))
      return whole(() => { if (typeof d.text !== "string") throw new Error("no text") })
    }))
  }
  return out
}

function mapDoc() {
  return change(newDoc(), (d) => { for (let i = 0; i < N; i++) d[`key${i}`] = str(`value${i}`) })
}

function lengthGroup() {
  const g = "length"
  return [
    sampled(g, "length/text_len_now", () => { const d = textSplice100(N, new Rng(11)); return whole(() => d.content.length) }),
    sampled(g, "length/list_len_now", () => { const d = listSplice100(N, new Rng(11)); return whole(() => d.content.length) }),
    sampled(g, "length/text_len_at", () => {
      const rng = new Rng(11)
      let d = textSplice100(N, rng)
      const heads = A.getHeads(d)
      d = change(d, (x) => A.splice(x, ["content"], rng.below(N - 10), 9, "01234567890"))
      return whole(() => A.view(d, heads).content.length)
    }),
    sampled(g, "length/map_len_now", () => { const d = mapDoc(); return whole(() => Object.keys(d).length) }),
    sampled(g, "length/map_len_at", () => {
      let d = mapDoc()
      const heads = A.getHeads(d)
      d = change(d, (x) => { x.next = str("value") })
      return whole(() => Object.keys(A.view(d, heads)).length)
    }),
  ]
}

// Run on neither side: the C++ side has list cursors, but JS getCursor refuses lists.
const LIST_CURSOR = "needs cursors on a list; @automerge/automerge 3.5.0 getCursor works on text only (\"cursors only valid on text\")"

function listGroup() {
  const g = "list"
  // Rust's transaction_at is JS changeAt (our change_at): an edit as of earlier heads.
  const changeAt = (doc, heads, fn) => A.changeAt(doc, heads, OPT, fn).newDoc
  return [
    notRun(g, "list/list_cursor_now", LIST_CURSOR),
    notRun(g, "list/list_cursor_at", "needs get_cursor/get_cursor_position at historical heads, which our API lacks " +
      "(and JS getCursor refuses lists)"),
    sampled(g, "list/list_update_at", () => {
      const rng = new Rng(12)
      let d = listSplice100(N, rng)
      const heads = [A.getHeads(d)]
      return whole(() => {
        const pos = rng.below(N)
        const at = heads[rng.below(heads.length)]
        d = changeAt(d, at, (x) => { x.content[pos] = str("x") })
        heads.push(A.getHeads(d))
      })
    }),
    sampled(g, "list/list_update_now", () => {
      const rng = new Rng(12)
      let d = listSplice100(N, rng)
      return whole(() => { d = change(d, (x) => { x.content[rng.below(N)] = str("x") }) })
    }),
    sampled(g, "list/list_splice_index_now", () => {
      const rng = new Rng(12)
      let d = listSplice100(N, rng)
      return whole(() => { d = change(d, (x) => { x.content.insertAt(rng.below(N), str("x")) }) })
    }),
    sampled(g, "list/list_splice_index_at", () => {
      const rng = new Rng(12)
      let d = listSplice100(N, rng)
      const heads = A.getHeads(d)
      d = change(d, (x) => { x.content.splice(N / 2, 1, str("x"), str("y"), str("z")) })
      return whole(() => {
        const pos = rng.below(N)
        d = changeAt(d, heads, (x) => { x.content.insertAt(pos, str("x")) })
      })
    }),
  ]
}

function loadSaveGroup() {
  const out = []
  const pair = (what, build) => {
    out.push(sampled("load_save", `load_save/load_${what}`, () => { const b = A.save(build()); return whole(() => A.load(b)) }))
    out.push(sampled("load_save", `load_save/save_${what}`, () => { const d = build(); return whole(() => A.save(d)) }))
  }
  pair("typing", () => typingDoc(N, new Rng(13)))
  pair("big_paste", () => bigPaste(N, new Rng(13)))
  pair("deep_history/1000", () => deepHistory(N))
  pair("text_splice_100", () => textSplice100(N, new Rng(13)))
  pair("maps_in_maps", () => mapsInMaps(N))
  pair("big_random", () => bigRandom(N, new Rng(13)))
  return out
}

export { applyGroup, bestiaryGroup, buildGroup, editTraceGroup, egwalkerGroup, lengthGroup, listGroup, loadSaveGroup }
export { sampled, series, notRun, missing, whole, str, change, peer, syncPair, syncDocs, mustSameHeads, N }
