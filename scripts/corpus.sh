#!/usr/bin/env bash
# Fetches the published source trees of tests/corpus/manifest.txt through their package registries
# (crates with cargo, npm packages with npm, Python sdists with pip) and unpacks each into
# $CAIRN_TOOLS_DIR/corpus/<ecosystem>/<name>-<version>/. Trees already there are kept: a second run
# takes a moment. Prints the corpus folder.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

corpus="$CAIRN_TOOLS_DIR/corpus"
mkdir -p "$corpus"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Unpacks archive $1 (a gzip'd tar with one top folder) into the tree $2, atomically.
unpack() {
  local archive=$1 tree=$2
  rm -rf "$tree.partial"
  mkdir -p "$tree.partial"
  tar -xzf "$archive" -C "$tree.partial" --strip-components=1 --no-same-owner
  # The trees are read by the tests (as this user) and never written.
  chmod -R u+rwX,go+rX "$tree.partial"
  rm -rf "$tree"
  mv "$tree.partial" "$tree"
}

missing_crates=()
while read -r ecosystem name version _; do
  case "$ecosystem" in ''|'#'*) continue ;; esac
  safe_name=${name//\//__}
  tree="$corpus/$ecosystem/$safe_name-$version"
  [ -d "$tree" ] && continue
  mkdir -p "$corpus/$ecosystem"
  case "$ecosystem" in
    crate)
      # cargo keeps every .crate it downloaded; the build has most of them already.
      found=$(ls "$HOME"/.cargo/registry/cache/*/"$name-$version.crate" 2>/dev/null | head -n 1 || true)
      if [ -n "$found" ]; then
        unpack "$found" "$tree"
      else
        missing_crates+=("$name $version")
      fi
      ;;
    npm)
      say "fetching $name@$version (npm)"
      (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
      unpack "$(ls "$work"/*.tgz | head -n 1)" "$tree"
      rm -f "$work"/*.tgz
      ;;
    pypi)
      say "fetching $name==$version (pip, source distribution)"
      # Only the package itself from source: its build backend (needed to read its metadata)
      # may come as a wheel.
      python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary "$name" \
        --dest "$work/pypi" "$name==$version"
      unpack "$(ls "$work"/pypi/*.tar.gz | head -n 1)" "$tree"
      rm -rf "$work/pypi"
      ;;
    *)
      echo "unknown ecosystem $ecosystem in the corpus manifest" >&2
      exit 1
      ;;
  esac
done < tests/corpus/manifest.txt

if [ ${#missing_crates[@]} -gt 0 ]; then
  # Crates this workspace does not build: a throwaway package that depends on them, fetched.
  say "fetching ${#missing_crates[@]} crates (cargo)"
  mkdir -p "$work/fetch/src"
  touch "$work/fetch/src/lib.rs"
  {
    printf '[package]\nname = "corpus-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n'
    for crate in "${missing_crates[@]}"; do
      set -- $crate
      printf '%s = "=%s"\n' "$1" "$2"
    done
  } >"$work/fetch/Cargo.toml"
  (cd "$work/fetch" && cargo fetch --quiet)
  for crate in "${missing_crates[@]}"; do
    set -- $crate
    found=$(ls "$HOME"/.cargo/registry/cache/*/"$1-$2.crate" | head -n 1)
    unpack "$found" "$corpus/crate/$1-$2"
  done
fi

echo "$corpus"
