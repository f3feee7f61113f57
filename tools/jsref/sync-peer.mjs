// A long-lived JS sync peer for the C++ interop tests: reads one JSON command per line on stdin
// and answers one JSON line on stdout. Several named documents (each with its own sync state)
// live in one process, so a test can also run JS-to-JS sessions as the baseline.
//
// Commands (all take "doc": name):
//   init {actor}                 new empty document and fresh sync state
//   edit {edits: [...]}          one change (time 0) made of:
//                                  ["put", key, int]  ["text", key]  ["splice", key, pos, del, str]
//   generate -> {msg: hex|null}  receive {msg: hex}
//   heads -> {heads: [...]}      json -> {json: {...}}    save -> {hex}
//   text_length {key} -> {length}
//   state_roundtrip              state = decodeSyncState(encodeSyncState(state))
//   state_reset                  fresh sync state
import * as A from "@automerge/automerge";
import { createInterface } from "node:readline";

const docs = new Map();
const states = new Map();
const hex = (u8) => Buffer.from(u8).toString("hex");
const bytes = (h) => new Uint8Array(Buffer.from(h, "hex"));

function handle(req) {
  const name = req.doc;
  switch (req.cmd) {
    case "init":
      docs.set(name, A.init({ actor: req.actor }));
      states.set(name, A.initSyncState());
      return {};
    case "edit":
      docs.set(name, A.change(docs.get(name), { time: 0 }, (d) => {
        for (const e of req.edits) {
          if (e[0] === "put") d[e[1]] = e[2];
          else if (e[0] === "text") d[e[1]] = "";
          else if (e[0] === "splice") A.splice(d, [e[1]], e[2], e[3], e[4]);
          else throw new Error("unknown edit " + e[0]);
        }
      }));
      return {};
    case "generate": {
      const [st, msg] = A.generateSyncMessage(docs.get(name), states.get(name));
      states.set(name, st);
      return { msg: msg ? hex(msg) : null };
    }
    case "receive": {
      const [doc, st] = A.receiveSyncMessage(docs.get(name), states.get(name), bytes(req.msg));
      docs.set(name, doc);
      states.set(name, st);
      return {};
    }
    case "heads":
      return { heads: A.getHeads(docs.get(name)) };
    case "json":
      return { json: A.toJS(docs.get(name)) };
    case "save":
      return { hex: hex(A.save(docs.get(name))) };
    case "text_length": {
      const t = docs.get(name)[req.key];
      return { length: typeof t === "string" ? t.length : 0 };
    }
    case "state_roundtrip":
      states.set(name, A.decodeSyncState(A.encodeSyncState(states.get(name))));
      return {};
    case "state_reset":
      states.set(name, A.initSyncState());
      return {};
    default:
      throw new Error("unknown command " + req.cmd);
  }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  let out;
  try {
    out = { ok: true, ...handle(JSON.parse(line)) };
  } catch (e) {
    out = { ok: false, error: String(e && e.stack || e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
