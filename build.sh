#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds, and tests or runs the demo.
#
#   ./build.sh test    install dependencies, build with g++ and -Werror, run
#                      the whole suite, then run it again under ASan + UBSan,
#                      the multi-threaded tests under TSan, and a short run
#                      of each libFuzzer target (clang)
#   ./build.sh clang   install dependencies, build with clang-16 (libstdc++)
#                      and -Werror, and run the whole suite
#   ./build.sh libcxx  the same with clang-16 and libc++ (no benchmarks:
#                      Debian's are built against libstdc++)
#   ./build.sh demo    install dependencies, build, start the chat demo
#   ./build.sh build   install dependencies and build (tests, examples, bench)
#   ./build.sh deps    install dependencies only
#
# Compilers: `test` builds the suite with g++ 12, which also runs the
# g++ < 13 guard's compile tests (tests/compile.cmake), and tries the three
# ways to consume the library with g++ and clang-16 (tests/consume.cmake).
# The whole suite with clang-16 is `clang` and `libcxx`: not yet in `test`,
# because three multi-threaded tests fail with clang-16 (README,
# "Compilers").
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}

log() { printf '\n== %s\n' "$*"; }

# Debian packages: build, tests and interop peers, benchmarks' peers, fuzzing.
PACKAGES=(
  cmake g++ make pkg-config
  libasio-dev zlib1g-dev libssl-dev openssl node-llhttp catch2 libbenchmark-dev
  python3 python3-websockets nodejs npm chromium
  libboost-dev libwebsocketpp-dev
  clang libclang-rt-14-dev
  clang-16 libclang-rt-16-dev libc++-16-dev libc++abi-16-dev
)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  # node and npm may come from elsewhere than Debian; only install them if absent.
  local filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null || filtered+=("$p") ;;
      npm) command -v npm >/dev/null || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  if [ ${#filtered[@]} -gt 0 ]; then
    log "installing ${filtered[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q || true
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${filtered[@]}"
  fi
  if [ -f tests/interop/package.json ] && [ ! -d tests/interop/node_modules/ws ]; then
    log "installing Node's ws for the interop tests"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# configure_and_build DIR [cmake args...]
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBSOCKETS_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

run_tests() {
  local dir=$1
  shift
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$JOBS" "$@"
}

cmd=${1:-test}
case "$cmd" in
  deps)
    install_deps
    ;;
  build)
    install_deps
    configure_and_build build
    ;;
  test)
    install_deps
    log "build (-Wall -Wextra -Werror)"
    configure_and_build build
    log "test suite"
    run_tests build
    log "build with AddressSanitizer + UndefinedBehaviorSanitizer"
    configure_and_build build-asan -DWEBSOCKETS_SANITIZE=address,undefined \
      -DWEBSOCKETS_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
    log "test suite under ASan + UBSan"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      run_tests build-asan
    # g++ 12 warns that TSan doesn't model atomic_thread_fence (used by
    # Asio): -Wno-tsan keeps -Werror for everything else.
    log "build the multi-threaded tests (label mt) with ThreadSanitizer"
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBSOCKETS_WERROR=ON \
      -DWEBSOCKETS_SANITIZE=thread -DCMAKE_CXX_FLAGS=-Wno-tsan \
      -DWEBSOCKETS_BUILD_EXAMPLES=OFF -DWEBSOCKETS_BUILD_BENCH=OFF >/dev/null
    cmake --build build-tsan -j "$JOBS" --target test_websocket test_hardening_mt
    log "multi-threaded tests under TSan"
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_tests build-tsan -L mt
    log "build the libFuzzer targets (clang, ASan + UBSan)"
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DWEBSOCKETS_BUILD_FUZZ=ON -DWEBSOCKETS_BUILD_TESTS=OFF -DWEBSOCKETS_BUILD_EXAMPLES=OFF \
      -DWEBSOCKETS_BUILD_BENCH=OFF -DWEBSOCKETS_WERROR=ON >/dev/null
    cmake --build build-fuzz -j "$JOBS"
    log "short fuzzing runs and the fuzzers' regressions"
    run_tests build-fuzz/tests/fuzz
    log "all tests passed"
    ;;
  clang)
    install_deps
    log "build with clang-16 (-Wall -Wextra -Werror)"
    CC=clang-16 CXX=clang++-16 configure_and_build build-clang -DWEBSOCKETS_BUILD_BENCH=OFF
    log "test suite (clang-16)"
    run_tests build-clang
    log "all tests passed"
    ;;
  libcxx)
    install_deps
    log "build with clang-16 and libc++ (-Wall -Wextra -Werror)"
    CC=clang-16 CXX=clang++-16 configure_and_build build-libcxx -DWEBSOCKETS_BUILD_BENCH=OFF \
      -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++
    log "test suite (clang-16, libc++)"
    run_tests build-libcxx
    log "all tests passed"
    ;;
  demo)
    install_deps
    configure_and_build build -DWEBSOCKETS_BUILD_TESTS=OFF -DWEBSOCKETS_BUILD_BENCH=OFF
    log "chat demo: open http://localhost:8765/ in a browser (Ctrl-C to stop)"
    exec ./build/examples/chat_server 127.0.0.1 8765
    ;;
  *)
    echo "usage: $0 test|clang|libcxx|demo|build|deps" >&2
    exit 2
    ;;
esac
