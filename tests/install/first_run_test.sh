#!/usr/bin/env bash
# tests/install/first_run_test.sh: the README's run command as a new user meets it. Clones this
# repository's HEAD into a temporary directory, runs `scripts/run.sh serve --listen
# 127.0.0.1:PORT --memory` there with an empty compiler cache, and checks that
#   - it says `listening ws://127.0.0.1:PORT` and answers GET /health,
#   - only amrepo and the libraries it links were built (no tests, examples or benchmarks),
#   - the amrepo binary is at most 20 MB.
# Prints the time from the start of run.sh to `listening` (not asserted: it depends on the
# machine and on what else runs on it; docs/first-run.md has a measured value).
# scripts/test.sh runs it. It compiles amrepo from scratch: a few minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "first_run_test: FAILED: $*" >&2; exit 1; }

echo "-- git clone of $(git -C "$root" rev-parse --short HEAD) into $tmp/clone"
git clone --quiet "$root" "$tmp/clone"
git -C "$tmp/clone" checkout --quiet "$(git -C "$root" rev-parse HEAD)"

# A port nothing listens on (bash's /dev/tcp connect fails).
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || fail "no free port found"

echo "-- scripts/run.sh serve --listen 127.0.0.1:$port --memory (empty compiler cache)"
mkdir -p "$tmp/ccache"
start=$(date +%s.%N)
(cd "$tmp/clone" && CCACHE_DIR="$tmp/ccache" exec bash scripts/run.sh serve --listen "127.0.0.1:$port" --memory) \
  >"$tmp/stdout" 2>"$tmp/stderr" &
server_pid=$!
# Waits for `listening` (at most 30 minutes: a loaded machine), or for run.sh to fail.
listening=""
for _ in $(seq 1 18000); do
  if grep -q '^listening ' "$tmp/stdout"; then listening=yes; break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
end=$(date +%s.%N)
if [ -z "$listening" ]; then
  tail -n 30 "$tmp/stderr" >&2
  fail "run.sh never said listening"
fi
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
# The CPU time of what run.sh waited for (apt checks, cmake, ninja and the compilers): the
# process is run.sh's, which exec'd amrepo; exec keeps the children's times (fields 16 and 17 of
# /proc/PID/stat). On a shared machine the wall time grows with the load, the CPU time does not.
cpu=$(awk -v tck="$(getconf CLK_TCK)" '{ printf "%.0f", ($16 + $17) / tck }' "/proc/$server_pid/stat")
grep -qx "listening ws://127.0.0.1:$port" "$tmp/stdout" || fail "unexpected first line: $(head -n1 "$tmp/stdout")"
grep -q '^\[[0-9]*/[0-9]*\] ' "$tmp/stderr" || fail "run.sh showed no build progress on stderr"

exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "nothing accepts connections on port $port"
printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
health=$(cat <&3)
exec 3<&-
grep -q '^HTTP/1.1 200' <<<"$health" || fail "GET /health answered: $(head -n1 <<<"$health")"

echo "-- what was built"
build="$tmp/clone/build/run"
binary="$build/tools/amrepo/amrepo"
[ -x "$binary" ] || fail "no $binary"
link=$(ninja -C "$build" -t commands tools/amrepo/amrepo | tail -n 1)
built=$(cd "$build" && find . -path ./CMakeFiles -prune -o -type f \( -name '*.a' -o -perm -u+x \) -print | sort)
for f in $built; do
  case "$f" in
    ./tools/amrepo/amrepo) ;;
    *.a) grep -q -- "${f#./}" <<<"$link" || fail "$f was built but amrepo does not link it" ;;
    *) fail "$f was built, but run.sh builds only amrepo" ;;
  esac
done
for d in tests examples bench fuzz; do
  [ ! -e "$build/$d" ] || fail "build/run/$d exists: run.sh configured more than amrepo"
done
size=$(stat -c %s "$binary")
echo "   $(wc -w <<<"$built") files: $(tr '\n' ' ' <<<"$built")"
echo "   amrepo: $((size / 1024)) KiB"
[ "$size" -le $((20 * 1024 * 1024)) ] || fail "amrepo is $size bytes, more than 20 MB"

echo "first_run_test: ok: listening ${seconds} s after run.sh started on a clean clone ($(nproc) cores, empty compiler cache; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "first_run_test: CPU time of the build: ${cpu} s (${cpu} s / $(nproc) cores = $((cpu / $(nproc))) s if nothing else ran)"
