#!/usr/bin/env bash
# Sets everything up, builds moela, runs every test (lit + GoogleTest) through ctest, checks the
# sources' format (tools/format-check.sh), and runs the fuzz targets and the unit tests with ASan and
# UBSan in a second build folder (tools/fuzz-check.sh; MOELA_SKIP_FUZZ=1 leaves that stage out).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
build=${MOELA_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build"
status=0
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" || status=1
bash tools/format-check.sh || status=1
if [ -z "${MOELA_SKIP_FUZZ:-}" ]; then
  bash tools/fuzz-check.sh || status=1
fi
exit $status
