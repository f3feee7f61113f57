# examples/test_server.sh, sourced by the example tests: starts `amrepo serve --memory` on a free
# port (amrepo's path in $amrepo) and sets `url`; `tmp` and `pids` are cleaned up at exit.
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
"$amrepo" serve --listen 127.0.0.1:0 --memory >"$tmp/server.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/server.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening //p' "$tmp/server.out")
[ -n "$url" ] || { echo "the server did not start"; exit 1; }
