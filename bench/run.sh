#!/usr/bin/env bash
# Side-by-side benchmarks: every echo server against the same load generator,
# one after another, the server pinned to CPU 0 and the load generator to
# CPU 1, each configuration several times; writes a Markdown table of the
# medians, with the ratio of ours to each peer and the exact command lines.
#
#   bench/run.sh [--quick | --full] [--runs N] [--servers "ours raw beast websocketpp node"]
#                [--only "echo handshake memory instructions"] [--build DIR]
#                [--baseline DIR] OUTPUT.md
#
#   --quick      a few configurations, 1 s each (the default): a few minutes
#   --full       the whole matrix of issue 7, 5 s each: about an hour
#   --runs N     runs of each configuration (3); the table has the medians
#   --servers    which servers, in this order; "ours" is build/examples/echo_server
#   --build DIR  the build directory of ./build.sh (build)
#   --only LIST  only these parts (all four by default)
#   --baseline DIR  also run DIR/examples/echo_server (an older build of
#                ours, e.g. of the last commit) as the server "baseline",
#                right after ours: before/after figures from one run
#
# Needs what ./build.sh build builds; run that first. Everything runs on
# 127.0.0.1, every run is bounded in time, and every process started here is
# stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
MODE=quick
RUNS=3
SERVERS="ours raw beast websocketpp node"
PARTS="echo handshake memory instructions"
OUT=
BASELINE=

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --runs) RUNS=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --build) BUILD=$(cd "$2" && pwd); shift ;;
    --only) PARTS=$2; shift ;;
    --baseline) BASELINE=$(cd "$2" && pwd); shift ;;
    -h | --help) usage ;;
    -*) echo "run.sh: unknown option $1" >&2; usage ;;
    *) OUT=$1 ;;
  esac
  shift
done
[ -n "$OUT" ] || usage
if [ -n "$BASELINE" ] && [[ " $SERVERS " != *" baseline "* ]]; then
  SERVERS=${SERVERS/ours/ours baseline}
  [[ " $SERVERS " == *" baseline "* ]] || SERVERS="baseline $SERVERS"
fi
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac

log() { printf '== %s\n' "$*" >&2; }
wanted() { [[ " $PARTS " == *" $1 "* ]]; }

# --- what to run --------------------------------------------------------------

if [ "$MODE" = quick ]; then
  DURATION=1
  WARMUP=0.5
  # name | loadgen arguments
  ECHO_CONFIGS=(
    "16 B binary, 1 conn, window 1|--connections 1 --window 1 --size 16"
    "16 B binary, 100 conn, window 32|--connections 100 --window 32 --size 16"
    "1 KiB text, 100 conn, window 32|--connections 100 --window 32 --size 1K --text"
    "1 MiB binary, 1 conn, window 32|--connections 1 --window 32 --size 1M"
    "1 KiB text deflate, 100 conn, window 32|--connections 100 --window 32 --size 1K --text --deflate"
  )
  HANDSHAKE_CONFIGS=("10 loops|--connections 10")
  HOLD_CONNECTIONS=10000
  HOLD_CONFIGS=("10,000 idle conn|" "10,000 idle conn, deflate|--deflate")
  INSTR_CONFIGS=(
    "16 B binary, 1 conn, window 1|--connections 1 --window 1 --size 16"
    "1 KiB text, 1 conn, window 1|--connections 1 --window 1 --size 1K --text"
  )
  INSTR_MESSAGES=(2000 12000)
else
  DURATION=5
  WARMUP=1
  ECHO_CONFIGS=()
  # echo_config SIZE CONNECTIONS WINDOW [MORE ARGS]: adds one configuration.
  echo_config() {
    local size=$1 conns=$2 window=$3 label
    shift 3
    case "$size" in
      *K) label="${size%K} KiB" ;;
      *M) label="${size%M} MiB" ;;
      *) label="$size B" ;;
    esac
    local type=binary
    [[ " $* " == *" --text "* ]] && type=text
    [[ " $* " == *" --deflate "* ]] && type="$type deflate"
    ECHO_CONFIGS+=("$label $type, $conns conn, window $window|--connections $conns --window $window --size $size $*")
  }
  for size in 16 1K 64K 1M 16M; do echo_config $size 1 1; done
  echo_config 16 100 1
  echo_config 1K 100 1
  echo_config 16 1000 1
  for conns in 1 100 1000; do
    echo_config 16 $conns 32
    echo_config 1K $conns 32
  done
  echo_config 64K 1 32
  echo_config 64K 100 32
  echo_config 1M 1 32
  echo_config 16M 1 32
  echo_config 16 100 32 --text
  echo_config 1K 100 32 --text
  echo_config 1K 1 1 --text --deflate
  echo_config 1K 100 32 --text --deflate
  echo_config 64K 1 32 --text --deflate
  HANDSHAKE_CONFIGS=("10 loops|--connections 10" "10 loops, deflate|--connections 10 --deflate")
  HOLD_CONNECTIONS=10000
  HOLD_CONFIGS=("10,000 idle conn|" "10,000 idle conn, deflate|--deflate")
  INSTR_CONFIGS=(
    "16 B binary, 1 conn, window 1|--connections 1 --window 1 --size 16"
    "1 KiB binary, 1 conn, window 1|--connections 1 --window 1 --size 1K"
    "16 KiB binary, 1 conn, window 1|--connections 1 --window 1 --size 16K"
    "1 KiB text, 1 conn, window 1|--connections 1 --window 1 --size 1K --text"
    "16 B binary, 10 conn, window 32|--connections 10 --window 32 --size 16"
  )
  INSTR_MESSAGES=(2000 22000)
fi

# --- programs -----------------------------------------------------------------

LOADGEN=$BUILD/bench/bench_loadgen
NODE_DIR=$ROOT/bench/servers/node
NOTES=()

if [ ! -d "$BUILD" ]; then
  echo "run.sh: no build directory $BUILD: run ./build.sh build first" >&2
  exit 1
fi
targets=(bench_loadgen bench_raw_echo)
for t in bench_beast_echo bench_websocketpp_echo; do
  [ -d "$BUILD/bench/CMakeFiles/$t.dir" ] && targets+=("$t")
done
log "building ${targets[*]}"
cmake --build "$BUILD" --target "${targets[@]}" -j "${JOBS:-2}" >/dev/null
# Ours is optional: its example may not exist yet.
if [ -d "$BUILD/examples/CMakeFiles/echo_server.dir" ]; then
  log "building echo_server"
  if ! cmake --build "$BUILD" --target echo_server -j "${JOBS:-2}" >/dev/null; then
    NOTES+=("ours: examples/echo_server failed to build, so ours was skipped")
    OURS_BROKEN=1
  fi
fi

if [[ " $SERVERS " == *" node "* ]] && [ ! -d "$NODE_DIR/node_modules/ws" ]; then
  log "installing Node's ws for the node echo server"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
    NOTES+=("node: npm ci failed in bench/servers/node, so node was skipped")
fi

# server_command NAME DEFLATE PORT: prints the command line that starts NAME,
# one word a line; nothing when NAME can't run here.
server_command() {
  local name=$1 deflate=$2 port=$3
  case "$name" in
    ours)
      [ -z "${OURS_BROKEN:-}" ] && [ -x "$BUILD/examples/echo_server" ] || return 0
      # Compression is always on in ours; the load generator decides.
      printf '%s\n' "$BUILD/examples/echo_server" 127.0.0.1 "$port" ;;
    baseline)
      [ -n "$BASELINE" ] && [ -x "$BASELINE/examples/echo_server" ] || return 0
      printf '%s\n' "$BASELINE/examples/echo_server" 127.0.0.1 "$port" ;;
    raw)
      [ "$deflate" = 1 ] && return 0
      printf '%s\n' "$BUILD/bench/bench_raw_echo" "$port" ;;
    beast | websocketpp)
      [ -x "$BUILD/bench/bench_${name}_echo" ] || return 0
      printf '%s\n' "$BUILD/bench/bench_${name}_echo" "$port"
      [ "$deflate" = 1 ] && echo --deflate
      return 0 ;;
    node)
      [ -d "$NODE_DIR/node_modules/ws" ] || return 0
      printf '%s\n' node "$NODE_DIR/echo_server.js" "$port"
      [ "$deflate" = 1 ] && echo --deflate
      return 0 ;;
    *) echo "run.sh: unknown server $name" >&2; exit 2 ;;
  esac
}

available=()
for s in $SERVERS; do
  if [ -n "$(server_command "$s" 0 1)" ]; then
    available+=("$s")
  else
    case "$s" in
      ours)
        [ -n "${OURS_BROKEN:-}" ] ||
          NOTES+=("ours: build/examples/echo_server isn't built yet, so ours was skipped") ;;
      node) ;;
      *) NOTES+=("$s: not built, skipped") ;;
    esac
  fi
done
[ ${#available[@]} -gt 0 ] || { echo "run.sh: no server to run" >&2; exit 1; }

# --- processes ----------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ws-bench.XXXXXX")
RESULTS=$WORK/results.tsv
: >"$RESULTS"
SERVER_PID=
PERF_PID=

cleanup() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sockets may be many; the hard limit is the ceiling.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((HOLD_CONNECTIONS + 100)) ]; then
  NOTES+=("ulimit -n is $(ulimit -n): the memory runs use $HOLD_CONNECTIONS connections and may fail")
fi

PORT=$((20000 + $$ % 20000))

# listening PORT: whether something listens on 127.0.0.1:PORT.
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null
}

# start_server NAME DEFLATE [WRAPPER...]: starts NAME on a fresh port, pinned
# to CPU 0; sets SERVER_PID, SERVER_PORT and SERVER_CMD.
start_server() {
  local name=$1 deflate=$2
  shift 2
  PORT=$((PORT + 1))
  [ $PORT -lt 60000 ] || PORT=20001
  while listening $PORT; do PORT=$((PORT + 1)); done
  local cmd
  mapfile -t cmd < <(server_command "$name" "$deflate" "$PORT")
  SERVER_CMD="taskset -c 0 $* ${cmd[*]}"
  SERVER_CMD=${SERVER_CMD//  / }
  SERVER_PORT=$PORT
  taskset -c 0 "$@" "${cmd[@]}" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  local waited=0
  until listening "$PORT"; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null || [ $waited -ge 300 ]; then
      echo "run.sh: $name didn't start listening on $PORT:" >&2
      cat "$WORK/server.log" >&2
      stop_server
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local waited=0
  while kill -0 "$SERVER_PID" 2>/dev/null && [ $waited -lt 100 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# record KIND CONFIG SERVER SERVER_CMD LOADGEN_CMD JSON_OR_ERROR
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
}

# loadgen_args SERVER ARGS: the load generator's arguments for SERVER: the
# raw echo gets raw mode, where text and binary are the same bytes.
loadgen_args() {
  local server=$1 args=$2
  if [ "$server" = raw ]; then
    args=${args//--text/}
    args="--raw $args"
  fi
  echo "$args"
}

# run_loadgen KIND CONFIG SERVER ARGS...: runs the load generator pinned to
# CPU 1 against the running server and records its JSON line or its error.
run_loadgen() {
  local kind=$1 config=$2 server=$3
  shift 3
  local cmd=(taskset -c 1 "$LOADGEN" --port "$SERVER_PORT" --server-pid "$SERVER_PID" --label "$server" "$@")
  local out
  if out=$("${cmd[@]}" 2>"$WORK/loadgen.err"); then
    printf '%s\n' "$out" | head -1 >&2
    record "$kind" "$config" "$server" "$SERVER_CMD" "${cmd[*]}" "$(printf '%s\n' "$out" | grep '^{' | tail -1)"
  else
    local err
    err=$(tr '\n' ' ' <"$WORK/loadgen.err")
    echo "   $server failed: $err" >&2
    record "$kind" "$config" "$server" "$SERVER_CMD" "${cmd[*]}" "error: $err"
  fi
}

# --- echo ---------------------------------------------------------------------

wanted echo || ECHO_CONFIGS=()
wanted handshake || HANDSHAKE_CONFIGS=()
wanted memory || HOLD_CONFIGS=()
wanted instructions || INSTR_CONFIGS=()

for entry in "${ECHO_CONFIGS[@]+"${ECHO_CONFIGS[@]}"}"; do
  config=${entry%%|*}
  args=${entry#*|}
  deflate=0
  [[ "$args" == *--deflate* ]] && deflate=1
  log "echo: $config"
  for run in $(seq "$RUNS"); do
    for server in "${available[@]}"; do
      [ -n "$(server_command "$server" "$deflate" 1)" ] || continue
      start_server "$server" "$deflate" || continue
      # shellcheck disable=SC2046
      run_loadgen echo "$config" "$server" $(loadgen_args "$server" "$args") \
        --duration "$DURATION" --warmup "$WARMUP" --timeout $((DURATION + 60))
      stop_server
    done
  done
done

# --- handshakes per second ------------------------------------------------------
for entry in "${HANDSHAKE_CONFIGS[@]+"${HANDSHAKE_CONFIGS[@]}"}"; do
  config=${entry%%|*}
  args=${entry#*|}
  deflate=0
  [[ "$args" == *--deflate* ]] && deflate=1
  log "handshakes: $config"
  for run in $(seq "$RUNS"); do
    for server in "${available[@]}"; do
      [ "$server" = raw ] && continue
      [ -n "$(server_command "$server" "$deflate" 1)" ] || continue
      start_server "$server" "$deflate" || continue
      # shellcheck disable=SC2086
      run_loadgen handshake "$config" "$server" --mode handshake $args \
        --duration "$DURATION" --warmup "$WARMUP" --timeout $((DURATION + 60))
      stop_server
    done
  done
done

# --- memory per idle connection -------------------------------------------------
for entry in "${HOLD_CONFIGS[@]+"${HOLD_CONFIGS[@]}"}"; do
  config=${entry%%|*}
  args=${entry#*|}
  deflate=0
  [[ "$args" == *--deflate* ]] && deflate=1
  log "memory: $config"
  for run in $(seq "$RUNS"); do
    for server in "${available[@]}"; do
      [ -n "$(server_command "$server" "$deflate" 1)" ] || continue
      start_server "$server" "$deflate" || continue
      extra=()
      [ "$server" = raw ] && extra=(--raw)
      # shellcheck disable=SC2086
      run_loadgen hold "$config" "$server" --mode hold --connections "$HOLD_CONNECTIONS" \
        --size 1K --text "${extra[@]}" $args --duration 0.5 --timeout 120
      stop_server
    done
  done
done

# --- instructions per echoed message --------------------------------------------
if [ ${#INSTR_CONFIGS[@]} -gt 0 ]; then
  # The server's instructions for a run of N1 echoes and for one of N2 are
  # counted; (I2 - I1) / (N2 - N1) leaves out start-up, handshakes and exit.
  INSTR_EVENT=${INSTR_EVENT:-instructions}
  perf_probe=$(perf stat -x, -e "$INSTR_EVENT" true 2>&1 || echo failed)
  if command -v perf >/dev/null && [[ "$perf_probe" =~ (^|$'\n')[0-9.]+, ]]; then
    INSTR_TOOL=perf
  elif command -v valgrind >/dev/null; then
    INSTR_TOOL=callgrind
  else
    INSTR_TOOL=
    NOTES+=("instructions: neither perf stat -e instructions nor valgrind works here: not measured")
  fi

  # count_instructions SERVER ARGS MESSAGES: sets INSTR_COUNT to the
  # server's instruction count for a run of MESSAGES echoes, or to nothing.
  count_instructions() {
    local server=$1 args=$2 messages=$3 file=$WORK/instr.out
    INSTR_COUNT=
    rm -f "$file"
    if [ "$INSTR_TOOL" = callgrind ]; then
      start_server "$server" 0 valgrind --tool=callgrind --callgrind-out-file="$file" || return 0
    else
      start_server "$server" 0 || return 0
      perf stat -e "$INSTR_EVENT" -x, -o "$file" -p "$SERVER_PID" &
      PERF_PID=$!
      sleep 0.2
    fi
    local cmd
    # shellcheck disable=SC2046
    cmd=(taskset -c 1 "$LOADGEN" --port "$SERVER_PORT" --label "$server" $(loadgen_args "$server" "$args")
      --messages "$messages" --warmup 0 --timeout 300)
    INSTR_LOADGEN_CMD="${cmd[*]}"
    local ok=1
    "${cmd[@]}" >"$WORK/instr.loadgen" 2>&1 || {
      ok=0
      echo "   $server failed: $(tr '\n' ' ' <"$WORK/instr.loadgen")" >&2
    }
    if [ "$INSTR_TOOL" = perf ]; then
      kill -INT "$PERF_PID" 2>/dev/null || true
      wait "$PERF_PID" 2>/dev/null || true
      PERF_PID=
      stop_server
      [ $ok = 1 ] && INSTR_COUNT=$(awk -F, -v ev="$INSTR_EVENT" '$3 ~ ev { print $1; exit }' "$file")
    else
      stop_server
      [ $ok = 1 ] && INSTR_COUNT=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$file" 2>/dev/null | head -1)
    fi
    return 0
  }

  if [ -n "$INSTR_TOOL" ]; then
    for entry in "${INSTR_CONFIGS[@]}"; do
      config=${entry%%|*}
      args=${entry#*|}
      log "instructions ($INSTR_TOOL): $config"
      for server in "${available[@]}"; do
        # Node's JIT under valgrind measures valgrind more than Node.
        [ "$server" = node ] && [ "$INSTR_TOOL" = callgrind ] && continue
        count_instructions "$server" "$args" "${INSTR_MESSAGES[0]}"
        i1=$INSTR_COUNT
        count_instructions "$server" "$args" "${INSTR_MESSAGES[1]}"
        i2=$INSTR_COUNT
        if [[ "$i1" =~ ^[0-9.]+$ && "$i2" =~ ^[0-9.]+$ ]]; then
          per=$(awk -v a="$i1" -v b="$i2" -v n1="${INSTR_MESSAGES[0]}" -v n2="${INSTR_MESSAGES[1]}" \
            'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
          echo "   $server: $per instructions per echo" >&2
          record instructions "$config" "$server" "$SERVER_CMD" "$INSTR_LOADGEN_CMD" \
            "{\"instructions_per_echo\":$per,\"tool\":\"$INSTR_TOOL\",\"i1\":$i1,\"i2\":$i2,\"n1\":${INSTR_MESSAGES[0]},\"n2\":${INSTR_MESSAGES[1]}}"
        else
          record instructions "$config" "$server" "$SERVER_CMD" "$INSTR_LOADGEN_CMD" "error: no count"
        fi
      done
    done
  fi
fi

# --- the table ----------------------------------------------------------------

notes_file=$WORK/notes.txt
printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}" >"$notes_file"
python3 "$ROOT/bench/loadgen/summarize.py" --results "$RESULTS" --notes "$notes_file" \
  --mode "$MODE" --runs "$RUNS" --duration "$DURATION" --warmup "$WARMUP" \
  --servers "${available[*]}" --root "$ROOT" >"$OUT"
log "wrote $OUT"
