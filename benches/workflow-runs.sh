#!/usr/bin/env bash
# Workflow runs' own cost (benches/src/workflow_runs.rs): the release `cairn serve` on its embedded
# Postgres, the team's provider being the local OpenAI-compatible server started by the bench
# (answering at once). Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=workflow-runs
# The team's provider is the local server: teams may reach 127.0.0.1 on this instance only.
export CAIRN_LLM__ALLOWED_PRIVATE_HOSTS='["127.0.0.1"]'
source "$(dirname "$0")/serve-release.sh"
"$BIN/workflow-runs" "http://127.0.0.1:$port" "$server"
