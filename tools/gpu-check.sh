#!/usr/bin/env bash
# The GPU check, in one call on a machine with an NVIDIA GPU (run
# tools/gpu-prepare.sh first, here, and carry .gpu): builds the runtime from
# source (no MLIR needed), runs every kernel family against the host backend
# on fresh random inputs, whole plans against DeepSeek's goldens and the host
# backend, the deepseek-v3-4l benchmark with roofline ratios and the serving
# benchmark (bench/serve_bench.py); with more
# than one GPU (and mpirun) also the TP and EP plans on 2 or 4 GPUs against the
# 1-rank host run and NCCL's all-reduce / all-gather bandwidth against the
# NVLink roof (skipped with one GPU); prints a short table last. Logs go to $OUT (or /tmp/moela-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/moela-gpu}
mkdir -p "$out"
jobs=$(nproc)
export MOELA_CACHE_DIR=$PWD/.gpu/kernel-cache
declare -a rows
# MOELA_GPU_STEPS="plans bench-v3-4l" reruns only the named steps (build always runs).
only=${MOELA_GPU_STEPS:-}

step() { # step NAME TIMEOUT COMMAND...: runs, logs, records PASS/FAIL and seconds
  local name=$1 limit=$2; shift 2
  if [ -n "$only" ] && [ "$name" != build ] && [[ " $only " != *" $name "* ]]; then
    return
  fi
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  local verdict=PASS; [ $rc -ne 0 ] && verdict="FAIL(rc=$rc)"
  local summary; summary=$(grep -E "passed|SKIP" "$out/$name.log" | tail -n 1)
  rows+=("$(printf '%-22s %-12s %5ss  %s' "$name" "$verdict" $((SECONDS - start)) "$summary")")
  tail -n 40 "$out/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
step build 400 bash -c "cmake -G Ninja -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release \
    -DMOELA_RUNTIME_ONLY=ON -DMOELA_THIRD_PARTY_DIR=$PWD/.gpu/third_party && \
  cmake --build build-gpu -j $jobs --target moela-run moela-bench \
    moela-gpu-plan-test moela-gpu-kernel-test moela-gpu-nccl-bench"
bin=build-gpu/bin
step plans 300 "$bin/moela-gpu-plan-test" .gpu/plans test/data/v3_a
step ops-kernels 300 "$bin/moela-gpu-kernel-test" --group ops
step matmul-kernels 400 "$bin/moela-gpu-kernel-test" --group matmul
step wgmma-kernels 300 "$bin/moela-gpu-kernel-test" --group wgmma
step generate 120 "$bin/moela-run" .gpu/plans/tiny.plan --random-weights --weights-seed 1 \
  --prompt "The capital of France is" --max-new-tokens 32 --backend cuda
# The cost model's GPU description (docs/cost-model.md) for this card.
case "$(head -n 2 "$out/gpu.txt" | tail -n 1)" in
  *H100*) gpu=h100 ;;
  *) gpu=h200 ;;
esac
step bench-v3-4l 600 "$bin/moela-bench" .gpu/plans/v3-4l-mma.plan .gpu/plans/v3-4l-wgmma.plan \
  --random-weights --backend cuda --prefill 4096 --batch 1,8,64 --context 4095 --steps 16 \
  --roofline --gpu "$gpu"
# Serving: moela-serve on the GPU under 1..32 concurrent streaming clients
# (needs the cpp-httplib carried by tools/gpu-prepare.sh; a failed build
# fails only these steps).
step build-serve 300 cmake --build build-gpu -j "$jobs" --target moela-serve
if [ -x "$bin/moela-serve" ]; then
  step serve-bench 300 python3 bench/serve_bench.py .gpu/plans/v3-4l-mma.plan \
    --server "$bin/moela-serve" --concurrency 1,8,32 --requests 32 \
    --prompt-tokens 512 --output-tokens 64 -- --random-weights --backend cuda \
    --max-seq-len 2048
fi

# Multi-GPU: only with more than one device; NCCL is libnccl.so.2 (or
# MOELA_NCCL_LIBRARY), loaded at run time.
gpus=$(nvidia-smi --list-gpus 2>/dev/null | wc -l)
if [ "$gpus" -gt 1 ] && command -v mpirun >/dev/null; then
  ranks=$((gpus >= 4 ? 4 : 2))
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  step multi-gpu-plans 300 env MOELA_RANKS=$ranks bash test/emu/mpi-emu-nccl-test.sh \
    "$bin/moela-run" .gpu/plans .gpu/plans "$out/multi-gpu"
  step nccl-bandwidth 120 mpirun -n "$gpus" "$bin/moela-gpu-nccl-bench" 256
else
  rows+=("$(printf '%-22s %-12s %5ss  %s' multi-gpu SKIP 0 "$gpus GPU(s)$(command -v mpirun >/dev/null || echo ', no mpirun')")")
fi

echo
echo "== moela GPU check, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
head -n 2 "$out/gpu.txt" | tail -n 1
printf '%s\n' "${rows[@]}"
echo "-- attention kernels at DeepSeek-V3 sizes:"
grep -E "^TIME (mla_prefill_attention|latent_attention)" "$out/ops-kernels.log" || true
echo "-- deepseek-v3-4l (4 layers of DeepSeek-V3, FP8 random weights), cuda backend, measured vs the cost model on $gpu:"
grep -E "^\| (plan|v3-4l)" "$out/bench-v3-4l.log" || true
echo "-- its predicted time by kernel family (moela-compile --cost $gpu; per-family times are not measured yet):"
for kernel in mma wgmma; do
  echo "v3-4l-$kernel:"
  sed -n '/^program/,$p' ".gpu/plans/v3-4l-$kernel.cost-$gpu.txt" 2>/dev/null || true
done
echo "-- serving (moela-serve, deepseek-v3-4l, cuda backend):"
grep -E "^\|" "$out/serve-bench.log" 2>/dev/null || true
echo "-- multi-GPU (TP/EP plans against the host, NCCL bandwidth):"
grep -E "vs host|^TIME all-" "$out/multi-gpu-plans.log" "$out/nccl-bandwidth.log" 2>/dev/null || true
