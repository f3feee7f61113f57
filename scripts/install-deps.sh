#!/usr/bin/env bash
# scripts/install-deps.sh [run|test]: installs the Debian 12 packages that are missing.
#   run   what building and running `amrepo` needs (scripts/run.sh): compiler, CMake, Ninja and
#         the libraries amrepo links;
#   test  the run set plus what the tests, fuzzers, interop matrix, API reference and benchmarks
#         need (scripts/test.sh). The default.
# Idempotent: apt-get runs only when something is missing. Must run as root (or with sudo
# available) on a fresh machine.
set -euo pipefail
set_name="${1:-test}"
case "$set_name" in
  run|test) ;;
  *) echo "usage: scripts/install-deps.sh [run|test]" >&2; exit 2 ;;
esac

RUN_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libssl-dev libdeflate-dev zlib1g-dev libexpected-dev
  libboost1.81-dev libboost-url1.81-dev nlohmann-json3-dev libcli11-dev
  libtomlplusplus-dev   # header-only TOML parser: amrepo serve --config
  libsqlite3-dev libpq-dev   # the SQLite and PostgreSQL stores of `amrepo serve --storage`
)
TEST_PACKAGES=(
  clang libclang-rt-14-dev   # libFuzzer targets (scripts/fuzz-smoke.sh)
  openssl   # the wss tests make a self-signed certificate
  postgresql-15  # the server the PostgreSQL storage tests start on 127.0.0.1 (tests/support/pg_test_server.h)
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  chromium  # the browser case of the interop matrix (docs/interop.md), driven by playwright-core
  doxygen   # the API reference (docs/Doxyfile), built without warnings by scripts/test.sh
)

PACKAGES=("${RUN_PACKAGES[@]}")
if [ "$set_name" = test ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js runs the pinned JS reference for golden vectors and interop tests (test set only). The
# machine image may already carry a newer Node; Debian's nodejs (18) is enough otherwise.
if [ "$set_name" = test ] && { ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; }; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
