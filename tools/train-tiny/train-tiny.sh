#!/usr/bin/env bash
# Re-creates models/tiny-kjv from nothing, in one command (about an hour on two
# cores; see models/tiny-kjv/README.md for the measured time and losses):
#   bash tools/train-tiny/train-tiny.sh [OUT_DIR]     (default models/tiny-kjv)
# 1. the corpus: the King James Bible from Debian's bible-kjv (installed here);
# 2. a Python virtual environment with PyTorch (CPU), tokenizers, safetensors;
# 3. a 4096-token byte-level BPE vocabulary with DeepSeek-V3's pre-tokenizer;
# 4. training (train.py, seeded; TRAIN_THREADS threads, default 1);
# 5. the FP8 twin with moela-quantize, and the reference logits for CI
#    (TRAIN_DATA_DIR, default test/data/tiny-kjv).
# TRAIN_STEPS (default 1200) shortens a smoke run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/models/tiny-kjv}
work=${TRAIN_WORK_DIR:-$root/build/train-tiny}
venv=${TRAIN_VENV:-$work/venv}
data=${TRAIN_DATA_DIR:-$root/test/data/tiny-kjv}
mkdir -p "$work"

if ! command -v bible >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get install -y -q bible-kjv bible-kjv-text
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
fi
py=$venv/bin/python

python3 "$here/corpus.py" "$work/corpus"
"$py" "$here/tokenizer.py" "$work/corpus/train.txt" \
  "$root/models/tokenizer/deepseek-v3/tokenizer.json" 4096 "$work/tokenizer"
"$py" "$here/train.py" --config "$here/config.json" --corpus "$work/corpus" \
  --tokenizer "$work/tokenizer" --out "$out" --threads "${TRAIN_THREADS:-1}" \
  --steps "${TRAIN_STEPS:-1200}"
mkdir -p "$data"
cp "$work/corpus/heldout.txt" "$data/heldout.txt"

cmake -G Ninja -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" --target moela-quantize
rm -rf "$out-fp8"
"$root/build/bin/moela-quantize" "$out" "$out-fp8"
rm -f "$out-fp8/train-log.json" "$out-fp8/README.md"
"$py" "$here/heldout_ids.py" "$work/tokenizer" "$data/heldout.txt" "$data/reference-ids.json"
"$py" "$here/reference_logits.py" "$out" "$data/reference-ids.json" "$data/reference.safetensors"
echo "train-tiny.sh: wrote $out, $out-fp8 and $data"
