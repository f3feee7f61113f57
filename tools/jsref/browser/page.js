// A minimal browser app for interop case 10: automerge-repo with the browser WebSocket adapter,
// bundled by interop.mjs with esbuild. ?server=ws://...&doc=automerge:... (no doc: create one).
// Exposes window.amrepoTest = { ready, url, doc(), set(key, value) } to the test driver and shows
// the document as JSON on the page.
import { Repo } from "@automerge/automerge-repo"
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const params = new URLSearchParams(location.search)
const repo = new Repo({ network: [new BrowserWebSocketClientAdapter(params.get("server"), 100)] })
const view = document.getElementById("doc")
const status = document.getElementById("status")

async function open() {
  const docUrl = params.get("doc")
  if (!docUrl) return repo.create({ title: "made in a browser", edits: [] })
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await repo.find(docUrl)
      await handle.whenReady()
      return handle
    } catch (e) {
      if (attempt > 100) throw e
      await new Promise(r => setTimeout(r, 100))
    }
  }
}

open().then(handle => {
  const show = () => (view.textContent = JSON.stringify(handle.doc(), null, 2))
  handle.on("change", show)
  show()
  status.textContent = `peer ${repo.peerId}: ${handle.url}`
  window.amrepoTest = {
    ready: true,
    url: handle.url,
    doc: () => JSON.parse(JSON.stringify(handle.doc())),
    set: (key, value) => handle.change(d => (d[key] = value)),
    push: value => handle.change(d => d.edits.push(value)),
  }
}, e => (status.textContent = `error: ${e}`))
