//===- GemmWgmma.cuh - c = epilogue(a @ W^T), wgmma (GemmArgs) ------------===//
//
// Instantiation (the emitter writes exactly this, with the names replaced,
// when the step's Tile has threads = kWgmmaThreads = 384):
//
//   #include "GemmWgmma.cuh"
//   extern "C" __global__ void __launch_bounds__(384, 1)
//   NAME(const moela::kernels::GemmArgs args) {
//     moela::kernels::gemmWgmma<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE,
//     RESIDUAL>(args);
//   }
//
//   TA: element type of `a`: __nv_bfloat16, __nv_fp8_e4m3 (with a_scales;
//       then TW must be __nv_fp8_e4m3 too: W8A8 on QGMMA) or float
//       (converted to bf16 in shared memory).
//   TW: element type of every part: __nv_bfloat16, __nv_fp8_e4m3 (with block
//       scales; dequantized to bf16 in shared memory unless TA is FP8) or
//       float (rounded to bf16 in shared memory).
//   TC: element type of `c`: float or __nv_bfloat16.
//   TR: element type of `residual`: float or __nv_bfloat16 (write TC when
//       RESIDUAL is false).
//   BM: the Tile's block_m, 64 or 128. BN: block_n, 64, 128 or 256 (at most
//       128 per consumer with FP8 weights: BN <= 128 when BM = 128, BN <= 256
//       when BM = 64). BK: block_k, 64 or 128 (W8A8 always runs 128).
//       moela-tile --gemm-kernel=wgmma gives 128 x 256 x 64 (bf16 weights) or
//       128 x 128 x 64 (others) for @prefill, 64 x 64 x 64 otherwise.
//   SILU_MUL, ROPE, RESIDUAL: true/false as the step's GemmParams.
//
// Launch: WgmmaLaunch.h launchGemmWgmma(args, tile) (1-D grid, 384 threads,
// kWgmmaSharedBytes = 232448 of dynamic shared memory: set
// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to it first). The grid and
// the tile order are those of Gemm.cuh (matmulRaster).
//
// Semantics: exactly Gemm.cuh's (plan.fbs GemmParams). acc[r, j] = sum_k
// a[r, k] W[j, k] in fp32 (operands in bf16, or e4m3 in W8A8), W = the rows
// of parts[0..num_parts) in order; then silu_mul (N' = n / 2: c =
// silu(acc[:, :N']) * acc[:, N':]), rope on the N' columns (positions[r];
// Rope in Args.h), then + residual; c [m, N'] in TC. FP8 weights: W[j, k] =
// q[j, k] * scales[j_local / 128, k / 128] of j's part, applied in fp32 per
// 128-wide K block: acc += (a . wq over the block) * w_scale (* a_scale in
// W8A8, docs/model.md §3.4). With SILU_MUL the BN weight rows of a tile
// interleave: tile row 2i = gate row n0 + i, 2i + 1 = up row N' + n0 + i, so a
// thread's accumulator pair (2t, 2t + 1) is one output column's (gate, up).
//
// Requirements: those of Gemm.cuh: k % 16 == 0; a.ptr and a.ld * sizeof(TA)
// multiples of 16 bytes; each part's data 16-byte aligned; silu_mul: n even;
// rope: head_dim and offset even, heads * head_dim = N'. Any m >= 0 and
// n >= 1; c and residual have no alignment requirement; residual may be the
// very view c.
//
// Engine and layouts: WgmmaCommon.cuh.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_GEMMWGMMA_CUH
#define MOELA_KERNELS_GEMMWGMMA_CUH

#include "WgmmaCommon.cuh"

namespace moela {
namespace kernels {

template <typename TA, typename TW, typename TC, typename TR, int BM, int BN,
          int BK, bool SILU_MUL, bool ROPE, bool RESIDUAL>
__device__ __forceinline__ void gemmWgmma(const GemmArgs &args) {
  using E = wg::Engine<TA, TW, BM, BN, BK>;
  extern __shared__ __align__(1024) unsigned char wgmmaSmem[];
  // The swizzled tiles need 1024-byte alignment: align the base at run time
  // (the layout keeps 1024 bytes for this).
  const unsigned raw = ptx::smemU32(wgmmaSmem);
  const unsigned base = (raw + 1023u) & ~1023u;
  unsigned char *smem = wgmmaSmem + (base - raw);

  matmul::GemmTile t;
  if (!matmul::gemmTile<TW, E::kScaleW, BM, BN, SILU_MUL, kWgmmaThreads>(
          args, smem, t))
    return;
  E::initBarriers(base);
  __syncthreads();

  const int numKT = (args.k + E::kBK - 1) / E::kBK;
  float acc[E::kRegs];
  if (threadIdx.x < kWgmmaProducerThreads)
    E::produce(base, smem, matmul::gemmProblem<TA, E::kScaleA>(args, t), numKT);
  else
    E::consume(base, smem, numKT, acc);

  // Epilogue through shared memory on all threads: silu_mul while staging,
  // then rope and the residual per 8-column piece.
  matmul::gemmStore<TC, TR, ROPE, RESIDUAL, BN, SILU_MUL, kWgmmaThreads>(
      args, t, E::template stage<SILU_MUL>(smem, acc));
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_GEMMWGMMA_CUH
