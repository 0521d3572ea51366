#!/usr/bin/env bash
# The trained model's quality numbers (bench/RESULTS.md, issue 14): held-out
# perplexity of models/tiny-kjv on every backend and numeric variant, and the
# MTP module's speculative-decoding acceptance on held-out prompts.
#   bench/tiny-kjv.sh [BUILD_DIR]     (default build; prints a markdown table)
# TOKENS (default 0 = the whole held-out text, about 39,500 tokens) bounds the
# host runs; EMU_TOKENS (default 2048) the emulated CUDA runs, which take about
# 10 ms per token here. CTX is the window (default 256, the training length).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
bin=$build/bin
work=$build/bench-tiny-kjv
model=$root/models/tiny-kjv
twin=$root/models/tiny-kjv-fp8
heldout=$root/test/data/tiny-kjv/heldout.txt
ctx=${CTX:-256}
emu=$build/lib/libmoela-cuda-emu.so
mkdir -p "$work"

# The first N tokens' worth of text: whole lines, so the cut is clean.
cut_text() { # FILE TOKENS OUT
  if [ "$2" = 0 ]; then cp "$1" "$3"; return; fi
  python3 - "$1" "$2" "$3" <<'EOF'
import sys
src, tokens, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# About 4 characters per token for this vocabulary.
text, size = [], 0
for line in open(src, encoding="utf-8"):
    if size > 4 * tokens:
        break
    text.append(line)
    size += len(line)
open(out, "w", encoding="utf-8").write("".join(text))
EOF
}
cut_text "$heldout" "${TOKENS:-0}" "$work/host.txt"
cut_text "$heldout" "${EMU_TOKENS:-2048}" "$work/emu.txt"

compile() { # NAME CONFIG FLAGS...
  local name=$1 config=$2
  shift 2
  "$bin/moela-compile" "$config" -q -o "$work/$name.plan" "$@"
}
compile host "$model/config.json" --target host
compile host-kvbf16 "$model/config.json" --target host --kv-dtype=bf16
compile host-kvfp8 "$model/config.json" --target host --kv-dtype=fp8
compile host-fp8w "$twin/config.json" --target host
compile gpu "$model/config.json"
compile gpu-fp8w "$twin/config.json"
compile gpu-w8a8 "$twin/config.json" --activation-dtype=fp8
compile gpu-kvfp8 "$model/config.json" --kv-dtype=fp8

ppl() { # NAME PLAN WEIGHTS TEXT [ENV...]
  local name=$1 plan=$2 weights=$3 text=$4
  shift 4
  env "$@" "$bin/moela-run" "$work/$plan.plan" --weights "$weights" -q \
    --perplexity "$text" --ctx-size "$ctx" --perplexity-out "$work/$name.json" >/dev/null
}
ppl host host "$model" "$work/host.txt"
ppl host-kvbf16 host-kvbf16 "$model" "$work/host.txt"
ppl host-kvfp8 host-kvfp8 "$model" "$work/host.txt"
ppl host-fp8w host-fp8w "$twin" "$work/host.txt"
ppl host-emu-text host "$model" "$work/emu.txt"
ppl host-fp8w-emu-text host-fp8w "$twin" "$work/emu.txt"
for name in gpu gpu-fp8w gpu-w8a8 gpu-kvfp8; do
  weights=$model
  [[ $name == *fp8w || $name == *w8a8 ]] && weights=$twin
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    ppl "$name" "$name" "$weights" "$work/emu.txt" --backend cuda
  else
    ppl "$name" "$name" "$weights" "$work/emu.txt" MOELA_CUDA_DRIVER="$emu"
  fi
done

# Speculative decoding: greedy continuations of held-out prompts (the first
# 8 words of each held-out chapter), with and without the MTP drafts.
python3 - "$heldout" "$work/prompts.txt" <<'EOF'
import sys
chapters = open(sys.argv[1], encoding="utf-8").read().split("\n\n")
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for c in chapters:
        f.write(" ".join(c.split()[:8]) + "\n")
EOF
compile host-mtp "$model/config.json" --target host --mtp --max-batch 128
for mode in on off; do
  "$bin/moela-run" "$work/host-mtp.plan" --weights "$model" --input-file "$work/prompts.txt" \
    --output-format jsonl --max-new-tokens 64 --temperature 0 --ignore-eos \
    --speculate "$mode" >"$work/spec-$mode.jsonl" 2>"$work/spec-$mode.err"
done
cmp -s "$work/spec-on.jsonl" "$work/spec-off.jsonl" && same=identical || same=DIFFERENT

python3 - "$work" "$same" <<'EOF'
import json, re, sys
work, same = sys.argv[1], sys.argv[2]
def load(name):
    return json.load(open(f"{work}/{name}.json"))
rows = [
    ("host backend, f32", "host", None),
    ("host, bf16 KV cache", "host-kvbf16", "host"),
    ("host, FP8 KV cache", "host-kvfp8", "host"),
    ("host, FP8 weight twin", "host-fp8w", "host"),
    ("CUDA (emulated), bf16 activations", "gpu", "host-emu-text"),
    ("CUDA (emulated), FP8 weight twin (W8A16)", "gpu-fp8w", "host-fp8w-emu-text"),
    ("CUDA (emulated), W8A8", "gpu-w8a8", "host-fp8w-emu-text"),
    ("CUDA (emulated), FP8 KV cache", "gpu-kvfp8", "host-emu-text"),
]
print("| variant | tokens | perplexity | vs host on the same text | tokens/s |")
print("|---|---:|---:|---:|---:|")
for label, name, base in rows:
    r = load(name)
    rel = "" if base is None else f"{(r['ppl'] / load(base)['ppl'] - 1) * 100:+.2f} %"
    print(f"| {label} | {r['tokens']} | {r['ppl']:.3f} ± {r['ppl_stderr']:.3f} | {rel} | "
          f"{r['tokens_per_second']:.0f} |")
print(f"\n(host f32 on the emulated runs' text: {load('host-emu-text')['ppl']:.3f}; "
      f"FP8 twin on the host there: {load('host-fp8w-emu-text')['ppl']:.3f})")
err = open(f"{work}/spec-on.err").read()
m = re.search(r"(\d+) of (\d+) MTP drafts accepted \(([\d.]+)%\), (\d+) decode steps", err)
outs = [json.loads(l) for l in open(f"{work}/spec-on.jsonl")]
generated = sum(o["completion_tokens"] for o in outs)
if m:
    acc, drafts, rate, steps = int(m[1]), int(m[2]), float(m[3]), int(m[4])
    # Each decode step gives a sequence one token, two when its draft is
    # accepted: 63 tokens after the prefill's take 63 - accepted steps.
    after = generated - len(outs)
    print(f"\nMTP speculative decoding, {len(outs)} held-out prompts x 64 greedy tokens: "
          f"{acc} of {drafts} drafts accepted ({rate:.1f} %), {after / (after - acc):.2f} "
          f"tokens per sequence per decode step (the batch: {steps} steps instead of 63); "
          f"output {same} to plain greedy decoding")
else:
    print("\nMTP: no acceptance line in spec-on.err:\n" + err)
EOF
