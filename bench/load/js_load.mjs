// js_load.mjs — cold load of one document with the pinned @automerge/automerge (tools/jsref).
//
// Usage:  /usr/bin/time -v node bench/load/js_load.mjs FILE
// Prints one JSON line: load_ms (Automerge.load, full verification: the default), cpu_ms (the
// process's user + system CPU time during the load: steadier than wall time on a busy machine), the change
// count, rss_before_kb (after reading the file, before loading), rss_after_load_kb and
// peak_rss_kb (process maximum). Run it in a fresh process per measurement, like `amrepo bench
// load FILE`, which prints the same fields.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tools/jsref/package.json"));
const A = require("@automerge/automerge");

const file = process.argv[2];
if (!file) {
  console.error("usage: node js_load.mjs FILE");
  process.exit(2);
}
const bytes = new Uint8Array(fs.readFileSync(file));
const rssBefore = Math.round(process.memoryUsage().rss / 1024);
const cpu = process.cpuUsage();
const t = process.hrtime.bigint();
const doc = A.load(bytes);
const loadMs = Number(process.hrtime.bigint() - t) / 1e6;
const used = process.cpuUsage(cpu);
const rssAfter = Math.round(process.memoryUsage().rss / 1024);
console.log(JSON.stringify({
  impl: "js",
  mode: "load",
  file_bytes: bytes.length,
  load_ms: loadMs,
  cpu_ms: (used.user + used.system) / 1000,
  changes: A.getAllChanges(doc).length,
  rss_before_kb: rssBefore,
  rss_after_load_kb: rssAfter,
  peak_rss_kb: process.resourceUsage().maxRSS,
}));
