#!/usr/bin/env bash
# Installs the pinned npm packages of one folder with `npm ci`, only when its lock file changed
# since the last install (the stamp lives in node_modules).
#
# The lock files list the optional per-platform binaries of cbor-x (@cbor-extract/*). Before
# 2026-12-07 the registry reachable here did not serve them, a lock file could not list them,
# and `npm ci` refused it as "out of sync" ("Missing: @cbor-extract/... from lock file"). In that
# one case the same locked versions are installed with `npm install`, which skips missing
# optional packages, and the lock file is checked unchanged.
set -euo pipefail
dir="$1"
stamp="$dir/node_modules/.lock-sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

echo "npm-deps: npm ci in $dir" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1); then
  if grep -q "Missing: @cbor-extract/.* from lock file" "$log"; then
    echo "npm-deps: the registry lacks optional platform packages; npm install of the locked versions" >&2
    (cd "$dir" && rm -rf node_modules && npm install --no-audit --no-fund --loglevel=error >"$log" 2>&1) ||
      { cat "$log" >&2; exit 1; }
    if [ "$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)" != "$want" ]; then
      echo "npm-deps: npm install changed $dir/package-lock.json; the lock file is not in sync" >&2
      exit 1
    fi
  else
    cat "$log" >&2
    exit 1
  fi
fi
echo "$want" > "$stamp"
