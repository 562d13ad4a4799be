#!/usr/bin/env bash
# Sets up what is missing, builds Cairn and serves it on http://127.0.0.1:3000 with its embedded
# defaults: a local Postgres + pgvector under ./.cairn/ and local file storage. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh
trunk build --release
cargo build --release -p server --bin cairn
exec "$CARGO_TARGET_DIR/release/cairn" serve "$@"
