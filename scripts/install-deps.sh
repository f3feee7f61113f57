#!/usr/bin/env bash
# Installs the Debian 12 packages the build, tests and tools need. Idempotent: apt-get runs only
# when something is missing. Must run as root (or with sudo available) on a fresh machine.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev
  libssl-dev libdeflate-dev zlib1g-dev libexpected-dev
  openssl   # the wss tests make a self-signed certificate
  libboost1.81-dev libboost-url1.81-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libsqlite3-dev libpq-dev
  postgresql-15  # the server the PostgreSQL storage tests start on 127.0.0.1 (tests/support/pg_test_server.h)
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  chromium  # the browser case of the interop matrix (docs/interop.md), driven by playwright-core
  doxygen   # the API reference (docs/Doxyfile), built without warnings by scripts/test.sh
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js runs the pinned JS reference for golden vectors and interop tests. The machine image
# may already carry a newer Node; Debian's nodejs (18) is enough otherwise.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
