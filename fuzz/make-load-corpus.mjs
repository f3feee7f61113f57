// make-load-corpus.mjs — writes the seed corpus of fuzz_load from the golden vectors.
//
// Usage:   node fuzz/make-load-corpus.mjs [VECTORS_DIR] [OUT_DIR]
//          (defaults: build/vectors, fuzz/corpus/fuzz_load; run from the source root)
//
// For every vector: <name>.save (the reference's save()), <name>.nocompress (saveNoCompress(),
// only when it differs), and <name>.changes (its change chunks concatenated, when it has any),
// so the fuzzer starts from document chunks, deflated columns and change chunks alike.
import fs from "node:fs";
import path from "node:path";

const vectorsDir = process.argv[2] ?? "build/vectors";
const outDir = process.argv[3] ?? "fuzz/corpus/fuzz_load";
const index = JSON.parse(fs.readFileSync(path.join(vectorsDir, "index.json"), "utf8"));
fs.mkdirSync(outDir, { recursive: true });
let files = 0;
let bytes = 0;
const write = (name, hex) => {
  const data = Buffer.from(hex, "hex");
  fs.writeFileSync(path.join(outDir, name), data);
  files += 1;
  bytes += data.length;
};
for (const name of index.vectors) {
  const v = JSON.parse(fs.readFileSync(path.join(vectorsDir, `${name}.json`), "utf8"));
  write(`${name}.save`, v.save_hex);
  if (v.save_nocompress_hex !== v.save_hex) write(`${name}.nocompress`, v.save_nocompress_hex);
  if (v.changes && v.changes.length > 0) write(`${name}.changes`, v.changes.map((c) => c.hex).join(""));
}
console.log(`wrote ${files} files, ${bytes} bytes to ${outDir}`);
