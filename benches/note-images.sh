#!/usr/bin/env bash
# Figures for notes with many images, against the release build on its embedded Postgres and local
# storage: 20 x 5 MiB uploaded at once and 100 x 5 MiB (20 at a time) with the server's resident
# memory sampled during each run, then the server-side render of a note with 50 images
# (benches/src/note_images.rs). Everything binds to 127.0.0.1 and stops by itself.
set -euo pipefail
BENCH_BINS=note-images
# The 100-image run spreads over notes of 50 (the default per-note limit).
source "$(dirname "$0")/serve-release.sh"
"$BIN/note-images" "http://127.0.0.1:$port" "$server"
echo "stored: $(du -sh "$work/data/objects" | cut -f1) in $(find "$work/data/objects" -type f | wc -l) objects"
