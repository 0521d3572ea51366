#!/usr/bin/env bash
# Sets everything up, builds moela and runs every test (lit + GoogleTest) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
build=${MOELA_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
