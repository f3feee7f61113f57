// Drives the JS reference's file-system storage adapter (@automerge/automerge-repo-storage-nodefs,
// pinned in package.json) for the C++ storage interop test (tests/repo/storage_js_interop_test.cc).
//
//   node nodefs-storage.mjs write DIR
//       saves a fixed set of binary chunks under repo-like keys with NodeFSStorageAdapter(DIR)
//   node nodefs-storage.mjs read DIR PREFIX...
//       NodeFSStorageAdapter(DIR).loadRange(prefix) for each PREFIX ("a/b" is the prefix ["a", "b"]),
//       and checks that load(key) agrees with every entry loadRange returned
//
// Prints one JSON object on stdout:
//   write: {"entries": [{"key": [...], "hex": "..."}]}
//   read:  {"ranges": [{"prefix": [...], "entries": [{"key": [...], "hex": "..."}]}]}
// Exits 1 with a message on stderr on any failure. Each run is a new process, so the adapter's
// in-memory cache starts empty and `read` sees only what is on disk.
import { createHash } from "node:crypto"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const hex = bytes => Buffer.from(bytes).toString("hex")
const sha256 = bytes => createHash("sha256").update(bytes).digest("hex")

// Deterministic bytes: xorshift32, as the C++ tests' pattern() (not required to match it).
function pattern(size, seed) {
  const out = new Uint8Array(size)
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x >>> 24
  }
  return out
}

const docA = "2tdna9voKYp8AofPknxjEkWkhG3"
const docB = "3uDkPC2U9s6LbFqkrCSsqNkyhFTE"

function chunksToWrite() {
  const all256 = Uint8Array.from({ length: 256 }, (_, i) => i)
  const withNuls = new Uint8Array([0, 0, 1, 0, 255, 0])
  const big = pattern(1 << 20, 7)
  const chunks = [
    [["storage-adapter-id"], new TextEncoder().encode("030dec61-9573-4874-b500-729d48165c43")],
    [[docA, "snapshot", sha256(all256)], all256],
    [[docA, "incremental", sha256(withNuls)], withNuls],
    [[docA, "incremental", sha256(new Uint8Array(0))], new Uint8Array(0)],
    [[docA, "sync-state", "0b3a1c55-5c4f-4f7e-9d0e-3f1f2b7d6a11"], pattern(77, 1)],
    [[docB, "snapshot", sha256(big)], big],
    [[docB, "incremental", sha256(pattern(300, 2))], pattern(300, 2)],
    // Non-ASCII first components: the splay takes two UTF-16 code units.
    ["été-doc|snapshot|h1".split("|"), pattern(10, 3)],
    ["😀-doc|incremental|h2".split("|"), pattern(11, 4)],
  ]
  return chunks
}

async function main() {
  const [cmd, dir, ...prefixes] = process.argv.slice(2)
  if (!dir || (cmd !== "write" && cmd !== "read")) {
    throw new Error("usage: nodefs-storage.mjs write DIR | read DIR PREFIX...")
  }
  const storage = new NodeFSStorageAdapter(dir)
  if (cmd === "write") {
    const entries = []
    for (const [key, data] of chunksToWrite()) {
      await storage.save(key, data)
      entries.push({ key, hex: hex(data) })
    }
    process.stdout.write(JSON.stringify({ entries }) + "\n")
    return
  }
  const ranges = []
  for (const p of prefixes) {
    const prefix = p.split("/")
    const found = await storage.loadRange(prefix)
    const entries = []
    for (const { key, data } of found) {
      if (data === undefined) throw new Error(`loadRange(${p}) listed ${key.join("/")} without data`)
      const single = await storage.load(key)
      if (single === undefined || hex(single) !== hex(data)) {
        throw new Error(`load(${key.join("/")}) disagrees with loadRange(${p})`)
      }
      entries.push({ key, hex: hex(data) })
    }
    ranges.push({ prefix, entries })
  }
  process.stdout.write(JSON.stringify({ ranges }) + "\n")
}

main().catch(e => {
  process.stderr.write(`nodefs-storage: ${e.stack ?? e}\n`)
  process.exit(1)
})
