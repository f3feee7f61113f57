// check-load.mjs — does the reference load documents saved by the C++ port?
//
// Usage:   node check-load.mjs DIR VECTORS_DIR
//
// For every DIR/<name>.amrg (a C++ save() of vector <name>), loads it with the pinned
// @automerge/automerge and compares it with the reference's own load of VECTORS_DIR/<name>.json's
// save_hex: same heads, same saveNoCompress() bytes (so same changes, order and ops), same
// toJS() content. Prints one line per mismatch and a summary "checked N documents, M failed";
// exits 1 if any failed (or nothing was checked).
import * as A from "@automerge/automerge";
import fs from "node:fs";
import path from "node:path";

const [dir, vectorsDir] = process.argv.slice(2);
if (!dir || !vectorsDir) {
  console.error("usage: node check-load.mjs DIR VECTORS_DIR");
  process.exit(2);
}

// JSON text of toJS() output that keeps what JSON.stringify would lose.
function stringify(value) {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return `bigint:${v}`;
    if (typeof v === "number" && !Number.isFinite(v)) return `number:${v}`;
    if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString("hex")}`;
    return v;
  });
}

let checked = 0;
let failed = 0;
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".amrg")).sort()) {
  const name = file.slice(0, -".amrg".length);
  checked += 1;
  const problems = [];
  try {
    const ours = A.load(new Uint8Array(fs.readFileSync(path.join(dir, file))));
    const vector = JSON.parse(fs.readFileSync(path.join(vectorsDir, `${name}.json`), "utf8"));
    const ref = A.load(Uint8Array.from(Buffer.from(vector.save_hex, "hex")));
    if (JSON.stringify(A.getHeads(ours)) !== JSON.stringify(vector.heads)) problems.push("heads differ");
    const a = Buffer.from(A.getBackend(ours).saveNoCompress());
    const b = Buffer.from(A.getBackend(ref).saveNoCompress());
    if (!a.equals(b)) problems.push("saveNoCompress() differs");
    if (stringify(A.toJS(ours)) !== stringify(A.toJS(ref))) problems.push("content differs");
  } catch (e) {
    problems.push(`threw: ${e && e.message ? e.message : e}`);
  }
  if (problems.length > 0) {
    failed += 1;
    console.log(`FAIL ${name}: ${problems.join("; ")}`);
  }
}
console.log(`checked ${checked} documents, ${failed} failed`);
process.exit(failed > 0 || checked === 0 ? 1 : 0);
