#!/usr/bin/env bash
# The README's run command: installs what is missing, builds amrepo, and runs it.
# With no arguments it starts the default program; arguments are passed to amrepo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ $# -eq 0 ]; then set -- --help; fi
exec "$root/build/release/tools/amrepo/amrepo" "$@"
