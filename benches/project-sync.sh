#!/usr/bin/env bash
# Project Sync figures (benches/src/project_sync.rs): a generated 10,000-file repository served by
# the local GitHub on a port of 127.0.0.1 that the release `cairn serve` is pointed at, synced
# first, after 1 % of the files changed, and unchanged. Everything stops by itself.
set -euo pipefail
BENCH_BINS=project-sync
github_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CAIRN_GITHUB__API_URL="http://127.0.0.1:$github_port"
source "$(dirname "$0")/serve-release.sh"
"$BIN/project-sync" "http://127.0.0.1:$port" "$github_port" "$server"
