// corpus.mjs — what the pinned reference does with each file of a corpus of real documents.
//
// Usage:   node corpus.mjs CORPUS_DIR OUTDIR [--seed N] [--only NAME]
//
// For every file CORPUS_DIR/<name> (SOURCES.md and other *.md files skipped), loads it with the pinned
// @automerge/automerge (A.load) and writes:
//   OUTDIR/<name>.json      {
//       "file": name, "reference_version": "3.5.0",
//       "loads": bool,
//       "error": string,                // only when A.load threw: its message
//       "heads": [hex...],              // A.getHeads (sorted)
//       "json": JSONDOC,                // A.toJS mapped as `amrepo export` maps values (below)
//       "change_count": n,
//       "shuffle": {                    // the changes applied one by one to a fresh document in a seeded order
//         "seed": N,                    // mulberry32 seed; the order below is the result, so readers need not
//         "order": [hex...],            //   re-implement the PRNG: hashes of A.getAllChanges in applied order
//         "batch_size": k,              // changes per applyChanges call (1 = one by one)
//         "heads": [hex...], "json": JSONDOC, "missing_deps": [hex...]
//       } }
//   OUTDIR/<name>.save            A.getBackend(doc).saveNoCompress() of the loaded document
//   OUTDIR/<name>.shuffled.save   saveNoCompress() of the document built from the changes in "order":
//                                 one A.applyChanges(doc, [change]) per change when there are at most
//                                 ONE_BY_ONE_MAX changes, else "batches" calls, each given the next
//                                 ceil(n / batches) changes of "order" (the reference costs milliseconds
//                                 per call on big documents, and its queue makes random order quadratic)
// and finally OUTDIR/index.json: {"seed": N, "files": [name...]}. Deterministic: the same inputs and seed
// give the same output. Golden data must come from this script, never be edited by hand.
//
// JSONDOC: maps -> objects, lists -> arrays, text and ImmutableString -> strings, numbers (int, uint, f64,
// counter) -> JSON numbers (JSON.stringify: non-finite -> null; JS numbers, so 64-bit integers beyond 2^53
// are rounded), Date -> toISOString(), Uint8Array -> base64, null/bool as is. This is the mapping of
// am::Document::to_json (src/core/json.cc), which `amrepo export` prints.
import * as A from "@automerge/automerge";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const referenceVersion = JSON.parse(
  fs.readFileSync(path.join(HERE, "node_modules/@automerge/automerge/package.json"), "utf8")).version;

const args = process.argv.slice(2);
let seed = 19;
let only = null;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--seed") seed = Number(args[++i]);
  else if (args[i] === "--only") only = args[++i];
  else positional.push(args[i]);
}
const [corpusDir, outDir] = positional;
if (!corpusDir || !outDir || !Number.isInteger(seed)) {
  console.error("usage: node corpus.mjs CORPUS_DIR OUTDIR [--seed N] [--only NAME]");
  process.exit(2);
}

const ONE_BY_ONE_MAX = 400;
const BATCHES = 16;

function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function toJson(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (A.isCounter(v)) return toJson(v.value);
  if (A.isImmutableString(v)) return v.val;
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = toJson(v[k]);
    return o;
  }
  throw new Error("toJson: unsupported value " + String(v));
}

// A change's hash: SHA-256 of its chunk after the magic and checksum (A.decodeChange would
// compute it too, but throws for integer values beyond 2^53).
const hashOf = (change) => crypto.createHash("sha256").update(change.subarray(8)).digest("hex");

function shuffled(changes, rand) {
  const a = changes.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function run(name) {
  const bytes = new Uint8Array(fs.readFileSync(path.join(corpusDir, name)));
  const out = { file: name, reference_version: referenceVersion };
  let doc;
  try {
    doc = A.load(bytes);
  } catch (e) {
    out.loads = false;
    out.error = String(e && e.message ? e.message : e);
    return out;
  }
  out.loads = true;
  out.heads = A.getHeads(doc);
  out.json = toJson(A.toJS(doc));
  fs.writeFileSync(path.join(outDir, `${name}.save`), A.getBackend(doc).saveNoCompress());

  const changes = A.getAllChanges(doc);
  out.change_count = changes.length;
  const order = shuffled(changes, mulberry32(seed));
  const batchSize = changes.length <= ONE_BY_ONE_MAX ? 1 : Math.ceil(changes.length / BATCHES);
  let fresh = A.init();
  for (let i = 0; i < order.length; i += batchSize) {
    [fresh] = A.applyChanges(fresh, order.slice(i, i + batchSize));
  }
  out.shuffle = {
    seed,
    batch_size: batchSize,
    order: order.map(hashOf),
    heads: A.getHeads(fresh),
    json: toJson(A.toJS(fresh)),
    missing_deps: A.getMissingDeps(fresh, []),
  };
  fs.writeFileSync(path.join(outDir, `${name}.shuffled.save`), A.getBackend(fresh).saveNoCompress());
  return out;
}

fs.mkdirSync(outDir, { recursive: true });
const files = fs
  .readdirSync(corpusDir)
  .filter((f) => !f.endsWith(".md") && (only === null || f === only))
  .sort();
for (const name of files) {
  const t0 = Date.now();
  const out = run(name);
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(out) + "\n");
  console.error(`${name}: ${out.loads ? "loads" : "refused"} (${Date.now() - t0} ms)`);
}
fs.writeFileSync(path.join(outDir, "index.json"), JSON.stringify({ seed, files }) + "\n");
console.error(`seed ${seed}, ${files.length} files`);
