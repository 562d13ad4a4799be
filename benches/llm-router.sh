#!/usr/bin/env bash
# The AI router's own cost (benches/src/llm_router.rs) against the local OpenAI-compatible server:
# added latency over a direct async-openai call, credit error → fallback, 200 concurrent calls.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release -p benches --bin llm-router
"$CARGO_TARGET_DIR/release/llm-router"
