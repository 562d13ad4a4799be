# Sourced by the bench scripts: builds the release `cairn` and the bench binaries named in
# BENCH_BINS, then serves Cairn on its embedded Postgres from a throwaway data directory on a free
# port of 127.0.0.1, and stops and removes all of it on exit. Sets BIN, work, port and server.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null 2>&1
bins=()
for bin in $BENCH_BINS; do bins+=(--bin "$bin"); done
cargo build --release -q -p server --bin cairn -p benches "${bins[@]}"
BIN="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /tmp/cairn-bench.XXXXXX)
chmod 755 "$work"
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  CAIRN_DATA_DIR="$work/data" "$BIN/cairn" db stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CAIRN_DATA_DIR="$work/data" CAIRN_SERVER__PORT="$port" CAIRN_DATABASE__EMBEDDED__PORT=0 CAIRN_LOG__FILTER=warn
"${BENCH_SERVER:-$BIN/cairn}" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
