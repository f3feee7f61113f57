// bench/compare: runs the same workloads with amrepo (C++) and with the pinned reference
// @automerge/automerge in Node (worker.mjs), alternating the two sides, and prints a Markdown
// table of medians with the ratio and the issue-6 target for each row.
//
//   node compare.mjs [--limit N] [--reps N] [--amrepo PATH] [--trace FILE] [--json FILE]
//
// Normally started through run.sh (installs the pinned package, builds amrepo). Exits non-zero
// when a run fails or the two sides disagree on the result (edits, changes, text length, heads,
// or a document saved by one side that the other cannot load to the same heads); it never fails
// on timings.
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs"
import { tmpdir, cpus, totalmem } from "node:os"
import { join, dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, "../..")

function usage(msg) {
  if (msg) process.stderr.write(`compare: ${msg}\n`)
  process.stderr.write(
    "usage: node compare.mjs [--limit N] [--reps N] [--amrepo PATH] [--trace FILE] [--json FILE]\n" +
      "  --limit N     replay only the first N edits of the trace (default: all)\n" +
      "  --reps N      repetitions of every workload on each side (default 3); medians are shown\n" +
      "  --amrepo P    the amrepo binary (default build/release/tools/amrepo/amrepo)\n" +
      "  --trace F     editing trace (default $AM_TRACE, else automerge-paper.json.gz in\n" +
      "                $AM_SHARED_DATA_DIR, else in data/ of the clone)\n" +
      "  --json F      also write every raw measurement to F\n",
  )
  process.exit(2)
}

const opts = {
  limit: -1,
  reps: 3,
  amrepo: join(root, "build/release/tools/amrepo/amrepo"),
  trace:
    process.env.AM_TRACE ||
    join(process.env.AM_SHARED_DATA_DIR || resolve(root, "data"), "automerge-paper.json.gz"),
  json: "",
}
{
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`))
    if (a === "--limit") opts.limit = Number(val())
    else if (a === "--reps") opts.reps = Number(val())
    else if (a === "--amrepo") opts.amrepo = resolve(val())
    else if (a === "--trace") opts.trace = resolve(val())
    else if (a === "--json") opts.json = resolve(val())
    else if (a === "-h" || a === "--help") usage()
    else usage(`unknown option ${a}`)
  }
  if (!Number.isInteger(opts.limit) || !Number.isInteger(opts.reps) || opts.reps < 1) usage("bad number")
  if (!existsSync(opts.amrepo)) usage(`no amrepo binary at ${opts.amrepo}`)
  if (!existsSync(opts.trace)) usage(`no trace file at ${opts.trace} (set --trace or AM_TRACE)`)
}

const work = mkdtempSync(join(tmpdir(), "am-bench-compare-"))
process.on("exit", () => rmSync(work, { recursive: true, force: true }))

// Runs one side of one workload; returns its JSON line. A crash or bad output ends the run.
function run(side, args) {
  const [cmd, argv] =
    side === "cpp"
      ? [opts.amrepo, ["bench", ...args]]
      : [process.execPath, [join(here, "worker.mjs"), ...args]]
  let out
  try {
    out = execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 })
  } catch (e) {
    process.stderr.write(`compare: FAILED (${side}): ${cmd} ${argv.join(" ")}: ${e.message}\n`)
    process.exit(1)
  }
  const line = out.trim().split("\n").pop()
  try {
    return JSON.parse(line)
  } catch {
    process.stderr.write(`compare: FAILED (${side}): not a JSON line: ${line}\n`)
    process.exit(1)
  }
}

const limitArgs = opts.limit >= 0 ? ["--limit", String(opts.limit)] : []
const file = (side, name) => join(work, `${side}-${name}.automerge`)
const workloads = {
  perEdit: side => ["trace", opts.trace, "--per-edit", ...limitArgs, "--save-to", file(side, "per-edit")],
  single: side => ["trace", opts.trace, "--single", ...limitArgs],
  // Every edit's patches taken as an editor's view would (C++ diff_incremental, JS patchCallback).
  observed: side => ["trace", opts.trace, "--per-edit", "--observe", "--no-sync", ...limitArgs],
  // A fresh process loading the per-edit document that side saved (cold load, RSS after load).
  load: side => ["load", file(side, "per-edit")],
}

const problems = []
function agree(what, a, b, fields, names = ["C++", "JS"]) {
  for (const f of fields) {
    if (JSON.stringify(a[f]) !== JSON.stringify(b[f])) {
      problems.push(`${what}: ${f} differs: ${names[0]} ${JSON.stringify(a[f])}, ${names[1]} ${JSON.stringify(b[f])}`)
    }
  }
}

const results = Object.fromEntries(Object.keys(workloads).map(w => [w, { cpp: [], js: [] }]))
const started = Date.now()
for (let rep = 0; rep < opts.reps; rep++) {
  // Alternate which side goes first, so drift on a busy machine hurts both alike.
  const order = rep % 2 === 0 ? ["cpp", "js"] : ["js", "cpp"]
  for (const w of Object.keys(workloads)) {
    const got = {}
    for (const side of order) {
      got[side] = run(side, workloads[w](side))
      results[w][side].push(got[side])
      process.stderr.write(
        `compare: rep ${rep + 1}/${opts.reps} ${w} ${side}: ${JSON.stringify({ ...got[side], heads: got[side].heads?.length })}\n`,
      )
    }
    const fields =
      w === "load" ? ["changes", "text_len", "heads"]
      : w === "observed" ? ["edits", "changes", "text_len", "heads", "patches"]
      : ["edits", "changes", "text_len", "heads"]
    agree(`${w} (rep ${rep + 1})`, got.cpp, got.js, fields)
  }
  if (rep === 0) {
    // Each side loads the other's per-edit document: same heads and text expected.
    const cppReadsJs = run("cpp", ["load", file("js", "per-edit")])
    const jsReadsCpp = run("js", ["load", file("cpp", "per-edit")])
    agree("C++ loading the JS document", cppReadsJs, results.perEdit.js[0], ["text_len", "heads"], ["loaded", "saved"])
    agree("JS loading the C++ document", jsReadsCpp, results.perEdit.cpp[0], ["text_len", "heads"], ["loaded", "saved"])
  }
}
const elapsed = (Date.now() - started) / 1000

const median = xs => {
  const s = xs.filter(x => typeof x === "number").sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const med = (w, side, field) => median(results[w][side].map(r => r[field]))
const spread = (w, side, field) => {
  const xs = results[w][side].map(r => r[field]).filter(x => typeof x === "number")
  const m = median(xs)
  return xs.length > 1 && m > 0 ? (Math.max(...xs) - Math.min(...xs)) / m : 0
}

const fmtMs = v => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : v >= 10 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`)
const fmtUs = v => `${v.toFixed(1)} µs`
const fmtBytes = v => `${Math.round(v).toLocaleString("en-US")} B`
const fmtKb = v => `${(v / 1024).toFixed(1)} MB`
const fmtCount = v => `${v}`

// ratio = JS / C++: how many times faster (or smaller) C++ is; above 1 = C++ better.
const rows = [
  { name: "trace, one change per edit: apply + commit", w: "perEdit", f: "apply_ms", fmt: fmtMs, target: "≥ 20×", ok: r => r >= 20 },
  { name: "trace, one change per edit, patches observed: apply + commit + patches", w: "observed", f: "apply_ms", fmt: fmtMs, target: "≥ 20×", ok: r => r >= 20 },
  { name: "observed edit, mean over the first 2,000 edits (info)", w: "observed", f: "observed_edit_us_first", fmt: fmtUs },
  { name: "observed edit, mean over the last 2,000 edits (info)", w: "observed", f: "observed_edit_us_last", fmt: fmtUs },
  { name: "trace as one change: apply + commit", w: "single", f: "apply_ms", fmt: fmtMs, target: "≥ 10×", ok: r => r >= 10 },
  { name: "per-edit doc: save", w: "perEdit", f: "save_ms", fmt: fmtMs, target: "≥ 3×", ok: r => r >= 3 },
  { name: "per-edit doc: saved size", w: "perEdit", f: "save_bytes", fmt: fmtBytes, target: "within 2 %", ok: r => Math.abs(1 / r - 1) <= 0.02 },
  { name: "per-edit doc: load, fresh process (cold)", w: "load", f: "load_ms", fmt: fmtMs, target: "≥ 5×", ok: r => r >= 5 },
  { name: "per-edit doc: load, same process (warm)", w: "perEdit", f: "load_ms", fmt: fmtMs, target: "≥ 5×", ok: r => r >= 5 },
  { name: "per-edit doc: peak RSS of a process that loads it", w: "load", f: "peak_rss_kb", fmt: fmtKb, target: "≤ 1/4 (≥ 4×)", ok: r => r >= 4 },
  { name: "per-edit doc: RSS right after load (info)", w: "load", f: "rss_kb", fmt: fmtKb },
  { name: "per-edit doc: sync to an empty peer", w: "perEdit", f: "sync_ms", fmt: fmtMs, target: "≥ 5×", ok: r => r >= 5 },
  { name: "per-edit doc: sync bytes", w: "perEdit", f: "sync_bytes", fmt: fmtBytes, target: "≤ JS (≥ 1×)", ok: r => r >= 1 },
  { name: "per-edit doc: sync messages (info)", w: "perEdit", f: "sync_round_trips", fmt: fmtCount },
  { name: "one-change doc: save (info)", w: "single", f: "save_ms", fmt: fmtMs },
  { name: "one-change doc: load, same process (info)", w: "single", f: "load_ms", fmt: fmtMs },
  { name: "one-change doc: sync to an empty peer (info)", w: "single", f: "sync_ms", fmt: fmtMs },
]

const edits = results.perEdit.cpp[0].edits
const lines = []
lines.push(
  `Trace ${opts.trace.split("/").pop()}, ${edits} edits${opts.limit >= 0 ? ` (--limit ${opts.limit})` : " (whole trace)"}; ` +
    `${opts.reps} rep(s) per side, alternating, medians; ratio = JS ÷ C++ (above 1: C++ faster/smaller). ` +
    `@automerge/automerge ${results.perEdit.js[0].version}, Node ${process.version}; ${cpus().length} CPUs ` +
    `(${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ${elapsed.toFixed(0)} s.`,
)
lines.push("")
lines.push("| row | C++ (amrepo) | JS 3.5.0 | ratio | target | met? |")
lines.push("|---|---:|---:|---:|---|---|")
let maxSpread = 0
for (const row of rows) {
  const c = med(row.w, "cpp", row.f)
  const j = med(row.w, "js", row.f)
  const ratio = j / c
  maxSpread = Math.max(maxSpread, row.fmt === fmtMs ? spread(row.w, "cpp", row.f) : 0, row.fmt === fmtMs ? spread(row.w, "js", row.f) : 0)
  const met = row.ok ? (row.ok(ratio) ? "yes" : "**no**") : ""
  lines.push(`| ${row.name} | ${row.fmt(c)} | ${row.fmt(j)} | ${Number.isFinite(ratio) ? ratio.toFixed(2) + "×" : "—"} | ${row.target ?? "—"} | ${met} |`)
}
lines.push("")
lines.push(
  `C++ commit share of the per-edit apply: ${fmtMs(med("perEdit", "cpp", "commit_ms"))}. ` +
    `Largest max−min spread of a timing row: ${(maxSpread * 100).toFixed(0)} % of its median.`,
)
process.stdout.write(lines.join("\n") + "\n")

if (opts.json) writeFileSync(opts.json, JSON.stringify({ opts, results }, null, 1) + "\n")

if (problems.length) {
  process.stderr.write("compare: FAILED: the two implementations disagree:\n" + problems.map(p => `  ${p}\n`).join(""))
  process.exit(1)
}
