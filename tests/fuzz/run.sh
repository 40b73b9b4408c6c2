#!/usr/bin/env bash
# Run the libFuzzer targets built by `make fuzz-build` (build/fuzz/fuzz_*).
#   bash tests/fuzz/run.sh SECONDS [TARGET...]    default: every target
# Each target runs for SECONDS on build/fuzz/corpus/TARGET (seeded from the
# golden tests by tests/fuzz/seeds.sh; new finds are kept there) with its
# dictionary, -rss_limit_mb=512, and its log in build/fuzz/logs/TARGET.log.
# A crash, leak, sanitizer report, timeout or OOM fails the run; the input
# is saved as build/fuzz/crashes/TARGET-crash-<sha1> (reproduce with
# ./build/fuzz/fuzz_TARGET FILE).
#   FUZZ_NICE     prefix command (default "nice -n 10"; "" to disable)
#   FUZZ_JOBS     targets run at once (default 1)
#   FUZZ_ARGS     extra libFuzzer flags
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: run.sh SECONDS [TARGET...]}; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request sse stream backend_error toolcall toolargs passthru h1 discover window jparse slotfiles)
nice_cmd=${FUZZ_NICE-nice -n 10}
jobs=${FUZZ_JOBS:-1}
mkdir -p build/fuzz/logs build/fuzz/crashes
bash tests/fuzz/seeds.sh build/fuzz/corpus >/dev/null

max_len() {
  case $1 in
    request|stream|discover) echo 16384;;
    sse|toolcall) echo 8192;;
    *) echo 4096;;
  esac
}

run_one() {
  local t=$1 bin=build/fuzz/fuzz_$1 log=build/fuzz/logs/$1.log
  [ -x "$bin" ] || { echo "fuzz $t: $bin missing (make fuzz-build)"; return 1; }
  local dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  : >"$log.start"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  $nice_cmd "$bin" build/fuzz/corpus/"$t" "${dict[@]}" \
    -max_total_time="$secs" -rss_limit_mb=512 -timeout=20 -max_len="$(max_len "$t")" \
    -artifact_prefix=build/fuzz/crashes/"$t"- -print_final_stats=1 ${FUZZ_ARGS:-} \
    >"$log" 2>&1
  local rc=$?
  # with -fork=1 -ignore_crashes=1 libFuzzer exits 0 after crashes: count them
  local ncrash
  ncrash=$(find build/fuzz/crashes -name "$t-*" -newer "$log.start" 2>/dev/null | wc -l)
  if [ $rc -eq 0 ] && [ "$ncrash" -gt 0 ]; then
    echo "fuzz $t: $ncrash new crash file(s) in build/fuzz/crashes"
    rc=1
  fi
  local cov execs
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | grep -o '[0-9]*$')
  local eps=$(grep -E '^stat::average_exec_per_sec' "$log" | grep -o '[0-9]*$')
  # -fork=N: the final stats are the last job's; the totals are on the
  # last "#N: cov: ..." line
  if grep -qE '^#[0-9]+: cov:' "$log"; then
    execs=$(grep -oE '^#[0-9]+: cov: [0-9]+' "$log" | tail -n 1)
    cov="cov: ${execs##* }"
    execs=${execs%%:*}; execs=${execs#\#}
    eps=$((execs / secs))
  fi
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ok ${secs}s, ${execs:-?} runs, ${eps:-?} exec/s, ${cov:-cov: ?} (log $log)"
  else
    echo "fuzz $t: FAILED (exit $rc), see $log"
    grep -E 'ERROR|FUZZ_CHECK|runtime error|Test unit written|SUMMARY' "$log" | head -10 | sed 's/^/  /'
  fi
  return $rc
}

failed=0
if [ "$jobs" -le 1 ]; then
  for t in "${targets[@]}"; do run_one "$t" || failed=1; done
else
  # in batches of $jobs
  for ((i = 0; i < ${#targets[@]}; i += jobs)); do
    pids=()
    for t in "${targets[@]:i:jobs}"; do run_one "$t" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
  done
fi
exit $failed
