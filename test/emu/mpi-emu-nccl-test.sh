#!/usr/bin/env bash
# MpiEmuNcclTest: the CUDA backend's collective path on two MPI ranks of the
# emulated driver and NCCL (MOELA_CUDA_DRIVER, MOELA_NCCL_LIBRARY set by
# ctest) against the host backend's 1-rank run of the unsharded plan.
#   [MOELA_RANKS=N] mpi-emu-nccl-test.sh MOELA_RUN PLANS_DIR TP_PLANS_DIR OUT_DIR [NCCL_BENCH]
# tools/gpu-check.sh runs it on real GPUs too (MOELA_RANKS 2 or 4, no
# emulator variables). NCCL_BENCH (moela-gpu-nccl-bench) also checks the
# all-reduce and all-gather values on a small buffer.
# Three prompts of 8 ids, prefill then 8 teacher-forced decode steps (CUDA
# graphs, collectives captured): logits of tiny-tp2 (--tp 2) and tiny-tp2-ep
# (--tp 2 --ep) and tiny-tp2-ep-unfused (--ep, MoeExperts instead of the
# dispatched grouped GEMMs) within the CUDA backend's tolerance against the host
# (compare_rank_logits.py: PlanGpuTest's bounds, which allow one sequence of
# three to follow a flipped expert choice). The 1-rank CUDA run of the
# unsharded plan is compared too, as the baseline of those numbers.
# Bounded: the emulator is slow.
set -euo pipefail
run=$1 plans=$2 tp_plans=$3 out=$4 bench=${5:-}
n=${MOELA_RANKS:-2}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out" && mkdir -p "$out"
echo '[[0, 17, 243, 9, 88, 301, 64, 2], [0, 5, 77, 400, 12, 3, 199, 58],
  [0, 311, 42, 8, 150, 271, 6, 90]]' >"$out/prompt.json"
echo '[[44, 120, 7, 333, 18, 250, 61, 4], [260, 31, 99, 2, 187, 45, 300, 16],
  [73, 9, 402, 128, 55, 11, 240, 37]]' >"$out/forced.json"
common=(--random-weights --seed 7 --prompt-ids "$out/prompt.json"
  --teacher-force "$out/forced.json" --max-seq-len 32)

"$run" "$plans/tiny.plan" --backend host "${common[@]}" \
  --logits-out "$out/host.safetensors"
"$run" "$plans/tiny.plan" --backend cuda "${common[@]}" \
  --logits-out "$out/cuda.safetensors"
python3 "$here/compare_rank_logits.py" "tiny cuda x1 vs host x1" \
  "$out/host.safetensors" "$out/cuda.safetensors"

# As root mpirun needs the two variables; --oversubscribe for 2-core CI.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pass=()
for v in MOELA_CUDA_DRIVER MOELA_NCCL_LIBRARY; do
  if [ -n "${!v:-}" ]; then pass+=(-x "$v"); fi
done
mpi=(mpirun -n "$n" --oversubscribe "${pass[@]}")
if [ -n "$bench" ]; then
  timeout 60 "${mpi[@]}" "$bench" 1
fi
for plan in "tiny-tp$n" "tiny-tp$n-ep" "tiny-tp$n-ep-unfused"; do
  timeout 240 "${mpi[@]}" \
    "$run" "$tp_plans/$plan.plan" --backend cuda "${common[@]}" \
    --logits-out "$out/$plan.safetensors"
  python3 "$here/compare_rank_logits.py" "$plan cuda x$n vs host x1" \
    "$out/host.safetensors" "$out/$plan.safetensors"
  python3 "$here/compare_rank_logits.py" --report "$plan cuda x$n vs cuda x1" \
    "$out/cuda.safetensors" "$out/$plan.safetensors"
done
# A peer's NCCL error, planted in the emulated NCCL (rank 1's communicator
# reports ncclRemoteError after its first collective), ends every rank within
# seconds with one line naming the rank and the error, instead of a hang.
if [ -n "${MOELA_NCCL_LIBRARY:-}" ]; then
  rc=0
  MOELA_EMU_NCCL_ASYNC_ERROR=1:1 timeout 60 "${mpi[@]}" \
    -x MOELA_EMU_NCCL_ASYNC_ERROR "$run" "$tp_plans/tiny-tp$n.plan" \
    --backend cuda "${common[@]}" --logits-out "$out/fault.safetensors" \
    >/dev/null 2>"$out/fault.err" || rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] ||
    ! grep -q "rank 1: NCCL reported ncclRemoteError" "$out/fault.err"; then
    echo "planted NCCL error: exit $rc, expected a line naming it:"
    cat "$out/fault.err"
    exit 1
  fi
  grep -m1 "ncclRemoteError" "$out/fault.err"
fi
echo "4 passed, 0 failed"
