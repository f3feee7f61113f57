#!/usr/bin/env bash
# examples/text_editor_test.sh AMREPO TEXT_EDITOR: two scripted editors on one amrepo serve see
# each other's typing, cursors, marks and paragraphs; a remote edit before alice's cursor moves
# it (her "moved: N" lines); both end with the same spans.
set -euo pipefail
amrepo=$1
editor=$2
source "$(dirname "$0")/test_server.sh"
fail() { echo "FAIL: $*"; for who in alice bob; do echo "--- $who:"; cat "$tmp/$who.out"; done; exit 1; }

# Each `wait*` line is where one editor waits for the other, so the steps below run in turn.
cat >"$tmp/alice.in" <<'IN'
type hello
wait hello world
move 5
wait-cursor bob 11
show
wait-cursor bob 0
move 6
wait-contains Oh,
bold 4 9
para
wait-show Oh, [heading]he<bold>llo</bold> [paragraph]world
mark link 0 2 https://example.com
wait-show <link=https://example.com>Oh</link>, he<bold>llo</bold> [paragraph]world
show
spans
quit
IN
cat >"$tmp/bob.in" <<'IN'
wait hello
move 5
type  world
wait-cursor alice 5
show
move 0
wait-cursor alice 6
type Oh, 
wait-show Oh, <bold>hello</bold> [paragraph]world
unmark bold 4 6
para heading
wait-show <link=https://example.com>Oh</link>, [heading]he<bold>llo</bold> [paragraph]world
join
show
spans
quit
IN
timeout 60 "$editor" "$url" --name alice <"$tmp/alice.in" >"$tmp/alice.out" &
alice=$!
pids+=($alice)
for _ in $(seq 200); do [ -s "$tmp/alice.out" ] && break; sleep 0.05; done
doc=$(head -1 "$tmp/alice.out")
timeout 60 "$editor" "$url" "$doc" --name bob <"$tmp/bob.in" >"$tmp/bob.out" || fail "bob exited with $?"
wait "$alice" || fail "alice exited with $?"

grep -q "^show: hello world | me at 5, bob at 11" "$tmp/alice.out" || fail "alice's first show"
grep -q "^show: hello world | me at 11, alice at 5" "$tmp/bob.out" || fail "bob's first show"
# Alice's cursor sat at the end (11 after bob's " world"), then before "world" (6): bob's "Oh, "
# moved it to 10, his heading block to 12, and his join back to 11.
moves=$(grep '^moved: ' "$tmp/alice.out" | tr '\n' ' ' || true)
[ "$moves" = "moved: 11 moved: 10 moved: 12 moved: 11 " ] || fail "alice's cursor moves were: $moves"
final='<link=https://example.com>Oh</link>, he<bold>llo</bold> [paragraph]world'
# (The other's cursor is left out here: cursor messages and changes travel separately, so the
# last cursor message may still be on its way.)
grep -qF "show: $final | me at 11, bob at " "$tmp/alice.out" || fail "alice's last show"
grep -qF "show: $final | me at 4, alice at " "$tmp/bob.out" || fail "bob's last show"
want='[{"type":"text","value":"Oh","marks":{"link":"https://example.com"}},{"type":"text","value":", he"},'
want+='{"type":"text","value":"llo","marks":{"bold":true}},{"type":"text","value":" "},'
want+='{"type":"block","value":{"attrs":{},"parents":[],"type":"paragraph"}},{"type":"text","value":"world"}]'
[ "$(sed -n 's/^spans: //p' "$tmp/alice.out")" = "$want" ] || fail "alice's spans"
[ "$(sed -n 's/^spans: //p' "$tmp/bob.out")" = "$want" ] || fail "bob's spans"
echo "ok: typing, cursors, marks, paragraphs and remote cursor moves agree in both editors"
