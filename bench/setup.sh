#!/usr/bin/env bash
# Installs what the benchmarks need: the test dependencies (scripts/deps.sh),
# the gateway build, and bench/package.json's pinned peers into the cache
# (linked as bench/node_modules). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s all >/dev/null
CACHE="${ANYCLAUDE_CACHE:-$HOME/.cache/anyclaude}"
H=$(sha256sum bench/package.json | cut -c1-16)
NM="$CACHE/bench-npm-$H"
if [ ! -f "$NM/.done" ]; then
  echo "bench: installing pinned peers into $NM" >&2
  rm -rf "$NM" && mkdir -p "$NM"
  cp bench/package.json "$NM/"
  (cd "$NM" && npm install --no-audit --no-fund --loglevel=error >&2)
  touch "$NM/.done"
fi
if [ "$(readlink bench/node_modules 2>/dev/null)" != "$NM/node_modules" ]; then
  rm -rf bench/node_modules
  ln -s "$NM/node_modules" bench/node_modules
fi
