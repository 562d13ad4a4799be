#!/usr/bin/env bash
# Figures for notes with many images, against the release build on its embedded Postgres and local
# storage: 20 x 5 MiB uploaded at once and 100 x 5 MiB (20 at a time) with the server's resident
# memory sampled during each run, then the server-side render of a note with 50 images
# (benches/src/note_images.rs). Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null 2>&1
cargo build --release -q -p server --bin cairn -p benches --bin account-abuse
BIN="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /tmp/cairn-abuse.XXXXXX)
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
export CAIRN_SERVER__TRUST_PROXY_HEADERS=true
"$BIN/cairn" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/account-abuse" "http://127.0.0.1:$port" "$server"
echo "password hashing: $(grep -c 'password hashing is saturated' "$work/serve.log" || true) requests turned away at the bound"
