#!/usr/bin/env bash
# Live event latency (benches/src/job_events.rs): progress committed by a job in one process,
# read over Server-Sent Events from the release `cairn serve` (another process, its own listener)
# on its embedded Postgres. Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=job-events
source "$(dirname "$0")/serve-release.sh"
"$BIN/job-events" "$("$BIN/cairn" db url --app)" "http://127.0.0.1:$port"
