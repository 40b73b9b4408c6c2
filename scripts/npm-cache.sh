#!/usr/bin/env bash
# Installs the pinned npm packages of DIR/package.json into the cache, keyed
# by that file's hash (reused while it is unchanged), and links them as
# DIR/node_modules.   bash scripts/npm-cache.sh DIR NAME
#   ANYCLAUDE_CACHE   cache directory (default ~/.cache/anyclaude)
set -euo pipefail
dir=${1:?usage: npm-cache.sh DIR NAME}; name=${2:?usage: npm-cache.sh DIR NAME}
CACHE="${ANYCLAUDE_CACHE:-$HOME/.cache/anyclaude}"
H=$(sha256sum "$dir/package.json" | cut -c1-16)
NM="$CACHE/$name-$H"
if [ ! -f "$NM/.done" ]; then
  echo "$name: installing pinned npm packages into $NM" >&2
  rm -rf "$NM" && mkdir -p "$NM"
  cp "$dir/package.json" "$NM/"
  (cd "$NM" && npm install --no-audit --no-fund --loglevel=error >&2)
  touch "$NM/.done"
fi
if [ "$(readlink "$dir/node_modules" 2>/dev/null)" != "$NM/node_modules" ]; then
  rm -rf "$dir/node_modules"
  ln -s "$NM/node_modules" "$dir/node_modules"
fi
