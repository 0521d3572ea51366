#!/usr/bin/env bash
# The main job on the built-in default: set up, build, compile the bundled tiny
# model (models/tiny) into a plan and generate text with deterministic random
# weights, on the GPU when there is one, else on the CPU host backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
build=${MOELA_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target moela-compile moela-run
"$build/bin/moela-compile" models/tiny/config.json -o "$build/tiny.plan" --explain
"$build/bin/moela-run" "$build/tiny.plan" --random-weights --weights-seed 1 \
  --prompt "${MOELA_PROMPT:-The capital of France is}" --max-new-tokens 32 --backend auto
