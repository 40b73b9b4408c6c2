#!/usr/bin/env bash
# A real llama-server with a small random-weight model, for tests and benchmarks.
#
#   tests/real/llama.sh start PORT [extra llama-server args]   prints the base URL
#   tests/real/llama.sh stop PORT
#   tests/real/llama.sh model                                   prints the model path
#
# Builds llama-server (scripts/build-llama-server.sh, cached) and generates the
# model (tests/real/make_gguf.py) into $ANYCLAUDE_CACHE/models, keyed by its
# parameters and the generator's hash. Knobs: LLAMA_EMBD (64), LLAMA_LAYERS (2),
# LLAMA_SEED (1), LLAMA_CTX (32768: context per slot; -c is CTX*PARALLEL),
# LLAMA_PARALLEL (2 slots), LLAMA_THREADS (2),
# LLAMA_START_TIMEOUT (seconds, 120). pid and log: $LLAMA_RUN_DIR/llama-PORT.{pid,log}.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${ANYCLAUDE_CACHE:-$HOME/.cache/anyclaude}"
RUN_DIR="${LLAMA_RUN_DIR:-${TMPDIR:-/tmp}/anyclaude-llama}"
EMBD="${LLAMA_EMBD:-64}"
LAYERS="${LLAMA_LAYERS:-2}"
SEED="${LLAMA_SEED:-1}"
CTX="${LLAMA_CTX:-32768}"
PARALLEL="${LLAMA_PARALLEL:-2}"
THREADS="${LLAMA_THREADS:-2}"
TIMEOUT="${LLAMA_START_TIMEOUT:-120}"
IM_END=151645 # <|im_end|> in models/ggml-vocab-qwen2.gguf

die() { echo "llama.sh: $*" >&2; exit 1; }

build() { "$ROOT/scripts/build-llama-server.sh"; }

model() { # $1 = llama-server binary; prints the model path
  local src gen hash out
  src="$(cd "$(dirname "$1")/../.." && pwd)"
  gen="$HERE/make_gguf.py"
  hash="$(sha1sum "$gen" | cut -c1-8)"
  out="$CACHE/models/random-llama-e$EMBD-l$LAYERS-s$SEED-$hash.gguf"
  if [ ! -s "$out" ]; then
    mkdir -p "$CACHE/models"
    python3 "$gen" --vocab "$src/models/ggml-vocab-qwen2.gguf" \
      --template "$src/models/templates/Qwen3-Coder.jinja" \
      --out "$out" --embd "$EMBD" --layers "$LAYERS" --seed "$SEED" >&2
  fi
  echo "$out"
}

running() { # $1 = pid: exists and is not a zombie
  local st
  st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  st="${st##*) }"; [ "${st%% *}" != Z ]
}

alive() { # $1 = pid: is it our llama-server?
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q llama-server
}

start() {
  local port="$1"; shift
  local bin mdl pidf logf url code i pid
  [[ "$port" =~ ^[0-9]+$ ]] || die "bad port '$port'"
  bin="$(build)" || die "build failed"
  mdl="$(model "$bin")"
  mkdir -p "$RUN_DIR"
  pidf="$RUN_DIR/llama-$port.pid"; logf="$RUN_DIR/llama-$port.log"
  if [ -f "$pidf" ] && alive "$(cat "$pidf")"; then
    die "a llama-server from this script already runs on port $port (pid $(cat "$pidf"))"
  fi
  url="http://127.0.0.1:$port"
  # stdin/stdout/stderr detached so callers capturing our output are not held open
  nohup "$bin" --host 127.0.0.1 --port "$port" -m "$mdl" --jinja -c "$((CTX * PARALLEL))" \
    --parallel "$PARALLEL" -t "$THREADS" --logit-bias "$IM_END+4" "$@" \
    </dev/null >"$logf" 2>&1 &
  pid=$!
  echo "$pid" >"$pidf"
  for ((i = 0; i < TIMEOUT * 5; i++)); do
    if ! running "$pid"; then
      echo "llama.sh: llama-server exited during startup; log $logf:" >&2
      tail -n 30 "$logf" >&2
      rm -f "$pidf"; exit 1
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/health" || true)"
    if [ "$code" = 200 ]; then
      echo "llama.sh: llama-server pid $pid on $url (model $mdl, log $logf)" >&2
      echo "$url"
      return 0
    fi
    sleep 0.2
  done
  echo "llama.sh: llama-server not healthy after ${TIMEOUT}s (last /health: $code); log $logf:" >&2
  tail -n 30 "$logf" >&2
  kill "$pid" 2>/dev/null || true
  rm -f "$pidf"; exit 1
}

stop() {
  local port="$1" pidf pid i
  pidf="$RUN_DIR/llama-$port.pid"
  [ -f "$pidf" ] || { echo "llama.sh: nothing started on port $port" >&2; return 0; }
  pid="$(cat "$pidf")"
  if alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidf"
}

case "${1:-}" in
  start) [ $# -ge 2 ] || die "usage: llama.sh start PORT [args]"; shift; start "$@" ;;
  stop) [ $# -eq 2 ] || die "usage: llama.sh stop PORT"; stop "$2" ;;
  model) model "$(build)" ;;
  *) die "usage: llama.sh start PORT [llama-server args] | stop PORT | model" ;;
esac
