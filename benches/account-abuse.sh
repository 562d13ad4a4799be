#!/usr/bin/env bash
# Account abuse figures against the release build on its embedded Postgres: 300 concurrent sign-ups
# from one address and from 300 addresses, and 40 concurrent wrong passwords for one account, with
# the answers by status and the server's peak resident memory (benches/src/account_abuse.rs). The
# server trusts X-Forwarded-For here so that one machine can play many clients. Everything binds to
# 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=account-abuse
export CAIRN_SERVER__TRUST_PROXY_HEADERS=true
source "$(dirname "$0")/serve-release.sh"
"$BIN/account-abuse" "http://127.0.0.1:$port" "$server"
echo "password hashing: $(grep -c 'password hashing is saturated' "$work/serve.log" || true) requests turned away at the bound"
