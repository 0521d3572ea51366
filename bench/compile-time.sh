#!/usr/bin/env bash
# Times moela-compile side by side: two builds (say, before and after a change) compile the same
# config in alternation, cold (an empty NVRTC cache) and warm (every kernel cached), and the
# median wall times are printed as a table for bench/RESULTS.md.
#   bench/compile-time.sh OLD_BUILD_DIR NEW_BUILD_DIR [CONFIG] [RUNS]
# CONFIG defaults to models/deepseek-v3/config.json, RUNS to 3 (cold) and 3 x RUNS (warm).
set -euo pipefail
old=$1 new=$2
config=${3:-"$(dirname "$0")/../models/deepseek-v3/config.json"}
runs=${4:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Wall seconds of one compile into cache $2 with build $1.
timed() {
  local start end
  start=$(date +%s.%N)
  "$1/bin/moela-compile" "$config" -o "$work/out.plan" --cache-dir "$2" >/dev/null
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A cold warm
for tag in old new; do cold[$tag]=""; warm[$tag]=""; done
for ((i = 0; i < runs; i++)); do
  for tag in old new; do
    dir=${!tag}
    rm -rf "$work/cache-$tag"
    cold[$tag]+="$(timed "$dir" "$work/cache-$tag")"$'\n'
    for ((j = 0; j < 3; j++)); do
      warm[$tag]+="$(timed "$dir" "$work/cache-$tag")"$'\n'
    done
  done
done
printf '| build | cold (median of %d) | warm (median of %d) |\n|---|---|---|\n' "$runs" $((3 * runs))
for tag in old new; do
  printf '| %s (%s) | %.2f s | %.3f s |\n' "$tag" "${!tag}" \
    "$(printf '%s' "${cold[$tag]}" | median)" "$(printf '%s' "${warm[$tag]}" | median)"
done
