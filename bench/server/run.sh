#!/usr/bin/env bash
# bench/server/run.sh: issue 11's sync-server workloads against `amrepo serve` and against the JS
# sync server (pinned @automerge/automerge-repo 2.5.6 with NodeWSServerAdapter and
# NodeFSStorageAdapter, tools/jsref/repo-peer.mjs serve), in the same run, with the same load
# generators (`amrepo bench ...`, C++ clients speaking the wire protocol over WebSocket):
#   docs     many documents (`bench server`): one client makes --docs small documents, waiting
#            until the server has each; a fresh client finds all at once (warm); the server is
#            restarted on its data directory and a fresh client finds all again (cold); then the
#            idle phase: after --idle-wait seconds, the server's RSS against its RSS right after
#            it started (amrepo runs with --idle-timeout 1 here; its default is 300 s)
#   clients  many clients (`bench clients`): --clients WebSocket clients on --client-docs shared
#            documents, each editing every --interval-ms for --seconds: edit-to-visible latency,
#            convergence, the server's CPU seconds and peak RSS
#   connections  idle connections (`bench connections`): --connections WebSocket clients each
#            open one of --conn-docs documents and sit idle --conn-idle seconds, then close: the
#            server's RSS and CPU per connection, and its RSS after they left (issue 20)
#   bigdoc   big document (`bench bigdoc`): the trace document (--big-edits edits of the editing
#            trace, one change each; default all 259,778) uploaded, then fetched by --fetchers
#            fresh clients at once while a probe times small edits of another document
# Each server starts fresh (new data directory) for each workload. Prints one JSON line per
# server and phase, then a table with ratios (JS / amrepo). Timings are printed, never asserted
# (CI runs it with small counts to keep it working).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
workloads=docs,clients,bigdoc
docs=1000
idle_wait=4  # seconds the servers sit idle before "after idle" RSS (amrepo: --idle-timeout 1)
clients=500
client_docs=50
seconds=30
interval_ms=200
fetchers=20
big_edits=all
connections=10000
conn_docs=100
conn_idle=10
trace=${AM_TRACE:-${AM_SHARED_DATA_DIR:-$root/data}/automerge-paper.json.gz}
usage() {
  echo "usage: $0 [--workloads docs,clients,bigdoc] [--docs N] [--idle-wait S] [--clients N] [--client-docs N]" >&2
  echo "          [--seconds S] [--interval-ms MS] [--fetchers N] [--big-edits N|all] [--trace FILE]" >&2
  echo "          [--connections N] [--conn-docs N] [--conn-idle S]   (workload connections, not in the default set)" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --workloads) workloads=$2 ;;
    --docs) docs=$2 ;;
    --idle-wait) idle_wait=$2 ;;
    --clients) clients=$2 ;;
    --client-docs) client_docs=$2 ;;
    --seconds) seconds=$2 ;;
    --interval-ms) interval_ms=$2 ;;
    --fetchers) fetchers=$2 ;;
    --big-edits) big_edits=$2 ;;
    --trace) trace=$2 ;;
    --connections) connections=$2 ;;
    --conn-docs) conn_docs=$2 ;;
    --conn-idle) conn_idle=$2 ;;
    *) usage ;;
  esac
  shift 2
done
runs() { [[ ",$workloads," == *",$1,"* ]]; }
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
# SIGTERM, then SIGKILL after 10 s: a JS server far behind can take minutes to flush its backlog.
stop_server() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

declare -A result
if runs docs; then
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
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
row() { printf '%-40s %12s %12s %8s\n' "$1" "$2" "$3" "${4-$(ratio "$2" "$3")}"; }
field() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1" | awk '{ printf "%.1f", $1 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f%%", (b - a) * 100 / a }'; }

if runs clients; then
  for impl in cpp js; do
    start_server "$impl" "$tmp/clients-$impl"
    line=$("$amrepo" bench clients "$url" --clients "$clients" --docs "$client_docs" --seconds "$seconds" \
      --interval-ms "$interval_ms" --server-pid "$pid") || true  # an unconverged run still reports
    grep -q '"converged"' <<<"$line" || { echo "the $impl many-clients run produced no result" >&2; exit 1; }
    echo "{\"server\":\"$impl\",\"phase\":\"clients\",\"run\":$line}"
    result[$impl.clients]=$line
    stop_server
  done
fi

if runs connections; then
  for impl in cpp js; do
    start_server "$impl" "$tmp/connections-$impl"
    line=$("$amrepo" bench connections "$url" --connections "$connections" --docs "$conn_docs" \
      --idle "$conn_idle" --server-pid "$pid") || true  # a run where some failed still reports
    grep -q '"opened"' <<<"$line" || { echo "the $impl connections run produced no result" >&2; exit 1; }
    echo "{\"server\":\"$impl\",\"phase\":\"connections\",\"run\":$line}"
    result[$impl.connections]=$line
    stop_server
  done
fi

if runs bigdoc; then
  [ -f "$trace" ] || { echo "no editing trace at $trace (--trace, AM_TRACE or AM_SHARED_DATA_DIR)" >&2; exit 2; }
  limit=()
  [ "$big_edits" = all ] || limit=(--limit "$big_edits")
  "$amrepo" bench trace "$trace" --per-edit --no-sync "${limit[@]}" --save-to "$tmp/big.automerge" >/dev/null
  for impl in cpp js; do
    start_server "$impl" "$tmp/bigdoc-$impl"
    line=$("$amrepo" bench bigdoc "$url" "$tmp/big.automerge" --fetchers "$fetchers" --server-pid "$pid") || true
    grep -q '"fetched"' <<<"$line" || { echo "the $impl big-document run produced no result" >&2; exit 1; }
    echo "{\"server\":\"$impl\",\"phase\":\"bigdoc\",\"run\":$line}"
    result[$impl.bigdoc]=$line
    stop_server
  done
fi

printf '\n%-40s %12s %12s %8s\n' "workload" "amrepo" "JS server" "JS/amrepo"
if runs docs; then
  echo "many documents ($docs)"
  row "  create, ms" "${result[cpp.create]%.*}" "${result[js.create]%.*}"
  row "  find all, warm, ms" "${result[cpp.warm]%.*}" "${result[js.warm]%.*}"
  row "  find all after restart (cold), ms" "${result[cpp.cold]%.*}" "${result[js.cold]%.*}"
  row "  server peak RSS, KiB (create+warm)" "${result[cpp.rss]}" "${result[js.rss]}"
  row "  server peak RSS, KiB (cold)" "${result[cpp.cold_rss]}" "${result[js.cold_rss]}"
  row "  server RSS empty, KiB" "${result[cpp.empty_rss]}" "${result[js.empty_rss]}"
  row "  server RSS after ${idle_wait} s idle, KiB" "${result[cpp.idle_rss]}" "${result[js.idle_rss]}"
  row "  idle RSS vs empty" "$(pct "${result[cpp.empty_rss]}" "${result[cpp.idle_rss]}")" \
    "$(pct "${result[js.empty_rss]}" "${result[js.idle_rss]}")" ""
fi
if runs clients; then
  c=${result[cpp.clients]}; j=${result[js.clients]}
  echo "many clients ($clients clients, $client_docs documents, an edit each every $interval_ms ms for $seconds s)"
  for f in p50_ms p99_ms max_ms; do row "  edit-to-visible latency $f" "$(field "$c" $f)" "$(field "$j" $f)"; done
  row "  latency samples seen / expected" "$(field "$c" samples | cut -d. -f1)/$(field "$c" samples_expected | cut -d. -f1)" \
    "$(field "$j" samples | cut -d. -f1)/$(field "$j" samples_expected | cut -d. -f1)" ""
  row "  converged (ms after the last edit)" "$(sed -n 's/.*"converged":\([a-z]*\).*/\1/p' <<<"$c") ($(field "$c" converge_ms))" \
    "$(sed -n 's/.*"converged":\([a-z]*\).*/\1/p' <<<"$j") ($(field "$j" converge_ms))" ""
  row "  server CPU seconds (edits + convergence)" "$(field "$c" server_cpu_s)" "$(field "$j" server_cpu_s)"
  row "  server peak RSS, KiB" "$(field "$c" server_peak_rss_kb | cut -d. -f1)" "$(field "$j" server_peak_rss_kb | cut -d. -f1)"
fi
if runs connections; then
  c=${result[cpp.connections]}; j=${result[js.connections]}
  echo "idle connections ($connections WebSocket clients on $conn_docs documents, $conn_idle s idle)"
  row "  opened / failed" "$(field "$c" opened | cut -d. -f1)/$(field "$c" failed | cut -d. -f1)" \
    "$(field "$j" opened | cut -d. -f1)/$(field "$j" failed | cut -d. -f1)" ""
  row "  time to open all, ms" "$(field "$c" open_ms)" "$(field "$j" open_ms)"
  row "  server CPU to accept and open, s" "$(field "$c" cpu_open_s)" "$(field "$j" cpu_open_s)"
  row "  server CPU per connection, ms" "$(field "$c" cpu_per_connection_ms)" "$(field "$j" cpu_per_connection_ms)"
  row "  server CPU while idle, s" "$(field "$c" cpu_idle_s)" "$(field "$j" cpu_idle_s)"
  row "  server RSS before, KiB" "$(field "$c" rss_before_kb | cut -d. -f1)" "$(field "$j" rss_before_kb | cut -d. -f1)"
  row "  server RSS open, KiB" "$(field "$c" rss_open_kb | cut -d. -f1)" "$(field "$j" rss_open_kb | cut -d. -f1)"
  row "  server RSS per connection, KiB" "$(field "$c" rss_per_connection_kb)" "$(field "$j" rss_per_connection_kb)"
  row "  server RSS after all closed, KiB" "$(field "$c" rss_closed_kb | cut -d. -f1)" "$(field "$j" rss_closed_kb | cut -d. -f1)"
  row "  after closing vs before" "$(pct "$(field "$c" rss_before_kb)" "$(field "$c" rss_closed_kb)")" \
    "$(pct "$(field "$j" rss_before_kb)" "$(field "$j" rss_closed_kb)")" ""
fi
if runs bigdoc; then
  c=${result[cpp.bigdoc]}; j=${result[js.bigdoc]}
  echo "big document ($big_edits edits, $(field "$c" file_bytes | cut -d. -f1) bytes saved; $fetchers fetchers)"
  row "  upload until acknowledged, ms" "$(field "$c" upload_ms)" "$(field "$j" upload_ms)"
  row "  first complete copy, ms" "$(field "$c" first_copy_ms)" "$(field "$j" first_copy_ms)"
  row "  all $fetchers copies, ms" "$(field "$c" all_copies_ms)" "$(field "$j" all_copies_ms)"
  for f in p50_ms p99_ms max_ms; do
    row "  small edit elsewhere, before: $f" "$(field "$c" probe_before_$f)" "$(field "$j" probe_before_$f)"
    row "  small edit elsewhere, during: $f" "$(field "$c" probe_during_$f)" "$(field "$j" probe_during_$f)"
  done
  row "  server CPU seconds during the fetch" "$(field "$c" server_cpu_s)" "$(field "$j" server_cpu_s)"
  row "  server peak RSS, KiB" "$(field "$c" server_peak_rss_kb | cut -d. -f1)" "$(field "$j" server_peak_rss_kb | cut -d. -f1)"
fi
