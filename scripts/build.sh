#!/usr/bin/env bash
# scripts/build.sh NAME [cmake args...]: configures and builds build/NAME with Ninja.
# The directory is configured again from scratch (cmake --fresh: no cache entry of an earlier
# configuration survives) whenever the cmake arguments or the compiler ($CXX) differ from the ones
# it was last configured with, which are kept in build/NAME/am-build-args. So a build directory
# never silently keeps options other than those asked for; object files whose compile command
# did not change are not rebuilt.
# AM_BUILD_TARGET builds one target instead of all; AM_JOBS sets the parallel jobs (default: cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: scripts/build.sh NAME [cmake args...]" >&2
  exit 2
fi
name="$1"
shift
dir="$root/build/$name"
stamp="$dir/am-build-args"
wanted=$(printf '%q\n' "CXX=${CXX:-}" "$@")
if [ ! -f "$dir/build.ninja" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  fresh=()
  if [ -f "$dir/CMakeCache.txt" ]; then
    echo "build.sh: configuring build/$name again (its options changed)" >&2
    fresh=(--fresh)
  fi
  rm -f "$stamp"
  cmake "${fresh[@]}" -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
  printf '%s\n' "$wanted" >"$stamp"
fi
cmake --build "$dir" ${AM_BUILD_TARGET:+--target "$AM_BUILD_TARGET"} -- -j"${AM_JOBS:-$(nproc)}"
