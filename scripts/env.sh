# Sourced by the other scripts: where builds and tools live.
# The cargo target directory stays outside the clone so rebuilds after a fresh clone are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn/target}"
if [ "$(id -u)" = 0 ]; then
  export CAIRN_TOOLS_DIR="${CAIRN_TOOLS_DIR:-/opt/cairn}"
else
  export CAIRN_TOOLS_DIR="${CAIRN_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cairn}"
fi
export PATH="$CAIRN_TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
