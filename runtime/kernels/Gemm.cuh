//===- Gemm.cuh - c = epilogue(a @ W^T) on tensor cores (GemmArgs) --------===//
//
// Instantiation (the emitter writes exactly this, with the names replaced):
//
//   #include "Gemm.cuh"
//   extern "C" __global__ void __launch_bounds__(256, 1)
//   NAME(const moela::kernels::GemmArgs args) {
//     moela::kernels::gemm<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE,
//     RESIDUAL>(args);
//   }
//
//   TA: element type of `a`: __nv_bfloat16, __nv_fp8_e4m3 (with a_scales;
//       then TW must be __nv_fp8_e4m3 too) or float.
//   TW: element type of every part: __nv_bfloat16, __nv_fp8_e4m3 (with block
//       scales) or float.
//   TC: element type of `c`: float or __nv_bfloat16.
//   TR: element type of `residual`: float or __nv_bfloat16 (write TC when
//       RESIDUAL is false).
//   BM, BN, BK: the step's Tile block_m, block_n, block_k (64 or 128 each;
//       BK = 128 when TA is FP8). Tile.stages and Tile.threads are ignored:
//       256 threads, pipeline depth from the shared-memory budget.
//   SILU_MUL, ROPE, RESIDUAL: true/false as the step's GemmParams.
//   PRECISE_A (optional, default false): f32 `a` multiplied as bf16 hi + lo
//       halves (two MMAs per step, ~2^-16 relative instead of 2^-9), for the
//       router logits (docs/model.md §3.2); needs BM = 64 and bf16 or f32
//       weights.
//
// Launch: MatmulLaunch.h launchGemm(args, tile) (1-D grid, 256 threads,
// kMatmulSharedBytes of dynamic shared memory: set
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to it first).
//
// Semantics (plan.fbs GemmParams): acc[r, j] = sum_k a[r, k] W[j, k] in fp32,
// W = the rows of parts[0..num_parts) in order (n = their total, every part
// has k columns); then silu_mul (N' = n / 2: c = silu(acc[:, :N']) *
// acc[:, N':]), rope on the N' columns (positions[r]; Rope in Args.h), then
// + residual; c [m, N'] in TC. FP8 weights: W[j, k] = q[j, k] *
// scales[j_local / 128, k / 128] of j's part. FP8 a (W8A8, docs/model.md §3.4):
// per 128-wide K block, acc += (aq . wq) * a_scales[r, kb] * w_scale[j, kb].
//
// Requirements: k % 16 == 0; a.ptr and a.ld * sizeof(TA) multiples of 16
// bytes; each part's data 16-byte aligned; silu_mul: n even; rope: head_dim
// and offset even, heads * head_dim = N'. Any m >= 0 and n >= 1; c and
// residual have no alignment requirement (16-byte aligned rows are stored
// with vector stores). residual may be the very view c.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_GEMM_CUH
#define MOELA_KERNELS_GEMM_CUH

#include "MatmulCommon.cuh"

namespace moela {
namespace kernels {

template <typename TA, typename TW, typename TC, typename TR, int BM, int BN,
          int BK, bool SILU_MUL, bool ROPE, bool RESIDUAL,
          bool PRECISE_A = false>
__device__ __forceinline__ void gemm(const GemmArgs &args) {
  using E = mm::Engine<TA, TW, BM, BN, BK, false, PRECISE_A>;
  extern __shared__ __align__(128) unsigned char mmSmem[];
  unsigned char *smem = mmSmem;

  // BM rows x BN weight rows; with SILU_MUL they interleave gate and up
  // rows (matmul::tileRow).
  matmul::GemmTile t;
  if (!matmul::gemmTile<TW, E::kScaleW, BM, BN, SILU_MUL, kMatmulThreads>(
          args, smem, t))
    return;
  __syncthreads();

  // Epilogue through shared memory: silu_mul while staging, then rope and
  // the residual per 8-column piece.
  matmul::gemmStore<TC, TR, ROPE, RESIDUAL, BN, SILU_MUL, kMatmulThreads>(
      args, t,
      E::template product<SILU_MUL>(
          smem, matmul::gemmProblem<TA, E::kScaleA>(args, t)));
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_GEMM_CUH
