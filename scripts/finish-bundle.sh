#!/usr/bin/env bash
# Trunk's post-build hook (Trunk.toml), run on the staging directory before Trunk publishes it:
# minifies the bundles' JS glue with terser (release builds: Trunk's own minifier cannot parse
# wasm-bindgen's output), then names every file after its content, writes pkg/manifest.json and
# precompresses the files (scripts/finish-bundle.mjs).
set -euo pipefail
if [ "${TRUNK_PROFILE:-}" = release ]; then
  for glue in "$TRUNK_STAGING_DIR"/*.js; do
    terser "$glue" --module --compress --mangle --output "$glue.min"
    mv "$glue.min" "$glue"
  done
fi
node "$(dirname "$0")/finish-bundle.mjs" "$TRUNK_STAGING_DIR"
