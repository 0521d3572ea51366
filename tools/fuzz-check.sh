#!/usr/bin/env bash
# The fuzzing and sanitizer stage of CI (tools/test.sh runs it; README "Fuzzing and sanitizers").
# Builds moela with clang, ASan and UBSan in its own folder (-DMOELA_FUZZ=ON), then
#   1. runs every fuzz target (test/fuzz) over its seed corpus and its regression inputs,
#   2. fuzzes each target for a bounded time (default 20 s),
#   3. runs the unit tests (ctest -L unit) sanitized, but for KernelCompileTest.
#   tools/fuzz-check.sh                   all of it
#   tools/fuzz-check.sh --seconds S       fuzz each target S seconds (0: replay only)
#   tools/fuzz-check.sh --long N [T...]   only fuzz each target (or the named ones) to N executions
#                                         and print one line of numbers per target
#   tools/fuzz-check.sh --no-unit         skip the sanitized unit tests
# A regression input listed in test/fuzz/pending.txt is one whose fix has not landed yet: it may
# still crash (reported, not a failure). Crashes found while fuzzing land in BUILD/fuzz-artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath -m "${MOELA_FUZZ_BUILD_DIR:-build-fuzz}")
seconds=20 long=0 unit=1
targets=()
while (($#)); do
  case "$1" in
  --seconds) seconds=$2; shift 2 ;;
  --long) long=$2; unit=0; shift 2 ;;
  --no-unit) unit=0; shift ;;
  -*) echo "fuzz-check: unknown option $1" >&2; exit 1 ;;
  *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || mapfile -t targets < <(ls test/fuzz/corpus)

for tool in clang-19 clang++-19; do
  command -v "$tool" >/dev/null || { echo "fuzz-check: $tool not found (tools/setup.sh installs it)" >&2; exit 1; }
done
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOELA_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 >/dev/null
build_targets=(moela-fuzz)
((unit)) && build_targets+=(moela-unit-tests)
cmake --build "$build" --target "${build_targets[@]}"

# LLVM's BumpPtrAllocator poisons and unpoisons its slabs from inline header code; Debian's
# libMLIR.so and libLLVM.so were built without ASan, so their copies never unpoison what ours
# poisoned (use-after-poison inside libMLIR.so). Ignoring user poisoning keeps every other check.
export ASAN_OPTIONS=${ASAN_OPTIONS:-allow_user_poisoning=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limits=(-rss_limit_mb=2048 -timeout=10)
artifacts=$build/fuzz-artifacts
# The targets' scratch files (FuzzFiles.h), where a crash leaves them.
export TMPDIR=$build/fuzz-tmp
mkdir -p "$artifacts" "$TMPDIR"
mapfile -t pending < <(grep -v '^#' test/fuzz/pending.txt | sed '/^$/d')
status=0

is_pending() {
  local p
  for p in "${pending[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}

# Runs one input through TARGET; a pending one may fail.
replay() {
  local target=$1 input=$2 name=${2#test/fuzz/regressions/}
  if "$build/fuzz/fuzz-$target" "${limits[@]}" "$input" >"$artifacts/replay.log" 2>&1; then
    is_pending "$name" && echo "fuzz-check: $name no longer fails: remove it from test/fuzz/pending.txt"
    return 0
  fi
  if is_pending "$name"; then
    echo "fuzz-check: $name still fails (pending, test/fuzz/pending.txt)"
  else
    echo "fuzz-check: FAIL: fuzz-$target on $input:"
    grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$artifacts/replay.log" | head -5
    status=1
  fi
}

# Fuzzes TARGET with libFuzzer's ARGS from a scratch copy of its corpus (the repository's
# corpus is only read), then prints its final stats.
fuzz() {
  local target=$1; shift
  local work=$build/fuzz-work/$target
  mkdir -p "$work"
  local log=$artifacts/$target.log
  if ! "$build/fuzz/fuzz-$target" "${limits[@]}" -print_final_stats=1 \
    -artifact_prefix="$artifacts/$target-" "$@" "$work" "test/fuzz/corpus/$target" >"$log" 2>&1; then
    echo "fuzz-check: FAIL: fuzz-$target found a failing input (kept in $artifacts; add it to" \
      "test/fuzz/regressions/$target):"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -5
    status=1
  fi
  awk -v t="$target" '/stat::number_of_executed_units/ {n=$2} /stat::slowest_unit_time_sec/ {s=$2}
    /stat::peak_rss_mb/ {r=$2} END {printf "fuzz-check: %-15s %10d runs, slowest input %s s, peak RSS %s MiB\n", t, n, s, r}' "$log"
}

for target in "${targets[@]}"; do
  if ((long)); then
    fuzz "$target" -runs="$long"
    continue
  fi
  for input in test/fuzz/corpus/"$target"/* test/fuzz/regressions/"$target"/*; do
    [ -f "$input" ] && replay "$target" "$input"
  done
  ((seconds > 0)) && fuzz "$target" -max_total_time="$seconds"
done

if ((unit)); then
  # Not KernelCompileTest: minutes of NVRTC's own work, which is not instrumented.
  ctest --test-dir "$build" -L unit -E '^Families/KernelCompile\.' --output-on-failure \
    -j "$(nproc)" || status=1
fi
exit $status
