#!/usr/bin/env bash
# tests/install/consumer_test.sh [BUILD_DIR]: checks what `cmake --install` and cpack produce
# from an already built release tree (default build/release):
#   a. installs into a temporary prefix,
#   b. builds tests/install/consumer with find_package(am) against it and runs it,
#   c. builds the same programs with g++ and `pkg-config --static --cflags --libs am` (main.cc)
#      and `... am-repo` (repo_main.cc), runs them,
#   d. makes the .deb with cpack, checks its metadata and contents, and (as root, when dpkg is
#      available) installs it, runs `amrepo --help` and removes it again.
# Everything goes to a temporary directory that is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
tmp=$(mktemp -d)
deb_installed=""
created_user=0
getent passwd amrepo >/dev/null 2>&1 || created_user=1
cleanup() {
  if [ -n "$deb_installed" ]; then dpkg -P "$deb_installed" >/dev/null 2>&1 || true; fi
  # The package's postinst made the amrepo user and /var/lib/amrepo; leave the machine as it was.
  if [ "$created_user" = 1 ] && getent passwd amrepo >/dev/null 2>&1; then
    rm -rf /var/lib/amrepo
    userdel amrepo 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "consumer_test: FAILED: $*" >&2; exit 1; }
expected='{"hello":"world"}'
prefix="$tmp/prefix"

echo "-- install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/am/document.h include/am/sync.h include/am/result.h lib/libam_core.a \
         lib/cmake/am/amConfig.cmake lib/cmake/am/amConfigVersion.cmake \
         lib/cmake/am/amTargets.cmake lib/pkgconfig/am.pc lib/pkgconfig/am-repo.pc bin/amrepo share/man/man1/amrepo.1; do
  [ -e "$prefix/$f" ] || fail "missing $f in the install tree"
done
for f in include/am/repo/repo.h include/am/repo/transport.h lib/libam_repo.a lib/libam_repo_core.a lib/libam_repo_net.a \
         lib/libam_repo_storage.a; do
  [ -e "$prefix/$f" ] || fail "missing $f in the install tree"
done

echo "-- CMake consumer (find_package(am))"
cmake -S "$root/tests/install/consumer" -B "$tmp/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/consumer" -- -j"${AM_JOBS:-2}" >/dev/null
out=$("$tmp/consumer/consumer")
[ "$out" = "$expected" ] || fail "CMake consumer printed '$out', expected '$expected'"
[ -x "$tmp/consumer/repo_consumer" ] || fail "find_package(am) did not give am::repo"
out=$("$tmp/consumer/repo_consumer")
[ "$out" = '{"hello":"repo"}' ] || fail "repo consumer printed '$out'"

echo "-- pkg-config consumer"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists am || fail "pkg-config does not find am"
# shellcheck disable=SC2046
g++ -std=c++20 -O1 -o "$tmp/pc_consumer" "$root/tests/install/consumer/main.cc" \
  $(pkg-config --static --cflags --libs am)
out=$("$tmp/pc_consumer")
[ "$out" = "$expected" ] || fail "pkg-config consumer printed '$out', expected '$expected'"
pkg-config --exists am-repo || fail "pkg-config does not find am-repo"
# shellcheck disable=SC2046
g++ -std=c++20 -O1 -o "$tmp/pc_repo_consumer" "$root/tests/install/consumer/repo_main.cc" \
  $(pkg-config --static --cflags --libs am-repo)
out=$("$tmp/pc_repo_consumer")
[ "$out" = '{"hello":"repo"}' ] || fail "pkg-config repo consumer printed '$out'"

# The service the .deb installs: its user, directories and configuration, the unit
# (systemd-analyze verify), and the server started as that user with that configuration.
check_service() {
  echo "   service: amrepo user, /var/lib/amrepo, /etc/amrepo/amrepo.toml, unit, serve as amrepo"
  getent passwd amrepo >/dev/null || fail "the .deb did not create the amrepo user"
  [ "$(stat -c %U:%a /var/lib/amrepo)" = amrepo:750 ] || fail "/var/lib/amrepo is $(stat -c %U:%a /var/lib/amrepo)"
  grep -q '^data = "/var/lib/amrepo/data"$' /etc/amrepo/amrepo.toml || fail "/etc/amrepo/amrepo.toml lacks the data key"
  /usr/bin/amrepo serve --config /etc/amrepo/amrepo.toml --print-config | grep -q '^listen = "127.0.0.1:3030"$' ||
    fail "the installed configuration does not read back"
  unit=/usr/lib/systemd/system/amrepo.service
  [ -f "$unit" ] || fail "no $unit"
  if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
  else
    echo "   (systemd-analyze not on this machine: the unit is not verified)"
  fi
  log="$tmp/service.log"
  setpriv --reuid=amrepo --regid=amrepo --init-groups --reset-env \
    /usr/bin/amrepo serve --config /etc/amrepo/amrepo.toml --listen 127.0.0.1:0 >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do grep -q '^listening ' "$log" && break; sleep 0.1; done
  grep -q '^listening ws://127.0.0.1:' "$log" || { kill "$pid" 2>/dev/null; fail "serve as amrepo did not listen: $(cat "$log")"; }
  kill -TERM "$pid"
  wait "$pid" || fail "serve as amrepo did not stop cleanly: $(cat "$log")"
  [ "$(stat -c %U /var/lib/amrepo/data)" = amrepo ] || fail "serve as amrepo did not make /var/lib/amrepo/data"
}
echo "-- .deb package"
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >/dev/null)
deb=$(ls "$tmp"/pkg/*.deb)
info=$(dpkg-deb -I "$deb")
contents=$(dpkg-deb -c "$deb")
# Every shared library amrepo needs must come from a package the .deb depends on.
for lib in $(objdump -p "$build/tools/amrepo/amrepo" | awk '/NEEDED/ {print $2}'); do
  # awk reads everything (no early exit): an early exit would SIGPIPE ldconfig under pipefail
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && p == "" {p = $NF} END {print p}')
  [ -n "$path" ] || fail "cannot find $lib (needed by amrepo)"
  real=$(readlink -f "$path")
  pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null || true)
  pkg=${pkg%%:*}
  [ -n "$pkg" ] || fail "no package owns $real ($lib)"
  grep -q "Depends:.*$pkg" <<<"$info" || fail ".deb Depends lacks $pkg (for $lib)"
done
for f in ./usr/bin/amrepo ./usr/include/am/document.h ./usr/lib/libam_core.a \
         ./usr/lib/cmake/am/amConfig.cmake ./usr/lib/pkgconfig/am.pc ./usr/lib/pkgconfig/am-repo.pc \
         ./usr/lib/systemd/system/amrepo.service ./usr/share/amrepo/amrepo.toml \
         ./usr/share/doc/automerge-repo-cpp/deploy.md; do
  grep -q " $f\$" <<<"$contents" || fail ".deb lacks $f"
done
if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null && [ "${AM_SKIP_DPKG_INSTALL:-0}" != 1 ]; then
  name=$(dpkg-deb -f "$deb" Package)
  if dpkg -s "$name" >/dev/null 2>&1 || [ -e /usr/bin/amrepo ]; then
    echo "   $name or /usr/bin/amrepo is already on this machine: not installing the .deb"
  else
    deb_installed="$name"
    echo "   dpkg -i $name, amrepo --help, pkg-config build against /usr, dpkg -r"
    dpkg -i "$deb" >/dev/null
    /usr/bin/amrepo --help >/dev/null || fail "installed amrepo --help failed"
    # shellcheck disable=SC2046
    g++ -std=c++20 -O1 -o "$tmp/sys_consumer" "$root/tests/install/consumer/main.cc" \
      $(PKG_CONFIG_PATH= pkg-config --static --cflags --libs am)
    out=$("$tmp/sys_consumer")
    [ "$out" = "$expected" ] || fail "consumer of the .deb printed '$out', expected '$expected'"
    check_service
    dpkg -P "$name" >/dev/null
    deb_installed=""
    [ ! -e /usr/bin/amrepo ] || fail "dpkg -P left /usr/bin/amrepo"
    [ ! -e /etc/amrepo/amrepo.toml ] || fail "dpkg -P left /etc/amrepo/amrepo.toml"
    [ -d /var/lib/amrepo/data ] || fail "dpkg -P removed the documents in /var/lib/amrepo"
    # (A purge keeps data and user on purpose; cleanup removes them when this test made them.)
  fi
fi
echo "consumer_test: ok"
