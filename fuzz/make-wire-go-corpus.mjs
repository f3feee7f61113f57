// Writes fuzz_wire's seeds for the Go port's dialect (src/repo/core/wire/go_dialect.h): its join,
// peer, sync and ephemeral maps as CBOR, and its first version's JSON form.
//   node fuzz/make-wire-go-corpus.mjs        (run from the repository root; uses tools/jsref's cbor-x)
import { createRequire } from "node:module"
import fs from "node:fs"
import path from "node:path"

const require = createRequire(path.resolve("tools/jsref/package.json"))
const { encode } = require("cbor-x")
const out = path.resolve("fuzz/corpus/fuzz_wire")
const peer = "0b0e9a52-6a8c-4b6e-9d55-1f2a3b4c5d6e"
const server = "c4a0b1d2-6e3f-5a7b-8c9d-0e1f2a3b4c5d"
const doc = "9f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
const message = new Uint8Array([0x42, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00])
const frames = {
  go_join: { type: "join", senderId: peer },
  go_peer: { type: "peer", senderId: server },
  go_sync: { type: "sync", senderId: peer, targetId: server, documentId: doc, message },
  go_ephemeral: { type: "ephemeral", senderId: peer, targetId: server, documentId: doc, message },
}
for (const [name, frame] of Object.entries(frames)) {
  fs.writeFileSync(path.join(out, `${name}.cbor`), encode(frame))
  const json = { ...frame }
  if (json.message) json.message = Buffer.from(json.message).toString("base64")
  fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify(json))
}
