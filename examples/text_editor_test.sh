#!/usr/bin/env bash
# examples/text_editor_test.sh AMREPO TEXT_EDITOR: two scripted editors on one amrepo serve see
# each other's typing and cursors.
set -euo pipefail
amrepo=$1
editor=$2
source "$(dirname "$0")/test_server.sh"
printf 'type hello\nwait hello world\nmove 5\nwait-cursor bob 11\nshow\nquit\n' >"$tmp/alice.in"
printf 'wait hello\nmove 5\ntype  world\nwait-cursor alice 5\nshow\nquit\n' >"$tmp/bob.in"
timeout 40 "$editor" "$url" --name alice <"$tmp/alice.in" >"$tmp/alice.out" &
alice=$!
pids+=($alice)
for _ in $(seq 200); do [ -s "$tmp/alice.out" ] && break; sleep 0.05; done
doc=$(head -1 "$tmp/alice.out")
timeout 40 "$editor" "$url" "$doc" --name bob <"$tmp/bob.in" >"$tmp/bob.out"
wait "$alice"
grep -q "^show: hello world | me at 5, bob at 11" "$tmp/alice.out" || { echo "alice:"; cat "$tmp/alice.out"; exit 1; }
grep -q "^show: hello world | me at 11, alice at 5" "$tmp/bob.out" || { echo "bob:"; cat "$tmp/bob.out"; exit 1; }
echo "ok: both editors show 'hello world' and each other's cursor"
