//===- RopeCommon.cuh - The RoPE rotation of every kernel -----------------===//
//
// One pair rotation for the rope kernels (Rope.cuh, KvAppend.cuh) and the
// fused-rope GEMM epilogue (GemmEpilogue.cuh), computed as the host backend
// does (runtime/host/RopeStep.cpp; docs/model.md §3.1): angle =
// float(position) * inv_freq[i] rounded to fp32, cos and sin of that fp32
// angle rounded to fp32, times the YaRN magnitude, then the rotation in
// fp32 without contraction. Device code only.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ROPECOMMON_CUH
#define MOELA_KERNELS_ROPECOMMON_CUH

#include "Common.cuh"

namespace moela {
namespace kernels {

/// cos and sin of pair i at `position` (invFreq = inv_freq[i]), scaled by
/// `magnitude`. In double, through sincospi: --use_fast_math makes
/// sinf/cosf the approximate __sinf/__cosf, wrong for the large angles of
/// long positions, and sincos's reduction of large arguments needs a stack
/// frame that the GEMM epilogue must not have. angle / pi is off by 2^-53
/// relative, far below the fp32 rounding of the results.
__device__ __forceinline__ void
ropeCosSin(int position, float invFreq, float magnitude, float &c, float &s) {
  const float angle = __fmul_rn(static_cast<float>(position), invFreq);
  double sd, cd;
  sincospi(static_cast<double>(angle) * 0.31830988618379067, &sd, &cd);
  c = __fmul_rn(static_cast<float>(cd), magnitude);
  s = __fmul_rn(static_cast<float>(sd), magnitude);
}

/// Rotates one interleaved pair: (a, b) -> (a c - b s, a s + b c), fp32.
__device__ __forceinline__ void ropeRotate(float a, float b, float c, float s,
                                           float &ya, float &yb) {
  ya = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
  yb = __fadd_rn(__fmul_rn(a, s), __fmul_rn(b, c));
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ROPECOMMON_CUH
