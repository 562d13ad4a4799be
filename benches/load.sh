#!/usr/bin/env bash
# Load figures for the authenticated list-projects server function, against the release build on its
# embedded Postgres, with wrk beside it on the same machine: 50 connections, 2 threads, DURATION
# seconds a run (default 15), ROUNDS turns of each endpoint (default 3). In the same run, the floor:
# a bare axum + sqlx endpoint doing one primary-key SELECT on the same database
# (benches/src/baseline_pk_select.rs). The ratio of the two survives a noisy machine better than
# either figure. Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh >/dev/null 2>&1
cargo build --release -q -p server --bin cairn -p benches --bin baseline-pk-select
BIN="$CARGO_TARGET_DIR/release"
DURATION="${DURATION:-15}"
work=$(mktemp -d /tmp/cairn-load.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  CAIRN_DATA_DIR="$work/data" "$BIN/cairn" db stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
export CAIRN_DATA_DIR="$work/data" CAIRN_SERVER__PORT="$port" CAIRN_DATABASE__EMBEDDED__PORT=0 CAIRN_LOG__FILTER=warn
"$BIN/cairn" serve >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
base="http://127.0.0.1:$port/api/v1"

# A user with a team of 20 projects.
curl -fs -c "$work/jar" -H 'content-type: application/json' "$base/sign_up" \
  -d '{"form":{"email":"load@example.com","password":"correct horse battery","display_name":"Load","tenant_name":"Load"}}' >/dev/null
for i in $(seq 1 20); do
  curl -fs -b "$work/jar" -H 'content-type: application/json' "$base/create_project" \
    -d "{\"form\":{\"name\":\"Project $i\",\"description\":\"d\",\"github_repo\":\"acme/p$i\",\"github_branch\":\"\",\"github_path\":\"\"}}" >/dev/null
done
cookie=$(awk '$6 == "cairn_session" {print $6 "=" $7}' "$work/jar")
project_id=$(curl -fs -b "$work/jar" -H 'content-type: application/json' "$base/list_projects" -d '{}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
[ "$(curl -fs -b "$work/jar" -H 'content-type: application/json' "$base/list_projects" -d '{}' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 20 ]

cat > "$work/list_projects.lua" <<LUA
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "$cookie"
LUA

run_wrk() { wrk -t2 -c50 -d"${DURATION}s" --latency "$@" 2>&1; }
rps() { awk '/^Requests\/sec:/ {print $2}'; }
p99() { awk '$1 == "99%" {print $2}'; }
non2xx() { awk '/Non-2xx/ {print $NF}'; }

baseline_port=$(free_port)
"$BIN/baseline-pk-select" "$("$BIN/cairn" db url)" "$baseline_port" &
pids+=($!)
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$baseline_port/projects/$project_id" >/dev/null 2>&1 && break; sleep 0.05; done
cairn_url="$base/list_projects"
baseline_url="http://127.0.0.1:$baseline_port/projects/$project_id"

echo "warming up..." >&2
wrk -t2 -c50 -d3s -s "$work/list_projects.lua" "$cairn_url" >/dev/null 2>&1
wrk -t2 -c50 -d3s "$baseline_url" >/dev/null 2>&1

# The machine is shared by wrk, Cairn and Postgres, and a single pair of runs swings by 10-20 %: the
# two endpoints take turns, ROUNDS times (default 3), and the median ratio is the figure.
ROUNDS="${ROUNDS:-3}"
[ "$ROUNDS" -ge 1 ] || { echo "ROUNDS must be at least 1" >&2; exit 2; }
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  cairn_out=$(run_wrk -s "$work/list_projects.lua" "$cairn_url")
  baseline_out=$(run_wrk "$baseline_url")
  cairn_rps=$(echo "$cairn_out" | rps); baseline_rps=$(echo "$baseline_out" | rps)
  # Errors answer fast and would flatter the figure: a run with any is not a measurement.
  if [ -z "$cairn_rps" ] || [ -z "$baseline_rps" ] \
    || [ -n "$(echo "$cairn_out" | non2xx)" ] || [ -n "$(echo "$baseline_out" | non2xx)" ]; then
    echo "round $round failed or answered errors:" >&2
    echo "$cairn_out" "$baseline_out" >&2
    exit 1
  fi
  ratio=$(python3 -c "print(f'{float(\"$cairn_rps\")/float(\"$baseline_rps\"):.2f}')")
  ratios+=("$ratio")
  echo "round $round:"
  echo "  cairn list_projects (session + membership + RLS transaction, 20 projects as JSON):"
  echo "    requests/s: $cairn_rps   p99: $(echo "$cairn_out" | p99)"
  echo "  bare axum + sqlx primary-key SELECT:"
  echo "    requests/s: $baseline_rps   p99: $(echo "$baseline_out" | p99)"
  echo "  ratio cairn/baseline: $ratio"
done
echo "median ratio cairn/baseline: $(printf '%s\n' "${ratios[@]}" | sort -n \
  | awk '{r[NR] = $1} END {print (NR % 2) ? r[(NR + 1) / 2] : sprintf("%.2f", (r[NR / 2] + r[NR / 2 + 1]) / 2)}') \
  (rounds: ${ratios[*]}; target >= 0.4)"
