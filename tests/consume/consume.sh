#!/usr/bin/env bash
# Builds and runs tests/consume/app.cpp against the library in one of the
# three ways the README shows, in a scratch directory that is removed after.
#
#   consume.sh subdirectory|package|include SOURCE_DIR
#
# The compilers and flags come from CC, CXX, CXXFLAGS and LDFLAGS (cmake
# reads them too), as tests/consume.cmake sets them: this build's, and clang.
set -euo pipefail
CC=${CC:-cc}
CXX=${CXX:-c++}
mode=$1
src=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case "$mode" in
  subdirectory)
    cmake -S "$here/subdirectory" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
      -DWEBSOCKETS_SOURCE_DIR="$src" >/dev/null
    cmake --build "$work/build" -j 2 >/dev/null
    "$work/build/app"
    ;;
  package)
    cmake -S "$src" -B "$work/lib" -DCMAKE_BUILD_TYPE=Release -DWEBSOCKETS_BUILD_TESTS=OFF \
      -DWEBSOCKETS_BUILD_EXAMPLES=OFF -DWEBSOCKETS_BUILD_BENCH=OFF >/dev/null
    cmake --build "$work/lib" -j 2 >/dev/null
    cmake --install "$work/lib" --prefix "$work/prefix" >/dev/null
    cmake -S "$here/package" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/build" -j 2 >/dev/null
    "$work/build/app"
    ;;
  include)
    for f in api http llhttp; do
      "$CC" -O2 -c /usr/share/llhttp/$f.c -I/usr/share/include/llhttp -o "$work/$f.o"
    done
    # What the README says to add with clang: Asio 1.22 needs telling.
    coawait=()
    if "$CXX" --version | grep -q clang; then
      coawait=(-DASIO_HAS_CO_AWAIT -DASIO_HAS_STD_COROUTINE)
    fi
    # shellcheck disable=SC2086 # the flags are words
    "$CXX" ${CXXFLAGS:-} -std=c++20 -O1 -DASIO_STANDALONE "${coawait[@]}" -DWEBSOCKETS_WITH_OPENSSL \
      -I"$src/include" -I/usr/share/include/llhttp "$here/app.cpp" "$work/api.o" "$work/http.o" \
      "$work/llhttp.o" ${LDFLAGS:-} -lz -lssl -lcrypto -pthread -o "$work/app"
    "$work/app"
    ;;
  *)
    echo "usage: $0 subdirectory|package|include SOURCE_DIR" >&2
    exit 2
    ;;
esac
