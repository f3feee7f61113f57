// Loads the pinned @automerge/automerge (bench/compare/package-lock.json, installed by
// scripts/npm-deps.sh bench/compare) and keeps a handle on its WebAssembly linear memory, which
// the package does not export: WebAssembly.Instance is wrapped before the package instantiates
// its module, and the instance's exported memory is remembered. The linear memory only grows,
// so its size is the high-water mark of the wasm heap (64 KiB page granularity).
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { readFileSync } from "node:fs"

const here = dirname(fileURLToPath(import.meta.url))
export const root = resolve(here, "../..")
const pkg = join(root, "bench/compare/node_modules/@automerge/automerge")

let memory = null
const RealInstance = WebAssembly.Instance
WebAssembly.Instance = new Proxy(RealInstance, {
  construct(target, args) {
    const instance = Reflect.construct(target, args)
    if (instance.exports && instance.exports.memory instanceof WebAssembly.Memory) memory = instance.exports.memory
    return instance
  },
})

export const A = await import(pathToFileURL(join(pkg, "dist/mjs/entrypoints/fullfat_node.js")).href)
WebAssembly.Instance = RealInstance
export const version = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).version

/// Bytes of the wasm linear memory now (-1 if the module's memory was not seen).
export function wasmMemoryBytes() {
  return memory ? memory.buffer.byteLength : -1
}
