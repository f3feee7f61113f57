// gen-vectors.mjs — golden test-vector generator for the C++ Automerge port.
//
// Usage:   node gen-vectors.mjs OUTDIR [--seed N]
//
// Runs the pinned reference package (@automerge/automerge, see package.json) and writes one JSON file per
// scenario to OUTDIR/<name>.json plus OUTDIR/index.json. Everything is deterministic: fixed actor ids,
// every change made with {time: 0}, and random scenarios driven by a seeded mulberry32 PRNG (the seed is
// printed and stored in the vector). Running it twice must give byte-identical files.
// Golden vectors must come from this script; never edit them by hand.
//
// ---------------------------------------------------------------------------------------------------------
// Vector file shape (OUTDIR/<name>.json)
// {
//   "name": string, "description": string,
//   "reference_version": "3.5.0",            // version field of node_modules/@automerge/automerge/package.json
//   "snippet": string,                       // JS source of the scenario function (for humans)
//   "changes": [                             // A.getAllChanges(doc), in that order
//     { "hex": string,                       // raw change chunk bytes (magic..end), lowercase hex
//       "hash": string,                      // change hash (hex); checked here = SHA-256(type||uLEB(len)||body)
//       "meta": { actor, author, seq, startOp, maxOp, time, message, deps, hash[, extraBytes] }
//                                            // A.getChangesMetaSince(doc, []) entry for this hash, as is
//                                            // (author: hex string or null; extraBytes: hex, only if present)
//       "decoded": DECODED | null,           // A.decodeChange(bytes) made JSON-safe (below); null if it threw
//       "decode_error": string               // only present when decodeChange threw (e.g. ints beyond 2^53)
//     } ],
//   "heads": [hex...],                       // A.getHeads(doc) (sorted)
//   "save_hex": string,                      // A.save(doc)
//   "save_nocompress_hex": string,           // A.getBackend(doc).saveNoCompress()
//   "json": JSONDOC,                         // document content, mapping below
//   "extra": { ... }                         // scenario-specific facts (see each scenario's description)
// }
//
// DECODED = A.decodeChange output with these transformations only:
//   * top-level keys kept as the reference emits them: actor, hash, seq, startOp, time, message (null if
//     none), deps (hex hashes), ops, and — only when the change has extra bytes — "extra_bytes" (the reference
//     gives an array of byte numbers; here a lowercase hex string) and "author" (hex string).
//   * each op keeps the reference's keys: action ("makeMap" | "set" | "makeList" | "del" | "makeText" | "inc"
//     | "makeTable" | "markBegin" | "markEnd"), obj ("_root" | "<ctr>@<actorhex>"), either key (map key string)
//     or elemId ("_head" | "<ctr>@<actor>"), insert (true, only present on inserts), name (markBegin only),
//     expand (boolean, mark ops only), pred (array of op ids).
//   * the reference's separate "datatype" field is removed and an op's "value" (present iff the reference op
//     has a value key: set, inc, markBegin) becomes a tagged object  {"datatype": T, "value": V}.
//     T is read from the change's raw value-metadata column (0x56/0x57) and cross-checked against
//     decodeChange (which omits the datatype for inc ops, mark values, null/bool/str/bytes):
//       T = "null"      V = null
//       T = "boolean"   V = true | false
//       T = "int" | "uint" | "counter" | "timestamp"
//                       V = JSON number when |v| <= 2^53-1, else a decimal string (never occurs in practice:
//                           A.decodeChange throws for such values, see "decode_error")
//       T = "float64"   V = JSON number (shortest round-trip repr, exact), or the string "NaN", "Infinity",
//                           "-Infinity" or "-0"
//       T = "str"       V = string
//       T = "bytes"     V = lowercase hex string
//       T = "unknown<code>" (type codes 10..15; not producible from JS)   V = lowercase hex of the raw bytes
//
// JSONDOC / every "json" value in extra: maps -> objects, lists -> arrays, text and ImmutableString (RawString)
//   -> strings (text block markers appear as U+FFFC), int/uint/f64/counter -> JSON numbers (int-like values
//   beyond 2^53-1 -> decimal strings; NaN/Infinity/-Infinity -> those strings), Date/timestamp ->
//   Date.toISOString() (UTC, milliseconds), Uint8Array -> base64 string, null/bool as is.
//   A.getConflicts results are stored as {opid: JSONDOC value} (or null when the reference returns undefined,
//   i.e. no conflict). A.marks results are stored as [{name, value: JSONDOC value, start, end}].
// Sync scenarios add extra.sync: { "messages": [ {"from": "A"|"B", "to": ..., "phase": n, "hex": ...,
//   "decoded": {heads, need, have: [{lastSync, bloom(hex)}], changes: [hex...]}} ... ],
//   "states": {...encodeSyncState hex...} }.
// ---------------------------------------------------------------------------------------------------------

import * as A from "@automerge/automerge";
import { createHash } from "node:crypto";
import { inflateRawSync } from "node:zlib";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import bs58check from "bs58check"; // repo_ids only (pinned to the version @automerge/automerge-repo 2.5.6 uses)

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REF_VERSION = JSON.parse(
  fs.readFileSync(path.join(HERE, "node_modules/@automerge/automerge/package.json"), "utf8")).version;

const T = { time: 0 };
const ACT_A = "aa".repeat(16);
const ACT_B = "bb".repeat(16);
const ACT_C = "cc".repeat(16);
const ACT_FRESH = "ff".repeat(16);
const SINGLE_PUT_HASH = "422a03c0fda01b9c737d63d60027f53a66b522f9be476177c79ae89713e9c493";
const EMPTY_DOC_HEX = "856f4a83b81a95440004000000" + "00";

// ------------------------------------------------------------------------------------------- utilities

function fail(msg) {
  console.error("FATAL: " + msg);
  process.exit(1);
}
const warnings = [];
function warn(msg) {
  warnings.push(msg);
  console.error("WARNING: " + msg);
}

function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

// mulberry32: tiny 32-bit seeded PRNG returning floats in [0, 1).
function mulberry32(seed) {
  let s = seed >>> 0;
  return function next() {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randInt = (rnd, n) => Math.floor(rnd() * n); // 0..n-1
const pick = (rnd, arr) => arr[randInt(rnd, arr.length)];

function numJson(v) {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  if (Object.is(v, -0)) return "-0";
  return v;
}
function bigJson(v) {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  return v >= -max && v <= max ? Number(v) : v.toString();
}

// Document / conflict / mark value -> JSON (mapping documented at the top).
function toJson(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return numJson(v);
  if (typeof v === "bigint") return bigJson(v);
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
  fail("toJson: unsupported value " + String(v));
}
const docJson = (doc) => toJson(A.toJS(doc));

function conflictsJson(obj, prop) {
  const c = A.getConflicts(obj, prop);
  return c === undefined ? null : toJson(c);
}
// A.marksAt at every element index 0..n+1 (past the end gives {}), values as toJson maps them.
function marksAtJson(doc, p, n) {
  const out = [];
  for (let i = 0; i <= n + 1; i++) {
    const set = A.marksAt(doc, p, i);
    out.push(Object.fromEntries(Object.entries(set).map(([k, v]) => [k, toJson(v)])));
  }
  return out;
}
function marksJson(doc, p) {
  return A.marks(doc, p).map((m) => ({ name: m.name, value: toJson(m.value), start: m.start, end: m.end }));
}

// Exact typed value of every op of a change, read from its raw value-metadata (0x56) and value (0x57) columns.
// The reference's decodeChange drops the datatype for inc ops and mark values (and JS even encodes some mark
// numbers as f64), so the type tag comes from the bytes; it is cross-checked against decodeChange (checkTyped).
const TYPE_NAMES = ["null", "boolean", "boolean", "uint", "int", "float64", "str", "bytes", "counter", "timestamp"];
function rawOpValues(bytes) {
  const b = parseChunk(Buffer.from(bytes)).body;
  let p = 0, n, l;
  [n, p] = readUleb(b, p); p += 32 * n;             // deps
  [l, p] = readUleb(b, p); p += l;                  // actor
  [, p] = readUleb(b, p); [, p] = readUleb(b, p);   // seq, start_op
  [, p] = readSleb(b, p);                           // time
  [l, p] = readUleb(b, p); p += l;                  // message
  [n, p] = readUleb(b, p);                          // other actors
  for (let i = 0; i < n; i++) { [l, p] = readUleb(b, p); p += l; }
  [n, p] = readUleb(b, p);
  const cols = [];
  for (let i = 0; i < n; i++) { let s; [s, p] = readUleb(b, p); [l, p] = readUleb(b, p); cols.push({ spec: s, len: l }); }
  for (const c of cols) { c.data = b.subarray(p, p + c.len); p += c.len; }
  const metaCol = cols.find((c) => c.spec === 0x56);
  const valCol = cols.find((c) => c.spec === 0x57);
  if (!metaCol) return [];
  const metas = [];                                 // RLE of uLEB
  const md = metaCol.data;
  for (let q = 0; q < md.length;) {
    let run, v;
    [run, q] = readSleb(md, q);
    if (run > 0) { [v, q] = readUleb(md, q); for (let i = 0; i < run; i++) metas.push(v); }
    else if (run < 0) { for (let i = 0; i < -run; i++) { [v, q] = readUleb(md, q); metas.push(v); } }
    else { [v, q] = readUleb(md, q); for (let i = 0; i < v; i++) metas.push(0); }
  }
  const vals = valCol ? valCol.data : Buffer.alloc(0);
  let vp = 0;
  const out = metas.map((m) => {
    const code = m & 0xf, len = Math.floor(m / 16);
    const raw = vals.subarray(vp, vp + len);
    if (raw.length !== len) fail("value column too short");
    vp += len;
    switch (code) {
      case 0: return { datatype: "null", value: null };
      case 1: return { datatype: "boolean", value: false };
      case 2: return { datatype: "boolean", value: true };
      case 3: return { datatype: "uint", value: bigJson(readUlebBig(raw, 0)[0]) };
      case 4: case 8: case 9: return { datatype: TYPE_NAMES[code], value: bigJson(readSlebBig(raw, 0)[0]) };
      case 5: return { datatype: "float64", value: numJson(raw.readDoubleLE(0)) };
      case 6: return { datatype: "str", value: raw.toString("utf8") };
      case 7: return { datatype: "bytes", value: hex(raw) };
      default: return { datatype: "unknown" + code, value: hex(raw) };
    }
  });
  if (vp !== vals.length) fail("value column has trailing bytes");
  return out;
}

// Cross-check a raw typed value against what decodeChange reported for the op.
function checkTyped(op, tv) {
  if (op.datatype !== undefined && op.datatype !== tv.datatype) {
    fail(`datatype mismatch: decodeChange ${op.datatype}, raw ${tv.datatype} in ${JSON.stringify(op)}`);
  }
  const v = op.value;
  let ok;
  switch (tv.datatype) {
    case "null": ok = v === null; break;
    case "boolean": case "str": ok = v === tv.value; break;
    case "bytes": ok = (Array.isArray(v) || v instanceof Uint8Array) && hex(Uint8Array.from(v)) === tv.value; break;
    case "float64": ok = typeof v === "number" && (numJson(v) === tv.value || (tv.value === "-0" && v === 0)); break;
    default: ok = typeof v === "number" && numJson(v) === tv.value;
  }
  if (!ok) fail(`value mismatch: decodeChange ${JSON.stringify(op)}, raw ${JSON.stringify(tv)}`);
}

function safeDecoded(dc, bytes) {
  const raw = rawOpValues(bytes);
  if (raw.length !== dc.ops.length) fail(`raw value column has ${raw.length} rows, decodeChange ${dc.ops.length} ops`);
  const out = {};
  for (const [k, v] of Object.entries(dc)) {
    if (k === "ops") {
      out.ops = v.map((op, i) => {
        if (!("value" in op) && raw[i].datatype !== "null") fail("op without value has a raw value");
        const o = {};
        for (const [ok, ov] of Object.entries(op)) {
          if (ok === "datatype") continue;
          if (ok === "value") { checkTyped(op, raw[i]); o.value = raw[i]; } else o[ok] = ov;
        }
        return o;
      });
    } else if (k === "extra_bytes") {
      out.extra_bytes = hex(Uint8Array.from(v));
    } else if (v instanceof Uint8Array) {
      out[k] = hex(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function readUlebBig(buf, pos) {
  let result = 0n, shift = 0n, b;
  do {
    if (pos >= buf.length) fail("uLEB past end");
    b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    shift += 7n;
  } while (b & 0x80);
  return [result, pos];
}
function readSlebBig(buf, pos) {
  let result = 0n, shift = 0n, b;
  do {
    if (pos >= buf.length) fail("sLEB past end");
    b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    shift += 7n;
  } while (b & 0x80);
  if (b & 0x40) result -= 1n << shift;
  return [result, pos];
}
function readUleb(buf, pos) { const [v, q] = readUlebBig(buf, pos); return [Number(v), q]; }
function readSleb(buf, pos) { const [v, q] = readSlebBig(buf, pos); return [Number(v), q]; }

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

// Parse a chunk header; returns {type, checksum, body, end}.
function parseChunk(buf, pos = 0) {
  if (hex(buf.subarray(pos, pos + 4)) !== "856f4a83") fail("bad magic");
  const checksum = hex(buf.subarray(pos + 4, pos + 8));
  const type = buf[pos + 8];
  const [len, p] = readUleb(buf, pos + 9);
  const body = buf.subarray(p, p + len);
  if (body.length !== len) fail("truncated chunk");
  return { type, checksum, body, end: p + len };
}

// Independent check of the reference hash: SHA-256(type || uLEB(len) || body), checksum = hash[0..4].
function checkChangeChunk(bytes, expectHash) {
  const buf = Buffer.from(bytes);
  const c = parseChunk(buf);
  if (c.type !== 1) fail("getAllChanges returned chunk type " + c.type);
  if (c.end !== buf.length) fail("trailing bytes after change chunk");
  const h = createHash("sha256").update(Buffer.from([c.type])).update(uleb(c.body.length)).update(c.body).digest("hex");
  if (h !== expectHash) fail(`hash mismatch: computed ${h}, reference ${expectHash}`);
  if (c.checksum !== h.slice(0, 8)) fail("checksum is not the hash prefix");
}

// Column metadata of a document chunk (for the deflate check).
function docColumns(bytes) {
  const buf = Buffer.from(bytes);
  const c = parseChunk(buf);
  if (c.type !== 0) fail("not a document chunk");
  const b = c.body;
  let p = 0, n;
  [n, p] = readUleb(b, p);
  for (let i = 0; i < n; i++) { let l; [l, p] = readUleb(b, p); p += l; }
  [n, p] = readUleb(b, p);
  p += 32 * n;
  const readMeta = () => {
    let k; [k, p] = readUleb(b, p);
    const cols = [];
    for (let i = 0; i < k; i++) { let s, l; [s, p] = readUleb(b, p); [l, p] = readUleb(b, p); cols.push({ spec: s, len: l }); }
    return cols;
  };
  const changeCols = readMeta();
  const opCols = readMeta();
  for (const col of [...changeCols, ...opCols]) { col.data = b.subarray(p, p + col.len); p += col.len; }
  return { changeCols, opCols };
}

// ------------------------------------------------------------------------------------------- vector builder

function buildVector(name, description, fn, result) {
  const { doc, extra = {} } = result;
  const changes = A.getAllChanges(doc);
  const metas = new Map(A.getChangesMetaSince(doc, []).map((m) => [m.hash, m]));
  if (metas.size !== changes.length) fail(`${name}: meta count ${metas.size} != ${changes.length}`);
  const entries = changes.map((c) => {
    let decoded = null, decodeError;
    let dc = null;
    try { dc = A.decodeChange(c); } catch (e) { decodeError = String(e.message ?? e); }
    if (dc) decoded = safeDecoded(dc, c);
    // hash of the chunk: from the decoded change, or (if decoding failed) the one meta entry whose hash checks
    let hash = decoded ? decoded.hash : null;
    if (!hash) {
      const buf = Buffer.from(c), ch = parseChunk(buf);
      hash = createHash("sha256").update(Buffer.from([1])).update(uleb(ch.body.length)).update(ch.body).digest("hex");
    }
    checkChangeChunk(c, hash);
    const meta = metas.get(hash);
    if (!meta) fail(`${name}: no metadata for change ${hash}`);
    const e = { hex: hex(c), hash, meta: toJson(meta), decoded };
    if (decodeError !== undefined) e.decode_error = decodeError;
    return e;
  });
  const save = A.save(doc);
  const saveNc = A.getBackend(doc).saveNoCompress();
  const json = docJson(doc);
  const heads = A.getHeads(doc);
  // round trips through the reference loader
  for (const [label, bytes] of [["save", save], ["saveNoCompress", saveNc]]) {
    const re = A.load(bytes, { actor: ACT_FRESH });
    if (JSON.stringify(A.getHeads(re)) !== JSON.stringify(heads)) fail(`${name}: heads differ after load(${label})`);
    if (JSON.stringify(docJson(re)) !== JSON.stringify(json)) fail(`${name}: json differs after load(${label})`);
  }
  return {
    name, description, reference_version: REF_VERSION,
    snippet: fn.toString(),
    changes: entries, heads, save_hex: hex(save), save_nocompress_hex: hex(saveNc), json, extra,
  };
}

// ------------------------------------------------------------------------------------------- scenarios

const scenarios = [];
function scenario(name, description, fn) { scenarios.push({ name, description, fn }); }

scenario("empty", "A.init() with no changes.", function empty() {
  const doc = A.init({ actor: ACT_A });
  return { doc };
});

scenario("single_put", "actor aa×16, d.x = 1 (int), time 0. Hash is pinned by the spec (§2.3).",
  function single_put() {
    let doc = A.init({ actor: ACT_A });
    doc = A.change(doc, T, (d) => { d.x = 1; });
    return { doc };
  });

scenario("all_scalars", "Every scalar type in root map keys (change 1), plus similar values in a list literal (change 2). " +
  "JS quirks visible in change 2 (list/object literals and A.insertAt): integers <= 0 are stored as float64, and an " +
  "A.Uint wrapper becomes a map {value: n}.",
  function all_scalars() {
    let doc = A.init({ actor: ACT_A });
    doc = A.change(doc, T, (d) => {
      d.null = null; d.true = true; d.false = false;
      d.int0 = 0; d.int1 = 1; d.int_neg1 = -1; d.int_neg65 = -65; d.int_64 = 64; d.int_big = 1234567890123;
      d.int_maxsafe = Number.MAX_SAFE_INTEGER; d.int_minsafe = -Number.MAX_SAFE_INTEGER; d.int_explicit = new A.Int(-7);
      d.uint0 = new A.Uint(0); d.uint300 = new A.Uint(300); d.uint_maxsafe = new A.Uint(Number.MAX_SAFE_INTEGER);
      d.f64 = 1.5; d.f64_neg = -2.25; d.f64_pi = Math.PI; d.f64_int = new A.Float64(2); d.f64_tiny = 5e-324;
      d.str = new A.RawString("hello"); d.str_empty = new A.RawString(""); d.str_utf8 = new A.RawString("é€👍");
      d.bytes = new Uint8Array([0, 1, 2, 254, 255]); d.bytes_empty = new Uint8Array([]);
      d.counter = new A.Counter(5); d.counter_neg = new A.Counter(-1);
      d.date = new Date(1000); d.date_neg = new Date(-1); d.date_now = new Date(1700000000123);
    });
    doc = A.change(doc, T, (d) => {
      d.list = [null, true, false, -65, new A.Uint(300), 1.5, new A.RawString("é"), new Uint8Array([7]),
        new A.Counter(3), new Date(1000)];
    });
    return { doc };
  });

scenario("float_special", "Special f64 values (change 1). Note: Float64(-0) is stored as +0 and plain -0 as int 0. " +
  "Change 2: plain integer-valued JS numbers >= 2^63 in magnitude (1e300, Number.MAX_VALUE, -(2**70)) are stored as " +
  "ints saturated to i64::MAX / i64::MIN (so decodeChange throws for that change, decoded = null).",
  function float_special() {
    let doc = A.init({ actor: ACT_A });
    doc = A.change(doc, T, (d) => {
      d.nan = NaN; d.inf = Infinity; d.ninf = -Infinity; d.negzero_f64 = new A.Float64(-0); d.negzero_num = -0;
      d.tenth = 0.1; d.min = Number.MIN_VALUE; d.huge_f64 = new A.Float64(1e300); d.max_f64 = new A.Float64(Number.MAX_VALUE);
      d.neg_f64 = new A.Float64(-3);
    });
    doc = A.change(doc, T, (d) => { d.huge_num = 1e300; d.max_num = Number.MAX_VALUE; d.neg_huge_num = -(2 ** 70); });
    return { doc };
  });

scenario("big_ints", "64-bit integers beyond 2^53 written as JS bigints (positive bigint > i64::MAX becomes uint) and a " +
  "bigint counter. A.decodeChange throws for these changes, so decoded is null and decode_error is set; " +
  "extra.values lists the exact values as decimal strings.",
  function big_ints() {
    let doc = A.init({ actor: ACT_A });
    doc = A.change(doc, T, (d) => { d.small = 5n; });
    doc = A.change(doc, T, (d) => {
      d.i53 = 2n ** 53n; d.i64max = 2n ** 63n - 1n; d.i64min = -(2n ** 63n); d.u63 = 2n ** 63n; d.u64max = 2n ** 64n - 1n;
      d.counter_big = new A.Counter(2n ** 62n);
    });
    const values = { small: "5", i53: (2n ** 53n).toString(), i64max: (2n ** 63n - 1n).toString(),
      i64min: (-(2n ** 63n)).toString(), u63: (2n ** 63n).toString(), u64max: (2n ** 64n - 1n).toString(),
      counter_big: (2n ** 62n).toString() };
    return { doc, extra: { values } };
  });

scenario("text_emoji", "Text with multi-code-unit characters; JS indexes are UTF-16 code units. A second actor edits concurrently.",
  function text_emoji() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => { d.text = "hé👍"; });                       // 1 op per code point
    a = A.change(a, T, (d) => { A.splice(d, ["text"], 4, 0, "🎉x"); });   // after 👍 (UTF-16 index 4)
    let b = A.merge(A.init({ actor: ACT_B }), a);
    a = A.change(a, T, (d) => { A.splice(d, ["text"], 1, 1, ""); });      // delete é
    a = A.change(a, T, (d) => { A.splice(d, ["text"], 0, 0, "👨‍👩‍👧"); }); // ZWJ family: 5 code points
    b = A.change(b, T, (d) => { A.splice(d, ["text"], 2, 2, "𝄞"); });     // delete 👍, insert U+1D11E
    a = A.merge(a, b);
    const text = A.toJS(a).text;
    return { doc: a, extra: { text, utf16_length: text.length, code_points: [...text].length,
      text_b_before_merge: A.toJS(b).text } };
  });

scenario("list_conflict", "Two actors insert concurrently at the same list index (and at the head); merged both ways.",
  function list_conflict() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => { d.list = [1, 2]; });
    let b = A.merge(A.init({ actor: ACT_B }), a);
    a = A.change(a, T, (d) => { A.insertAt(d.list, 1, 10, 11); A.insertAt(d.list, 0, new A.RawString("a0")); });
    b = A.change(b, T, (d) => { A.insertAt(d.list, 1, 20); A.insertAt(d.list, 0, new A.RawString("b0")); });
    const ab = A.merge(A.clone(a, { actor: ACT_A }), b);
    const ba = A.merge(A.clone(b, { actor: ACT_B }), a);
    if (JSON.stringify(docJson(ab)) !== JSON.stringify(docJson(ba))) throw new Error("list_conflict diverged");
    return { doc: ab, extra: { json_b_merged_a: docJson(ba), heads_b_merged_a: A.getHeads(ba) } };
  });

scenario("map_conflict", "Concurrent puts of the same key by 3 actors (same op counter: tie broken by actor) and of a key " +
  "where counters differ; extra.conflicts = A.getConflicts per key.",
  function map_conflict() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => { d.base = 0; });
    let b = A.merge(A.init({ actor: ACT_B }), a);
    let c = A.merge(A.init({ actor: ACT_C }), a);
    a = A.change(a, T, (d) => { d.k = 1; });
    b = A.change(b, T, (d) => { d.k = new A.RawString("B"); });
    c = A.change(c, T, (d) => { d.k = { nested: true }; });
    a = A.change(a, T, (d) => { d.filler = 1; });
    a = A.change(a, T, (d) => { d.k2 = new A.RawString("a-late"); });   // higher counter wins over b
    b = A.change(b, T, (d) => { d.k2 = new A.RawString("b-early"); });
    a = A.merge(A.merge(a, b), c);
    return { doc: a, extra: { conflicts: { k: conflictsJson(a, "k"), k2: conflictsJson(a, "k2"),
      base: conflictsJson(a, "base") } } };
  });

scenario("counter_inc", "Counter with concurrent increments from 2 actors (incl. negative), merged; also a counter in a list.",
  function counter_inc() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => { d.c = new A.Counter(10); d.l = [new A.Counter(0)]; });
    let b = A.merge(A.init({ actor: ACT_B }), a);
    a = A.change(a, T, (d) => { d.c.increment(5); });
    a = A.change(a, T, (d) => { d.c.increment(-2); d.l[0].increment(1); });
    b = A.change(b, T, (d) => { d.c.increment(100); d.l[0].increment(-4); });
    a = A.merge(a, b);
    return { doc: a, extra: { c: A.toJS(a).c.value, l0: A.toJS(a).l[0].value } };
  });

scenario("delete_conflicted", "Delete of a conflicted map key (del op with 2 preds) and of a conflicted list element.",
  function delete_conflicted() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => { d.k = 1; d.l = [1, 2]; });
    let b = A.merge(A.init({ actor: ACT_B }), a);
    a = A.change(a, T, (d) => { d.k = 2; d.l[0] = 10; });
    b = A.change(b, T, (d) => { d.k = 3; d.l[0] = 20; });
    a = A.merge(a, b);
    const before = { k: conflictsJson(a, "k"), l0: conflictsJson(a.l, 0), json: docJson(a) };
    a = A.change(a, T, (d) => { delete d.k; A.deleteAt(d.l, 0); });
    return { doc: a, extra: { before_delete: before } };
  });

scenario("nested", "Maps in lists in maps, lists of lists, text inside a list; then edits and deletes deep inside.",
  function nested() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => {
      d.root = { list: [{ a: 1, inner: { deep: [1, 2, { x: new A.RawString("y") }] } }, [[1], []]], m: {} };
      d.notes = ["text in a list"];
    });
    a = A.change(a, T, (d) => {
      d.root.list[0].inner.deep[2].x = new A.RawString("z");
      d.root.list[1][1].push(new A.RawString("q"));
      d.root.m.sub = { k: [] };
      A.splice(d, ["notes", 0], 0, 4, "TEXT");
      delete d.root.list[0].a;
    });
    a = A.change(a, T, (d) => { A.deleteAt(d.root.list, 1); d.root.m.sub.k.push({ z: null }); });
    return { doc: a, extra: { obj_ids: { root: A.getObjectId(a, "root"), list: A.getObjectId(a.root, "list") } } };
  });

scenario("table_empty", "Legacy makeTable (action 6). No JS API creates tables; the change is built with A.encodeChange. " +
  "JS 3.5.0 materialises an (empty) table as [] and panics when a key is set inside one, so only an empty table is used.",
  function table_empty() {
    const c = A.encodeChange({ actor: ACT_C, seq: 1, startOp: 1, time: 0, message: null, deps: [], ops: [
      { action: "makeTable", obj: "_root", key: "tbl", pred: [] },
      { action: "set", obj: "_root", key: "after", value: 1, datatype: "int", pred: [] }] });
    let doc = A.init({ actor: ACT_A });
    [doc] = A.applyChanges(doc, [c]);
    doc = A.change(doc, T, (d) => { d.x = 2; });
    return { doc };
  });

scenario("message", "Change messages: ASCII, non-ASCII, and an empty string (stored as no message).",
  function message() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, { time: 0, message: "hello" }, (d) => { d.x = 1; });
    a = A.change(a, { time: 0, message: "héllo 👍\nline2" }, (d) => { d.x = 2; });
    a = A.change(a, { time: 0, message: "" }, (d) => { d.x = 3; });
    return { doc: a };
  });

scenario("empty_change", "A.emptyChange on an empty doc (start_op 1, max_op 0), after ops, and with a message.",
  function empty_change() {
    let a = A.init({ actor: ACT_A });
    a = A.emptyChange(a, { time: 0 });
    a = A.change(a, T, (d) => { d.x = 1; d.y = 2; });
    a = A.emptyChange(a, { time: 0, message: "nothing" });
    a = A.change(a, T, (d) => { d.z = 3; });
    return { doc: a };
  });

scenario("unicode_keys", "Map keys that sort differently in UTF-8 and UTF-16 (document op order is by UTF-8 bytes).",
  function unicode_keys() {
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => {
      d["😀"] = 1; d["\uffff"] = 2; d["a"] = 3; d["B"] = 4; d[""] = 5; d["é"] = 6; d["ab"] = 7; d["\u00ff"] = 8;
    });
    return { doc: a };
  });

scenario("large_deflate", "A long text (700 pseudo-random chars, seeded) so at least one document column is >= 256 bytes and " +
  "deflated in save(); extra.deflated_columns lists them (spec incl. 0x08 bit, compressed and raw length). The generator " +
  "checks that raw-inflating each equals the saveNoCompress column.",
  function large_deflate() {
    const rnd = mulberry32(1234);
    const alphabet = "abcdefghijklmnopqrstuvwxyz      .,éü";
    let s = "";
    for (let i = 0; i < 700; i++) s += alphabet[randInt(rnd, alphabet.length)];
    let a = A.init({ actor: ACT_A });
    a = A.change(a, T, (d) => { d.text = s; });
    a = A.change(a, T, (d) => { A.splice(d, ["text"], 100, 50, ""); d.n = 1; });
    return { doc: a, extra: { text_length: A.toJS(a).text.length } };
  });

scenario("merge_order", "Base by A; B and C edit concurrently; merge b then c vs c then b. Same heads, different save() " +
  "bytes (change rows in application order). Top-level fields are the b-then-c doc; extra has the c-then-b doc.",
  function merge_order() {
    let base = A.init({ actor: ACT_A });
    base = A.change(base, T, (d) => { d.x = 1; d.l = [1]; });
    let b = A.merge(A.init({ actor: ACT_B }), base);
    let c = A.merge(A.init({ actor: ACT_C }), base);
    b = A.change(b, T, (d) => { d.y = 2; d.l.push(2); });
    c = A.change(c, T, (d) => { d.z = 3; d.l.push(3); });
    const bc = A.merge(A.merge(A.clone(base, { actor: ACT_A }), b), c);
    const cb = A.merge(A.merge(A.clone(base, { actor: ACT_A }), c), b);
    return { doc: bc, extra: {
      cb: { changes_order: A.getAllChanges(cb).map((ch) => A.decodeChange(ch).hash), heads: A.getHeads(cb),
        save_hex: hex(A.save(cb)), save_nocompress_hex: hex(A.getBackend(cb).saveNoCompress()), json: docJson(cb) } } };
  });

scenario("author_footer", "A seq-1 change carrying an author footer in its extra bytes (uLEB(1) uLEB(len) author), built " +
  "with A.encodeChange because A.init({author}) forces a random actor; then a normal local change on top.",
  function author_footer() {
    const c = A.encodeChange({ actor: ACT_A, seq: 1, startOp: 1, time: 0, message: null, deps: [], ops: [
      { action: "set", obj: "_root", key: "x", value: 1, datatype: "int", pred: [] }],
    extra_bytes: [0x01, 0x04, 0x01, 0x23, 0xab, 0xcd] });
    let doc = A.init({ actor: ACT_A });
    [doc] = A.applyChanges(doc, [c]);
    doc = A.change(doc, T, (d) => { d.y = 2; });
    return { doc, extra: { authors: A.getAuthors(doc), author_for_actor: A.getAuthorForActor(doc, ACT_A) } };
  });

// --- random trace -------------------------------------------------------------------------------------

const RANDOM_ACTORS = ["1a".repeat(16), "2b".repeat(16), "3c".repeat(16), "4d".repeat(16)];

function cpBoundaries(s) {
  const b = [0];
  let i = 0;
  for (const ch of s) { i += ch.length; b.push(i); }
  return b;
}

function randomScalar(rnd, n) {
  switch (randInt(rnd, 6)) {
    case 0: return n;
    case 1: return -n * 1000;
    case 2: return new A.RawString("s" + n);
    case 3: return n % 2 === 0;
    case 4: return null;
    default: return n + 0.5;
  }
}

function randomOp(rnd, d, n) {
  const text = d.text;
  const b = cpBoundaries(text);
  const kind = randInt(rnd, 12);
  switch (kind) {
    case 0: case 1: { // text insert
      const at = pick(rnd, b);
      const ins = pick(rnd, ["a", "bc", "é", "👍", "x🎉y", "\n", "Zz"]);
      A.splice(d, ["text"], at, 0, ins);
      return `splice text ${at} +${JSON.stringify(ins)}`;
    }
    case 2: { // text delete
      if (b.length < 2) return "noop";
      const i = randInt(rnd, b.length - 1);
      const j = Math.min(b.length - 1, i + 1 + randInt(rnd, 3));
      A.splice(d, ["text"], b[i], b[j] - b[i]);
      return `splice text ${b[i]} -${b[j] - b[i]}`;
    }
    case 3: { // mark / unmark
      if (b.length < 2) return "noop";
      const i = randInt(rnd, b.length - 1);
      const j = i + 1 + randInt(rnd, b.length - 1 - i);
      const expand = pick(rnd, ["before", "after", "both", "none"]);
      const name = pick(rnd, ["bold", "italic", "link"]);
      if (rnd() < 0.25) {
        A.unmark(d, ["text"], { start: b[i], end: b[j], expand }, name);
        return `unmark ${name} [${b[i]},${b[j]}) ${expand}`;
      }
      const value = name === "link" ? "u" + n : name === "italic" ? n : true;
      A.mark(d, ["text"], { start: b[i], end: b[j], expand }, name, value);
      return `mark ${name} [${b[i]},${b[j]}) ${expand}`;
    }
    case 4: case 5: { // list insert
      const at = randInt(rnd, d.list.length + 1);
      const v = rnd() < 0.2 ? { k: n } : randomScalar(rnd, n);
      A.insertAt(d.list, at, v);
      return `list insert ${at}`;
    }
    case 6: { // list delete
      if (d.list.length === 0) return "noop";
      const at = randInt(rnd, d.list.length);
      A.deleteAt(d.list, at);
      return `list delete ${at}`;
    }
    case 7: { // list set
      if (d.list.length === 0) return "noop";
      const at = randInt(rnd, d.list.length);
      d.list[at] = randomScalar(rnd, n);
      return `list set ${at}`;
    }
    case 8: { // map put
      const k = pick(rnd, ["a", "b", "c", "é"]);
      d.map[k] = rnd() < 0.15 ? [n] : randomScalar(rnd, n);
      return `map put ${k}`;
    }
    case 9: { // map delete
      const keys = Object.keys(d.map);
      if (keys.length === 0) return "noop";
      const k = pick(rnd, keys);
      delete d.map[k];
      return `map delete ${k}`;
    }
    case 10: { // counter
      const by = randInt(rnd, 9) - 3;
      d.counter.increment(by);
      return `counter inc ${by}`;
    }
    default: { // root put (conflicts)
      const k = pick(rnd, ["r1", "r2"]);
      d[k] = randomScalar(rnd, n);
      return `root put ${k}`;
    }
  }
}

function randomTopoOrder(rnd, hashes, depsOf) {
  const done = new Set();
  const order = [];
  while (order.length < hashes.length) {
    const ready = [];
    hashes.forEach((h, i) => { if (!done.has(h) && depsOf.get(h).every((x) => done.has(x))) ready.push(i); });
    const i = pick(rnd, ready);
    order.push(i);
    done.add(hashes[i]);
  }
  return order;
}

function randomTraceScenario(seed) {
  return function random_trace() {
    const rnd = mulberry32(seed);
    const docs = [];
    docs[0] = A.change(A.init({ actor: RANDOM_ACTORS[0] }), T, (d) => {
      d.text = "start"; d.list = [1, 2, 3]; d.map = {}; d.counter = new A.Counter(0);
    });
    for (let i = 1; i < RANDOM_ACTORS.length; i++) docs[i] = A.merge(A.init({ actor: RANDOM_ACTORS[i] }), docs[0]);
    const log = [];
    for (let step = 0; step < 60; step++) {
      const k = randInt(rnd, docs.length);
      if (rnd() < 0.25) {
        let j = randInt(rnd, docs.length - 1);
        if (j >= k) j++;
        docs[k] = A.merge(docs[k], docs[j]);
        log.push(`${k} merges ${j}`);
      } else {
        const nops = 1 + randInt(rnd, 3);
        const what = [];
        docs[k] = A.change(docs[k], T, (d) => { for (let o = 0; o < nops; o++) what.push(randomOp(rnd, d, step * 10 + o)); });
        log.push(`${k} change: ${what.join("; ")}`);
      }
    }
    let doc = docs[0];
    for (let i = 1; i < docs.length; i++) doc = A.merge(doc, docs[i]);
    const json = docJson(doc);
    const marks = marksJson(doc, ["text"]);
    for (let i = 1; i < docs.length; i++) {  // every replica converges
      const di = A.merge(docs[i], doc);
      if (JSON.stringify(docJson(di)) !== JSON.stringify(json)) throw new Error("replica " + i + " diverged");
      if (JSON.stringify(marksJson(di, ["text"])) !== JSON.stringify(marks)) throw new Error("marks diverged");
    }
    // apply the changes one by one, in 3 causal orders, to fresh docs
    const changes = A.getAllChanges(doc);
    const metas = A.getChangesMetaSince(doc, []);
    const depsOf = new Map(metas.map((m) => [m.hash, m.deps]));
    const hashes = changes.map((c) => A.decodeChange(c).hash);
    const orders = [hashes.map((_, i) => i), randomTopoOrder(rnd, hashes, depsOf), randomTopoOrder(rnd, hashes, depsOf)];
    const apply_orders = orders.map((order) => {
      let fresh = A.init({ actor: ACT_FRESH });
      for (const i of order) [fresh] = A.applyChanges(fresh, [changes[i]]);
      return { order, json: docJson(fresh), marks: marksJson(fresh, ["text"]), heads: A.getHeads(fresh),
        save_nocompress_hex: hex(A.getBackend(fresh).saveNoCompress()) };
    });
    for (const o of apply_orders) {
      if (JSON.stringify(o.json) !== JSON.stringify(json)) throw new Error("apply order diverged (json)");
      if (JSON.stringify(o.marks) !== JSON.stringify(marks)) throw new Error("apply order diverged (marks)");
      if (JSON.stringify(o.heads) !== JSON.stringify(A.getHeads(doc))) throw new Error("apply order diverged (heads)");
    }
    const top = A.toJS(doc);
    const conflicts = {};
    for (const k of ["r1", "r2"]) conflicts[k] = conflictsJson(doc, k);
    for (const k of Object.keys(top.map)) conflicts["map." + k] = conflictsJson(doc.map, k);
    const listConflicts = {};
    for (let i = 0; i < top.list.length; i++) { const c = conflictsJson(doc.list, i); if (c) listConflicts[i] = c; }
    return { doc, extra: { seed, actors: RANDOM_ACTORS, log, text: top.text, text_utf16_length: top.text.length,
      marks, spans: toJson(A.spans(doc, ["text"])), counter: toJson(top.counter), list_length: top.list.length,
      conflicts, list_conflicts: listConflicts, apply_orders } };
  };
}

// --- sync ---------------------------------------------------------------------------------------------

function decodedSyncJson(msg) {
  const m = A.decodeSyncMessage(msg);
  return { heads: m.heads, need: m.need, have: m.have.map((h) => ({ lastSync: h.lastSync, bloom: hex(h.bloom) })),
    changes: m.changes.map((c) => hex(c)) };
}

// Alternate A->B, B->A until neither side has anything to send. Mutates docs/states, appends to log.
function runSync(docs, states, log, phase) {
  for (let round = 0; round < 50; round++) {
    let sent = false;
    for (const [from, to] of [["A", "B"], ["B", "A"]]) {
      const [st, msg] = A.generateSyncMessage(docs[from], states[from]);
      states[from] = st;
      if (msg) {
        sent = true;
        log.push({ from, to, phase, hex: hex(msg), decoded: decodedSyncJson(msg) });
        const [doc2, st2] = A.receiveSyncMessage(docs[to], states[to], msg);
        docs[to] = doc2;
        states[to] = st2;
      }
    }
    if (!sent) return;
  }
  fail("sync did not terminate");
}

scenario("sync_fresh", "Spec §4.6 transcript: A has {x:1} (actor aaaa), B empty (actor bbbb), fresh sync states. " +
  "extra.sync.messages in send order; extra.sync.states = A.encodeSyncState at the end. Top-level doc = A.",
  function sync_fresh() {
    const docs = { A: A.change(A.init({ actor: "aaaa" }), T, (d) => { d.x = 1; }), B: A.init({ actor: "bbbb" }) };
    const states = { A: A.initSyncState(), B: A.initSyncState() };
    const messages = [];
    runSync(docs, states, messages, 1);
    if (JSON.stringify(A.getHeads(docs.A)) !== JSON.stringify(A.getHeads(docs.B))) throw new Error("not converged");
    return { doc: docs.A, extra: { sync: { messages,
      states: { A: hex(A.encodeSyncState(states.A)), B: hex(A.encodeSyncState(states.B)) },
      heads: { A: A.getHeads(docs.A), B: A.getHeads(docs.B) } } } };
  });

scenario("sync_incremental", "Phase 1: fresh sync (A has 3 changes, B 2, both non-empty). Phase 2: both edit, sync again " +
  "with the same states. Phase 3: states persisted via encodeSyncState/decodeSyncState (reconnect), both edit, sync. " +
  "extra.sync.states has the encoded states after each phase. Top-level doc = A.",
  function sync_incremental() {
    let a = A.init({ actor: "aaaa" }), b = A.init({ actor: "bbbb" });
    for (let i = 0; i < 3; i++) a = A.change(a, T, (d) => { d["a" + i] = i; });
    for (let i = 0; i < 2; i++) b = A.change(b, T, (d) => { d["b" + i] = i; });
    const docs = { A: a, B: b };
    const states = { A: A.initSyncState(), B: A.initSyncState() };
    const messages = [];
    const phaseStates = {};
    runSync(docs, states, messages, 1);
    phaseStates[1] = { A: hex(A.encodeSyncState(states.A)), B: hex(A.encodeSyncState(states.B)) };
    docs.A = A.change(docs.A, T, (d) => { d.text = "shared"; });
    docs.A = A.change(docs.A, T, (d) => { d.n = 1; });
    docs.B = A.change(docs.B, T, (d) => { d.m = 2; });
    runSync(docs, states, messages, 2);
    phaseStates[2] = { A: hex(A.encodeSyncState(states.A)), B: hex(A.encodeSyncState(states.B)) };
    states.A = A.decodeSyncState(A.encodeSyncState(states.A));
    states.B = A.decodeSyncState(A.encodeSyncState(states.B));
    docs.A = A.change(docs.A, T, (d) => { d.n = 3; });
    docs.B = A.change(docs.B, T, (d) => { d.n = 4; });
    docs.B = A.change(docs.B, T, (d) => { d.o = 5; });
    runSync(docs, states, messages, 3);
    phaseStates[3] = { A: hex(A.encodeSyncState(states.A)), B: hex(A.encodeSyncState(states.B)) };
    if (JSON.stringify(A.getHeads(docs.A)) !== JSON.stringify(A.getHeads(docs.B))) throw new Error("not converged");
    return { doc: docs.A, extra: { sync: { messages, states: phaseStates,
      heads: { A: A.getHeads(docs.A), B: A.getHeads(docs.B) } }, conflicts: { n: conflictsJson(docs.A, "n") } } };
  });

scenario("bloom", "Bloom filters from the first sync message of a doc with n changes (fresh state, so the filter covers " +
  "every change). extra.blooms[i] = {n, hashes (getAllChanges order), bloom (hex, the `have[0].bloom` bytes), message}. " +
  "Top-level doc = the n=3 doc.",
  function bloom() {
    const blooms = [];
    let doc3 = null;
    for (const n of [1, 2, 3, 10, 100]) {
      let d = A.init({ actor: "aaaa" });
      for (let i = 0; i < n; i++) d = A.change(d, T, (x) => { x.v = i; });
      const [, msg] = A.generateSyncMessage(d, A.initSyncState());
      const m = A.decodeSyncMessage(msg);
      blooms.push({ n, hashes: A.getAllChanges(d).map((c) => A.decodeChange(c).hash),
        last_sync: m.have[0].lastSync, bloom: hex(m.have[0].bloom), message: hex(msg) });
      if (n === 3) doc3 = d;
    }
    return { doc: doc3, extra: { blooms } };
  });

// ------------------------------------------------------------------------------------------- spec checks

function specChecks(vectors) {
  const byName = Object.fromEntries(vectors.map((v) => [v.name, v]));
  if (byName.single_put.changes[0].hash !== SINGLE_PUT_HASH) {
    fail(`single_put hash ${byName.single_put.changes[0].hash} != ${SINGLE_PUT_HASH}`);
  }
  if (byName.empty.save_hex !== EMPTY_DOC_HEX) fail(`empty save ${byName.empty.save_hex} != ${EMPTY_DOC_HEX}`);
  if (byName.empty.save_nocompress_hex !== EMPTY_DOC_HEX) fail("empty saveNoCompress differs");

  // sync_fresh against spec §4.6
  const sf = byName.sync_fresh;
  const h = sf.heads[0];
  const msgs = sf.extra.sync.messages;
  const expect = [
    ["A", "42" + "01" + h + "00" + "01" + "00" + "05" + "010a07c718" + "00" + "020284"],
    ["B", "43" + "00" + "01" + h + "01" + "00" + "00" + "00" + "020284"],
    ["A", null],
    ["B", "43" + "01" + h + "00" + "01" + "01" + h + "00" + "00" + "020284"],
  ];
  if (msgs.length !== expect.length) warn(`sync_fresh: ${msgs.length} messages, spec shows ${expect.length}`);
  expect.forEach(([from, hx], i) => {
    const m = msgs[i];
    if (!m) return;
    if (m.from !== from) warn(`sync_fresh msg ${i}: from ${m.from}, spec ${from}`);
    if (hx !== null && m.hex !== hx) warn(`sync_fresh msg ${i}: ${m.hex} != spec ${hx}`);
  });
  const m2 = msgs[2];
  if (m2) {
    const prefix = "43" + "01" + h + "00" + "01" + "00" + "05" + "010a07c718" + "01";
    const saveHex = sf.save_hex;
    const exp = prefix + hex(uleb(saveHex.length / 2)) + saveHex + "020284";
    if (m2.hex !== exp) warn(`sync_fresh msg 2 is not 'V2 + whole save() doc' as in spec: ${m2.hex}`);
  }
  for (const side of ["A", "B"]) {
    if (sf.extra.sync.states[side] !== "43" + "01" + h) warn(`sync_fresh state ${side} = ${sf.extra.sync.states[side]}`);
  }

  // large_deflate: at least one deflated column, each inflating (raw DEFLATE) to the saveNoCompress column
  const ld = byName.large_deflate;
  const comp = docColumns(Buffer.from(ld.save_hex, "hex"));
  const raw = docColumns(Buffer.from(ld.save_nocompress_hex, "hex"));
  const deflated = [];
  for (const part of ["changeCols", "opCols"]) {
    if (comp[part].length !== raw[part].length) fail("large_deflate: column count differs");
    comp[part].forEach((col, i) => {
      const r = raw[part][i];
      if ((col.spec & ~8) !== r.spec) fail("large_deflate: column spec differs");
      if (r.spec & 8) fail("saveNoCompress has a deflated column");
      if (col.spec & 8) {
        const inflated = inflateRawSync(col.data);
        if (!inflated.equals(r.data)) fail(`large_deflate: column 0x${col.spec.toString(16)} does not inflate to raw`);
        if (r.len < 256) warn(`large_deflate: column 0x${col.spec.toString(16)} deflated with raw len ${r.len} < 256`);
        deflated.push({ spec: col.spec, compressed_len: col.len, raw_len: r.len });
      } else if (!col.data.equals(r.data)) fail("large_deflate: uncompressed column differs");
      else if (r.len >= 256) warn(`large_deflate: column 0x${col.spec.toString(16)} (${r.len} bytes) not deflated`);
    });
  }
  if (deflated.length === 0) fail("large_deflate: no deflated column");
  ld.extra.deflated_columns = deflated;

  // merge_order: same heads, different bytes
  const mo = byName.merge_order;
  if (JSON.stringify(mo.heads) !== JSON.stringify(mo.extra.cb.heads)) fail("merge_order: heads differ");
  if (mo.save_nocompress_hex === mo.extra.cb.save_nocompress_hex) warn("merge_order: both orders give identical bytes");
}

// ------------------------------------------------------------------------------------------- repo identifiers
// repo_ids.json (listed under "repo_vectors" in index.json, not "vectors": it has no document, so the
// document-vector tests must not see it). Shape:
// { "name": "repo_ids", "description", "bs58check_version", "seed",
//   "document_ids": [{hex, uuid, bs58check, url}],      // 16-byte ids; url = "automerge:" + bs58check
//   "heads": [{hex, bs58check}],                          // 32-byte change hashes as written in URLs/gossip
//   "urls_with_heads": [{document_id, heads: [bs58check...], url}],
//   "invalid": [{text, why}] }                            // strings bs58check.decodeUnsafe rejects
// URLs are built exactly as stringifyAutomergeUrl of @automerge/automerge-repo 2.5.6 does
// ("automerge:" + bs58check.encode(id) [+ "#" + heads.join("|")]); that package is not installed here.

function repoIdsVector(seed) {
  const BS58CHECK_VERSION = JSON.parse(
    fs.readFileSync(path.join(HERE, "node_modules/bs58check/package.json"), "utf8")).version;
  const rnd = mulberry32((seed ^ 0x1d5eed) >>> 0);
  const randomBytes = (n) => Uint8Array.from({ length: n }, () => randInt(rnd, 256));
  const uuidText = (b) => { const h = hex(b); return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`; };
  const idEntry = (b) => {
    const text = bs58check.encode(b);
    const back = bs58check.decodeUnsafe(text);
    if (!back || hex(back) !== hex(b)) fail(`repo_ids: bs58check round trip failed for ${hex(b)}`);
    return { hex: hex(b), uuid: uuidText(b), bs58check: text, url: "automerge:" + text };
  };
  const ids = [];
  for (let i = 0; i < 24; i++) {
    const b = randomBytes(16);
    b[6] = (b[6] & 0x0f) | 0x40; // UUID v4 layout, as Repo.create (uuid.v4 into 16 bytes)
    b[8] = (b[8] & 0x3f) | 0x80;
    ids.push(idEntry(b));
  }
  // edge cases: leading zero bytes become leading '1's; all-zero; all-ones
  for (const b of [new Uint8Array(16), Uint8Array.from([0, 0, 0, ...randomBytes(13)]), new Uint8Array(16).fill(0xff)]) {
    ids.push(idEntry(b));
  }
  const heads = [];
  for (let i = 0; i < 8; i++) {
    const b = i === 0 ? Uint8Array.from([0, ...randomBytes(31)]) : randomBytes(32);
    heads.push({ hex: hex(b), bs58check: bs58check.encode(b) });
  }
  const urlsWithHeads = [
    { document_id: ids[0].bs58check, heads: [] },
    { document_id: ids[1].bs58check, heads: [heads[0].bs58check] },
    { document_id: ids[2].bs58check, heads: heads.slice(1, 4).map((h) => h.bs58check).sort() },
  ].map((u) => ({ ...u, url: "automerge:" + u.document_id + "#" + u.heads.join("|") }));
  const invalid = [];
  const addInvalid = (text, why) => {
    if (bs58check.decodeUnsafe(text) !== undefined) fail(`repo_ids: ${JSON.stringify(text)} unexpectedly decodes`);
    invalid.push({ text, why });
  };
  for (const e of ids.slice(0, 4)) {
    const t = e.bs58check, last = t[t.length - 1];
    addInvalid(t.slice(0, -1) + (last === "2" ? "3" : "2"), "checksum mismatch (last character changed)");
  }
  addInvalid(ids[4].bs58check.slice(0, 5) + "0" + ids[4].bs58check.slice(6), "'0' is not in the base58 alphabet");
  addInvalid(ids[5].bs58check.slice(0, 3) + "l" + ids[5].bs58check.slice(4), "'l' is not in the base58 alphabet");
  addInvalid("", "empty string (no checksum)");
  addInvalid(ids[6].bs58check.slice(1), "first character dropped");
  return {
    name: "repo_ids",
    description: "DocumentIds (seeded random UUID-v4-shaped 16 bytes plus edge cases) and change hashes in bs58check " +
      "text, automerge: URLs with and without heads, and strings bs58check.decodeUnsafe rejects.",
    bs58check_version: BS58CHECK_VERSION, seed,
    document_ids: ids, heads, urls_with_heads: urlsWithHeads, invalid,
  };
}

// ------------------------------------------------------------------------------------------- output

// JSON with 1-space indentation, but any array/object whose compact form fits in ~110 chars on one line.
function formatJson(v, ind = "") {
  const compact = JSON.stringify(v);
  if (v === null || typeof v !== "object" || compact.length + ind.length <= 110) return compact;
  const inner = ind + " ";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    return "[\n" + v.map((x) => inner + formatJson(x, inner)).join(",\n") + "\n" + ind + "]";
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return "{}";
  return "{\n" + keys.map((k) => inner + JSON.stringify(k) + ": " + formatJson(v[k], inner)).join(",\n") + "\n" + ind + "}";
}

// ------------------------------------------------------------------------------------------- topic modules

// Every tools/jsref/vectors/*.mjs exports register(ctx) and adds its scenarios through ctx.scenario; files are
// loaded in name order so index.json stays stable. ctx carries the reference module and the shared helpers.
async function loadTopicModules() {
  const dir = path.join(HERE, "vectors");
  const ctx = { A, T, ACT_A, ACT_B, ACT_C, ACT_FRESH, scenario, fail, hex, mulberry32, randInt, pick, toJson,
    docJson, conflictsJson, marksJson, marksAtJson };
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".mjs")).sort()) {
    const mod = await import(path.join(dir, file));
    if (typeof mod.register !== "function") fail(`${file}: no register(ctx) export`);
    mod.register(ctx);
  }
}

// ------------------------------------------------------------------------------------------- main

async function main() {
  const args = process.argv.slice(2);
  let seed = 0x5eed2024;
  const si = args.indexOf("--seed");
  if (si >= 0) { seed = Number(args[si + 1]) >>> 0; args.splice(si, 2); }
  const outDir = args[0];
  if (!outDir) { console.error("usage: node gen-vectors.mjs OUTDIR [--seed N]"); process.exit(2); }
  console.log(`@automerge/automerge ${REF_VERSION}; random_trace seed ${seed} (0x${seed.toString(16)})`);
  await loadTopicModules();
  scenario("random_trace", `Seeded (mulberry32, seed ${seed}) random trace: 4 actors, 60 steps, each a change of 1-3 ` +
    "random ops (text splice incl. emoji, marks/unmarks, list insert/delete/set, map put/delete, counter inc, " +
    "conflicting root puts) or a merge from another actor; finally all merged into actor 0's doc. extra.log lists the " +
    "steps; extra.apply_orders = the changes applied one at a time to a fresh doc in 3 causal orders (indexes into " +
    "changes), each with json/marks/heads (all equal to the merged doc's) and saveNoCompress.", randomTraceScenario(seed));

  fs.mkdirSync(outDir, { recursive: true });
  const t0 = Date.now();
  const vectors = [];
  for (const s of scenarios) {
    let result;
    try { result = s.fn(); } catch (e) { fail(`scenario ${s.name} threw: ${e.stack ?? e}`); }
    vectors.push(buildVector(s.name, s.description, s.fn, result));
  }
  specChecks(vectors);
  for (const v of vectors) {
    fs.writeFileSync(path.join(outDir, v.name + ".json"), formatJson(v) + "\n");
    console.log(`  ${v.name}: ${v.changes.length} changes, save ${v.save_hex.length / 2} bytes`);
  }
  const repoIds = repoIdsVector(seed);
  fs.writeFileSync(path.join(outDir, "repo_ids.json"), formatJson(repoIds) + "\n");
  fs.writeFileSync(path.join(outDir, "index.json"), JSON.stringify({
    reference_version: REF_VERSION, generator: "tools/jsref/gen-vectors.mjs", seed,
    vectors: vectors.map((v) => v.name), repo_vectors: [repoIds.name] }, null, 2) + "\n");
  console.log(`wrote ${vectors.length} vectors to ${outDir} in ${Date.now() - t0} ms` +
    (warnings.length ? `; ${warnings.length} warning(s) about spec mismatches (see stderr)` : ""));
}

await main();
