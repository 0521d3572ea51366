//===- GemmOperands.cuh - What the GEMM engines read ----------------------===//
//
// The layer between the matrix families (Gemm, GemmWgmma, GroupedGemm,
// HeadGemm) and the two engines that multiply a tile (mm::Engine, mma.sync:
// MatmulCommon.cuh; wg::Engine, wgmma: WgmmaCommon.cuh). A family describes
// its tile's operands here, an engine reads them:
//
//   * A: a Problem, the tile's rows of A in global memory (K contiguous).
//   * W: two row tables at the start of the engine's shared memory
//     (matmulRowTableBytes), filled by the family before the main loop: the
//     weight row of each of the BN tile rows at K = 0 (null: out of range,
//     read as zeros) and its FP8 block-scale row. That is how a family maps
//     tile rows to weight parts, experts, heads or the interleaved gate/up
//     rows of silu_mul.
//
// Gemm and GemmWgmma (GemmArgs) share their whole prologue here: the block's
// tile, its row tables over the weight parts, and its A.
//
// Device code only (NVRTC/nvcc, and g++ for test/emu).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_GEMMOPERANDS_CUH
#define MOELA_KERNELS_GEMMOPERANDS_CUH

#include "MatmulGeometry.h"
#include "Ptx.cuh"

namespace moela {
namespace kernels {
namespace matmul {

// ---- Element types ----------------------------------------------------------

template <typename A, typename B> struct SameType {
  static constexpr bool value = false;
};
template <typename A> struct SameType<A, A> {
  static constexpr bool value = true;
};

template <typename T> __host__ __device__ constexpr bool isF8() {
  return SameType<T, __nv_fp8_e4m3>::value;
}
template <typename T> __host__ __device__ constexpr bool isBf16() {
  return SameType<T, __nv_bfloat16>::value;
}
template <typename T> __host__ __device__ constexpr bool isF32() {
  return SameType<T, float>::value;
}

/// The A and W types both engines multiply: f32, bf16 or fp8 e4m3 each, FP8
/// activations only with FP8 weights (W8A8).
template <typename TA, typename TW>
__host__ __device__ constexpr bool supportedTypes() {
  constexpr bool a = isF8<TA>() || isBf16<TA>() || isF32<TA>();
  constexpr bool w = isF8<TW>() || isBf16<TW>() || isF32<TW>();
  return a && w && (!isF8<TA>() || isF8<TW>());
}

// ---- A ----------------------------------------------------------------------

/// What an engine's main loop needs besides the row tables.
struct Problem {
  int K; // reduction length, a multiple of 16
  // A: tile row r (< rows) at a + r * aLd bytes; rows >= `rows` read as 0.
  const char *a;
  long long aLd;
  int rows;
  // FP8 A: the block scales of tile row r at aScales + r * aScaleLd.
  const float *aScales;
  long long aScaleLd;
  const void *anyValid; // a readable, 16-byte aligned global address
  // mm::Engine with WT only: W [K, N] row-major with leading dimension wLd
  // (elements); `w` points at its element (0, 0); tile columns start at n0,
  // valid below nLimit.
  const void *w;
  long long wLd;
  int n0, nLimit;
  // WT with FP8 weights: weight row wRow0 + k has block-scale row
  // (wRow0 + k) / 128 of `wScales` (scale_ld columns); the tile's columns lie
  // in one 128-column block (n0 / 128).
  const float *wScales;
  int wScaleLd;
  int wRow0;
};

// ---- W: the row tables ------------------------------------------------------

/// [BN] weight row of each tile row at K = 0; null: out of range.
template <int BN>
__device__ __forceinline__ const char **weightRows(unsigned char *smem) {
  return reinterpret_cast<const char **>(smem);
}
/// [BN] FP8 block-scale row of each tile row (null without FP8 weights).
template <int BN>
__device__ __forceinline__ const float **weightScales(unsigned char *smem) {
  return reinterpret_cast<const float **>(smem) + BN;
}

/// The weight row that tile row j of a tile starting at output column n0
/// reads: that of output column f = n0 + j (valid below nOut), or with SILU
/// interleaved pairs: tile row 2i reads the gate row of f = n0 + i, 2i + 1
/// its up row, so each thread's accumulator pair (2t, 2t + 1) is the (gate,
/// up) pair of one output column.
struct TileRow {
  int f;   // output column
  bool up; // SILU: the up row of f (else its gate row)
  bool ok; // f < nOut
};

template <bool SILU>
__device__ __forceinline__ TileRow tileRow(int j, int n0, int nOut) {
  TileRow t;
  t.f = SILU ? n0 + (j >> 1) : n0 + j;
  t.up = SILU && (j & 1);
  t.ok = t.f < nOut;
  return t;
}

/// Row wr of the concatenated weight of `args` (the rows of parts[0..
/// num_parts) in order, k elements of TW each): its data and (SCALED) its
/// block-scale row. The loop has compile-time indices, so args stays in
/// parameter space.
template <typename TW, bool SCALED>
__device__ __forceinline__ void partRow(const GemmArgs &args, long long wr,
                                        const char *&row, const float *&scale) {
  long long local = wr;
  bool found = false;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const Weight &w = args.parts[q];
    if (!found && q < args.num_parts) {
      if (local < w.rows || q == args.num_parts - 1) {
        found = true;
        row = static_cast<const char *>(w.data) +
              local * args.k * static_cast<long long>(sizeof(TW));
        if constexpr (SCALED)
          scale = w.scales + (local / abi::kFp8Block) * w.scale_ld;
      } else {
        local -= w.rows;
      }
    }
  }
}

/// Fills the row tables of Gemm's tile at output column n0 (THREADS threads;
/// the caller synchronises). With SILU the up row of column f is weight row
/// nOut + f.
template <typename TW, bool SCALED, bool SILU, int BN, int THREADS>
__device__ __forceinline__ void gemmWeightRows(const GemmArgs &args, int n0,
                                               int nOut, unsigned char *smem) {
  for (int j = threadIdx.x; j < BN; j += THREADS) {
    const TileRow t = tileRow<SILU>(j, n0, nOut);
    const char *row = nullptr;
    const float *scale = nullptr;
    if (t.ok)
      partRow<TW, SCALED>(args, t.up ? static_cast<long long>(nOut) + t.f : t.f,
                          row, scale);
    weightRows<BN>(smem)[j] = row;
    weightScales<BN>(smem)[j] = scale;
  }
}

// ---- Gemm's tile ------------------------------------------------------------

/// The output tile of a Gemm block: rows [m0, m0 + rows) of c, output
/// columns [n0, n0 + cols) of nOut (n, or n / 2 with silu_mul).
struct GemmTile {
  int m0, n0, rows, cols, nOut;
};

/// Block blockIdx.x's tile, BM rows x BN weight rows (BN / 2 output columns
/// with SILU), in matmulRaster order, and its row tables (filled by the
/// block's THREADS threads; the caller synchronises). False: the block has
/// no tile.
template <typename TW, bool SCALED, int BM, int BN, bool SILU, int THREADS>
__device__ __forceinline__ bool gemmTile(const GemmArgs &args,
                                         unsigned char *smem, GemmTile &t) {
  constexpr int BNO = SILU ? BN / 2 : BN;
  t.nOut = SILU ? args.n / 2 : args.n;
  const int tilesM = (args.m + BM - 1) / BM;
  const int tilesN = (t.nOut + BNO - 1) / BNO;
  if (static_cast<long long>(blockIdx.x) >=
      static_cast<long long>(tilesM) * tilesN)
    return false;
  int mt, nt;
  matmulRaster(blockIdx.x, tilesM, tilesN, mt, nt);
  t.m0 = mt * BM;
  t.n0 = nt * BNO;
  t.rows = args.m - t.m0 < BM ? args.m - t.m0 : BM;
  t.cols = t.nOut - t.n0 < BNO ? t.nOut - t.n0 : BNO;
  gemmWeightRows<TW, SCALED, SILU, BN, THREADS>(args, t.n0, t.nOut, smem);
  return true;
}

/// The A operand of Gemm's tile t (FP8 A: SCALE_A, with its block scales).
template <typename TA, bool SCALE_A>
__device__ __forceinline__ Problem gemmProblem(const GemmArgs &args,
                                               const GemmTile &t) {
  Problem p = {};
  p.K = args.k;
  p.rows = t.rows;
  p.aLd = args.a.ld * static_cast<long long>(sizeof(TA));
  p.a = static_cast<const char *>(args.a.ptr) + t.m0 * p.aLd;
  if constexpr (SCALE_A) {
    p.aScaleLd = args.a_scale_ld;
    p.aScales = args.a_scales + t.m0 * p.aScaleLd;
  }
  p.anyValid = args.parts[0].data;
  return p;
}

} // namespace matmul
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_GEMMOPERANDS_CUH
