#!/usr/bin/env bash
# "Ask about this note" under load (benches/src/ai_asks.rs): 200 concurrent ask_note calls to the
# release `cairn serve` on its embedded Postgres, the team's provider being the local
# OpenAI-compatible server started by the bench. Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=ai-asks
# The team's provider is the local server: teams may reach 127.0.0.1 on this instance only.
export CAIRN_LLM__ALLOWED_PRIVATE_HOSTS='["127.0.0.1"]'
source "$(dirname "$0")/serve-release.sh"
"$BIN/ai-asks" "http://127.0.0.1:$port" "$server"
