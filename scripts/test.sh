#!/usr/bin/env bash
# Runs every test suite in order and ends with one "N passed, N failed" line
# (suites, counted). Called by `make test` after scripts/deps.sh.
#   ANYCLAUDE_SKIP_REAL=1    skip the real llama-server suite
#   ANYCLAUDE_SKIP_CLAUDE=1  skip the real Claude Code suite
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
passed=0; failed=0; failed_names=""
# Each suite runs under a deadline (seconds, about five times what it takes
# on a 2-core machine): a suite that hangs (say, a test process kept alive by
# a server nobody closed) fails on its own instead of eating CI's whole time.
# timeout kills the suite's process group; sweep then SIGKILLs what the suite
# started in sessions of its own (detached gateways, Claude Code, servers),
# found by the marker every process of this run inherits.
export SUITE_RUN_MARK="anyclaude-test-$$-$RANDOM"
sweep() {
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = $$ ] && continue
    if { tr '\0' '\n' < "$d/environ"; } 2>/dev/null | grep -qx "SUITE_RUN_MARK=$SUITE_RUN_MARK"; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
}
run() { # name, deadline, command...
  local name=$1 limit=$2; shift 2
  echo "=== $name: $*"
  local t0=$SECONDS rc=0
  timeout -k 30 "$limit" "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    passed=$((passed+1)); echo "=== $name: ok ($((SECONDS-t0)) s)"
  else
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "=== $name: TIMED OUT after $limit s"; sweep; fi
    failed=$((failed+1)); failed_names="$failed_names $name"; echo "=== $name: FAILED ($((SECONDS-t0)) s)"
  fi
}
run layout 120 python3 scripts/check-layout.py
run format 120 make -s format-check
run build 600 make -j"$JOBS" all build/unit_tests
run unit 300 ./build/unit_tests
run asan-build 600 make -j"$JOBS" build/asan/unit_tests build/asan/anyclaude
run asan-unit 600 ./build/asan/unit_tests
run integration 600 node --test --test-concurrency=1 tests/integration/
run asan-integration 600 env ANYCLAUDE_BIN=build/asan/anyclaude ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  node --test --test-concurrency=1 tests/integration/
run cli 300 bash tests/cli/run.sh
run fault 1200 node --test --test-concurrency=1 tests/fault/
run asan-fault 1200 env ANYCLAUDE_BIN=build/asan/anyclaude ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  node --test --test-concurrency=1 tests/fault/
run valgrind 1200 make -s valgrind
run fuzz-smoke 900 make -s fuzz-smoke
if [ "${ANYCLAUDE_SKIP_REAL:-}" != 1 ]; then
  run real-backend 600 node --test --test-concurrency=1 tests/real/
else
  echo "=== real-backend: SKIPPED (ANYCLAUDE_SKIP_REAL=1)"
fi
if [ "${ANYCLAUDE_SKIP_CLAUDE:-}" != 1 ]; then
  run claude-e2e 900 node --test --test-concurrency=1 tests/e2e/
  # A representative subset against the newest Claude Code release too
  # (tests/compat/package.json; README, "Claude Code versions").
  newest=tests/compat/node_modules/claude-code-newest/claude
  run claude-e2e-newest 600 env CLAUDE_BIN="$newest" bash -c '"$CLAUDE_BIN" --version && node --test --test-concurrency=1 \
    tests/e2e/launcher_tools.test.mjs tests/e2e/textcalls.test.mjs tests/e2e/websearch_claude_code.test.mjs \
    tests/e2e/claude_mode_claude_code.test.mjs tests/e2e/routes_claude_code.test.mjs tests/e2e/interactive_tmux.test.mjs \
    tests/e2e/session_id_continue.test.mjs tests/e2e/automode_claude_code.test.mjs tests/e2e/mcp_toolsearch_claude_code.test.mjs'
else
  echo "=== claude-e2e: SKIPPED (ANYCLAUDE_SKIP_CLAUDE=1)"
fi
echo
[ -n "$failed_names" ] && echo "failed suites:$failed_names"
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
