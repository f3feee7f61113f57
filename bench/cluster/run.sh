#!/usr/bin/env bash
# bench/cluster/run.sh [--docs N] [--edits M]: `amrepo serve --storage postgres` alone and as
# three servers sharing one database (fan-out through LISTEN/NOTIFY, issue 13), measured with
# the same load generator (`amrepo bench cluster URL...`, one in-process client per server):
#   create  N small documents made round-robin through the servers' clients, each waited for
#           until its server acknowledged it (so saved in PostgreSQL): documents per second
#   fanout  M edits, one at a time, by a client of server A until a client of server B (another
#           server; with one server, another client of it) sees each through on_change:
#           p50/p99/max ms
# It starts a private PostgreSQL (initdb + postgres in a temporary directory, on 127.0.0.1 and a
# free port; as the postgres user when run as root, since PostgreSQL refuses to run as root),
# with a fresh database per configuration. Server binaries: $AM_PG_BINDIR, else
# /usr/lib/postgresql/15/bin, else the newest /usr/lib/postgresql/*/bin; without them the
# script says so and exits 0. Prints one JSON line per configuration and phase, then a table.
# Timings are printed, never asserted (CI runs it with small counts to keep it working).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
docs=500
edits=200
while [ $# -gt 0 ]; do
  case "$1" in
    --docs) docs=$2; shift 2 ;;
    --edits) edits=$2; shift 2 ;;
    *) echo "usage: $0 [--docs N] [--edits M]" >&2; exit 2 ;;
  esac
done
amrepo=${AMREPO:-$root/build/release/tools/amrepo/amrepo}
[ -x "$amrepo" ] || { echo "build amrepo first (scripts/build.sh release)" >&2; exit 2; }

bindir=${AM_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
    bindir=/usr/lib/postgresql/15/bin
  else
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/postgres" ] || [ ! -x "$bindir/initdb" ]; then
  echo "bench/cluster: skipped: no PostgreSQL server binaries (install postgresql-15 or set AM_PG_BINDIR)"
  exit 0
fi

tmp=$(mktemp -d)
pg_pid=""
server_pids=()
stop_servers() {
  local p
  for p in "${server_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${server_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  server_pids=()
}
cleanup() {
  stop_servers
  if [ -n "$pg_pid" ]; then
    # A fast shutdown, sent to the postmaster itself (runuser does not pass SIGINT on).
    local postmaster
    postmaster=$(head -n 1 "$tmp/pgdata/postmaster.pid" 2>/dev/null || true)
    kill -INT "${postmaster:-$pg_pid}" 2>/dev/null || true
    wait "$pg_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# PostgreSQL as the postgres user when we are root.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "running as root, and there is no postgres user to run PostgreSQL as" >&2; exit 1; }
  chown postgres: "$tmp"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$bindir/initdb" -D "$tmp/pgdata" -U postgres -A trust -E UTF8 --locale=C --no-sync \
  --no-instructions >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bindir/postgres" -D "$tmp/pgdata" -p "$port" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories="$tmp" -c max_connections=200 >"$tmp/postgres.log" 2>&1 &
pg_pid=$!
conninfo="host=127.0.0.1 port=$port user=postgres"
for _ in $(seq 300); do
  "$bindir/pg_isready" -q -d "$conninfo dbname=postgres" && break
  kill -0 "$pg_pid" 2>/dev/null || break
  sleep 0.1
done
"$bindir/pg_isready" -q -d "$conninfo dbname=postgres" || { echo "PostgreSQL did not start:" >&2; cat "$tmp/postgres.log" >&2; exit 1; }

start_servers() {  # $1 = how many, $2 = database; sets urls
  local i out
  urls=()
  for i in $(seq "$1"); do
    out="$tmp/server-$2-$i.out"
    : >"$out"
    "$amrepo" serve --listen 127.0.0.1:0 --peer-id "server-$i" --storage postgres \
      --pg "$conninfo dbname=$2" --max-doc-opens 0 --log-level warn >"$out" 2>"$tmp/server-$2-$i.err" &
    server_pids+=($!)
    for _ in $(seq 200); do grep -q listening "$out" && break; sleep 0.05; done
    local url
    url=$(sed -n 's/^listening //p' "$out")
    [ -n "$url" ] || { echo "server $i did not start:" >&2; cat "$tmp/server-$2-$i.err" >&2; exit 1; }
    urls+=("$url")
  done
}

declare -A result
for n in 1 3; do
  db="bench_$n"
  "${as_pg[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
  start_servers "$n" "$db"
  "$amrepo" bench cluster "${urls[@]}" --docs "$docs" --edits "$edits" >"$tmp/run-$n.out" || true  # incomplete runs still report
  stop_servers
  grep -q '"phase":"create"' "$tmp/run-$n.out" && grep -q '"phase":"fanout"' "$tmp/run-$n.out" ||
    { echo "the $n-server run produced no result:" >&2; cat "$tmp/run-$n.out" >&2; exit 1; }
  cat "$tmp/run-$n.out"
  field() { sed -n "/\"phase\":\"$1\"/s/.*\"$2\":\\([0-9.e+-]*\\).*/\\1/p" "$tmp/run-$n.out"; }
  result[$n.docs_per_s]=$(field create docs_per_s)
  result[$n.ack]=$(field create acknowledged)
  result[$n.p50]=$(field fanout p50_ms)
  result[$n.p99]=$(field fanout p99_ms)
  result[$n.max]=$(field fanout max_ms)
  result[$n.seen]=$(field fanout seen)
done

printf '\n%-44s %12s %12s\n' "PostgreSQL cluster ($docs docs, $edits edits)" "1 server" "3 servers"
printf '%-44s %12.0f %12.0f\n' "documents created/s (acknowledged)" "${result[1.docs_per_s]}" "${result[3.docs_per_s]}"
printf '%-44s %12s %12s\n' "documents acknowledged" "${result[1.ack]}" "${result[3.ack]}"
printf '%-44s %12.1f %12.1f\n' "fan-out latency p50, ms" "${result[1.p50]}" "${result[3.p50]}"
printf '%-44s %12.1f %12.1f\n' "fan-out latency p99, ms" "${result[1.p99]}" "${result[3.p99]}"
printf '%-44s %12.1f %12.1f\n' "fan-out latency max, ms" "${result[1.max]}" "${result[3.max]}"
printf '%-44s %12s %12s\n' "edits seen" "${result[1.seen]}" "${result[3.seen]}"
