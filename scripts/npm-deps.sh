#!/usr/bin/env bash
# Installs the pinned npm packages of one folder with `npm ci`, only when its lock file changed
# since the last install (the stamp lives in node_modules).
set -euo pipefail
dir="$1"
stamp="$dir/node_modules/.lock-sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "npm-deps: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
fi
