#!/usr/bin/env bash
# The one-blob expansion repository (benches/src/sync_expansion.rs): one 1 MiB blob under 1,500 and
# 10,000 paths, served by the local GitHub on a port of 127.0.0.1 that the release `cairn serve` is
# pointed at, and synced. Everything stops by itself. BENCH_SERVER=path runs another build of
# `cairn` as the server (to compare with an older one).
set -euo pipefail
BENCH_BINS=sync-expansion
github_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CAIRN_GITHUB__API_URL="http://127.0.0.1:$github_port"
source "$(dirname "$0")/serve-release.sh"
"$BIN/sync-expansion" "http://127.0.0.1:$port" "$github_port" "$server" "$("$BIN/cairn" db url)"
