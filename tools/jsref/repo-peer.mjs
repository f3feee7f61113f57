// A JS automerge-repo peer for the interop tests (the pinned @automerge/automerge-repo 2.5.6 with
// its WebSocket adapters). Each command is one process, as a separate user's app would be.
//
//   node repo-peer.mjs serve PORT DIR
//       a JS sync server (NodeWSServerAdapter on 127.0.0.1:PORT, NodeFSStorageAdapter(DIR),
//       sharePolicy () => false as the JS sync server); prints "listening ws://127.0.0.1:PORT",
//       runs until SIGTERM/SIGINT
//   node repo-peer.mjs create WSURL JSON
//       creates a document with JSON's content, prints its automerge: URL once a second client
//       repo (a fresh one, in this process) can find it through the server, then exits
//   node repo-peer.mjs cat WSURL DOCURL
//       prints the document as JSON
//   node repo-peer.mjs set WSURL DOCURL KEY JSONVALUE
//       sets a root key, exits once a fresh client repo sees the value through the server
//   node repo-peer.mjs wait WSURL DOCURL KEY JSONVALUE
//       waits until the document's root KEY equals JSONVALUE (changes arriving live), prints the
//       document
//   node repo-peer.mjs ephemeral-send WSURL DOCURL JSON / ephemeral-receive WSURL DOCURL FILE
//       broadcasts JSON (CBOR on the wire, as handle.broadcast does) every 100 ms until killed /
//       prints "ready" once it has the document, then writes the first ephemeral message
//       received to FILE as {"senderId","message"} and exits
//
// Every command exits 1 with a message on stderr on failure, and gives up after 20 s.
import { Repo } from "@automerge/automerge-repo"
import { BrowserWebSocketClientAdapter, NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { writeFileSync } from "node:fs"
import { WebSocketServer } from "ws"

const [, , command, ...args] = process.argv
const fail = msg => {
  process.stderr.write(`repo-peer: ${msg}\n`)
  process.exit(1)
}
// Client commands give up after 20 s; a server runs until it is told to stop.
const deadline = setTimeout(() => fail(`${command}: timed out`), 20000).unref()

const sleep = ms => new Promise(r => setTimeout(r, ms))

function client(url) {
  return new Repo({ network: [new BrowserWebSocketClientAdapter(url, 100)] })
}

// A JSON view of a document (Automerge text and strings both print as strings).
const plain = doc => JSON.parse(JSON.stringify(doc))

async function find(repo, docUrl) {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const handle = await repo.find(docUrl)
      await handle.whenReady()
      return handle
    } catch (e) {
      // The first attempt can race the connection: unavailable until the server answers.
      await sleep(100)
    }
  }
  fail(`cannot find ${docUrl}`)
}

// Waits until a fresh repo, connected through the server, sees `pred` hold on the document.
async function confirmThroughServer(url, docUrl, pred) {
  const other = client(url)
  for (;;) {
    const handle = await find(other, docUrl)
    if (pred(plain(handle.doc()))) break
    await sleep(50)
  }
  await other.shutdown().catch(() => {})
}

async function main() {
  switch (command) {
    case "serve": {
      clearTimeout(deadline)
      const [port, dir] = args
      const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(port) })
      await new Promise(resolve => wss.on("listening", resolve))
      const repo = new Repo({
        network: [new NodeWSServerAdapter(wss)],
        storage: new NodeFSStorageAdapter(dir),
        sharePolicy: async () => false,
        peerId: "js-sync-server",
      })
      process.stdout.write(`listening ws://127.0.0.1:${wss.address().port}\n`)
      const stop = async () => {
        await repo.flush().catch(() => {})
        wss.close()
        process.exit(0)
      }
      process.on("SIGTERM", stop)
      process.on("SIGINT", stop)
      setInterval(() => {}, 1 << 30)
      return
    }
    case "create": {
      const [url, json] = args
      const repo = client(url)
      const handle = repo.create(JSON.parse(json))
      await confirmThroughServer(url, handle.url, () => true)
      process.stdout.write(handle.url + "\n")
      process.exit(0)
    }
    case "cat": {
      const [url, docUrl] = args
      const handle = await find(client(url), docUrl)
      process.stdout.write(JSON.stringify(plain(handle.doc())) + "\n")
      process.exit(0)
    }
    case "set": {
      const [url, docUrl, key, value] = args
      const handle = await find(client(url), docUrl)
      handle.change(d => {
        d[key] = JSON.parse(value)
      })
      await confirmThroughServer(url, docUrl, doc => JSON.stringify(doc[key]) === JSON.stringify(JSON.parse(value)))
      process.exit(0)
    }
    case "wait": {
      const [url, docUrl, key, value] = args
      const handle = await find(client(url), docUrl)
      const want = JSON.stringify(JSON.parse(value))
      while (JSON.stringify(plain(handle.doc())[key]) !== want) await sleep(20)
      process.stdout.write(JSON.stringify(plain(handle.doc())) + "\n")
      process.exit(0)
    }
    case "ephemeral-send": {
      const [url, docUrl, json] = args
      const handle = await find(client(url), docUrl)
      for (;;) {
        handle.broadcast(JSON.parse(json))
        await sleep(100)
      }
    }
    case "ephemeral-receive": {
      const [url, docUrl, file] = args
      const handle = await find(client(url), docUrl)
      handle.on("ephemeral-message", ({ senderId, message }) => {
        writeFileSync(file, JSON.stringify({ senderId, message }) + "\n")
        process.exit(0)
      })
      process.stdout.write("ready\n")
      return
    }
    default:
      fail(`unknown command ${command}`)
  }
}

main().catch(e => fail(e?.stack ?? String(e)))
