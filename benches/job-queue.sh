#!/usr/bin/env bash
# Job queue figures (benches/src/job_queue.rs) on the release build's embedded Postgres: enqueue-to-
# start latency on an idle and on a busy queue, and no-op jobs per second with one and two runtimes.
# Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=job-queue
source "$(dirname "$0")/serve-release.sh"
"$BIN/job-queue" "$("$BIN/cairn" db url --app)"
