#!/usr/bin/env bash
# examples/rich_text_interop_test.sh AMREPO TEXT_EDITOR: a JS client (tools/jsref/rich-text-peer.mjs,
# the pinned @automerge/automerge-repo) and the C++ text_editor example edit one rich-text
# document through `amrepo serve`, concurrently, and must end with equal spans.
#
# Concurrency is made certain, not left to timing: alice (C++) goes offline, then adds a
# paragraph, text and marks; the JS client meanwhile adds a heading (updated with attrs), an
# italic mark, text and a list item, and only then does alice come back online. The JS side
# checks that the merged document has two heads (neither side saw the other's edits).
set -euo pipefail
amrepo=$1
editor=$2
peer="$(cd "$(dirname "$0")/../tools/jsref" && pwd)/rich-text-peer.mjs"
[ -d "$(dirname "$peer")/node_modules/@automerge/automerge-repo" ] ||
  { echo "FAIL: no tools/jsref/node_modules: run (cd tools/jsref && npm ci)"; exit 1; }
source "$(dirname "$0")/test_server.sh"
fail() {
  echo "FAIL: $*"
  for f in alice.out alice.err js.out js.err fresh.out fresh.err; do [ -f "$tmp/$f" ] && { echo "--- $f:"; cat "$tmp/$f"; }; done
  exit 1
}
# await FILE REGEX: until a line of FILE matches, at most 30 s.
await() {
  for _ in $(seq 600); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  fail "no line matching '$2' in $1"
}

# Alice reads her commands from a FIFO, so each step can wait for the other side.
mkfifo "$tmp/alice.fifo"
timeout 90 "$editor" "$url" --name alice <"$tmp/alice.fifo" >"$tmp/alice.out" 2>"$tmp/alice.err" &
alice=$!
pids+=($alice)
exec 3>"$tmp/alice.fifo"
trap '' PIPE  # an editor that died makes `say` fail with a message, not kill this script
say() { printf '%s\n' "$*" >&3 2>/dev/null || fail "the editor is gone (while sending: $*)"; }

say "type Hello world"
say "sync"
say "offline"
await "$tmp/alice.out" '^offline$'
doc=$(head -1 "$tmp/alice.out")
# Offline: a paragraph after "world" (index 11), "from C++" after it with "from" bold and "C++"
# a link. The link is her last change: the JS side waits for it.
say "move 11"
say "para"
say "type from C++"
say "bold 12 16"
say "mark link 17 20 https://automerge.org"

# JS, on the server's copy ("Hello world" only): a heading before it, "Hello" italic, "!" after
# "world", a list item "from JS" at the end, then the heading updated to level 2.
ops='[["splitBlock",0,{"type":"heading","parents":[],"attrs":{"level":1}}],["mark",1,6,"italic",true],'
ops+='["splice",12,0,"!"],["splitBlock",13,{"type":"list-item","parents":["unordered-list"],"attrs":{}}],'
ops+='["splice",14,0,"from JS"],["updateBlock",0,{"type":"heading","parents":[],"attrs":{"level":2}}]]'
timeout 60 node "$peer" edit "$url" "$doc" "$ops" --after "Hello world" --until-mark link \
  >"$tmp/js.out" 2>"$tmp/js.err" &
js=$!
pids+=($js)
await "$tmp/js.out" '^edited$'

say "online"
say "wait-contains from JS"
say "spans"
say "show"
say "quit"
exec 3>&-
wait "$alice" || fail "the editor exited with $?"
wait "$js" || fail "the JS client exited with $?"
timeout 60 node "$peer" spans "$url" "$doc" --until-mark link >"$tmp/fresh.out" 2>"$tmp/fresh.err" ||
  fail "a fresh JS client could not read the document"

# JSON with every object's keys sorted: JS gives a block's keys in the order its replica learnt
# them (not always sorted), so the spans are compared as values, not as text.
canonical() {
  node -e 'const c = v => Array.isArray(v) ? v.map(c) : v && typeof v === "object" ?
      Object.fromEntries(Object.keys(v).sort().map(k => [k, c(v[k])])) : v
    process.stdout.write(JSON.stringify(c(JSON.parse(process.argv[1]))))' "$1"
}
cpp=$(sed -n 's/^spans: //p' "$tmp/alice.out")
[ -n "$cpp" ] || fail "the editor printed no spans"
js_spans=$(sed -n 's/^spans: //p' "$tmp/js.out")
fresh=$(sed -n 's/^spans: //p' "$tmp/fresh.out")
[ "$(canonical "$cpp")" = "$(canonical "$js_spans")" ] || fail "the C++ and JS spans differ"
[ "$(canonical "$fresh")" = "$(canonical "$cpp")" ] || fail "a fresh JS client's spans differ"
grep -qx "heads: 2" "$tmp/js.out" || fail "the edits were not concurrent (expected two heads)"
for part in \
  '{"type":"block","value":{"attrs":{"level":2},"parents":[],"type":"heading"}}' \
  '{"type":"text","value":"Hello","marks":{"italic":true}}' \
  '{"type":"block","value":{"attrs":{},"parents":[],"type":"paragraph"}}' \
  '{"type":"text","value":"from","marks":{"bold":true}}' \
  '"marks":{"link":"https://automerge.org"}' \
  '{"type":"block","value":{"attrs":{},"parents":["unordered-list"],"type":"list-item"}}' \
  '{"type":"text","value":"from JS"}'; do
  grep -qF "$part" <<<"$cpp" || fail "the spans lack $part"
done
# Only one heading: JS's updateBlock replaced the level-1 one.
[ "$(grep -o '"type":"heading"' <<<"$cpp" | wc -l)" = 1 ] || fail "expected exactly one heading block"
grep -qF '[heading level=2]<italic>Hello</italic> world' "$tmp/alice.out" || fail "the editor's show"
echo "ok: C++ and JS end with the same spans: $cpp"
