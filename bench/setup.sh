#!/usr/bin/env bash
# Installs what the benchmarks need: the test dependencies (scripts/deps.sh),
# the gateway build, and bench/package.json's pinned peers into the cache
# (linked as bench/node_modules). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s all >/dev/null
bash scripts/npm-cache.sh bench bench-npm
