//===- MatmulCommon.cuh - The tensor-core engine of the matrix families ---===//
//
// Shared by Gemm.cuh, GroupedGemm.cuh and HeadGemm.cuh. Reads the operands a
// family describes (GemmOperands.cuh), stages its accumulators for the shared
// epilogue (GemmEpilogue.cuh); its PTX is in Ptx.cuh. Device code only:
// NVRTC/nvcc, and g++ for the CPU emulation of test/emu.
//
// The engine computes one BM x BN tile of acc = A @ B over a K range with
// mma.sync tensor-core instructions, 8 warps (256 threads) per block:
//
//   * A is [rows, K] row-major (K contiguous) of TA = bf16, fp8 e4m3 or f32.
//   * B is the weight, either "NT": W [N, K] row-major, acc = A @ W^T (Gemm,
//     GroupedGemm, HeadGemm without transpose), or "WT": W [K, N] row-major,
//     acc = A @ W (HeadGemm with transpose). TW = bf16, fp8 e4m3 or f32.
//   * Tiles stream through an S-stage cp.async pipeline (S as deep as the
//     shared-memory budget allows, at most 8). Rows of (NT) W are found
//     through the family's row tables (GemmOperands.cuh).
//   * Compute types: mma.sync m16n8k16, bf16 x bf16, or f16 x f16 when both
//     operands are FP8 (W8A8). Operands not in the compute type are converted
//     in a shared-memory pass after their stage lands, once per element: f32
//     is rounded to bf16; e4m3 goes to bf16 or f16 exactly (every e4m3 value
//     is both). (mma.sync's own e4m3 form is no faster on sm_90: ptxas turns
//     it into the same f16 HMMA plus a conversion of every fragment register
//     in every warp, 3x the conversions of the pass.)
//   * FP8 block scales are applied in fp32, never folded into the bf16/fp8
//     operands: the MMAs of one 128-wide K block accumulate into `tmp`, then
//     acc += tmp * w_scale[n] (* a_scale[m] when A is FP8, docs/model.md §3.4).
//     So an FP8-weight GEMM is exact up to fp32 accumulation order.
//
// Warp layout: warps 2 (M) x 4 (N); warp (wm, wn) owns rows [wm*BM/2, +BM/2)
// and columns [wn*BN/4, +BN/4) of the tile: BM/32 m16 tiles x BN/32 n8 tiles.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16 with
// floating point type"), g = lane / 4, t = lane % 4, each register two
// 16-bit elements, the lower K in the low half:
//   A reg0: row g,   K 2t, 2t+1              reg1: row g+8, K 2t, 2t+1
//   A reg2: row g,   K 2t+8, 2t+9            reg3: row g+8, K 2t+8, 2t+9
//   B reg0: col g,   K 2t, 2t+1              reg1: col g,   K 2t+8, 2t+9
//   C c0, c1: row g, cols 2t, 2t+1;          c2, c3: row g+8, same cols.
// ldmatrix.x4 hands lane l elements 2(l%4), 2(l%4)+1 of row l/4 of each of
// its four 8x8 matrices (.trans: of column l/4, rows 2(l%4), 2(l%4)+1);
// matrix i's 8 row addresses come from lanes 8i..8i+7. One MMA step covers
// 16 K = two 16-byte chunks of a K-contiguous row. So for A lane l addresses
// row (l % 16), chunk (l / 16) of the step (matrices = reg0..reg3 above); for
// NT B (rows = n) row (l % 8) + 8 (l / 16), chunk (l / 8) % 2 (matrices = b0,
// b1 of n8 tile 0, b0, b1 of n8 tile 1); for WT B (rows = k, .trans) k row
// (l % 8) + 8 ((l / 8) % 2), n chunk l / 16 (same matrix order).
//
// Shared-memory tiles whose rows are at least 128 bytes are XOR-swizzled in
// 16-byte chunks (chunk c of row r stored at c ^ (r % 8)), so that the 8 rows
// an ldmatrix phase reads fall in 8 different bank groups.
//
// Requirements (checked where cheap, else documented at each family):
// K % 16 == 0; A rows and weight rows 16-byte aligned (pointers and leading
// dimensions); FP8 weights come with block scales.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_MATMULCOMMON_CUH
#define MOELA_KERNELS_MATMULCOMMON_CUH

#include "GemmEpilogue.cuh"

namespace moela {
namespace kernels {
namespace mm {

using namespace ptx;    // cp.async, ldmatrix, mma.sync and the conversions
using namespace matmul; // Problem, the row tables, the epilogue

__host__ __device__ constexpr int cmin(int a, int b) { return a < b ? a : b; }
__host__ __device__ constexpr int round128(int x) {
  return (x + 127) / 128 * 128;
}

/// Chunk position of 16-byte chunk `c` of tile row `r` (CPR chunks per row).
template <int CPR> __device__ __forceinline__ int swz(int r, int c) {
  if constexpr (CPR >= 8)
    return c ^ (r & 7);
  else
    return c;
}

// ---- The engine -------------------------------------------------------------

template <typename TA, typename TW, int BM, int BN, int BK, bool WT,
          bool SPLIT_A = false>
struct Engine {
  static constexpr int kThreads = kMatmulThreads;
  static_assert(supportedTypes<TA, TW>(), "A and W types (GemmOperands.cuh)");
  static constexpr bool kF8A = isF8<TA>(), kF8W = isF8<TW>();
  static constexpr bool kW8A8 = kF8A && kF8W;
  static_assert(!(kF8A && WT), "no FP8 activations with transposed weights");
  // SPLIT_A: f32 A as hi + lo, two bf16 halves, and two MMAs per step, so
  // that A keeps ~16 mantissa bits (the f32 routing logits of docs/model.md
  // §3.2).
  static_assert(!SPLIT_A || (isF32<TA>() && !isF8<TW>() && BM == 64),
                "split A: f32 A, bf16 or f32 W, block_m 64");
  static constexpr bool kScaleA = kF8A, kScaleW = kF8W;
  static constexpr bool kF16 = kW8A8; // compute type: f16 (W8A8), else bf16
  static constexpr bool kCvtA = !isBf16<TA>(); // A converted in smem (f32, fp8)
  static constexpr bool kCvtW = !isBf16<TW>(); // W converted in smem (f32, fp8)
  static constexpr int kCE = 2;                // bytes per compute element
  static constexpr int kStepK = 16;            // K per MMA
  static constexpr int kSteps = BK / kStepK;

  static constexpr int kWarpM = BM / 2, kWarpN = BN / 4;
  static constexpr int kMT = kWarpM / 16, kNT = kWarpN / 8;
  static_assert(BM == 64 || BM == 128, "block_m: 64 or 128");
  static_assert(BN == 64 || BN == 128, "block_n: 64 or 128");
  static_assert(BK == 64 || BK == 128, "block_k: 64 or 128");
  static_assert(!kW8A8 || BK == 128,
                "W8A8 needs block_k = 128 (one scale block)");
  static_assert(!(WT && kScaleW) || BN <= 128,
                "WT FP8: a tile's columns in one scale block");

  // Raw (stage) tiles, as loaded from global memory.
  static constexpr int kARowB = BK * int(sizeof(TA)), kACPR = kARowB / 16;
  static constexpr int kWRows = WT ? BK : BN, kWCols = WT ? BN : BK;
  static constexpr int kWRowB = kWCols * int(sizeof(TW)), kWCPR = kWRowB / 16;
  static constexpr int kABytes = BM * kARowB, kWBytes = kWRows * kWRowB;
  static constexpr int kSA = kScaleA ? BM : 0, kSW = (kScaleW && !WT) ? BN : 0;
  static constexpr int kStageBytes =
      round128(kABytes + kWBytes + 4 * (kSA + kSW));
  static_assert(kSA + kSW <= kThreads, "one scale per thread");

  // Compute tiles (what ldmatrix reads): bf16, or f16 in W8A8.
  static constexpr int kACRowB = BK * kCE, kACCPR = kACRowB / 16;
  static constexpr int kWCRowB = kWCols * kCE, kWCCPR = kWCRowB / 16;
  static_assert(kACCPR >= 8 && kWCCPR >= 8,
                "compute tiles are swizzled: rows >= 128 bytes");
  static_assert(kCvtA || kACRowB == kARowB, "A compute tile = A stage tile");
  static_assert(kCvtW || kWCRowB == kWRowB, "W compute tile = W stage tile");
  static constexpr int kCvtAHalf =
      kCvtA ? BM * kACRowB : 0; // hi (or the only) tile
  static constexpr int kCvtABytes = SPLIT_A ? 2 * kCvtAHalf : kCvtAHalf;
  static constexpr int kCvtWBytes = kCvtW ? kWRows * kWCRowB : 0;

  // Layout: [row tables][cvt A][cvt W][stage 0]...[stage S-1].
  // Row tables (NT): wRow[BN] (const char *: the weight row of tile row j at
  // K = 0, null: out of range), wScale[BN] (const float *: its block-scale
  // row, FP8 only).
  static constexpr int kTableBytes = matmulRowTableBytes(BN);
  static constexpr int kCvtAOff = kTableBytes;
  static constexpr int kCvtWOff = kCvtAOff + kCvtABytes;
  static constexpr int kStageOff = round128(kCvtWOff + kCvtWBytes);
  static constexpr int kStages =
      cmin(8, (int(kMatmulSharedBytes) - kStageOff) / kStageBytes);
  static_assert(kStages >= 2,
                "tile too large for a 2-stage pipeline in 227 KiB");
  static constexpr int kSmemUsed = kStageOff + kStages * kStageBytes;

  // Epilogue staging: fp32 [BM][stagingLd] over everything after the tables.
  static_assert(kTableBytes + BM * stagingLd<BN, false>() * 4 <=
                    int(kMatmulSharedBytes),
                "staging fits");

  // Loop trip counts of the per-thread chunk loops.
  static_assert((BM * kACPR) % kThreads == 0 &&
                    (kWRows * kWCPR) % kThreads == 0,
                "chunks");
  static_assert((BM * kACCPR) % kThreads == 0 &&
                    (kWRows * kWCCPR) % kThreads == 0,
                "chunks");

  // Each thread copies the same 16-byte column chunk (tid % CPR; CPR divides
  // kThreads) of rows tid / CPR + it * (kThreads / CPR) of every stage.
  static constexpr int kANum = BM * kACPR / kThreads,
                       kARowStep = kThreads / kACPR;
  static constexpr int kWNum = kWRows * kWCPR / kThreads,
                       kWRowStep = kThreads / kWCPR;
  static_assert(kThreads % kACPR == 0 && kThreads % kWCPR == 0,
                "chunk columns");

  /// This thread's copy sources, read once from the row tables.
  struct Sources {
    const char *w[WT ? 1 : kWNum]; // NT: weight row at this thread's chunk
                                   // column, or null
    const float *scale; // w_scale row (FP8 NT, kSA <= tid < kSA + kSW), or null
  };

  __device__ static void sources(unsigned char *smem, Sources &src) {
    const int tid = threadIdx.x;
    if constexpr (!WT) {
#pragma unroll
      for (int it = 0; it < kWNum; ++it) {
        const char *row = weightRows<BN>(smem)[tid / kWCPR + it * kWRowStep];
        src.w[it] = row ? row + (tid % kWCPR) * 16 : nullptr;
      }
    }
    src.scale = nullptr;
    if constexpr (kSW > 0)
      if (tid >= kSA && tid < kSA + kSW)
        src.scale = weightScales<BN>(smem)[tid - kSA];
  }

  /// Issues the copies of K tile `kt` into pipeline slot `slot` (no commit).
  __device__ static void loadStage(unsigned char *smem, int slot, int kt,
                                   const Problem &p, const Sources &src) {
    const int tid = threadIdx.x;
    const unsigned stA = smemU32(smem + kStageOff + slot * kStageBytes);
    const unsigned stW = stA + kABytes, stS = stW + kWBytes;
    const int k0 = kt * BK;
    constexpr int kAEPC = 16 / int(sizeof(TA)), kWEPC = 16 / int(sizeof(TW));
    // A: BM rows x BK; chunk c of row r holds K elements [k0 + c*EPC, +EPC).
    {
      const int c = tid % kACPR, k = k0 + c * kAEPC;
      const bool kOk = k < p.K;
      const char *base = p.a + static_cast<long long>(k) * int(sizeof(TA));
#pragma unroll
      for (int it = 0; it < kANum; ++it) {
        const int r = tid / kACPR + it * kARowStep;
        const bool ok = kOk && r < p.rows;
        cpAsync16(stA + r * kARowB + (swz<kACPR>(r, c) << 4),
                  ok ? base + r * p.aLd : p.anyValid, ok);
      }
    }
    if constexpr (!WT) {
      // W: BN rows (n) x BK.
      const int c = tid % kWCPR;
      const bool kOk = k0 + c * kWEPC < p.K;
      const long long off = static_cast<long long>(k0) * int(sizeof(TW));
#pragma unroll
      for (int it = 0; it < kWNum; ++it) {
        const int r = tid / kWCPR + it * kWRowStep;
        const bool ok = kOk && src.w[it] != nullptr;
        cpAsync16(stW + r * kWRowB + (swz<kWCPR>(r, c) << 4),
                  ok ? src.w[it] + off : p.anyValid, ok);
      }
    } else {
      // W: BK rows (k) x BN columns [n0, n0 + BN).
      const int c = tid % kWCPR, n = p.n0 + c * kWEPC;
      const bool nOk = n < p.nLimit;
#pragma unroll
      for (int it = 0; it < kWNum; ++it) {
        const int r = tid / kWCPR + it * kWRowStep, k = k0 + r;
        const bool ok = nOk && k < p.K;
        const char *from =
            static_cast<const char *>(p.w) +
            (static_cast<long long>(k) * p.wLd + n) * int(sizeof(TW));
        cpAsync16(stW + r * kWRowB + (swz<kWCPR>(r, c) << 4),
                  ok ? from : p.anyValid, ok);
      }
    }
    if constexpr (kSA + kSW > 0) {
      // Block scales of K block k0 / 128: a_scale[BM] then w_scale[BN].
      if (tid < kSA + kSW) {
        const float *row = src.scale;
        if constexpr (kSA > 0)
          if (tid < kSA)
            row = tid < p.rows ? p.aScales + tid * p.aScaleLd : nullptr;
        const bool ok = row != nullptr;
        cpAsync4(stS + tid * 4, ok ? row + (k0 >> 7) : p.anyValid, ok);
      }
    }
  }

  /// Converts one raw tile (ROWS x COLS elements of T, RAWB bytes per row)
  /// to the compute type (OUTB bytes per row), 8 elements (16 output bytes)
  /// per chunk: f32 -> bf16 (rounded), e4m3 -> f16 or bf16 (exact). SPLIT
  /// (f32 A): `out` gets hi = rn(x) and `lo` the remainders rn(x - hi), in
  /// the same layout.
  template <typename T, int ROWS, int COLS, bool SPLIT = false>
  __device__ static void convertTile(const unsigned char *raw,
                                     unsigned char *out, unsigned char *lo) {
    constexpr int RAWB = COLS * int(sizeof(T)), RCPR = RAWB / 16;
    constexpr int OUTB = COLS * 2, OCPR = OUTB / 16;
    static_assert((ROWS * OCPR) % kThreads == 0, "chunks");
    static_assert(!SPLIT || isF32<T>(), "split: f32");
    const int tid = threadIdx.x;
#pragma unroll
    for (int it = 0; it < ROWS * OCPR / kThreads; ++it) {
      const int i = tid + it * kThreads, r = i / OCPR, oc = i % OCPR;
      const unsigned char *row = raw + r * RAWB;
      const int at = r * OUTB + (swz<OCPR>(r, oc) << 4);
      unsigned w[4];
      if constexpr (isF8<T>()) {
        // Output chunk oc = elements [8 oc, +8) = bytes [8 oc, +8) of the raw
        // row: half (oc % 2) of raw chunk oc / 2.
        const uint2 v = *reinterpret_cast<const uint2 *>(
            row + (swz<RCPR>(r, oc >> 1) << 4) + ((oc & 1) << 3));
        const unsigned short b[4] = {static_cast<unsigned short>(v.x & 0xffffu),
                                     static_cast<unsigned short>(v.x >> 16),
                                     static_cast<unsigned short>(v.y & 0xffffu),
                                     static_cast<unsigned short>(v.y >> 16)};
#pragma unroll
        for (int q = 0; q < 4; ++q)
          w[q] = kF16 ? e4m3x2ToF16x2(b[q]) : e4m3x2ToBf16x2(b[q]);
      } else { // f32: output chunk oc = raw chunks 2 oc, 2 oc + 1
        const float4 v0 = *reinterpret_cast<const float4 *>(
            row + (swz<RCPR>(r, 2 * oc) << 4));
        const float4 v1 = *reinterpret_cast<const float4 *>(
            row + (swz<RCPR>(r, 2 * oc + 1) << 4));
        const float x[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
#pragma unroll
        for (int q = 0; q < 4; ++q)
          w[q] = f32x2ToBf16x2(x[2 * q], x[2 * q + 1]);
        if constexpr (SPLIT) {
          unsigned rest[4];
#pragma unroll
          for (int q = 0; q < 4; ++q)
            rest[q] = f32x2ToBf16x2(x[2 * q] - bf16Lo(w[q]),
                                    x[2 * q + 1] - bf16Hi(w[q]));
          *reinterpret_cast<uint4 *>(lo + at) =
              make_uint4(rest[0], rest[1], rest[2], rest[3]);
        }
      }
      *reinterpret_cast<uint4 *>(out + at) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  }

  /// Converts the landed stage `slot` to the compute tiles.
  __device__ static void convertStage(unsigned char *smem, int slot) {
    const unsigned char *st = smem + kStageOff + slot * kStageBytes;
    if constexpr (kCvtA)
      convertTile<TA, BM, BK, SPLIT_A>(st, smem + kCvtAOff,
                                       smem + kCvtAOff + kCvtAHalf);
    if constexpr (kCvtW)
      convertTile<TW, kWRows, kWCols>(st + kABytes, smem + kCvtWOff, nullptr);
  }

  using Acc = float[kMT][kNT][4];

  /// acc += tmp * (ws[j][c % 2] * as[i][r / 8]) for accumulator element
  /// (row r, column c) of m16 tile i, n8 tile j; tmp = 0.
  __device__ static void flush(Acc &acc, Acc &tmp, const float (&ws)[kNT][2],
                               const float (&as)[kMT][2]) {
#pragma unroll
    for (int i = 0; i < kMT; ++i)
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          acc[i][j][e] += tmp[i][j][e] * (ws[j][e & 1] * as[i][e >> 1]);
          tmp[i][j][e] = 0.0f;
        }
  }

  /// acc += tmp * scale (one scale for the whole tile), tmp = 0.
  __device__ static void flushUniform(Acc &acc, Acc &tmp, float scale) {
    float ws[kNT][2], as[kMT][2];
#pragma unroll
    for (int j = 0; j < kNT; ++j)
      ws[j][0] = ws[j][1] = scale;
#pragma unroll
    for (int i = 0; i < kMT; ++i)
      as[i][0] = as[i][1] = 1.0f;
    flush(acc, tmp, ws, as);
  }

  /// acc += tmp * w_scale[col] (* a_scale[row]), tmp = 0, with the scales of
  /// the stage at `scales` (a_scale[kSA] then w_scale[kSW]).
  __device__ static void flushScaled(Acc &acc, Acc &tmp, const float *scales) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp >> 2, wn = warp & 3, g = lane >> 2, t = lane & 3;
    float ws[kNT][2], as[kMT][2];
#pragma unroll
    for (int j = 0; j < kNT; ++j) {
      const float2 v = *reinterpret_cast<const float2 *>(
          scales + kSA + wn * kWarpN + j * 8 + 2 * t);
      ws[j][0] = v.x;
      ws[j][1] = v.y;
    }
#pragma unroll
    for (int i = 0; i < kMT; ++i) {
      if constexpr (kScaleA) {
        as[i][0] = scales[wm * kWarpM + i * 16 + g];
        as[i][1] = scales[wm * kWarpM + i * 16 + g + 8];
      } else {
        as[i][0] = as[i][1] = 1.0f;
      }
    }
    flush(acc, tmp, ws, as);
  }

  /// Block scale of weight row block `seg` for the WT tile.
  __device__ static float wtScale(const Problem &p, int seg) {
    return p.wScales[static_cast<long long>(seg) * p.wScaleLd + (p.n0 >> 7)];
  }

  /// Loads the A and B fragments of MMA step `s` (16 K) of a tile.
  /// A: m16 tile i = rows wm*kWarpM + 16 i + [0, 16); lane l addresses row
  /// l % 16 at chunk 2 s + l / 16 (matrices: reg0..reg3 of the fragment).
  __device__ static void loadA(unsigned aBase, int s, int mAct,
                               unsigned (&af)[kMT][4]) {
    const int lane = threadIdx.x & 31, wm = (threadIdx.x >> 5) >> 2;
#pragma unroll
    for (int i = 0; i < kMT; ++i) {
      if (i < mAct) {
        const int r = wm * kWarpM + i * 16 + (lane & 15);
        const int c = 2 * s + (lane >> 4);
        ldsm4(aBase + r * kACRowB + (swz<kACCPR>(r, c) << 4), af[i]);
      }
    }
  }

  __device__ static void loadFragments(unsigned aBase, unsigned wBase, int s,
                                       int mAct, unsigned (&af)[kMT][4],
                                       unsigned (&bf)[kNT][2]) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wn = warp & 3;
    loadA(aBase, s, mAct, af);
    // B: n8 tile j = columns wn*kWarpN + 8 j + [0, 8); one x4 load covers n8
    // tiles 2jj and 2jj + 1 (matrices: b0, b1 of 2jj, then b0, b1 of 2jj + 1).
#pragma unroll
    for (int jj = 0; jj < kNT / 2; ++jj) {
      unsigned q[4];
      if constexpr (!WT) {
        // Rows = n: lane l addresses n row (l % 8) + 8 (l / 16), chunk 2 s + (l
        // / 8) % 2.
        const int r = wn * kWarpN + jj * 16 + (lane & 7) + ((lane >> 4) << 3);
        const int c = 2 * s + ((lane >> 3) & 1);
        ldsm4(wBase + r * kWCRowB + (swz<kWCCPR>(r, c) << 4), q);
      } else {
        // Rows = k (transposed load): lane l addresses k row 16 s + (l % 8) +
        // 8 ((l / 8) % 2), n chunk (wn*kWarpN + 16 jj) / 8 + l / 16.
        const int r = s * 16 + (lane & 7) + (((lane >> 3) & 1) << 3);
        const int c = (wn * kWarpN + jj * 16 + ((lane >> 4) << 3)) >> 3;
        ldsm4t(wBase + r * kWCRowB + (swz<kWCCPR>(r, c) << 4), q);
      }
      bf[2 * jj][0] = q[0];
      bf[2 * jj][1] = q[1];
      bf[2 * jj + 1][0] = q[2];
      bf[2 * jj + 1][1] = q[3];
    }
  }

  /// The MMAs of K tile [k0, k0 + BK) from pipeline slot `slot`. Steps past
  /// K multiply zero-filled tiles (harmless); the fragments of step s + 1 are
  /// loaded before the MMAs of step s (asm volatile keeps that order), so
  /// the ldmatrix latency hides behind the MMAs.
  __device__ static void computeTile(unsigned char *smem, int slot, int k0,
                                     const Problem &p, int mAct, Acc &acc,
                                     Acc &tmp, int &seg) {
    const unsigned stage = smemU32(smem + kStageOff + slot * kStageBytes);
    const unsigned aBase = kCvtA ? smemU32(smem + kCvtAOff) : stage;
    const unsigned wBase = kCvtW ? smemU32(smem + kCvtWOff) : stage + kABytes;
    unsigned af[2][kMT][4], bf[2][kNT][2];
    unsigned al[SPLIT_A ? 2 : 1][SPLIT_A ? kMT : 1]
               [4]; // lo halves of A (SPLIT_A)
    const unsigned loBase = aBase + kCvtAHalf;
    loadFragments(aBase, wBase, 0, mAct, af[0], bf[0]);
    if constexpr (SPLIT_A)
      loadA(loBase, 0, mAct, al[0]);
#pragma unroll
    for (int s = 0; s < kSteps; ++s) {
      if (s + 1 < kSteps) {
        loadFragments(aBase, wBase, s + 1, mAct, af[(s + 1) & 1],
                      bf[(s + 1) & 1]);
        if constexpr (SPLIT_A)
          loadA(loBase, s + 1, mAct, al[(s + 1) & 1]);
      }
      if constexpr (WT && kScaleW) {
        // A new 128-row block of the weight starts: settle the previous one.
        const int k = k0 + s * kStepK, sg = (p.wRow0 + k) >> 7;
        if (k < p.K && sg != seg) {
          flushUniform(acc, tmp, wtScale(p, seg));
          seg = sg;
        }
      }
#pragma unroll
      for (int i = 0; i < kMT; ++i) {
        if (i < mAct) {
#pragma unroll
          for (int j = 0; j < kNT; ++j) {
            // FP8 weights: this 128-wide K block's partial sums go to tmp.
            float(&d)[4] = *(kScaleW ? &tmp[i][j] : &acc[i][j]);
            if constexpr (kF16)
              mmaF16(d, af[s & 1][i], bf[s & 1][j][0], bf[s & 1][j][1]);
            else
              mmaBf16(d, af[s & 1][i], bf[s & 1][j][0], bf[s & 1][j][1]);
            if constexpr (SPLIT_A)
              mmaBf16(d, al[s & 1][i], bf[s & 1][j][0], bf[s & 1][j][1]);
          }
        }
      }
    }
  }

  /// acc = A @ B for the tile (NT: row tables filled and synchronised).
  /// Ends with every copy landed and a barrier, so the caller may reuse all
  /// shared memory after the tables.
  __device__ static void run(unsigned char *smem, const Problem &p, Acc &acc) {
    Acc tmp;
#pragma unroll
    for (int i = 0; i < kMT; ++i)
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          acc[i][j][e] = tmp[i][j][e] = 0.0f;

    const int warp = threadIdx.x >> 5, wm = warp >> 2;
    const int rem = p.rows - wm * kWarpM;
    const int mAct =
        rem <= 0 ? 0 : cmin(kMT, (rem + 15) >> 4); // m16 tiles with valid rows
    const int numKT = (p.K + BK - 1) / BK;
    int seg = p.wRow0 >> 7; // WT FP8: current weight row block
    Sources src;
    sources(smem, src);

#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < numKT)
        loadStage(smem, s, s, p, src);
      cpAsyncCommit();
    }
    int slot = 0, nextSlot = kStages - 1;
    for (int kt = 0; kt < numKT; ++kt) {
      cpAsyncWait<kStages - 2>(); // tile kt has landed (this thread's copies)
      __syncthreads();            // ... everyone's; and slot kt-1 is free
      if (kt + kStages - 1 < numKT)
        loadStage(smem, nextSlot, kt + kStages - 1, p, src);
      cpAsyncCommit();
      if constexpr (kCvtA || kCvtW) {
        convertStage(smem, slot);
        __syncthreads();
      }
      const int k0 = kt * BK;
      if (mAct > 0)
        computeTile(smem, slot, k0, p, mAct, acc, tmp, seg);
      if constexpr (kScaleW && !WT) {
        // The 128-wide K block ends with this tile: apply its scales.
        if (((k0 + BK) & 127) == 0 || k0 + BK >= p.K)
          flushScaled(acc, tmp,
                      reinterpret_cast<const float *>(smem + kStageOff +
                                                      slot * kStageBytes +
                                                      kABytes + kWBytes));
      }
      slot = slot + 1 == kStages ? 0 : slot + 1;
      nextSlot = nextSlot + 1 == kStages ? 0 : nextSlot + 1;
    }
    if constexpr (WT && kScaleW) {
      if (numKT > 0)
        flushUniform(acc, tmp, wtScale(p, seg));
    }
    cpAsyncWait<0>();
    __syncthreads();
  }

  /// Writes the accumulators to the fp32 staging tile [BM][stagingLd] over
  /// the shared memory after the row tables (with SILU, tile columns 2i
  /// (gate) and 2i+1 (up) become column i) and synchronises the block.
  /// Returns the staging tile.
  template <bool SILU>
  __device__ static const float *stage(unsigned char *smem, const Acc &acc) {
    float *stg = reinterpret_cast<float *>(smem + kTableBytes);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int wm = warp >> 2, wn = warp & 3, g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < kMT; ++i)
#pragma unroll
      for (int j = 0; j < kNT; ++j)
        stageQuad<SILU, stagingLd<BN, SILU>()>(
            stg, wm * kWarpM + i * 16 + g, wn * kWarpN + j * 8 + 2 * t,
            acc[i][j][0], acc[i][j][1], acc[i][j][2], acc[i][j][3]);
    __syncthreads();
    return stg;
  }

  /// The tile's product, staged: run, then stage<SILU>. Returns the staging
  /// tile.
  template <bool SILU>
  __device__ static const float *product(unsigned char *smem,
                                         const Problem &p) {
    Acc acc;
    run(smem, p, acc);
    return stage<SILU>(smem, acc);
  }
};

} // namespace mm
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_MATMULCOMMON_CUH
