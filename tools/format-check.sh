#!/usr/bin/env bash
# Checks that C++ and CUDA sources follow the repository's .clang-format (clang-format 19).
#   tools/format-check.sh            every tracked source (what CI runs)
#   tools/format-check.sh BASE       only the sources changed since the git revision BASE
#   tools/format-check.sh --fix ...  rewrites the files instead of reporting them
# Prints one line per file that differs and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
if [ "${1:-}" = "--fix" ]; then fix=1; shift; fi
format=${CLANG_FORMAT:-clang-format-19}
if ! command -v "$format" >/dev/null; then
  echo "format-check: $format not found (tools/setup.sh installs it)" >&2
  exit 1
fi
# The emulator's stand-ins for the toolkit headers mirror NVIDIA's layout; generated code is not tracked.
pattern=(-- '*.cpp' '*.h' '*.cuh' ':!test/emu/include/**')
if [ $# -gt 0 ]; then
  mapfile -t files < <(git diff --name-only --diff-filter=d "$1" "${pattern[@]}")
  mapfile -t -O "${#files[@]}" files < <(git ls-files --others --exclude-standard "${pattern[@]}")
else
  mapfile -t files < <(git ls-files "${pattern[@]}")
fi
((${#files[@]})) || exit 0
if ((fix)); then
  "$format" -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! "$format" --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format-check: $f differs from .clang-format (fix: $format -i $f)"
    bad=1
  fi
done
exit $bad
