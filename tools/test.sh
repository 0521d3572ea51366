#!/usr/bin/env bash
# Sets everything up, builds moela, runs every test (lit + GoogleTest) through ctest and checks the
# sources' format (tools/format-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
build=${MOELA_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build"
status=0
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" || status=1
bash tools/format-check.sh || status=1
exit $status
