#!/usr/bin/env bash
# Runs every test suite in order and ends with one "N passed, N failed" line
# (suites, counted). Called by `make test` after scripts/deps.sh.
#   ANYCLAUDE_SKIP_REAL=1    skip the real llama-server suite
#   ANYCLAUDE_SKIP_CLAUDE=1  skip the real Claude Code suite
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0; failed=0; failed_names=""
run() { # name, command...
  local name=$1; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed+1)); echo "=== $name: ok ($((SECONDS-t0)) s)"
  else
    failed=$((failed+1)); failed_names="$failed_names $name"; echo "=== $name: FAILED ($((SECONDS-t0)) s)"
  fi
}
run layout python3 scripts/check-layout.py
run build make -j"$JOBS" all build/unit_tests
run unit ./build/unit_tests
run asan-build make -j"$JOBS" build/asan/unit_tests build/asan/anyclaude
run asan-unit ./build/asan/unit_tests
run integration node --test --test-concurrency=1 tests/integration/
run asan-integration env ANYCLAUDE_BIN=build/asan/anyclaude ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  node --test --test-concurrency=1 tests/integration/
run cli bash tests/cli/run.sh
run fault node --test --test-concurrency=1 tests/fault/
run asan-fault env ANYCLAUDE_BIN=build/asan/anyclaude ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  node --test --test-concurrency=1 tests/fault/
run valgrind make -s valgrind
run fuzz-smoke make -s fuzz-smoke
if [ "${ANYCLAUDE_SKIP_REAL:-}" != 1 ]; then
  run real-backend node --test --test-concurrency=1 tests/real/
else
  echo "=== real-backend: SKIPPED (ANYCLAUDE_SKIP_REAL=1)"
fi
if [ "${ANYCLAUDE_SKIP_CLAUDE:-}" != 1 ]; then
  run claude-e2e node --test --test-concurrency=1 tests/e2e/
  # A representative subset against the newest Claude Code release too
  # (tests/compat/package.json; README, "Claude Code versions").
  newest=tests/compat/node_modules/claude-code-newest/claude
  run claude-e2e-newest env CLAUDE_BIN="$newest" bash -c '"$CLAUDE_BIN" --version && node --test --test-concurrency=1 \
    tests/e2e/launcher_tools.test.mjs tests/e2e/textcalls.test.mjs tests/e2e/websearch_claude_code.test.mjs \
    tests/e2e/claude_mode_claude_code.test.mjs tests/e2e/routes_claude_code.test.mjs tests/e2e/interactive_tmux.test.mjs'
else
  echo "=== claude-e2e: SKIPPED (ANYCLAUDE_SKIP_CLAUDE=1)"
fi
echo
[ -n "$failed_names" ] && echo "failed suites:$failed_names"
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
