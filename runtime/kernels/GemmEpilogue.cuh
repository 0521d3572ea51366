//===- GemmEpilogue.cuh - How the GEMM engines write a tile ---------------===//
//
// The output half of the layer between the matrix families and the two
// engines (GemmOperands.cuh is the input half). An engine stages its fp32
// accumulators in shared memory, silu_mul applied (stageQuad, in its own
// fragment layout); then all threads of the block store the staging tile
// row by row in 8-column pieces: rope, + residual, converted to the output
// type, with 16-byte vector accesses where the rows allow (storeTile).
// Device code only (NVRTC/nvcc, and g++ for test/emu).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_GEMMEPILOGUE_CUH
#define MOELA_KERNELS_GEMMEPILOGUE_CUH

#include "GemmOperands.cuh"
#include "RopeCommon.cuh"

namespace moela {
namespace kernels {
namespace matmul {

// ---- Staging ----------------------------------------------------------------

/// Row stride (floats) of the fp32 staging tile [BM][stagingLd] of a tile
/// of BN accumulator columns (BN / 2 output columns with SILU). Pads: float2
/// stores of 8 rows x 4 lanes hit 32 different banks per half-warp with 8,
/// single floats per warp with 4.
template <int BN, bool SILU> __host__ __device__ constexpr int stagingLd() {
  return SILU ? BN / 2 + 4 : BN + 8;
}

/// Stages the accumulators of columns c, c + 1 (c even) of rows r and r + 8
/// (v0, v1 in row r; v2, v3 in row r + 8): with SILU, column c is a gate
/// and c + 1 its up value, and output column c / 2 gets silu(gate) * up.
template <bool SILU, int LD>
__device__ __forceinline__ void stageQuad(float *stg, int r, int c, float v0,
                                          float v1, float v2, float v3) {
  if constexpr (SILU) {
    stg[r * LD + (c >> 1)] = silu(v0) * v1;
    stg[(r + 8) * LD + (c >> 1)] = silu(v2) * v3;
  } else {
    *reinterpret_cast<float2 *>(stg + r * LD + c) = make_float2(v0, v1);
    *reinterpret_cast<float2 *>(stg + (r + 8) * LD + c) = make_float2(v2, v3);
  }
}

// ---- 8-column pieces --------------------------------------------------------

__device__ __forceinline__ float bf16Lo(unsigned v) {
  return __uint_as_float(v << 16);
}
__device__ __forceinline__ float bf16Hi(unsigned v) {
  return __uint_as_float(v & 0xffff0000u);
}

template <typename T>
__device__ __forceinline__ bool aligned16(const T *p, long long ld) {
  return ((reinterpret_cast<unsigned long long>(p) |
           static_cast<unsigned long long>(ld *
                                           static_cast<long long>(sizeof(T)))) &
          15ull) == 0;
}

/// 8 consecutive elements -> floats (p 16-byte aligned).
template <typename T>
__device__ __forceinline__ void load8(const T *p, float (&v)[8]);
template <>
__device__ __forceinline__ void load8<float>(const float *p, float (&v)[8]) {
  const float4 a = reinterpret_cast<const float4 *>(p)[0];
  const float4 b = reinterpret_cast<const float4 *>(p)[1];
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
  v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
template <>
__device__ __forceinline__ void load8<__nv_bfloat16>(const __nv_bfloat16 *p,
                                                     float (&v)[8]) {
  const uint4 a = *reinterpret_cast<const uint4 *>(p);
  v[0] = bf16Lo(a.x), v[1] = bf16Hi(a.x), v[2] = bf16Lo(a.y);
  v[3] = bf16Hi(a.y), v[4] = bf16Lo(a.z), v[5] = bf16Hi(a.z);
  v[6] = bf16Lo(a.w), v[7] = bf16Hi(a.w);
}

template <typename T>
__device__ __forceinline__ void store8(T *p, const float (&v)[8]);
template <>
__device__ __forceinline__ void store8<float>(float *p, const float (&v)[8]) {
  reinterpret_cast<float4 *>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4 *>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
template <>
__device__ __forceinline__ void store8<__nv_bfloat16>(__nv_bfloat16 *p,
                                                      const float (&v)[8]) {
  uint4 a;
  a.x = ptx::f32x2ToBf16x2(v[0], v[1]);
  a.y = ptx::f32x2ToBf16x2(v[2], v[3]);
  a.z = ptx::f32x2ToBf16x2(v[4], v[5]);
  a.w = ptx::f32x2ToBf16x2(v[6], v[7]);
  *reinterpret_cast<uint4 *>(p) = a;
}

/// Rotates the pairs of piece v (columns col, col + 1, ..., col + n - 1 of
/// the row, col even) that lie in a head's rope slice. head_dim and offset
/// are even, so pairs start at even columns and never straddle a piece.
__device__ __forceinline__ void ropePiece(float (&v)[8], int n, int col,
                                          int pos, const Rope &rope) {
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int gc = col + 2 * q;
    const int h = gc / rope.head_dim;
    const int rel = gc - h * rope.head_dim - rope.offset;
    if (2 * q + 1 < n && h < rope.heads && rel >= 0 && rel < rope.dim) {
      float cs, sn;
      ropeCosSin(pos, rope.inv_freq[rel >> 1], rope.magnitude, cs, sn);
      ropeRotate(v[2 * q], v[2 * q + 1], cs, sn, v[2 * q], v[2 * q + 1]);
    }
  }
}

// ---- The store --------------------------------------------------------------

/// Stores rows [0, rows) x columns [0, cols) of the staging tile (row
/// stride LD, BNO columns) to c (row r at c + r * ldc) with the block's
/// THREADS threads, in 8-column pieces: rope (positions[r], columns
/// numbered from col0 for the heads), then + residual (TR, row r at res +
/// r * ldr; may be c itself: each element is read before it is written, by
/// the same thread).
template <typename TC, typename TR, bool ROPE, bool RESIDUAL, int BNO, int LD,
          int THREADS>
__device__ __forceinline__ void storeTile(const float *stg, int rows, int cols,
                                          TC *c, long long ldc, const TR *res,
                                          long long ldr, const int *positions,
                                          const Rope &rope, int col0) {
  static_assert(BNO % 8 == 0 && LD % 4 == 0,
                "8-column pieces of 16-byte aligned rows");
  constexpr int kPieces = BNO / 8;
  const bool cVec = aligned16(c, ldc);
  const bool rVec = RESIDUAL ? aligned16(res, ldr) : false;
  for (int i = threadIdx.x; i < rows * kPieces; i += THREADS) {
    const int r = i / kPieces, c0 = (i - r * kPieces) * 8;
    if (c0 >= cols)
      continue;
    const int n = cols - c0 < 8 ? cols - c0 : 8;
    float v[8];
    load8<float>(stg + r * LD + c0, v);
    if constexpr (ROPE)
      ropePiece(v, n, col0 + c0, positions[r], rope);
    if constexpr (RESIDUAL) {
      const TR *rp = res + static_cast<long long>(r) * ldr + c0;
      if (n == 8 && rVec) {
        float x[8];
        load8<TR>(rp, x);
#pragma unroll
        for (int e = 0; e < 8; ++e)
          v[e] += x[e];
      } else {
#pragma unroll
        for (int e = 0; e < 8; ++e)
          if (e < n)
            v[e] += toFloat(rp[e]);
      }
    }
    TC *cp = c + static_cast<long long>(r) * ldc + c0;
    if (n == 8 && cVec) {
      store8<TC>(cp, v);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e)
        if (e < n)
          cp[e] = fromFloat<TC>(v[e]);
    }
  }
}

/// storeTile without rope and residual, from the staging tile of BN
/// accumulator columns (BN / 2 output columns with SILU) to the view `out`
/// from element (row0, col0) on.
template <typename TC, int BN, bool SILU, int THREADS>
__device__ __forceinline__ void storePlain(const float *stg, int rows, int cols,
                                           const View &out, long long row0,
                                           long long col0) {
  TC *c = static_cast<TC *>(out.ptr) + row0 * out.ld + col0;
  storeTile<TC, TC, false, false, SILU ? BN / 2 : BN, stagingLd<BN, SILU>(),
            THREADS>(stg, rows, cols, c, out.ld, nullptr, 0, nullptr, Rope{},
                     0);
}

/// Gemm's epilogue: stores tile t from the staging tile of BN accumulator
/// columns to args.c, with rope and the residual as the args say.
template <typename TC, typename TR, bool ROPE, bool RESIDUAL, int BN, bool SILU,
          int THREADS>
__device__ __forceinline__ void gemmStore(const GemmArgs &args,
                                          const GemmTile &t, const float *stg) {
  const long long ldc = args.c.ld, ldr = args.residual.ld;
  TC *c =
      static_cast<TC *>(args.c.ptr) + static_cast<long long>(t.m0) * ldc + t.n0;
  const TR *res = RESIDUAL ? static_cast<const TR *>(args.residual.ptr) +
                                 static_cast<long long>(t.m0) * ldr + t.n0
                           : nullptr;
  storeTile<TC, TR, ROPE, RESIDUAL, SILU ? BN / 2 : BN, stagingLd<BN, SILU>(),
            THREADS>(stg, t.rows, t.cols, c, ldc, res, ldr,
                     ROPE ? args.positions + t.m0 : nullptr, args.rope, t.n0);
}

} // namespace matmul
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_GEMMEPILOGUE_CUH
