// A JS rich-text client for the interop tests: the pinned @automerge/automerge-repo 2.5.6 with
// BrowserWebSocketClientAdapter, editing the root key "text" in the block structure
// ProseMirror-style editors (automerge-prosemirror) use: A.splitBlock / updateBlock / joinBlock
// for paragraphs and headings, A.mark / unmark for formatting, A.splice for typing.
//
//   node rich-text-peer.mjs edit WSURL DOCURL OPS [--after TEXT] [--until-mark NAME]
//       finds the document, waits until its text contains TEXT (when given), applies OPS in one
//       handle.change, prints "edited" once a fresh client repo (in this process) gets our
//       change through the server; then, with --until-mark, waits until some text span carries
//       mark NAME and prints "heads: N" (the document's head count) and "spans: JSON"
//   node rich-text-peer.mjs spans WSURL DOCURL [--until-mark NAME]
//       a fresh client's view: prints "spans: JSON" (after the mark shows, when given)
//
// OPS is a JSON array of edits, applied in order, indexes in UTF-16 units as in JS:
//   ["splitBlock", INDEX, BLOCK]  ["updateBlock", INDEX, BLOCK]  ["joinBlock", INDEX]
//   ["mark", START, END, NAME, VALUE]  ["unmark", START, END, NAME]  ["splice", INDEX, DEL, TEXT]
// (marks with the JS default expand). "spans: JSON" is JSON.stringify(A.spans(doc, ["text"])),
// the same JSON `amrepo spans` and the text_editor example's `spans` print.
//
// Exits 1 with a message on stderr on failure; gives up after 30 s.
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const [, , command, url, docUrl, ...rest] = process.argv
const fail = msg => {
  process.stderr.write(`rich-text-peer: ${msg}\n`)
  process.exit(1)
}
setTimeout(() => fail(`${command}: timed out`), 30000).unref()
const sleep = ms => new Promise(r => setTimeout(r, ms))

// `--name VALUE` options out of `args`, the rest positional.
function options(args) {
  const opts = {}, positional = []
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith("--")) opts[args[i].slice(2)] = args[++i]
    else positional.push(args[i])
  }
  return { opts, positional }
}

const client = () => new Repo({ network: [new BrowserWebSocketClientAdapter(url, 100)] })

async function find(repo) {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const handle = await repo.find(docUrl)
      await handle.whenReady()
      return handle
    } catch {
      await sleep(100)  // the first attempt can race the connection: unavailable until it is up
    }
  }
  fail(`cannot find ${docUrl}`)
}

async function until(pred) {
  while (!pred()) await sleep(20)
}

const hasMark = (doc, name) => A.spans(doc, ["text"]).some(s => s.type === "text" && s.marks && name in s.marks)
const spansLine = doc => `spans: ${JSON.stringify(A.spans(doc, ["text"]))}\n`

function apply(d, [op, ...a]) {
  switch (op) {
    case "splitBlock": return A.splitBlock(d, ["text"], a[0], a[1])
    case "updateBlock": return A.updateBlock(d, ["text"], a[0], a[1])
    case "joinBlock": return A.joinBlock(d, ["text"], a[0])
    case "mark": return A.mark(d, ["text"], { start: a[0], end: a[1] }, a[2], a[3])
    case "unmark": return A.unmark(d, ["text"], { start: a[0], end: a[1] }, a[2])
    case "splice": return A.splice(d, ["text"], a[0], a[1], a[2])
    default: fail(`unknown op ${op}`)
  }
}

async function edit(ops, opts) {
  const handle = await find(client())
  if (opts.after !== undefined) await until(() => String(handle.doc().text ?? "").includes(opts.after))
  handle.change(d => ops.forEach(op => apply(d, op)))
  // The server has it when a repo that never saw it locally can load it from there.
  const ours = A.getHeads(handle.doc())
  const other = client()
  for (;;) {
    const seen = await find(other)
    if (A.hasHeads(seen.doc(), ours)) break
    await sleep(50)
  }
  process.stdout.write("edited\n")
  if (opts["until-mark"] === undefined) return
  await until(() => hasMark(handle.doc(), opts["until-mark"]))
  process.stdout.write(`heads: ${A.getHeads(handle.doc()).length}\n` + spansLine(handle.doc()))
}

async function main() {
  const { opts, positional } = options(rest)
  if (!url || !docUrl) fail("usage: see the comment at the top")
  if (command === "edit") {
    await edit(JSON.parse(positional[0] ?? "[]"), opts)
  } else if (command === "spans") {
    const handle = await find(client())
    if (opts["until-mark"] !== undefined) await until(() => hasMark(handle.doc(), opts["until-mark"]))
    process.stdout.write(spansLine(handle.doc()))
  } else {
    fail(`unknown command ${command}`)
  }
  process.exit(0)
}

main().catch(e => fail(e?.stack ?? String(e)))
