#!/usr/bin/env bash
# Unsigned 25 MiB webhook deliveries (benches/src/webhook_unsigned.rs) against the release `cairn
# serve` on its embedded Postgres: time to 401 and the server's CPU per delivery, at a project's own
# address and at the shared one. Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=webhook-unsigned
source "$(dirname "$0")/serve-release.sh"
"$BIN/webhook-unsigned" "http://127.0.0.1:$port" "$server"
