#!/usr/bin/env bash
# The main job on the built-in default: set up, build, compile the bundled
# trained model (models/tiny-kjv: a 7M-parameter DeepSeek-V3-architecture model
# trained by tools/train-tiny on the King James Bible) into a plan and generate
# text with it, on the GPU when there is one, else on the CPU host backend.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
build=${MOELA_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target moela-compile moela-run
"$build/bin/moela-compile" models/tiny-kjv/config.json -o "$build/tiny-kjv.plan" --explain
"$build/bin/moela-run" "$build/tiny-kjv.plan" --weights models/tiny-kjv \
  --prompt "${MOELA_PROMPT:-And it came to pass, when the king}" --max-new-tokens 64 \
  --temperature 0.7 --top-p 0.9 --seed 1 --backend auto
