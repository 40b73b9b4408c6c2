#!/usr/bin/env bash
# Builds llama-server from the llama.cpp source that npm's node-llama-cpp ships
# (as a git bundle), and caches it outside the repo. Prints the binary's path.
# Idempotent: a cached build is reused. Used by tests/real and bench/.
set -euo pipefail
VER="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
CACHE="${ANYCLAUDE_CACHE:-$HOME/.cache/anyclaude}"
DIR="$CACHE/llama-$VER"
BIN="$DIR/src/build/bin/llama-server"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v cmake >/dev/null || { echo "build-llama-server: cmake missing (apt-get install cmake)" >&2; exit 1; }
mkdir -p "$DIR"
cd "$DIR"
if [ ! -f pkg/package/llama/gitRelease.bundle ]; then
  rm -rf pkg && mkdir pkg
  (cd pkg && npm pack --silent "node-llama-cpp@$VER" >/dev/null && tar xzf node-llama-cpp-*.tgz)
fi
if [ ! -d src/.git ]; then
  rm -rf src
  git clone -q pkg/package/llama/gitRelease.bundle src
fi
cd src
cmake -B build -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release >&2
cmake --build build --target llama-server -j"$(nproc)" >&2
echo "$BIN"
