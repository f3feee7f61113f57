// trace-doc.mjs — the reference's side of the "whole editing trace" document test.
//
//   node trace-doc.mjs make TRACE.json.gz OUT    replay the trace with one change per edit
//                                               (actor aa..aa, time 0), save to OUT and write
//                                               OUT.json = {heads, text}
//   node trace-doc.mjs check FILE EXPECT.json    load FILE (a C++ save) and compare heads and
//                                               text with EXPECT.json; exit 1 on a mismatch
import * as A from "@automerge/automerge";
import fs from "node:fs";
import zlib from "node:zlib";

const [mode, a, b] = process.argv.slice(2);
if (mode === "make") {
  const raw = fs.readFileSync(a);
  const trace = JSON.parse((a.endsWith(".gz") ? zlib.gunzipSync(raw) : raw).toString("utf8"));
  let doc = A.change(A.init({ actor: "aa".repeat(16) }), { time: 0 }, (d) => { d.text = ""; });
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      doc = A.change(doc, { time: 0 }, (d) => A.splice(d, ["text"], pos, del, ins ?? ""));
    }
  }
  fs.writeFileSync(b, A.save(doc));
  fs.writeFileSync(b + ".json", JSON.stringify({ heads: A.getHeads(doc), text: doc.text }));
  if (doc.text !== trace.endContent) {
    console.error("the reference's own replay does not give endContent");
    process.exit(1);
  }
} else if (mode === "check") {
  const doc = A.load(new Uint8Array(fs.readFileSync(a)));
  const expect = JSON.parse(fs.readFileSync(b, "utf8"));
  const heads = JSON.stringify(A.getHeads(doc));
  if (heads !== JSON.stringify(expect.heads)) {
    console.error(`heads differ: ${heads} vs ${JSON.stringify(expect.heads)}`);
    process.exit(1);
  }
  if (doc.text !== expect.text) {
    console.error("text differs");
    process.exit(1);
  }
  console.log(`checked: ${A.getAllChanges(doc).length} changes, text ${doc.text.length} chars`);
} else {
  console.error("usage: node trace-doc.mjs make TRACE OUT | check FILE EXPECT.json");
  process.exit(2);
}
