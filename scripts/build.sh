#!/usr/bin/env bash
# scripts/build.sh NAME [cmake args...]: configures (once) and builds build/NAME with Ninja.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name="$1"
shift
dir="$root/build/$name"
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
fi
# AM_BUILD_TARGET builds one target instead of all.
cmake --build "$dir" ${AM_BUILD_TARGET:+--target "$AM_BUILD_TARGET"} -- -j"${AM_JOBS:-$(nproc)}"
