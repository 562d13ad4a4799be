#!/usr/bin/env bash
# Start-up figures for `cairn serve` on its embedded defaults, against the release build:
#   first start  fresh data directory: initdb, roles, database, pgvector, migrations, ready
#   restart      existing data directory: start Postgres, check drift, ready
# "Ready" is the first 200 from /readyz (database reachable as the app role, migrations current).
# Each figure is the median of RUNS runs (default 5). Everything binds to 127.0.0.1 and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null 2>&1
cargo build --release -q -p server --bin cairn
BIN="$CARGO_TARGET_DIR/release/cairn"
RUNS="${RUNS:-5}"
work=$(mktemp -d /tmp/cairn-bench.XXXXXX)
chmod 755 "$work"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  for dir in "$work"/*/; do
    [ -d "$dir/postgres/data" ] && CAIRN_DATA_DIR="$dir" "$BIN" db stop 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Starts cairn serve on data dir $1 and sets ready_ms to the milliseconds until /readyz answers 200.
ready_ms=""
time_to_ready() {
  local start end
  start=$(date +%s%N)
  CAIRN_DATA_DIR="$1" CAIRN_SERVER__PORT="$port" CAIRN_DATABASE__EMBEDDED__PORT=0 \
    CAIRN_LOG__FILTER=warn "$BIN" serve >/dev/null 2>"$1.log" &
  pid=$!
  for _ in $(seq 1 1200); do
    if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      end=$(date +%s%N)
      ready_ms=$(( (end - start) / 1000000 ))
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$1.log" >&2; return 1; }
    sleep 0.01
  done
  echo "not ready after 12 s" >&2
  return 1
}

stop_server() {
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

first=() restart=()
for i in $(seq 1 "$RUNS"); do
  dir="$work/run$i"
  time_to_ready "$dir"; first+=("$ready_ms")
  stop_server
  time_to_ready "$dir"; restart+=("$ready_ms")
  stop_server
done
echo "first start (fresh data dir), ms: ${first[*]}"
echo "restart (existing data dir), ms:  ${restart[*]}"
printf 'median first start: %s ms (target <= 15000)\n' "$(printf '%s\n' "${first[@]}" | median)"
printf 'median restart:     %s ms (target <= 3000)\n' "$(printf '%s\n' "${restart[@]}" | median)"
