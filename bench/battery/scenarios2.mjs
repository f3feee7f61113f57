// The battery's map, marks, memory, range, sync and typing groups on @automerge/automerge (the
// JS twin of tools/amrepo/battery_scenarios_{c,d}.cc). See scenarios.mjs.
import { readFileSync } from "node:fs"
import { A } from "./automerge.mjs"
import {
  Rng, newDoc, textSplice100, listSplice100, typingDoc, bigPaste, genTextDoc, deepHistory,
  sampled, series, notRun, missing, whole, str, change, peer, syncPair, syncDocs, mustSameHeads, timeNs, N,
} from "./scenarios.mjs"

const builders = {
  repeated_increment: (n) => change(newDoc(), (d) => {
    d.counter = new A.Counter(0)
    for (let i = 0; i < n; i++) d.counter.increment(1)
  }),
  repeated_put: (n) => change(newDoc(), (d) => { for (let i = 0; i < n; i++) d["0"] = new A.Uint(i) }),
  increasing_put: (n) => change(newDoc(), (d) => { for (let i = 0; i < n; i++) d[String(i)] = new A.Uint(i) }),
  decreasing_put: (n) => change(newDoc(), (d) => { for (let i = n - 1; i >= 0; i--) d[String(i)] = new A.Uint(i) }),
}

function mapGroup() {
  const out = []
  for (const n of [100, 1000, 10000]) {
    for (const op of ["repeated_increment", "repeated_put", "increasing_put", "decreasing_put"]) {
      const build = builders[op]
      const s = `${op}/${n}`
      out.push(sampled("map", `map/${s}`, () => whole(() => build(n))))
      out.push(sampled("map", `map/save/${s}`, () => { const d = build(n); return whole(() => A.save(d)) }))
      out.push(sampled("map", `map/load/${s}`, () => { const b = A.save(build(n)); return whole(() => A.load(b)) }))
      out.push(sampled("map", `map/apply/${s}`, () => {
        const changes = A.getAllChanges(build(n))
        return whole(() => A.applyChanges(A.init(), changes))
      }))
    }
    out.push(sampled("map", `map/deep_history/${n}`, () => whole(() => deepHistory(n))))
  }
  return out
}

// As battery_scenarios_c.cc: `count` marks over random spans in one change (an empty span widened by one).
function addRandomMarks(doc, count, rng) {
  return change(doc, (d) => {
    const len = d.content.length
    for (let i = 0; i < count; i++) {
      const a = rng.below(len), b = rng.below(len)
      let start = Math.min(a, b), end = Math.max(a, b)
      if (start === end) { if (end < len) end++; else start-- }
      A.mark(d, ["content"], { start, end, expand: "both" }, `mark${i}`, true)
    }
  })
}

// 1000 one-splice changes on a copy of `base` (the copy is made outside the timing).
function spliceMany(base, rng, del) {
  return () => {
    let doc = A.clone(base, "aa".repeat(16))
    let len = doc.content.length
    return timeNs(() => {
      for (let i = 0; i < 1000; i++) {
        const pos = rng.below(len)
        doc = change(doc, (d) => A.splice(d, ["content"], pos, del, "XXX"))
        len += 3 - Math.min(del, len - pos)
      }
    })
  }
}

function marksGroup() {
  return [
    sampled("marks", "marks/add_mark", () => {
      const rng = new Rng(21)
      let d = textSplice100(N, rng)
      return whole(() => { d = addRandomMarks(d, 1, rng) })
    }),
    sampled("marks", "marks/splice_with_marks", () => {
      const rng = new Rng(22)
      return spliceMany(addRandomMarks(textSplice100(N, rng), 1000, rng), rng, 0)
    }),
    sampled("marks", "marks/splice_without_marks", () => {
      const rng = new Rng(23)
      return spliceMany(textSplice100(N, rng), rng, 1)
    }),
  ]
}

/// The input bytes of a memory benchmark (run in a fresh child process by battery.mjs).
export function memoryInput(label, data) {
  const files = {
    "moby-dick": "battery-moby-dick.automerge", stephen: "battery-stephen.amrg",
    webstraits: "battery-webstraits.amrg", "monday-meeting-notes": "battery-monday-meeting-notes.automerge",
  }
  if (label === "typing") return A.save(typingDoc(N, new Rng(31)))
  if (label === "big-paste") return A.save(bigPaste(N, new Rng(31)))
  if (label === "text-splice-100") return A.save(textSplice100(N, new Rng(31)))
  return readFileSync(`${data}/battery/${files[label]}`)
}

function memoryGroup() {
  const out = []
  for (const label of ["typing", "big-paste", "text-splice-100", "unsinkable", "moby-dick", "essay", "stephen",
    "webstraits", "monday-meeting-notes", "pathological"]) {
    const name = `memory/load/${label}`
    if (["unsinkable", "essay", "pathological"].includes(label)) out.push(notRun("memory", name, missing(label), "memory"))
    else out.push({ group: "memory", name, kind: "memory", memory: label })
  }
  return out
}

function rangeGroup() {
  const out = []
  const doc = (n) => change(newDoc(), (d) => { for (let i = 0; i < n; i++) d[String(i)] = str(String(i)) })
  for (const n of [10000, 100000]) {
    out.push(sampled("range", `range/range/${n}`, () => {
      const d = doc(n)
      return whole(() => { for (const v of Object.values(d)) if (v === undefined) throw new Error("hole") })
    }))
    out.push(sampled("range", `range/range_at/${n}`, () => {
      const d = doc(n)
      const heads = A.getHeads(d)
      return whole(() => { for (const v of Object.values(A.view(d, heads))) if (v === undefined) throw new Error("hole") })
    }))
  }
  return out
}

const oneTx = (n) => change(newDoc(), (d) => { for (let i = 0; i < n; i++) d[String(i)] = new A.Uint(i) })
function manyTx(n) {
  let doc = newDoc()
  for (let i = 0; i < n; i++) doc = change(doc, (d) => { d[String(i)] = new A.Uint(i) })
  return doc
}

function tinySync(text) {
  const rng = new Rng(41)
  const a = peer(text ? textSplice100(N, rng) : listSplice100(N, rng))
  const b = peer(A.init())
  syncPair(a, b)
  return () => {
    const pos = rng.below(N)
    a.doc = change(a.doc, (d) => { if (text) A.splice(d, ["content"], pos, 1, "_"); else d.content.splice(pos, 0, str("_")) })
    syncPair(a, b)
  }
}

function syncGroup(data) {
  const out = [sampled("sync", "sync/full_many_tx", () => {
    const doc = manyTx(10000)
    return whole(() => syncPair(peer(A.clone(doc, "aa".repeat(16))), peer(A.init())))
  })]
  for (const [name, n] of [["sync/full_one_tx/100", 100], ["sync/full_one_tx/1000", 1000], ["sync/full_one_tx", 10000]]) {
    out.push(sampled("sync", name, () => {
      const doc = oneTx(n)
      return () => {
        const a = peer(A.clone(doc, "aa".repeat(16))), b = peer(A.init())
        return timeNs(() => syncPair(a, b))
      }
    }))
  }
  for (const n of [100, 1000, 10000]) {
    out.push(sampled("sync", `sync/every_change/${n}`, () => whole(() => {
      const a = peer(newDoc()), b = peer(A.init())
      for (let i = 0; i < n; i++) {
        a.doc = change(a.doc, (d) => { d[String(i)] = new A.Uint(i) })
        syncPair(a, b)
      }
    })))
  }
  out.push(series("sync", "sync/tiny_text", 1000, () => tinySync(true)))
  out.push(series("sync", "sync/tiny_list", 1000, () => tinySync(false)))
  out.push(sampled("sync", "sync/big_chunky_sync_message", () => {
    const message = new Uint8Array(readFileSync(`${data}/battery/battery-slowSyncMessage.amrgsync`))
    return whole(() => A.receiveSyncMessage(A.init(), A.initSyncState(), message))
  }))
  return out
}

function typingPair(seed) {
  const rng = new Rng(seed)
  const doc = genTextDoc(N, rng)
  return { rng, doc, remote: A.clone(doc) }
}
const type1 = (p) => { p.doc = change(p.doc, (d) => A.splice(d, ["content"], p.rng.below(N), 0, ".")) }

function typingGroup() {
  return [
    series("typing", "typing/single_char_sync", 1000, () => {
      const p = typingPair(2)
      const a = peer(p.doc), b = peer(p.remote)
      syncDocs(a, b)
      return () => {
        a.doc = change(a.doc, (d) => A.splice(d, ["content"], p.rng.below(N), 0, "."))
        syncDocs(a, b)
        mustSameHeads(a.doc, b.doc)
      }
    }),
    series("typing", "typing/single_char_apply_change", 1000, () => {
      const p = typingPair(3)
      return () => {
        type1(p)
        ;[p.remote] = A.applyChanges(p.remote, [A.getLastLocalChange(p.doc)])
        mustSameHeads(p.doc, p.remote)
      }
    }),
    series("typing", "typing/single_char_100_bulk_incremental_load", 100, () => {
      const p = typingPair(4)
      return () => {
        p.doc = change(p.doc, (d) => { for (let i = 0; i < 100; i++) A.splice(d, ["content"], p.rng.below(N), 0, ".") })
        p.remote = A.loadIncremental(p.remote, A.saveIncremental(p.doc))
        mustSameHeads(p.doc, p.remote)
      }
    }),
    series("typing", "typing/single_char_100_incremental_loads", 100, () => {
      const p = typingPair(5)
      return () => {
        for (let i = 0; i < 100; i++) {
          type1(p)
          p.remote = A.loadIncremental(p.remote, A.saveIncremental(p.doc))
        }
        mustSameHeads(p.doc, p.remote)
      }
    }),
    series("typing", "typing/single_char_merge", 1000, () => {
      const p = typingPair(6)
      return () => {
        type1(p)
        p.remote = A.merge(p.remote, p.doc)
        mustSameHeads(p.doc, p.remote)
      }
    }),
  ]
}

export { mapGroup, marksGroup, memoryGroup, rangeGroup, syncGroup, typingGroup }
