#!/usr/bin/env bash
# examples/ws_client_test.sh AMREPO WS_CLIENT: two ws_client instances on one amrepo serve.
set -euo pipefail
amrepo=$1
client=$2
source "$(dirname "$0")/test_server.sh"
# The first client creates the document and waits for one remote change (the second's hello).
timeout 30 "$client" "$url" --changes 1 >"$tmp/first.out" &
first=$!
pids+=($first)
for _ in $(seq 200); do [ -s "$tmp/first.out" ] && break; sleep 0.05; done
doc=$(head -1 "$tmp/first.out")
[ "${doc#automerge:}" != "$doc" ] || { echo "no document URL from the first client"; exit 1; }
# The second joins it (receiving the first's hello), adds its own and leaves once the server has
# it.
timeout 30 "$client" "$url" "$doc" --changes 0 >"$tmp/second.out"
wait "$first"
grep -q "remote change" "$tmp/first.out" || { echo "the first client saw no remote change"; cat "$tmp/first.out"; exit 1; }
echo "ok: $(grep -c 'patch at' "$tmp/first.out") patch line(s) at the first client"
