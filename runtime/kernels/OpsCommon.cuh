//===- OpsCommon.cuh - Private helpers of the non-GEMM kernel families ----===//
//
// Included by the .cuh files of the element-wise, norm, rope, MLA and MoE
// families (not by the emitter directly). Device code only.
//
//  - The online-softmax step of the tensor-core attention kernels.
//  - FP8 scale rounding (docs/model.md §3.4), and an argmax comparator with
//    the "lowest index wins ties, NaN never wins" rule.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_OPSCOMMON_CUH
#define MOELA_KERNELS_OPSCOMMON_CUH

#include "Ptx.cuh"

namespace moela {
namespace kernels {
namespace ops {

using namespace ptx; // cp.async, ldmatrix, mma.sync (LatentAttention)

/// Two floats as bf16x2 (round to nearest even); `lo` in the low half, i.e.
/// at the lower address / lower column.
__device__ __forceinline__ unsigned packBf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<unsigned *>(&v);
}

// ---- Online softmax (flash attention) ---------------------------------------

/// One key tile of the online softmax of a thread's two fragment rows r0, r1
/// (mma.sync C layout: s[nt][0..1] in row r0, s[nt][2..3] in row r1), in the
/// log2 domain. `s` holds the tile's scaled scores (masked keys -inf); mn0,
/// mn1 are the rows' new running maxima (the old ones m0, m1 and the tile's,
/// over every thread of the row). Turns s into P = 2^(s - m), rescales the
/// output accumulators `o` and the thread's partial row sums l0, l1 by
/// 2^(m_old - m_new), and updates m0, m1. A row that has seen no key yet
/// (m = -inf) keeps P = 0, O = 0 and l = 0, without NaN.
template <int NTS, int NTO>
__device__ __forceinline__ void
onlineSoftmaxTile(float (&s)[NTS][4], float (&o)[NTO][4], float mn0, float mn1,
                  float &m0, float &m1, float &l0, float &l1) {
  const float b0 = mn0 == negInf() ? 0.0f : mn0,
              b1 = mn1 == negInf() ? 0.0f : mn1;
  const float al0 = exp2f(m0 - b0), al1 = exp2f(m1 - b1); // 0 while m = -inf
  m0 = mn0;
  m1 = mn1;
  float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
  for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      s[nt][e] = exp2f(s[nt][e] - b0); // masked: 2^-inf = 0
      s[nt][2 + e] = exp2f(s[nt][2 + e] - b1);
      ps0 += s[nt][e];
      ps1 += s[nt][2 + e];
    }
  l0 = l0 * al0 + ps0;
  l1 = l1 * al1 + ps1;
#pragma unroll
  for (int nt = 0; nt < NTO; ++nt) {
    o[nt][0] *= al0;
    o[nt][1] *= al0;
    o[nt][2] *= al1;
    o[nt][3] *= al1;
  }
}

// ---- FP8 activation scales (docs/model.md §3.4) -----------------------------

/// s = max(amax, 1e-4) / 448; with ue8m0, s = 2^ceil(log2 s) computed exactly
/// on the bits (s is a positive normal float here).
__device__ __forceinline__ float fp8Scale(float amax, bool ue8m0) {
  float s = __fdiv_rn(fmaxf(amax, 1e-4f), 448.0f);
  if (ue8m0) {
    const unsigned bits = __float_as_uint(s);
    if (bits & 0x007fffffu) // not a power of two: next power of two up
      s = __uint_as_float((bits & 0x7f800000u) + 0x00800000u);
  }
  return s;
}

// ---- Arg-max with the tie rule of docs/model.md §4 -----------------------

/// Candidate (value, index); index < 0 = none. `better` prefers a candidate
/// to none, then the larger value, then the lower index. Callers never
/// offer NaN values (they skip them), so NaN never wins.
struct ArgBest {
  float value;
  int index;
};

__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  if (ia < 0)
    return false;
  if (ib < 0)
    return true;
  return va > vb || (va == vb && ia < ib);
}

__device__ __forceinline__ ArgBest warpArgBest(ArgBest b) {
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, b.value, o);
    const int i = __shfl_xor_sync(0xffffffffu, b.index, o);
    if (better(v, i, b.value, b.index)) {
      b.value = v;
      b.index = i;
    }
  }
  return b;
}

/// NaN test on the bits (independent of fast-math assumptions).
__device__ __forceinline__ bool isNan(float v) {
  return (__float_as_uint(v) & 0x7fffffffu) > 0x7f800000u;
}

// ---- Flash attention on mma.sync (LatentAttention, MlaPrefillAttention) ----

/// o += P V for one 16-key step: `p` is P's A fragment, V is read transposed
/// from shared memory, two 8-column n-tiles per ldmatrix.x4.trans; vTile(np)
/// is this lane's shared address for n-tiles 2np and 2np+1.
template <int NTO, typename VTile>
__device__ __forceinline__ void mmaPV(float (&o)[NTO][4],
                                      const unsigned (&p)[4], VTile vTile) {
#pragma unroll
  for (int np = 0; np < NTO / 2; ++np) {
    unsigned b[4];
    ldsm4t(vTile(np), b);
    mmaBf16(o[2 * np], p, b[0], b[1]);
    mmaBf16(o[2 * np + 1], p, b[2], b[3]);
  }
}

/// Zeroes NT mma accumulator tiles (an attention's output before its first key
/// tile).
template <int NT>
__device__ __forceinline__ void zeroTiles(float (&acc)[NT][4]) {
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      acc[nt][e] = 0.0f;
}

/// The row maxima m0 (row g) and m1 (row g+8) over the 4 threads of an mma
/// row group.
__device__ __forceinline__ void quadRowMax(float &m0, float &m1) {
#pragma unroll
  for (int d = 1; d <= 2; d <<= 1) {
    m0 = fmaxf(m0, __shfl_xor_sync(0xffffffffu, m0, d));
    m1 = fmaxf(m1, __shfl_xor_sync(0xffffffffu, m1, d));
  }
}

/// The softmax row sums l0 (row g) and l1 (row g+8) over the 4 threads of an
/// mma row group.
__device__ __forceinline__ void quadRowSums(float &l0, float &l1) {
#pragma unroll
  for (int d = 1; d <= 2; d <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, d);
    l1 += __shfl_xor_sync(0xffffffffu, l1, d);
  }
}

} // namespace ops
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_OPSCOMMON_CUH
