#!/usr/bin/env bash
# Installs what building and testing anyclaude needs, on Debian/Ubuntu (apt)
# or macOS (Homebrew), and the pinned npm packages of tests/package.json into
# a cache outside the repo (linked as tests/node_modules). Idempotent and
# quiet when everything is already there.
#   ANYCLAUDE_CACHE   cache directory (default ~/.cache/anyclaude)
#   ANYCLAUDE_NO_NPM=1  skip the npm packages (build only)
# With --build-only: only what building needs. With --run: that, and Claude
# Code itself (scripts/install-claude.sh) when no `claude` is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${ANYCLAUDE_CACHE:-$HOME/.cache/anyclaude}"
mkdir -p "$CACHE"

have_pc() { pkg-config --exists libevent libcurl libcjson 2>/dev/null; }

if [ "$(uname)" = Darwin ]; then
  if ! have_pc; then
    command -v brew >/dev/null || { echo "deps: Homebrew is needed: https://brew.sh" >&2; exit 1; }
    brew install pkg-config libevent curl cjson
  fi
else
  APT_PKGS="build-essential pkg-config libevent-dev libcurl4-openssl-dev libcjson-dev"
  if [ "${1:-}" != "--build-only" ] && [ "${1:-}" != "--run" ]; then
    # chromium: tests/fault/browser.test.mjs drives the gateway from a real browser
    APT_PKGS="$APT_PKGS cmake git python3 tmux clang clang-format libclang-rt-14-dev valgrind chromium"
    # tests/real: nginx in front of two replicas; tests/cli: systemd-analyze verify
    APT_PKGS="$APT_PKGS nginx systemd"
    # Node.js may come from elsewhere (nodesource): only ask apt when absent.
    command -v node >/dev/null || APT_PKGS="$APT_PKGS nodejs"
    command -v npm >/dev/null || APT_PKGS="$APT_PKGS npm"
  fi
  missing=""
  for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "deps: installing$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi

[ "${1:-}" = "--build-only" ] && exit 0
if [ "${1:-}" = "--run" ]; then
  # Claude Code's native binary for this platform, current whatever the
  # local Node (scripts/install-claude.sh), into ~/.local/bin, where
  # anyclaude also looks when claude is not on PATH.
  if ! command -v claude >/dev/null && [ ! -x "$HOME/.local/bin/claude" ]; then
    if ! command -v npm >/dev/null; then
      echo "deps: fetching Claude Code needs npm: install it (apt install npm, brew install node), then run this again" >&2
      exit 1
    fi
    echo "deps: installing Claude Code (scripts/install-claude.sh into ~/.local)" >&2
    bash scripts/install-claude.sh --prefix "$HOME/.local" >/dev/null
  fi
  exit 0
fi
[ "${ANYCLAUDE_NO_NPM:-}" = 1 ] && exit 0

# Pinned npm packages, cached by the hash of tests/package.json.
bash scripts/npm-cache.sh tests npm
# The newest Claude Code release, for the e2e subset scripts/test.sh runs on it.
bash scripts/npm-cache.sh tests/compat npm-compat
