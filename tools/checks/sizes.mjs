// tools/checks/sizes.mjs [DIR...]: the house limits on source size (issue 21): no file under the
// given directories (default src and tools) over 900 lines, no function over 150 lines. Prints
// each violation as FILE:LINE and exits 1 when there is one.
//
// Functions are found by their braces, with comments, strings and character literals blanked
// out first: a block whose opening line looks like a definition (a ')' before the '{', or a
// constructor's initializer list) and is not a control statement, a lambda or a type. Nested
// blocks and lambdas count toward the function that holds them.
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"

// import.meta.dirname needs Node 20.11; Debian 12 has Node 18.
const scriptDir = path.dirname(fileURLToPath(import.meta.url))

const kMaxFileLines = 900
const kMaxFunctionLines = 150
const root = path.resolve(scriptDir, "../..")
const dirs = process.argv.length > 2 ? process.argv.slice(2) : ["src", "tools"]

function* sources(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") yield* sources(p)
    } else if (/\.(cc|cpp|h|hpp)$/.test(entry.name)) {
      yield p
    }
  }
}

// The text with comments, string and character literals (raw strings too) replaced by spaces,
// newlines kept, so that braces inside them do not count.
function blank(text) {
  let out = ""
  for (let i = 0; i < text.length;) {
    const c = text[i], n = text[i + 1]
    if (c === "/" && n === "/") {
      while (i < text.length && text[i] !== "\n") { out += " "; i++ }
    } else if (c === "/" && n === "*") {
      const end = text.indexOf("*/", i + 2)
      const stop = end < 0 ? text.length : end + 2
      for (; i < stop; i++) out += text[i] === "\n" ? "\n" : " "
    } else if (c === "R" && n === '"' && !/[A-Za-z0-9_]/.test(text[i - 1] ?? "")) {
      const open = text.indexOf("(", i + 2)
      const delimiter = text.slice(i + 2, open)
      const end = text.indexOf(")" + delimiter + '"', open)
      const stop = end < 0 ? text.length : end + delimiter.length + 2
      for (; i < stop; i++) out += text[i] === "\n" ? "\n" : " "
    } else if (c === '"' || (c === "'" && !/[0-9A-Fa-f]/.test(text[i - 1] ?? ""))) {
      out += " "
      i++
      while (i < text.length && text[i] !== c && text[i] !== "\n") {
        if (text[i] === "\\") { out += " "; i++ }
        out += " "
        i++
      }
      if (i < text.length) { out += text[i] === "\n" ? "\n" : " "; i++ }
    } else {
      out += c
      i++
    }
  }
  return out
}

const kNotFunction = /^\s*(}\s*)?(if|else|for|while|switch|do|try|catch|namespace|class|struct|union|enum|extern)\b|\]\s*(\([^)]*\))?\s*(mutable\s*)?(->\s*[\w:<>]+\s*)?\{\s*$|=\s*\{\s*$|^\s*\{\s*$/

function functionsOf(text) {
  const lines = blank(text).split("\n")
  const found = []
  let depth = 0
  let start = null  // {line, depth} of the function being measured
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    for (let j = 0; j < line.length; j++) {
      if (line[j] === "{") {
        if (start === null) {
          // The signature may span lines: look at this line and the one before.
          const head = line.slice(0, j + 1)
          const signature = (lines[i - 1] ?? "").trimEnd().endsWith(",") || /^\s*:/.test(head) ? lines[i - 1] + " " + head : head
          if (/\)/.test(signature + (lines[i - 1] ?? "")) && !kNotFunction.test(head) && !kNotFunction.test(signature)) {
            start = { line: i, depth }
          }
        }
        depth++
      } else if (line[j] === "}") {
        depth--
        if (start !== null && depth === start.depth) {
          found.push({ line: start.line + 1, length: i - start.line + 1 })
          start = null
        }
      }
    }
  }
  return found
}

let violations = 0
for (const dir of dirs) {
  for (const file of sources(path.resolve(root, dir))) {
    const text = fs.readFileSync(file, "utf8")
    const rel = path.relative(root, file)
    const lineCount = text.split("\n").length - (text.endsWith("\n") ? 1 : 0)
    if (lineCount > kMaxFileLines) {
      console.log(`${rel}:1: ${lineCount} lines (limit ${kMaxFileLines}): split it along its responsibilities`)
      violations++
    }
    for (const f of functionsOf(text)) {
      if (f.length > kMaxFunctionLines) {
        console.log(`${rel}:${f.line}: a function of ${f.length} lines (limit ${kMaxFunctionLines})`)
        violations++
      }
    }
  }
}
if (violations) {
  console.log(`sizes: ${violations} over the limits`)
  process.exit(1)
}
console.log(`sizes: every file under ${dirs.join(", ")} within ${kMaxFileLines} lines and every function within ${kMaxFunctionLines}`)
