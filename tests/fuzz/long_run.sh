#!/usr/bin/env bash
# The long runs recorded in README.md: each target, one after the other
# (one core; the machine is shared), for RUNS executions (10 million by
# default) or SECONDS (if set) whichever comes first, from its seed corpus,
# at low priority. Logs and the corpus each run grows go to
# BUILD/tests/fuzz/long/<target>/.
#
#   tests/fuzz/long_run.sh BUILD [target...]     (BUILD: a -DWEBSOCKETS_BUILD_FUZZ=ON tree)
set -euo pipefail
SRC=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
shift
RUNS=${RUNS:-10000000}
# The ASan options of CMakeLists.txt (a 16 MB quarantine: see there).
ASAN=detect_leaks=1:quarantine_size_mb=16
TIME_LIMIT=()
[ -z "${SECONDS_PER_TARGET:-}" ] || TIME_LIMIT=(-max_total_time="$SECONDS_PER_TARGET")

# Each target's -max_len and -malloc_limit_mb, as in CMakeLists.txt.
declare -A MAX_LEN=(
  [fuzz_utf8]=4096 [fuzz_uri]=4096 [fuzz_headers]=4096
  [fuzz_http_request]=8192 [fuzz_http_response]=8192 [fuzz_handshake]=8192
  [fuzz_accept]=8192 [fuzz_inflate]=8192
  [fuzz_protocol_server]=4096 [fuzz_protocol_client]=4096
  [fuzz_protocol_server_deflate]=4096 [fuzz_protocol_client_deflate]=4096
)
declare -A MALLOC_LIMIT=(
  [fuzz_utf8]=2 [fuzz_uri]=2 [fuzz_headers]=2
  [fuzz_http_request]=2 [fuzz_http_response]=2 [fuzz_handshake]=2
  [fuzz_accept]=2 [fuzz_inflate]=4
  [fuzz_protocol_server]=4 [fuzz_protocol_client]=4
  [fuzz_protocol_server_deflate]=4 [fuzz_protocol_client_deflate]=4
)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_utf8 fuzz_handshake fuzz_accept fuzz_http_response
  fuzz_http_request fuzz_uri fuzz_headers fuzz_inflate fuzz_protocol_client fuzz_protocol_server
  fuzz_protocol_client_deflate fuzz_protocol_server_deflate)

for t in "${TARGETS[@]}"; do
  dir=$BUILD/tests/fuzz/long/$t
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cmd=(nice -n 10 "$BUILD/tests/fuzz/$t" -runs="$RUNS" "${TIME_LIMIT[@]}" -max_len="${MAX_LEN[$t]}"
       -rss_limit_mb=2048 -malloc_limit_mb="${MALLOC_LIMIT[$t]}" -timeout=10
       -print_final_stats=1 -artifact_prefix="$dir/artifacts/"
       "$dir/corpus" "$SRC/corpus/$t")
  echo "ASAN_OPTIONS=$ASAN ${cmd[*]}" > "$dir/command"
  start=$(date +%s)
  status=0
  ASAN_OPTIONS=$ASAN "${cmd[@]}" > "$dir/log" 2>&1 || status=$?
  end=$(date +%s)
  echo "$t: exit $status, $((end - start)) s, $(grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$dir/log" | tail -1)"
done
