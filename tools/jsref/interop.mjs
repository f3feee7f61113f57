// The interop matrix (docs/interop.md): the pinned JS automerge-repo 2.5.6 (WebSocket adapters,
// nodefs storage) against our `amrepo` binary, every case on 127.0.0.1 with real processes,
// sockets and files.
//
//   node interop.mjs AMREPO_BINARY [CASE_NUMBER...]     (no numbers: every case)
//
// Prints "ok N - name" or "not ok N - name" per case (TAP-like); a failure prints the reason and
// the protocol messages our server traced (amrepo serve --trace-messages). Exit 1 if any failed.
import * as A from "@automerge/automerge"
import { Repo, documentIdToBinary } from "@automerge/automerge-repo"
import { BrowserWebSocketClientAdapter, NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { encode as cborEncode, decode as cborDecode } from "cbor-x"
import bs58check from "bs58check"
import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import zlib from "node:zlib"
import WebSocket, { WebSocketServer } from "ws"
import { fileURLToPath } from "node:url"
import { connectGoPeer, uuidText } from "./go-peer.mjs"

// import.meta.dirname needs Node 20.11; Debian 12 has Node 18.
const scriptDir = path.dirname(fileURLToPath(import.meta.url))

const [amrepo, ...only] = process.argv.slice(2)
if (!amrepo) {
  console.error("usage: node interop.mjs AMREPO_BINARY [CASE...]")
  process.exit(2)
}
const sharedData = process.env.AM_SHARED_DATA_DIR ?? path.resolve(scriptDir, "../../data")

const sleep = ms => new Promise(r => setTimeout(r, ms))
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "am-interop-"))
const plain = doc => JSON.parse(JSON.stringify(doc))
const same = (a, b) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map(k => [k, sortKeys(v[k])]))
  return v
}
function check(cond, message) {
  if (!cond) throw new Error(message)
}
async function waitFor(pred, what, ms = 15000) {
  const end = Date.now() + ms
  for (;;) {
    if (await pred()) return
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

// --- processes and repos -------------------------------------------------------------------------

const cleanups = []
let traces = [] // of the current case's amrepo servers

async function startAmrepo(args) {
  const proc = spawn(amrepo, ["serve", "--trace-messages", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const server = { proc, url: null, alive: true }
  let buffer = ""
  let resolveUrl
  const urlReady = new Promise(r => (resolveUrl = r))
  proc.stdout.on("data", chunk => {
    buffer += chunk
    let nl
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line.startsWith("listening tcp://")) {
        server.tcp = line.slice(16)
      } else if (line.startsWith("listening ")) {
        if (!server.url) resolveUrl((server.url = line.slice(10)))
      } else if (line.startsWith("{")) {
        traces.push(line)
      }
    }
  })
  proc.stderr.on("data", () => {})
  proc.on("exit", () => (server.alive = false))
  cleanups.push(() => server.alive && proc.kill("SIGKILL"))
  await Promise.race([urlReady, sleep(10000).then(() => { throw new Error("amrepo serve did not start") })])
  server.stop = async () => {
    proc.kill("SIGTERM")
    await new Promise(r => (server.alive ? proc.on("exit", r) : r()))
  }
  server.kill = async () => {
    proc.kill("SIGKILL")
    await new Promise(r => (server.alive ? proc.on("exit", r) : r()))
  }
  return server
}

async function startJsServer(dir, port = 0) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port })
  await new Promise(r => wss.on("listening", r))
  const repo = new Repo({
    network: [new NodeWSServerAdapter(wss)],
    storage: dir ? new NodeFSStorageAdapter(dir) : undefined,
    sharePolicy: async () => false,
    peerId: "js-server",
  })
  const server = {
    repo,
    url: `ws://127.0.0.1:${wss.address().port}`,
    async stop() {
      await repo.flush().catch(() => {})
      for (const c of wss.clients) c.terminate()
      await new Promise(r => wss.close(r))
    },
  }
  cleanups.push(() => server.stop().catch(() => {}))
  return server
}

function jsClient(url, options = {}) {
  const repo = new Repo({ network: [new BrowserWebSocketClientAdapter(url, 100)], ...options })
  cleanups.push(() => {
    try {
      return repo.shutdown().catch(() => {})
    } catch {
      // 2.5.6 asserts when a client adapter was never connected or already shut down
    }
  })
  return repo
}

async function findReady(repo, docUrl, ms = 15000) {
  const end = Date.now() + ms
  for (;;) {
    try {
      const handle = await repo.find(docUrl)
      await handle.whenReady()
      return handle
    } catch (e) {
      if (Date.now() > end) throw new Error(`cannot find ${docUrl}: ${e.message}`)
      await sleep(100)
    }
  }
}

// Runs an amrepo client command without blocking this process's event loop (the JS servers of
// some cases live in this process).
function run(args) {
  return new Promise(resolve => {
    const proc = spawn(amrepo, args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    proc.stdout.on("data", c => (out += c))
    proc.stderr.on("data", c => (err += c))
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60000)
    proc.on("exit", code => {
      clearTimeout(timer)
      resolve({ code, out, err })
    })
  })
}
async function runOk(args) {
  const r = await run(args)
  check(r.code === 0, `amrepo ${args.join(" ")} exited ${r.code}: ${r.err.trim()}`)
  return r.out.trim()
}

// A raw protocol client for the edge cases: CBOR frames over a plain WebSocket.
async function rawSocket(url) {
  const ws = new WebSocket(url)
  ws.binaryType = "arraybuffer"
  const frames = []
  let closed = false
  ws.on("message", data => frames.push(cborDecode(new Uint8Array(data))))
  ws.on("close", () => (closed = true))
  ws.on("error", () => {})
  await new Promise((resolve, reject) => {
    ws.on("open", resolve)
    ws.on("error", reject)
  })
  return {
    ws,
    frames,
    get closed() {
      return closed
    },
    send: obj => ws.send(cborEncode(obj)),
    sendRaw: bytes => ws.send(bytes),
    close: () => ws.close(),
  }
}

// --- the cases -------------------------------------------------------------------------------

const cases = []
const defineCase = (n, name, fn) => cases.push({ n, name, fn })

defineCase(1, "two JS clients sync through the C++ server (create, find, concurrent edits both ways)", async () => {
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--data", tmp()])
  const a = jsClient(server.url)
  const b = jsClient(server.url)
  const handleA = a.create({ title: "hello", items: [1, 2] })
  const handleB = await findReady(b, handleA.url)
  check(same(plain(handleB.doc()), { title: "hello", items: [1, 2] }), `b sees ${JSON.stringify(handleB.doc())}`)
  handleA.change(d => (d.fromA = 1))
  handleB.change(d => (d.fromB = 2))
  handleA.change(d => d.items.push(3))
  handleB.change(d => d.items.unshift(0))
  await waitFor(() => same(plain(handleA.doc()), plain(handleB.doc())) && handleA.doc().fromB === 2 && handleB.doc().fromA === 1,
    "both clients to converge")
  check(same(plain(handleA.doc()).items, [0, 1, 2, 3]), `items ${JSON.stringify(handleA.doc().items)}`)
  const ours = JSON.parse(await runOk(["cat", "--server", server.url, handleA.url]))
  check(same(ours, plain(handleA.doc())), `amrepo cat sees ${JSON.stringify(ours)}`)
})

defineCase(2, "C++ clients sync through a JS sync server", async () => {
  const server = await startJsServer(tmp())
  const url = await runOk(["new", "--server", server.url, "--json", '{"made_by":"amrepo"}'])
  await runOk(["set", "--server", server.url, url, "/n", "5"])
  const seen = JSON.parse(await runOk(["cat", "--server", server.url, url]))
  check(same(seen, { made_by: "amrepo", n: 5 }), `second C++ client sees ${JSON.stringify(seen)}`)
  const js = await findReady(jsClient(server.url), url)
  check(same(plain(js.doc()), seen), `a JS client sees ${JSON.stringify(js.doc())}`)
})

// Starts `amrepo watch --ephemeral` and resolves with its ephemeral lines once `count` arrived.
function watchEphemeral(serverUrl, docUrl) {
  const proc = spawn(amrepo, ["watch", "--ephemeral", "--server", serverUrl, docUrl], { stdio: ["ignore", "pipe", "ignore"] })
  cleanups.push(() => proc.kill("SIGKILL"))
  const lines = []
  let buffer = ""
  proc.stdout.on("data", chunk => {
    buffer += chunk
    let nl
    while ((nl = buffer.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, nl)))
      buffer = buffer.slice(nl + 1)
    }
  })
  return { lines, stop: () => proc.kill("SIGTERM") }
}

defineCase(3, "ephemeral messages: JS to JS through C++, C++ to C++ through JS, mixed", async () => {
  // JS -> JS through the C++ server.
  const ours = await startAmrepo(["--listen", "127.0.0.1:0", "--memory"])
  const a = jsClient(ours.url)
  const b = jsClient(ours.url)
  const h = a.create({})
  const hb = await findReady(b, h.url)
  const got = []
  hb.on("ephemeral-message", m => got.push(m))
  await waitFor(async () => {
    h.broadcast({ cursor: 1 })
    await sleep(50)
    return got.length > 0
  }, "JS to JS ephemeral")
  check(same(got[0].message, { cursor: 1 }) && got[0].senderId === a.peerId, `got ${JSON.stringify({ senderId: got[0].senderId, message: got[0].message })}`)
  // Mixed: C++ broadcast -> JS client, JS broadcast -> C++ watcher.
  const watcher = watchEphemeral(ours.url, h.url)
  await waitFor(() => watcher.lines.length > 0, "the watcher's snapshot")
  await waitFor(async () => {
    h.broadcast({ to: "cpp" })
    await sleep(50)
    return watcher.lines.some(l => l.type === "ephemeral" && same(l.message, { to: "cpp" }))
  }, "JS to C++ ephemeral")
  const before = got.length
  await waitFor(async () => {
    await runOk(["broadcast", "--server", ours.url, h.url, '{"from":"cpp"}'])
    return got.slice(before).some(m => same(m.message, { from: "cpp" }))
  }, "C++ to JS ephemeral")
  watcher.stop()
  // C++ -> C++ through the JS server.
  const theirs = await startJsServer(null)
  const url = await runOk(["new", "--server", theirs.url, "--json", "{}"])
  const w2 = watchEphemeral(theirs.url, url)
  await waitFor(() => w2.lines.length > 0, "the watcher's snapshot")
  await waitFor(async () => {
    await runOk(["broadcast", "--server", theirs.url, url, '{"via":"js"}'])
    return w2.lines.some(l => l.type === "ephemeral" && same(l.message, { via: "js" }))
  }, "C++ to C++ ephemeral through the JS server")
  w2.stop()
})

defineCase(4, "remote-heads gossip: a subscribed JS client syncs; float timestamps do not disturb the server", async () => {
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--data", tmp()])
  const storageA = tmp()
  const a = jsClient(server.url, { storage: new NodeFSStorageAdapter(storageA), enableRemoteHeadsGossiping: true })
  const b = jsClient(server.url, { enableRemoteHeadsGossiping: true })
  await waitFor(async () => (await a.storageId()) !== undefined, "a's storage id")
  b.subscribeToRemotes([await a.storageId()])
  const h = a.create({ k: 1 })
  const hb = await findReady(b, h.url)
  h.change(d => (d.k = 2))
  await waitFor(() => hb.doc().k === 2, "b to see a's change")
  // A raw peer sends remote-heads-changed with a float64 timestamp, then keeps using the server.
  const raw = await rawSocket(server.url)
  raw.send({ type: "join", senderId: "gossiper", peerMetadata: { isEphemeral: true }, supportedProtocolVersions: ["1"] })
  await waitFor(() => raw.frames.some(f => f.type === "peer"), "the peer reply")
  const docId = h.url.slice("automerge:".length)
  raw.send({ type: "remote-subscription-change", senderId: "gossiper", targetId: raw.frames[0].senderId, add: ["x"], remove: undefined })
  raw.send({ type: "remote-heads-changed", senderId: "gossiper", targetId: raw.frames[0].senderId, documentId: docId,
    newHeads: { "some-storage": { heads: [], timestamp: Date.now() + 0.5 } } })
  await sleep(100)
  check(!raw.closed, "the server closed the gossiping peer")
  h.change(d => (d.k = 3))
  await waitFor(() => hb.doc().k === 3, "sync to go on after the gossip")
  raw.close()
})

defineCase(5, "sync state persisted: a JS server for a C++ peer with storage, and the C++ server for a JS peer", async () => {
  const jsDir = tmp()
  const theirs = await startJsServer(jsDir)
  const local = tmp()
  const url = await runOk(["new", "--server", theirs.url, "--data", local, "--json", '{"k":1}'])
  await runOk(["set", "--server", theirs.url, "--data", local, url, "/k", "2"])
  await theirs.repo.flush()
  const ourStorageId = fs.readFileSync(path.join(local, "st", "orage-adapter-id"), "utf8")
  const docId = url.slice("automerge:".length)
  const jsState = path.join(jsDir, docId.slice(0, 2), docId.slice(2), "sync-state", ourStorageId)
  await waitFor(() => fs.existsSync(jsState), `the JS server to write ${jsState}`)
  // The other way round.
  const ourDir = tmp()
  const ours = await startAmrepo(["--listen", "127.0.0.1:0", "--data", ourDir])
  const clientDir = tmp()
  // JS 2.5.6 quirk: on a brand-new store the id it announces in `join` can differ from the one
  // it then persists (two ids are minted concurrently). Start the store once so the client
  // announces its real StorageId.
  const warmup = new Repo({ storage: new NodeFSStorageAdapter(clientDir) })
  await warmup.storageId()
  await warmup.shutdown()
  const client = jsClient(ours.url, { storage: new NodeFSStorageAdapter(clientDir) })
  const h = client.create({ k: 1 })
  h.change(d => (d.k = 2))
  const clientStorageId = await client.storageId()
  const id = h.url.slice("automerge:".length)
  const ourState = path.join(ourDir, id.slice(0, 2), id.slice(2), "sync-state", clientStorageId)
  await waitFor(() => fs.existsSync(ourState), `amrepo serve to write ${ourState}`)
})

defineCase(6, "storage: a JS server's data directory served by amrepo serve, and back", async () => {
  const dir = tmp()
  const theirs = await startJsServer(dir)
  const client = jsClient(theirs.url)
  const h = client.create({ written_by: "js server" })
  await waitFor(async () => {
    const r = await run(["cat", "--server", theirs.url, h.url])
    return r.code === 0
  }, "the JS server to have the document")
  await client.shutdown()
  await theirs.stop()
  const ours = await startAmrepo(["--listen", "127.0.0.1:0", "--data", dir])
  const seen = JSON.parse(await runOk(["cat", "--server", ours.url, h.url]))
  check(same(seen, { written_by: "js server" }), `amrepo serve serves ${JSON.stringify(seen)}`)
  const url2 = await runOk(["new", "--server", ours.url, "--json", '{"written_by":"amrepo serve"}'])
  await ours.stop()
  const again = await startJsServer(dir)
  const h2 = await findReady(jsClient(again.url), url2)
  check(same(plain(h2.doc()), { written_by: "amrepo serve" }), `the JS server serves ${JSON.stringify(h2.doc())}`)
  const h1 = await findReady(jsClient(again.url), h.url)
  check(same(plain(h1.doc()), { written_by: "js server" }), "the JS document after amrepo served it")
})

// One protocol probe against a server; returns what happened, in terms both servers share.
async function probe(url, steps) {
  const raw = await rawSocket(url)
  const result = await steps(raw)
  raw.close()
  return result
}

defineCase(7, "protocol edge cases behave as the JS server's", async () => {
  const ours = await startAmrepo(["--listen", "127.0.0.1:0", "--memory"])
  const theirs = await startJsServer(null)
  const join = (id, versions = ["1"]) => ({ type: "join", senderId: id, peerMetadata: { isEphemeral: true }, supportedProtocolVersions: versions })
  const probes = {
    "join with only version 2 gets error and close": async raw => {
      raw.send(join("p1", ["2"]))
      await waitFor(() => raw.closed, "close", 5000)
      const err = raw.frames.find(f => f.type === "error")
      return { error: err?.message, closed: raw.closed }
    },
    "garbage bytes close the socket": async raw => {
      raw.sendRaw(Buffer.from([0xff, 0x00, 0x13]))
      await waitFor(() => raw.closed, "close", 5000)
      return { closed: raw.closed, peer: raw.frames.some(f => f.type === "peer") }
    },
    "messages before join are ignored": async raw => {
      raw.send({ type: "request", senderId: "p3", targetId: "x", documentId: "42gwUifH6GMMHGEo9x2GKgHGRP1u", data: new Uint8Array([0x42, 0, 0, 0, 0]) })
      await sleep(200)
      const before = { closed: raw.closed, frames: raw.frames.length }
      raw.send(join("p3"))
      await waitFor(() => raw.frames.some(f => f.type === "peer"), "peer", 5000)
      return { before, joined: true }
    },
    "request for an unknown document gets doc-unavailable": async raw => {
      raw.send(join("p4"))
      await waitFor(() => raw.frames.some(f => f.type === "peer"), "peer", 5000)
      const serverId = raw.frames.find(f => f.type === "peer").senderId
      const empty = A.initSyncState()
      const [, msg] = A.generateSyncMessage(A.init(), empty)
      raw.send({ type: "request", senderId: "p4", targetId: serverId, documentId: "42gwUifH6GMMHGEo9x2GKgHGRP1u", data: msg })
      await waitFor(() => raw.frames.some(f => f.type === "doc-unavailable"), "doc-unavailable", 5000)
      return { unavailable: true, closed: raw.closed }
    },
  }
  for (const [name, steps] of Object.entries(probes)) {
    const a = await probe(ours.url, steps)
    const b = await probe(theirs.url, steps)
    check(same(a, b), `${name}: ours ${JSON.stringify(a)} vs JS ${JSON.stringify(b)}`)
  }
  // A repeated join with the same peer id replaces (closes) the older connection, on both.
  for (const url of [ours.url, theirs.url]) {
    const first = await rawSocket(url)
    first.send(join("same-peer"))
    await waitFor(() => first.frames.some(f => f.type === "peer"), "peer", 5000)
    const second = await rawSocket(url)
    second.send(join("same-peer"))
    await waitFor(() => second.frames.some(f => f.type === "peer"), "second peer", 5000)
    await waitFor(() => first.closed, `the first connection to close (${url === ours.url ? "ours" : "JS"})`, 5000)
    check(!second.closed, "the second connection closed")
    second.close()
  }
})

defineCase(8, "the 259,778-edit trace document: created by a JS client, found by JS and C++ clients", async () => {
  const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(sharedData, "automerge-paper.json.gz"))).toString("utf8"))
  // Build it the fast way (one change per transaction batch), as a JS app importing a document.
  let doc = A.from({ text: "" })
  doc = A.change(doc, d => {
    for (const txn of trace.txns) for (const [pos, del, ins] of txn.patches) A.splice(d, ["text"], pos, del, ins ?? "")
  })
  check(doc.text === trace.endContent, "the JS replay differs from endContent")
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--data", tmp()])
  const a = jsClient(server.url)
  const h = a.import(A.save(doc))
  const b = jsClient(server.url)
  const hb = await findReady(b, h.url, 60000)
  check(hb.doc().text === trace.endContent, `JS client b: text of ${hb.doc().text?.length} chars`)
  const r = await run(["cat", "--server", server.url, "--timeout", "60", h.url, "--path", "/text"])
  check(r.code === 0, `amrepo cat: ${r.err}`)
  check(JSON.parse(r.out) === trace.endContent, "amrepo cat: text differs")
})

defineCase(9, "server restart mid-session: JS clients reconnect and finish; nothing acknowledged is lost", async () => {
  const dir = tmp()
  let server = await startAmrepo(["--listen", "127.0.0.1:0", "--data", dir])
  const port = server.url.slice(server.url.lastIndexOf(":") + 1)
  const a = jsClient(server.url)
  const h = a.create({ n: 0 })
  const b = jsClient(server.url)
  const hb = await findReady(b, h.url)
  for (let i = 1; i <= 5; i++) h.change(d => (d.n = i))
  await waitFor(() => hb.doc().n === 5, "b to see n=5 (acknowledged through the server)")
  await server.kill()
  server = await startAmrepo(["--listen", `127.0.0.1:${port}`, "--data", dir])
  // A fresh C++ client reads the acknowledged state straight from the restarted server.
  const seen = JSON.parse(await runOk(["cat", "--server", server.url, h.url]))
  check(seen.n === 5, `after SIGKILL and restart the server has n=${seen.n}`)
  for (let i = 6; i <= 10; i++) h.change(d => (d.n = i))
  await waitFor(() => hb.doc().n === 10, "the JS clients to reconnect and sync again", 30000)
})

// Bundles browser/page.js for the browser (automerge's wasm inlined as base64, via the export
// condition "webpack" that selects that build) and serves it over HTTP on 127.0.0.1.
async function servePage() {
  const { build } = await import("esbuild")
  const dir = tmp()
  const here = path.join(scriptDir, "browser")
  await build({
    entryPoints: [path.join(here, "page.js")],
    bundle: true,
    format: "iife",
    platform: "browser",
    conditions: ["webpack"],
    outfile: path.join(dir, "page.bundle.js"),
    logLevel: "silent",
  })
  fs.copyFileSync(path.join(here, "index.html"), path.join(dir, "index.html"))
  const http = await import("node:http")
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, "http://x").pathname === "/" ? "index.html" : path.basename(new URL(req.url, "http://x").pathname)
    const file = path.join(dir, name)
    if (!fs.existsSync(file)) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { "content-type": name.endsWith(".html") ? "text/html" : "text/javascript" })
    res.end(fs.readFileSync(file))
  })
  await new Promise(r => server.listen(0, "127.0.0.1", r))
  cleanups.push(() => new Promise(r => server.close(r)))
  return `http://127.0.0.1:${server.address().port}/`
}

defineCase(10, "a browser page (headless Chromium) edits through the C++ server; a second page and a C++ client see it", async () => {
  const chromiumPath = process.env.AM_CHROMIUM ?? "/usr/bin/chromium"
  check(fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath} (scripts/install-deps.sh installs Debian's chromium)`)
  const { chromium } = await import("playwright-core")
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--memory"])
  const pageUrl = await servePage()
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] })
  cleanups.push(() => browser.close())
  const open = async doc => {
    const page = await browser.newPage()
    const errors = []
    page.on("pageerror", e => errors.push(String(e)))
    await page.goto(`${pageUrl}?server=${encodeURIComponent(server.url)}${doc ? `&doc=${encodeURIComponent(doc)}` : ""}`)
    await waitFor(async () => {
      check(errors.length === 0, `page error: ${errors[0]}`)
      return page.evaluate(() => window.amrepoTest?.ready === true)
    }, "the page's repo", 30000)
    return page
  }
  const first = await open(null)
  const docUrl = await first.evaluate(() => window.amrepoTest.url)
  const second = await open(docUrl)
  check(same(await second.evaluate(() => window.amrepoTest.doc()), { title: "made in a browser", edits: [] }),
    "the second page does not see the first page's document")
  await first.evaluate(() => window.amrepoTest.push("from page one"))
  await second.evaluate(() => window.amrepoTest.set("reply", "from page two"))
  const want = { title: "made in a browser", edits: ["from page one"], reply: "from page two" }
  await waitFor(async () => same(await first.evaluate(() => window.amrepoTest.doc()), want) &&
    same(await second.evaluate(() => window.amrepoTest.doc()), want), "both pages to converge")
  const ours = JSON.parse(await runOk(["cat", "--server", server.url, docUrl]))
  check(same(ours, want), `amrepo cat sees ${JSON.stringify(ours)}`)
  // The C++ client's edit shows up in the browser.
  await runOk(["set", "--server", server.url, docUrl, "/from_cpp", "true"])
  await waitFor(async () => (await first.evaluate(() => window.amrepoTest.doc())).from_cpp === true, "the C++ edit in the page")
  const shotDir = process.env.AM_ARTIFACT_DIR ?? path.join(scriptDir, "../../build")
  fs.mkdirSync(shotDir, { recursive: true })
  const shot = path.join(shotDir, "interop-browser.png")
  await first.screenshot({ path: shot })
  console.log(`  screenshot: ${shot}`)
})

// The reference converts a UUID given to repo.find (interpretAsDocumentId, with a warning) and
// so finds the document on the wire's behalf too, but 2.5.6's DocSynchronizer then throws
// "channelId doesn't match documentId" for a sync/request/ephemeral whose documentId is the
// UUID: the message is dropped, the connection stays up. Ours answers it under the bs58check
// id (docs/interop.md).
defineCase(11, "legacy UUID document ids: found by UUID through ours; a request by UUID is answered under the bs58check id", async () => {
  const ours = await startAmrepo(["--listen", "127.0.0.1:0", "--memory"])
  const theirs = await startJsServer(null)
  const uuidOf = documentId => {
    const h = Buffer.from(documentIdToBinary(documentId)).toString("hex")
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
  }
  for (const [name, server] of [["ours", ours], ["JS", theirs]]) {
    const a = jsClient(server.url)
    const handle = a.create({ title: `legacy via ${name}` })
    const uuid = uuidOf(handle.documentId)
    // A JS client finds it by the UUID (converted on the client, with the reference's warning).
    const found = await findReady(jsClient(server.url), uuid)
    check(found.documentId === handle.documentId, `${name}: found ${found.documentId}, want ${handle.documentId}`)
    check(same(plain(found.doc()), { title: `legacy via ${name}` }), `${name}: found ${JSON.stringify(found.doc())}`)
    // A raw peer names the document by the UUID itself on the wire.
    const raw = await rawSocket(server.url)
    raw.send({ type: "join", senderId: "raw-uuid", peerMetadata: { isEphemeral: true }, supportedProtocolVersions: ["1"] })
    await waitFor(() => raw.frames.some(f => f.type === "peer"), "peer", 5000)
    const serverId = raw.frames.find(f => f.type === "peer").senderId
    const [, msg] = A.generateSyncMessage(A.init(), A.initSyncState())
    raw.send({ type: "request", senderId: "raw-uuid", targetId: serverId, documentId: uuid, data: msg })
    if (name === "JS") {
      // Dropped by the reference; the same request by the bs58check id on the same connection
      // is answered, so the UUID neither closed it nor broke the document.
      raw.send({ type: "request", senderId: "raw-uuid", targetId: serverId, documentId: handle.documentId, data: msg })
    }
    const answered = () => raw.frames.find(f => f.type === "sync" || f.type === "doc-unavailable" || f.type === "error")
    await waitFor(() => answered() || raw.closed, "an answer to the request", 5000)
    const answer = answered()
    check(answer?.type === "sync" && answer.documentId === handle.documentId && !raw.closed,
      `${name} answered ${JSON.stringify(answer ? { type: answer.type, documentId: answer.documentId } : { closed: raw.closed })}`)
    check(!raw.frames.some(f => f.documentId === uuid), `${name} sent a frame naming the UUID`)
    raw.close()
  }
})

// Remote-heads gossip (docs/remote-heads.md). Case 13: JS clients through our server with
// --remote-heads; a subscriber learns the heads of another client's store only from our
// server's remote-heads-changed, and the server's own from its sync with it. Case 14: our
// `amrepo watch --remote-heads` against a JS server with enableRemoteHeadsGossiping.
const sameHeads = (a, b) => JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort())

defineCase(13, "remote heads: a JS subscriber hears through our server of a document another client edits", async () => {
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--data", tmp(), "--remote-heads"])
  const editor = jsClient(server.url, { storage: new NodeFSStorageAdapter(tmp()) })
  const subscriber = jsClient(server.url, { enableRemoteHeadsGossiping: true })
  const handle = editor.create({ title: "remote heads" })
  // Only after the handshake: a first storageId() racing the repo's own creates a second id.
  await waitFor(() => editor.peers.length > 0, "the editor's connection")
  const editorStore = await editor.storageId()
  const seen = await findReady(subscriber, handle.url)
  await waitFor(() => subscriber.peers.length > 0 && subscriber.getStorageIdOfPeer(subscriber.peers[0]), "the server's StorageId")
  const serverStore = subscriber.getStorageIdOfPeer(subscriber.peers[0])
  const events = []
  seen.on("remote-heads", e => events.push(e))
  subscriber.subscribeToRemotes([serverStore, editorStore])
  // The editor keeps editing until the subscriber has heard its latest heads from both stores
  // (its subscription may reach our server after the first edit).
  let n = 0
  await waitFor(async () => {
    handle.change(d => (d.n = ++n))
    await sleep(150)
    const want = handle.heads()
    return events.some(e => e.storageId === editorStore && sameHeads(e.heads, want)) &&
      events.some(e => e.storageId === serverStore && sameHeads(e.heads, want))
  }, "remote-heads events for the editor's and the server's stores")
  const relayed = events.find(e => e.storageId === editorStore)
  check(typeof relayed.timestamp === "number" && Math.abs(relayed.timestamp - Date.now()) < 60000,
    `timestamp ${relayed.timestamp} is not our clock's`)
  check(sameHeads(seen.getRemoteHeads(editorStore), handle.heads()), `getRemoteHeads ${JSON.stringify(seen.getRemoteHeads(editorStore))}`)
  check(traces.some(l => l.includes('"remote-subscription-change"') && l.includes('"in"')), "our server traced no subscription")
  check(traces.some(l => l.includes('"remote-heads-changed"') && l.includes('"out"')), "our server sent no remote-heads-changed")
})

defineCase(14, "remote heads: amrepo watch --remote-heads hears them from a JS server with gossiping on", async () => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise(r => wss.on("listening", r))
  const jsServer = new Repo({
    network: [new NodeWSServerAdapter(wss)],
    storage: new NodeFSStorageAdapter(tmp()),
    sharePolicy: async () => false,
    peerId: "js-gossip-server",
    enableRemoteHeadsGossiping: true,
  })
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate()
    await new Promise(r => wss.close(r))
  })
  const url = `ws://127.0.0.1:${wss.address().port}`
  const editor = jsClient(url, { storage: new NodeFSStorageAdapter(tmp()) })
  // Only after the handshake: a first storageId() racing the repo's own creates a second id.
  await waitFor(() => editor.peers.length > 0, "the editor's connection")
  const serverStore = await jsServer.storageId()
  const editorStore = await editor.storageId()
  const handle = editor.create({ title: "watched" })
  await findReady(jsServer, handle.url)
  const proc = spawn(amrepo, ["watch", "--remote-heads", "--storage-id", serverStore, "--storage-id", editorStore,
    "--server", url, handle.url], { stdio: ["ignore", "pipe", "ignore"] })
  cleanups.push(() => proc.kill("SIGKILL"))
  const lines = []
  let buffer = ""
  proc.stdout.on("data", chunk => {
    buffer += chunk
    let nl
    while ((nl = buffer.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, nl)))
      buffer = buffer.slice(nl + 1)
    }
  })
  await waitFor(() => lines.some(l => l.type === "snapshot"), "the watcher's snapshot")
  // watch prints heads as hex, as A.getHeads gives them.
  let n = 0
  await waitFor(async () => {
    handle.change(d => (d.n = ++n))
    await sleep(150)
    const want = A.getHeads(handle.doc())
    const heard = store => lines.some(l => l.type === "remote-heads" && l.storageId === store && sameHeads(l.heads, want))
    return heard(editorStore) && heard(serverStore)
  }, "remote-heads lines for the editor's store (relayed by the JS server) and the server's")
  const line = lines.find(l => l.type === "remote-heads" && l.storageId === editorStore)
  check(Math.abs(line.timestamp - Date.now()) < 60000, `timestamp ${line.timestamp}`)
  proc.kill("SIGTERM")
})

// The Go port's peers (go-peer.mjs: its dialect written from its documented format) against
// amrepo serve, each framing over each transport: a document the Go peer creates is read by
// `amrepo cat`, one `amrepo new` creates is fetched by the Go peer, and an edit made on our side
// reaches it. The Go peer never receives a frame it could not read.
defineCase(15, "Go-port peers (CBOR, and its first version's JSON; TCP and WebSocket) create and fetch documents through amrepo serve", async () => {
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--data", tmp()])
  await waitFor(() => server.tcp, "the TCP listener", 5000)
  const urlOf = uuid => `automerge:${bs58check.encode(Buffer.from(uuid.replace(/-/g, ""), "hex"))}`
  const uuidOf = url => uuidText(bs58check.decode(url.slice("automerge:".length)))
  for (const [transport, framing] of [["tcp", "cbor"], ["ws", "cbor"], ["tcp", "json"], ["ws", "json"]]) {
    const name = `${framing} over ${transport}`
    const where = transport === "tcp" ? { tcp: server.tcp } : { ws: server.url }
    const go = await connectGoPeer({ ...where, framing })
    check(/^[0-9a-f-]{36}$/.test(go.remote), `${name}: the server's peer answer names it ${go.remote}, not by UUID text`)

    // Created by the Go peer, read by amrepo cat.
    const content = { made_by: "go", framing, transport, items: [1, 2] }
    const created = go.create(content)
    let seen
    await waitFor(async () => {
      const r = await run(["cat", "--server", server.url, urlOf(created)])
      if (r.code === 0) seen = JSON.parse(r.out)
      return seen && same(seen, content)
    }, `${name}: amrepo cat to read the Go peer's document (last saw ${JSON.stringify(seen)})`)

    // Created by amrepo new, fetched by the Go peer; then an edit on our side reaches it.
    const url = await runOk(["new", "--server", server.url, "--json", JSON.stringify({ made_by: "amrepo", name })])
    const fetched = uuidOf(url)
    go.fetch(fetched)
    await waitFor(() => same(plain(go.doc(fetched) ?? {}), { made_by: "amrepo", name }),
      `${name}: the Go peer to fetch ${url} (has ${JSON.stringify(go.doc(fetched))})`)
    await runOk(["set", "--server", server.url, url, "/edited", "true"])
    await waitFor(() => go.doc(fetched)?.edited === true, `${name}: our edit to reach the Go peer`)
    // And the Go peer's edit comes back.
    go.change(fetched, d => (d.from_go = framing))
    await waitFor(async () => JSON.parse(await runOk(["cat", "--server", server.url, url])).from_go === framing,
      `${name}: the Go peer's edit to reach amrepo cat`)
    check(go.unexpected.length === 0, `${name}: the Go peer got frames it cannot read: ${JSON.stringify(go.unexpected).slice(0, 300)}`)
    check(!go.closed, `${name}: the server closed the Go peer's connection`)
    go.close()
  }
})

// JS Presence (the pinned package's) and ours (`amrepo presence`) through our server: each sees
// the other's initial state and per-channel updates (JSON-like values, numbers beyond 32 bits
// included), heartbeats keep both alive past the TTL, a silent peer expires on both sides, and a
// goodbye (JS stop(), amrepo's SIGINT) removes the peer at once. Two `amrepo presence` also see
// each other through the JS sync server.
defineCase(12, "presence: JS Presence and amrepo presence see each other's states, updates, heartbeats, expiry and goodbye", async () => {
  const { Presence } = await import("@automerge/automerge-repo")
  const server = await startAmrepo(["--listen", "127.0.0.1:0", "--memory"])
  const timing = { heartbeatMs: 200, peerTtlMs: 1000 }
  const cppTiming = ["--heartbeat-ms", "200", "--ttl-ms", "1000"]
  const owner = jsClient(server.url)
  const doc = owner.create({ title: "presence" })
  // The server has it before anyone else looks for it.
  await waitFor(async () => (await run(["cat", "--server", server.url, doc.url])).code === 0, "the server to have the document")
  // `amrepo presence` with its JSON lines; stdin lines go out as updates.
  const startCpp = (args, serverUrl = server.url, docUrl = doc.url) => {
    const proc = spawn(amrepo, ["presence", "--server", serverUrl, docUrl, "--heartbeats", "--stdin", ...cppTiming, ...args],
      { stdio: ["pipe", "pipe", "pipe"] })
    const cpp = { proc, lines: [], exit: null, err: "" }
    cleanups.push(() => cpp.exit === null && proc.kill("SIGKILL"))
    let buffer = ""
    proc.stdout.on("data", chunk => {
      buffer += chunk
      let nl
      while ((nl = buffer.indexOf("\n")) >= 0) {
        cpp.lines.push(JSON.parse(buffer.slice(0, nl)))
        buffer = buffer.slice(nl + 1)
      }
    })
    proc.stderr.on("data", c => (cpp.err += c))
    proc.on("exit", (code, signal) => (cpp.exit = { code, signal }))
    cpp.seen = pred => cpp.lines.find(pred)
    cpp.send = obj => proc.stdin.write(JSON.stringify(obj) + "\n")
    return cpp
  }
  // A JS Presence on a handle, with its events recorded.
  const startJs = (handle, initialState, options = timing) => {
    const presence = new Presence({ handle })
    const events = []
    for (const type of ["snapshot", "update", "heartbeat", "goodbye", "pruning"]) {
      presence.on(type, e => events.push({ ...e, type }))
    }
    presence.start({ initialState, ...options })
    cleanups.push(() => presence.stop())
    return { presence, events, peers: () => presence.getPeerStates().value }
  }

  // Initial states, both ways.
  const cpp = startCpp(["--set", JSON.stringify({ name: "cpp", n: 1 })])
  await waitFor(() => cpp.seen(l => l.event === "local"), "amrepo presence to start", 15000)
  const cppPeer = cpp.lines[0].peer
  const jsA = startJs(doc, { name: "js", cursor: null })
  await waitFor(() => cpp.seen(l => l.event === "snapshot" && l.peer === owner.peerId), "C++ to see the JS snapshot")
  check(same(cpp.seen(l => l.event === "snapshot" && l.peer === owner.peerId).state, { name: "js", cursor: null }),
    `C++ saw ${JSON.stringify(cpp.lines)}`)
  await waitFor(() => jsA.peers()[cppPeer], "JS to see the C++ state")
  check(same(jsA.peers()[cppPeer].value, { name: "cpp", n: 1 }), `JS saw ${JSON.stringify(jsA.peers()[cppPeer])}`)

  // Updates, both ways, one channel at a time; the other channels stay.
  const jsValue = { x: 1, big: 2 ** 40, f: 1.5, list: [1, "a", null, true, { deep: [] }] }
  jsA.presence.broadcast("cursor", jsValue)
  await waitFor(() => cpp.seen(l => l.event === "update" && l.peer === owner.peerId && l.channel === "cursor"), "C++ to see the JS update")
  const upd = cpp.seen(l => l.event === "update" && l.peer === owner.peerId && l.channel === "cursor")
  check(same(upd.value, jsValue) && same(upd.state, { name: "js", cursor: jsValue }), `C++ saw the update as ${JSON.stringify(upd)}`)
  // A JS undefined (CBOR 0xf7) arrives as null.
  jsA.presence.broadcast("gone", undefined)
  await waitFor(() => cpp.seen(l => l.event === "update" && l.peer === owner.peerId && l.channel === "gone"), "C++ to see the undefined update")
  check(cpp.seen(l => l.event === "update" && l.channel === "gone").value === null, "undefined did not arrive as null")
  const cppValue = { y: 2, big: 1099511627776, s: "é", neg: -5000000000 }
  cpp.send({ cursor: cppValue })
  await waitFor(() => jsA.events.some(e => e.type === "update" && e.peerId === cppPeer && e.channel === "cursor"), "JS to see the C++ update")
  const jsUpd = jsA.events.find(e => e.type === "update" && e.peerId === cppPeer)
  check(same(jsUpd.value, cppValue) && typeof jsUpd.value.big === "number" && typeof jsUpd.value.neg === "number",
    `JS saw the update as ${JSON.stringify(jsUpd.value)}`)
  check(same(jsA.peers()[cppPeer].value, { name: "cpp", n: 1, cursor: cppValue }), `JS state ${JSON.stringify(jsA.peers()[cppPeer].value)}`)

  // Heartbeats only, for twice the TTL: nobody expires.
  const heartbeatsBefore = jsA.events.filter(e => e.type === "heartbeat" && e.peerId === cppPeer).length
  await sleep(2 * timing.peerTtlMs)
  check(jsA.events.filter(e => e.type === "heartbeat" && e.peerId === cppPeer).length >= heartbeatsBefore + 5, "JS got too few C++ heartbeats")
  check(cpp.lines.filter(l => l.event === "heartbeat" && l.peer === owner.peerId).length >= 5, "C++ got too few JS heartbeats")
  check(jsA.peers()[cppPeer] && !jsA.events.some(e => e.type === "pruning"), "JS expired the C++ peer despite its heartbeats")
  check(!cpp.seen(l => l.event === "expired"), `C++ expired a peer despite its heartbeats: ${JSON.stringify(cpp.seen(l => l.event === "expired"))}`)

  // A JS peer that falls silent (heartbeats far apart) expires at ours after the TTL.
  const quiet = jsClient(server.url)
  const quietHandle = await findReady(quiet, doc.url)
  startJs(quietHandle, { name: "quiet" }, { heartbeatMs: 60000, peerTtlMs: 60000 })
  await waitFor(() => cpp.seen(l => l.event === "snapshot" && l.peer === quiet.peerId), "C++ to see the quiet JS peer")
  const quietSeen = Date.now()
  await waitFor(() => cpp.seen(l => l.event === "expired" && l.peer === quiet.peerId), "C++ to expire the quiet JS peer", 5000)
  const quietGone = Date.now() - quietSeen
  check(quietGone >= timing.peerTtlMs - 100 && quietGone < timing.peerTtlMs + 1500, `the quiet peer expired after ${quietGone} ms`)

  // Goodbye, JS to C++: the peer goes at once.
  jsA.presence.stop()
  await waitFor(() => cpp.seen(l => l.event === "goodbye" && l.peer === owner.peerId), "C++ to see the JS goodbye", 3000)

  // Goodbye, C++ to JS (SIGINT; exit 0).
  const jsC = startJs(doc, { name: "js again" })
  await waitFor(() => jsC.peers()[cppPeer], "the new JS Presence to learn the C++ state")
  cpp.proc.kill("SIGINT")
  await waitFor(() => jsC.events.some(e => e.type === "goodbye" && e.peerId === cppPeer), "JS to see the C++ goodbye", 3000)
  check(!jsC.peers()[cppPeer], "JS still lists the C++ peer after its goodbye")
  await waitFor(() => cpp.exit, "amrepo presence to exit", 5000)
  check(cpp.exit.code === 0, `amrepo presence exited ${JSON.stringify(cpp.exit)}: ${cpp.err}`)

  // A C++ peer that dies without goodbye expires at JS after the TTL.
  const cpp2 = startCpp(["--set", JSON.stringify({ name: "doomed" })])
  await waitFor(() => cpp2.seen(l => l.event === "local"), "the second amrepo presence to start", 15000)
  const doomed = cpp2.lines[0].peer
  await waitFor(() => jsC.peers()[doomed], "JS to see the second C++ peer")
  cpp2.proc.kill("SIGKILL")
  const killedAt = Date.now()
  await waitFor(() => jsC.events.some(e => e.type === "pruning" && e.pruned.includes(doomed)), "JS to expire the killed C++ peer", 5000)
  const doomedGone = Date.now() - killedAt
  check(doomedGone < timing.peerTtlMs + 2 * timing.heartbeatMs + 500, `the killed C++ peer expired after ${doomedGone} ms`)
  check(!jsC.peers()[doomed], "JS still lists the killed C++ peer")

  // C++ to C++ through the JS sync server (which relays the ephemeral messages).
  const theirs = await startJsServer(null)
  const theirDoc = await runOk(["new", "--server", theirs.url, '{"title":"presence via JS"}'])
  const left = startCpp(["--set", JSON.stringify({ side: "left" })], theirs.url, theirDoc)
  const right = startCpp(["--set", JSON.stringify({ side: "right" })], theirs.url, theirDoc)
  await waitFor(() => left.seen(l => l.event === "local") && right.seen(l => l.event === "local"), "both to start", 15000)
  const seesOther = (me, other, side) => me.seen(l => l.event === "snapshot" && l.peer === other.lines[0].peer && same(l.state, { side }))
  await waitFor(() => seesOther(left, right, "right") && seesOther(right, left, "left"), "each C++ peer to see the other through the JS server")
  right.proc.kill("SIGTERM")
  await waitFor(() => left.seen(l => l.event === "goodbye" && l.peer === right.lines[0].peer), "the goodbye through the JS server", 3000)
  left.proc.kill("SIGTERM")
})

// --- runner ------------------------------------------------------------------------------------

let failed = 0
for (const c of cases) {
  if (only.length && !only.includes(String(c.n))) continue
  traces = []
  const started = Date.now()
  try {
    await Promise.race([c.fn(), sleep(120000).then(() => { throw new Error("case timed out after 120 s") })])
    console.log(`ok ${c.n} - ${c.name} (${Date.now() - started} ms)`)
  } catch (e) {
    failed++
    console.log(`not ok ${c.n} - ${c.name}\n  ${String(e?.stack ?? e).split("\n").join("\n  ")}`)
    console.log(`  frames traced by amrepo serve (last 40 of ${traces.length}):`)
    for (const line of traces.slice(-40)) console.log(`    ${line}`)
  }
  while (cleanups.length) await Promise.resolve(cleanups.pop()()).catch(() => {})
}
console.log(failed ? `${failed} case(s) failed` : "all cases passed")
process.exit(failed ? 1 : 0)
