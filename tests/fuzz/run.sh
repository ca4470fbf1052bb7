#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz/ for SECONDS each, under ASan and UBSan.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]      (make fuzz calls it)
# Each target starts from its committed seeds (tests/fuzz/corpus/NAME/, never written to)
# and keeps what it learns in BUILD_DIR/fuzz-corpus/NAME/, so a second run goes deeper.
# An input that breaks a property or trips a sanitizer is saved as
# BUILD_DIR/fuzz-artifacts/NAME-crash-*; the run goes on with the other targets and fails
# at the end. Reproduce one with:  BUILD_DIR/tests/fuzz/fuzz_NAME FILE
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for exe in "$build"/tests/fuzz/fuzz_*; do targets+=("${exe##*/fuzz_}"); done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for name in "${targets[@]}"; do
  exe=$build/tests/fuzz/fuzz_$name
  seeds=tests/fuzz/corpus/$name
  work=$build/fuzz-corpus/$name
  log=$build/fuzz-logs/$name.log
  mkdir -p "$work" "$build/fuzz-artifacts" "$build/fuzz-logs"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: a parser must not need 1 GB.
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$name-" "${dict[@]}" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf 'fuzz %-16s ok      %9s runs in %ss, %s, corpus %s\n' "$name" "${runs:-?}" "$seconds" \
      "${edges:-cov: ?}" "$(ls "$work" | wc -l)"
  else
    printf 'fuzz %-16s FAILED  (exit %s); the log ends:\n' "$name" "$rc"
    grep -a -E -m8 'fuzz property failed|  detail:|ERROR: |runtime error|SUMMARY|Test unit written' \
      "$log" | sed 's/^/    /'
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}; inputs in $build/fuzz-artifacts/"
  exit 1
fi
