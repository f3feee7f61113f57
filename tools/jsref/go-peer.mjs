// A peer that speaks the wire dialect of the Go port automerge-repo-go (the system this project
// grew from), written here from that port's documented format (docs/interop.md, "Legacy peers";
// src/repo/core/wire/go_dialect.h), for the interop matrix. Automerge's own sync protocol comes
// from the pinned @automerge/automerge, as the Go port uses automerge-go's.
//
//   join      {type:"join", senderId:<our UUID>}            answered by {type:"peer", senderId}
//   sync      {type:"sync", senderId, targetId, documentId:<UUID text>, message:<bytes>}
//   ephemeral {type:"ephemeral", senderId, targetId, documentId, message}
//
// The Go port names a peer whose id is not UUID text by UUIDv5(OID namespace, id). Framing: CBOR
// (or, its first version, JSON text with the bytes in base64), with a 4-byte big-endian length
// prefix over TCP and one message per WebSocket message. Anything but `sync` and `ephemeral`
// after the handshake would make the Go port drop the connection; this peer records such frames
// in `unexpected` so a test can fail on them.
import * as A from "@automerge/automerge"
import { encode as cborEncode, decode as cborDecode } from "cbor-x"
import crypto from "node:crypto"
import net from "node:net"
import WebSocket from "ws"

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i
const OID_NAMESPACE = Buffer.from("6ba7b8129dad11d180b400c04fd430c8", "hex")

export function uuidV5(name, namespace = OID_NAMESPACE) {
  const digest = crypto.createHash("sha1").update(namespace).update(Buffer.from(name, "utf8")).digest()
  const b = digest.subarray(0, 16)
  b[6] = (b[6] & 0x0f) | 0x50
  b[8] = (b[8] & 0x3f) | 0x80
  return uuidText(b)
}

export function uuidText(bytes) {
  const h = Buffer.from(bytes).toString("hex")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function encodeFrame(framing, obj) {
  if (framing === "cbor") return cborEncode(obj)
  const json = { ...obj }
  if (json.message) json.message = Buffer.from(json.message).toString("base64")
  return Buffer.from(JSON.stringify(json), "utf8")
}

function decodeFrame(framing, bytes) {
  if (framing === "cbor") return cborDecode(bytes)
  const obj = JSON.parse(Buffer.from(bytes).toString("utf8"))
  if (typeof obj.message === "string") obj.message = new Uint8Array(Buffer.from(obj.message, "base64"))
  return obj
}

// Opens a byte-message channel: { send(bytes), onMessage(fn), close() }.
async function openChannel({ tcp, ws, framing }) {
  if (ws) {
    const socket = new WebSocket(ws)
    socket.binaryType = "nodebuffer"
    await new Promise((resolve, reject) => {
      socket.on("open", resolve)
      socket.on("error", reject)
    })
    return {
      // The first version wrote JSON with WriteJSON, i.e. as WebSocket text messages.
      send: bytes => socket.send(bytes, { binary: framing === "cbor" }),
      onMessage: fn => socket.on("message", data => fn(new Uint8Array(data))),
      onClose: fn => socket.on("close", fn),
      close: () => socket.close(),
    }
  }
  const [host, port] = tcp.split(":")
  const socket = net.connect(Number(port), host)
  await new Promise((resolve, reject) => {
    socket.on("connect", resolve)
    socket.on("error", reject)
  })
  let pending = Buffer.alloc(0)
  let handler = () => {}
  socket.on("data", chunk => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const n = pending.readUInt32BE(0)
      if (pending.length < 4 + n) break
      handler(new Uint8Array(pending.subarray(4, 4 + n)))
      pending = pending.subarray(4 + n)
    }
  })
  return {
    send: bytes => {
      const prefix = Buffer.alloc(4)
      prefix.writeUInt32BE(bytes.length)
      socket.write(Buffer.concat([prefix, Buffer.from(bytes)]))
    },
    onMessage: fn => (handler = fn),
    onClose: fn => socket.on("close", fn),
    close: () => socket.end(),
  }
}

// Connects, does the Go port's handshake and returns a peer that syncs documents by UUID.
// options: { tcp: "HOST:PORT" } or { ws: "ws://..." }, and framing "cbor" (default) or "json".
export async function connectGoPeer(options) {
  const framing = options.framing ?? "cbor"
  const channel = await openChannel({ ...options, framing })
  const peerId = crypto.randomUUID()
  const docs = new Map() // documentId (UUID text) -> { doc, state }
  const peer = { peerId, framing, remote: null, unexpected: [], ephemeral: [], closed: false, docs }
  channel.onClose(() => (peer.closed = true))
  let resolvePeer
  const handshake = new Promise(r => (resolvePeer = r))

  const flush = documentId => {
    const entry = docs.get(documentId)
    for (;;) {
      const [state, message] = A.generateSyncMessage(entry.doc, entry.state)
      entry.state = state
      if (!message) return
      channel.send(encodeFrame(framing, { type: "sync", senderId: peerId, targetId: peer.target, documentId, message }))
    }
  }

  channel.onMessage(bytes => {
    let msg
    try {
      msg = decodeFrame(framing, bytes)
    } catch (e) {
      peer.unexpected.push({ undecodable: String(e) })
      return
    }
    if (!peer.remote) {
      if (msg.type !== "peer") return peer.unexpected.push(msg)
      peer.remote = msg.senderId
      // As the Go port does: a peer id that is not a UUID is replaced by its UUIDv5.
      peer.target = UUID_TEXT.test(msg.senderId) ? msg.senderId : uuidV5(msg.senderId)
      return resolvePeer()
    }
    if (msg.type === "ephemeral") return peer.ephemeral.push(msg)
    if (msg.type !== "sync" || !UUID_TEXT.test(msg.documentId ?? "") || !(msg.message instanceof Uint8Array)) {
      return peer.unexpected.push(msg)
    }
    // Like the Go port, a sync message about an unknown document creates it empty.
    if (!docs.has(msg.documentId)) docs.set(msg.documentId, { doc: A.init(), state: A.initSyncState() })
    const entry = docs.get(msg.documentId)
    ;[entry.doc, entry.state] = A.receiveSyncMessage(entry.doc, entry.state, msg.message)
    flush(msg.documentId)
  })

  channel.send(encodeFrame(framing, { type: "join", senderId: peerId }))
  await Promise.race([
    handshake,
    new Promise((_, reject) => setTimeout(() => reject(new Error("no peer message within 5 s")), 5000)),
  ])

  // Creates a document with `content` under a new UUID and starts syncing it.
  peer.create = content => {
    const documentId = crypto.randomUUID()
    docs.set(documentId, { doc: A.from(content), state: A.initSyncState() })
    flush(documentId)
    return documentId
  }
  // Starts syncing a document this peer does not have (an empty one, as the Go port does).
  peer.fetch = documentId => {
    if (!docs.has(documentId)) docs.set(documentId, { doc: A.init(), state: A.initSyncState() })
    flush(documentId)
  }
  peer.change = (documentId, fn) => {
    const entry = docs.get(documentId)
    entry.doc = A.change(entry.doc, fn)
    flush(documentId)
  }
  peer.doc = documentId => docs.get(documentId)?.doc
  peer.sendEphemeral = (documentId, message) =>
    channel.send(encodeFrame(framing, { type: "ephemeral", senderId: peerId, targetId: peer.target, documentId, message }))
  peer.close = () => channel.close()
  return peer
}
