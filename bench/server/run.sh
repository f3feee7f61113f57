#!/usr/bin/env bash
# bench/server/run.sh [--docs N]: the "many documents" workload of issue 11 against `amrepo serve`
# and against the JS sync server (pinned @automerge/automerge-repo 2.5.6 with NodeWSServerAdapter
# and NodeFSStorageAdapter, tools/jsref/repo-peer.mjs serve), in the same run, with the same load
# generator (`amrepo bench server`, a C++ client speaking the wire protocol over WebSocket):
#   create  one client makes N small documents, waiting until the server has each
#   warm    a fresh client finds all N at once (the server still has them in memory)
#   cold    the server is restarted on its data directory, then a fresh client finds all N
#   idle    that client leaves; after --idle-wait seconds, the server's RSS against its RSS right
#           after it started (amrepo runs with --idle-timeout 1 here; its default is 300 s)
# and the server's peak RSS. Prints one JSON line per server and phase, then a table with ratios.
# Timings are printed, never asserted (CI runs it with small N to keep it working).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
docs=1000
idle_wait=4  # seconds the servers sit idle before "after idle" RSS (amrepo: --idle-timeout 1)
while [ $# -gt 0 ]; do
  case "$1" in
    --docs) docs=$2; shift 2 ;;
    --idle-wait) idle_wait=$2; shift 2 ;;
    *) echo "usage: $0 [--docs N] [--idle-wait SECONDS]" >&2; exit 2 ;;
  esac
done
amrepo=${AMREPO:-$root/build/release/tools/amrepo/amrepo}
[ -x "$amrepo" ] || { echo "build amrepo first (scripts/build.sh release)" >&2; exit 2; }
tmp=$(mktemp -d)
pid=""
restarts=0
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

start_server() {  # $1 = cpp|js, $2 = data dir; sets pid and url
  : >"$tmp/server.out"
  if [ "$1" = cpp ]; then
    # No per-connection open budget: the JS server has none, and one client finds every document.
    # Idle documents leave memory after 1 s (default 300 s), so that the idle phase is short.
    "$amrepo" serve --listen 127.0.0.1:0 --data "$2" --max-doc-opens 0 --idle-timeout 1 >"$tmp/server.out" 2>/dev/null &
  else
    node "$root/tools/jsref/repo-peer.mjs" serve 0 "$2" >"$tmp/server.out" 2>/dev/null &
  fi
  pid=$!
  for _ in $(seq 200); do grep -q listening "$tmp/server.out" && break; sleep 0.05; done
  url=$(sed -n 's/^listening //p' "$tmp/server.out")
  [ -n "$url" ] || { echo "the $1 server did not start" >&2; exit 1; }
  sleep 0.3
  if ! kill -0 "$pid" 2>/dev/null; then
    # Seen once in CI: the JS server said "listening" and was gone a moment later.
    restarts=$((restarts + 1))
    [ "$restarts" -le 2 ] || { echo "the $1 server keeps exiting right after it starts" >&2; exit 1; }
    echo "the $1 server exited right after starting; starting it again" >&2
    start_server "$@"
  fi
}
# 0 when the server process has gone (the run then fails at its next request, saying so).
peak_rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0; }
stop_server() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

declare -A result
for impl in cpp js; do
  data="$tmp/data-$impl"
  start_server "$impl" "$data"
  line=$("$amrepo" bench server "$url" --docs "$docs" --ids-out "$tmp/ids-$impl") || true  # incomplete runs still report
  grep -q '"found"' <<<"$line" || { echo "the $impl run produced no result" >&2; exit 1; }
  rss=$(peak_rss_kb)
  echo "{\"server\":\"$impl\",\"phase\":\"create+warm\",\"peak_rss_kb\":$rss,\"run\":$line}"
  result[$impl.create]=$(sed 's/.*"create_ms":\([0-9.]*\).*/\1/' <<<"$line")
  result[$impl.warm]=$(sed 's/.*"find_ms":\([0-9.]*\).*/\1/' <<<"$line")
  result[$impl.rss]=$rss
  stop_server
  start_server "$impl" "$data"
  sleep 0.5
  empty_rss=$(rss_kb)  # started, nothing asked for yet
  line=$("$amrepo" bench server "$url" --ids-in "$tmp/ids-$impl") || true
  grep -q '"found"' <<<"$line" || { echo "the $impl cold run produced no result" >&2; exit 1; }
  rss=$(peak_rss_kb)
  echo "{\"server\":\"$impl\",\"phase\":\"cold\",\"peak_rss_kb\":$rss,\"run\":$line}"
  result[$impl.cold]=$(sed 's/.*"find_ms":\([0-9.]*\).*/\1/' <<<"$line")
  result[$impl.cold_rss]=$rss
  # Idle memory (workload 4): the client has gone; the documents sit idle.
  sleep "$idle_wait"
  idle_rss=$(rss_kb)
  echo "{\"server\":\"$impl\",\"phase\":\"idle\",\"empty_rss_kb\":$empty_rss,\"idle_rss_kb\":$idle_rss,\"idle_wait_s\":$idle_wait}"
  result[$impl.empty_rss]=$empty_rss
  result[$impl.idle_rss]=$idle_rss
  stop_server
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
printf '\n%-34s %12s %12s %8s\n' "many documents ($docs)" "amrepo" "JS server" "ratio"
printf '%-34s %12.0f %12.0f %8s\n' "create, ms" "${result[cpp.create]}" "${result[js.create]}" "$(ratio "${result[cpp.create]}" "${result[js.create]}")"
printf '%-34s %12.0f %12.0f %8s\n' "find all, warm, ms" "${result[cpp.warm]}" "${result[js.warm]}" "$(ratio "${result[cpp.warm]}" "${result[js.warm]}")"
printf '%-34s %12.0f %12.0f %8s\n' "find all after restart (cold), ms" "${result[cpp.cold]}" "${result[js.cold]}" "$(ratio "${result[cpp.cold]}" "${result[js.cold]}")"
printf '%-34s %12s %12s %8s\n' "server peak RSS, KiB (create+warm)" "${result[cpp.rss]}" "${result[js.rss]}" "$(ratio "${result[cpp.rss]}" "${result[js.rss]}")"
printf '%-34s %12s %12s %8s\n' "server peak RSS, KiB (cold)" "${result[cpp.cold_rss]}" "${result[js.cold_rss]}" "$(ratio "${result[cpp.cold_rss]}" "${result[js.cold_rss]}")"
printf '%-34s %12s %12s %8s\n' "server RSS empty, KiB" "${result[cpp.empty_rss]}" "${result[js.empty_rss]}" "$(ratio "${result[cpp.empty_rss]}" "${result[js.empty_rss]}")"
printf '%-34s %12s %12s %8s\n' "server RSS after ${idle_wait} s idle, KiB" "${result[cpp.idle_rss]}" "${result[js.idle_rss]}" "$(ratio "${result[cpp.idle_rss]}" "${result[js.idle_rss]}")"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f%%", (b - a) * 100 / a }'; }
printf '%-34s %12s %12s\n' "idle RSS vs empty" "$(pct "${result[cpp.empty_rss]}" "${result[cpp.idle_rss]}")" \
  "$(pct "${result[js.empty_rss]}" "${result[js.idle_rss]}")"
