#!/usr/bin/env bash
# Bytes on the wire per page, first visit, as a browser downloads them from the bundles in
# target/site/pkg (build them first: `trunk build --release`; scripts/test.sh runs this after its
# build): headless Chromium visits each page of a fresh instance with an empty cache.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# What the build made, as it is stored (each file's Brotli twin is what browsers get).
node -e '
const m = require("./target/site/pkg/manifest.json");
for (const b of m.bundles) console.log(`${b.name.padEnd(18)} ${String(b.islands.length).padStart(2)} islands  ${String(b.bytes).padStart(7)} B brotli (glue and module)`);
'
if [ -z "${CAIRN_TEST_DATA_DIR:-}" ]; then
  # A throwaway Postgres cluster for the instance, stopped and removed on exit.
  CAIRN_TEST_DATA_DIR=$(mktemp -d /tmp/cairn-bundle-size.XXXXXX)
  chmod 755 "$CAIRN_TEST_DATA_DIR"
  export CAIRN_TEST_DATA_DIR
  cleanup() {
    pid_file="$CAIRN_TEST_DATA_DIR/shared/postgres/data/postmaster.pid"
    [ -f "$pid_file" ] && kill -INT "$(head -n 1 "$pid_file")" 2>/dev/null || true
    sleep 1
    rm -rf "$CAIRN_TEST_DATA_DIR"
  }
  trap cleanup EXIT
fi
cargo run -q -p benches --bin bundle-size
