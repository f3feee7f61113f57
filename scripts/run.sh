#!/usr/bin/env bash
# The README's run command: installs what is missing, builds amrepo, and runs it.
# With no arguments it starts the sync server; arguments are passed to amrepo instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
bash scripts/build.sh release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# No arguments: the sync server on its defaults (ws://127.0.0.1:3030, ./amrepo-data).
if [ $# -eq 0 ]; then set -- serve; fi
exec "$root/build/release/tools/amrepo/amrepo" "$@"
