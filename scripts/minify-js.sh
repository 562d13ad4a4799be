#!/usr/bin/env bash
# Trunk's post-build hook (Trunk.toml): minifies the JS glue of a release bundle with terser, which
# scripts/setup.sh installs. Trunk's own JS minifier cannot parse wasm-bindgen's output and leaves it
# as it is.
set -euo pipefail
[ "${TRUNK_PROFILE:-}" = release ] || exit 0
glue="$TRUNK_STAGING_DIR/frontend.js"
terser "$glue" --module --compress --mangle --output "$glue.min"
mv "$glue.min" "$glue"
