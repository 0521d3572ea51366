//===- WgmmaCommon.cuh - The wgmma (sm_90a) engine of gemmWgmma -----------===//
//
// Private to GemmWgmma.cuh (and, for its host part, WgmmaLaunch.h, which
// plain C++ compilers read too: the device part below is compiled only by
// NVRTC/nvcc, and by g++ for the CPU emulation of test/emu). Reads the
// operands a family describes (GemmOperands.cuh), stages its accumulators for
// the shared epilogue (GemmEpilogue.cuh); its PTX is in Ptx.cuh. Computes one
// BM x BN tile of acc = A @ W^T with Hopper warpgroup MMAs (wgmma.mma_async),
// 384 threads = 3 warpgroups:
//
//   * Warpgroup 0, the producer, streams K tiles into an S-stage ring of
//     shared memory with cp.async (16-byte copies, zero-filled outside the
//     problem), converts operands that are not in the compute type (f32 A or
//     W -> bf16, rounded; fp8 e4m3 W -> bf16, exactly, for bf16 A), issues
//     fence.proxy.async.shared::cta (the tensor cores read through the async
//     proxy what it wrote through the generic one) and arrives on the stage's
//     `full` mbarrier (128 arrivals). It runs S - 1 tiles ahead: before
//     refilling a stage it waits on the stage's `empty` mbarrier.
//   * Warpgroups 1 and 2, the consumers, wait on `full`, issue the stage's
//     wgmmas (A and B both from shared memory), and arrive on `empty` (one
//     lane per warp, 8 arrivals) once wgmma.wait_group says the wgmmas that
//     read the stage are complete. BM = 128: consumer c owns rows
//     [64c, 64c + 64) and all BN columns; BM = 64: all 64 rows and columns
//     [c BN/2, (c+1) BN/2). Each issues m64nNk16 (bf16) or m64nNk32 (e4m3)
//     with N = BN (BM = 128) or BN / 2 (BM = 64).
//   * Compute types: bf16 x bf16 (HGMMA), or e4m3 x e4m3 (QGMMA) when both A
//     and W are FP8 (W8A8: K tiles of 128 = one scale block, whatever BK).
//   * FP8 block scales are applied in fp32 per 128-wide K block, as DeepGEMM
//     does: the block's wgmmas accumulate into `blk` (the first one with
//     scale-d = 0), then acc += blk * w_scale[col] (* a_scale[row] in W8A8).
//
// Shared-memory tiles (what the wgmma descriptors address): every operand
// tile is K-major, in the canonical 128-byte-swizzled layout: the tile's K
// range is cut into 128-byte slabs (64 bf16 or 128 e4m3 elements); slab s of
// a ROWS-row tile is a contiguous [ROWS][128 B] array at s * ROWS * 128, and
// 16-byte chunk c of row r is stored at chunk c ^ (r % 8) of its row (the
// hardware's 128B swizzle: address bits [4, 7) ^= bits [7, 10), so every tile
// starts 1024-byte aligned). Descriptor (PTX ISA "Matrix Descriptor Format"):
// bits [0, 14) start address >> 4, [16, 30) leading byte offset >> 4 (unused
// for swizzled K-major layouts; 1), [32, 46) stride byte offset >> 4 = 1024 >>
// 4 (8-row groups are 1024 bytes apart), [49, 52) base offset = 0 (1024-aligned
// tiles), [62, 64) swizzle = 1 (128B). The k-th K step of a slab starts
// k * 32 bytes into it (16 bf16 / 32 e4m3): the hardware applies the XOR to
// the final addresses, as the TMA's 128B swizzle writes them.
//
// Accumulators (PTX ISA "Matrix fragments for wgmma .m64nNk16/k32", the D
// matrix): warp w of the warpgroup, lane l, g = l / 4, t = l % 4:
// d[4j + 0], d[4j + 1] = row 16w + g, columns 8j + 2t, 8j + 2t + 1;
// d[4j + 2], d[4j + 3] = row 16w + g + 8, same columns (j < N / 8).
//
// Shared memory (dynamic, aligned up to 1024 at run time): [W row table
// (BN pointers)][W scale-row table (BN pointers)][mbarriers full[S],
// empty[S]] rounded to 1024, then the stages; a stage is [A tile][W tile]
// [raw A][raw W][a_scale[BM] (W8A8)][w_scale[BN] (FP8 W)], 1024-aligned. Raw
// tiles hold the operands in their storage type until converted. The
// epilogue stages fp32 results over the stages.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_WGMMACOMMON_CUH
#define MOELA_KERNELS_WGMMACOMMON_CUH

#include "MatmulGeometry.h"

namespace moela {
namespace kernels {

constexpr int kWgmmaMaxStages = 8;

/// Shared-memory plan of one instantiation (what both the kernel and the
/// tiler compute). Element sizes in bytes: 4 = f32, 2 = bf16, 1 = fp8 e4m3.
struct WgmmaLayout {
  int bk;               // K tile: BK, or 128 in W8A8
  int aTile, wTile;     // compute tiles (bf16, or e4m3 in W8A8)
  int rawA, rawW;       // raw tiles (0: copied straight into the compute tile)
  int aScales, wScales; // floats per stage
  int stageBytes, headerBytes, stages;
  int stagingBytes; // epilogue: fp32 [BM][BN + 8]
};

constexpr int wgmmaRound(int x, int to) { return (x + to - 1) / to * to; }

constexpr WgmmaLayout wgmmaLayout(int bm, int bn, int bk, int aSize,
                                  int wSize) {
  WgmmaLayout l{};
  const bool w8a8 = aSize == 1 && wSize == 1;
  const int ce = w8a8 ? 1 : 2; // bytes per compute element
  l.bk = w8a8 ? 128 : bk;
  l.aTile = bm * l.bk * ce;
  l.wTile = bn * l.bk * ce;
  l.rawA = aSize == ce ? 0 : bm * l.bk * aSize;
  l.rawW = wSize == ce ? 0 : bn * l.bk * wSize;
  l.aScales = aSize == 1 ? bm : 0;
  l.wScales = wSize == 1 ? bn : 0;
  l.stageBytes = wgmmaRound(
      l.aTile + l.wTile + l.rawA + l.rawW + 4 * (l.aScales + l.wScales), 1024);
  l.headerBytes =
      wgmmaRound(matmulRowTableBytes(bn) + 16 * kWgmmaMaxStages, 1024);
  // 1024 bytes for aligning the dynamic shared memory up to 1024.
  const int room = int(kWgmmaSharedBytes) - 1024 - l.headerBytes;
  const int fit = room / l.stageBytes;
  l.stages = fit < kWgmmaMaxStages ? fit : kWgmmaMaxStages;
  l.stagingBytes = bm * (bn + 8) * 4;
  return l;
}

} // namespace kernels
} // namespace moela

#if defined(__CUDACC__) || defined(__CUDACC_RTC__) ||                          \
    defined(MOELA_KERNEL_EMULATION)

#include "GemmEpilogue.cuh"

namespace moela {
namespace kernels {
namespace wg {

using namespace ptx;    // cp.async, mbarrier, wgmma and the conversions
using namespace matmul; // Problem, the row tables, the epilogue

/// Shared-memory matrix descriptor of a K-major, 128B-swizzled operand tile
/// starting at `addr` (see the header comment).
__device__ __forceinline__ unsigned long long smemDesc(unsigned addr) {
  return static_cast<unsigned long long>((addr & 0x3ffffu) >> 4) |
         (1ull << 16) | (static_cast<unsigned long long>(1024 >> 4) << 32) |
         (1ull << 62);
}

// ---- The engine -------------------------------------------------------------

template <typename TA, typename TW, int BM, int BN, int BK> struct Engine {
  static constexpr int kThreads = kWgmmaThreads,
                       kProducer = kWgmmaProducerThreads;
  static_assert(supportedTypes<TA, TW>(), "A and W types (GemmOperands.cuh)");
  static constexpr bool kF8A = isF8<TA>(), kF8W = isF8<TW>();
  static constexpr bool kW8A8 = kF8A && kF8W;
  static_assert(BM == 64 || BM == 128, "block_m: 64 or 128");
  static_assert(BN == 64 || BN == 128 || BN == 256, "block_n: 64, 128 or 256");
  static_assert(BK == 64 || BK == 128, "block_k: 64 or 128");

  static constexpr WgmmaLayout kL =
      wgmmaLayout(BM, BN, BK, int(sizeof(TA)), int(sizeof(TW)));
  static constexpr int kBK = kL.bk;
  static constexpr int kCE = kW8A8 ? 1 : 2; // bytes per compute element
  static constexpr bool kCvtA = kL.rawA > 0, kCvtW = kL.rawW > 0;
  static constexpr bool kScaleW = kF8W, kScaleA = kW8A8;
  static constexpr int kSA = kL.aScales, kSW = kL.wScales;
  static constexpr int kStages = kL.stages;
  static_assert(kStages >= 2,
                "tile too large for a 2-stage pipeline in 227 KiB");
  static_assert(1024 + kL.headerBytes + kL.stagingBytes <=
                    int(kWgmmaSharedBytes),
                "epilogue staging fits");

  // Consumers: wgmma N and accumulator floats per thread.
  static constexpr int kN = BM == 128 ? BN : BN / 2;
  static constexpr int kRegs = kN / 2;
  static_assert(!kScaleW || kN <= 128, "FP8 weights keep two accumulator sets: "
                                       "at most 128 columns per consumer");
  static constexpr int kStepK = kW8A8 ? 32 : 16; // K per wgmma
  static constexpr int kSteps = kBK / kStepK;
  static constexpr int kStepBytes = kStepK * kCE; // 32

  // Stage layout (offsets within a stage).
  static constexpr int kAOff = 0, kWOff = kL.aTile;
  static constexpr int kRawAOff = kWOff + kL.wTile,
                       kRawWOff = kRawAOff + kL.rawA;
  static constexpr int kScaleOff = kRawWOff + kL.rawW;
  static_assert(kL.aTile % 1024 == 0 && kL.wTile % 1024 == 0,
                "1024-aligned operand tiles");
  // Header: W row table, W scale-row table, full[kStages], empty[kStages].
  static constexpr int kFullOff = BN * 16,
                       kEmptyOff = kFullOff + 8 * kWgmmaMaxStages;

  __device__ static unsigned fullBar(unsigned base, int slot) {
    return base + kFullOff + 8 * slot;
  }
  __device__ static unsigned emptyBar(unsigned base, int slot) {
    return base + kEmptyOff + 8 * slot;
  }
  __device__ static unsigned stageAddr(unsigned base, int slot) {
    return base + kL.headerBytes + slot * kL.stageBytes;
  }

  /// Before the roles split: thread 0 initialises the barriers (the caller
  /// synchronises the block afterwards).
  __device__ static void initBarriers(unsigned base) {
    if (threadIdx.x == 0) {
#pragma unroll
      for (int s = 0; s < kStages; ++s) {
        mbarInit(fullBar(base, s), kProducer); // every producer thread
        mbarInit(emptyBar(base, s),
                 (kThreads - kProducer) / 32); // one lane per consumer warp
      }
    }
  }

  /// Address of byte `b` (compute bytes, b < kBK * kCE) of row r of a
  /// ROWS-row operand tile at `tile`: slab b / 128, chunk swizzled by r % 8.
  template <int ROWS>
  __device__ static unsigned tileAddr(unsigned tile, int r, int b) {
    return tile + (b >> 7) * (ROWS * 128) + r * 128 +
           ((((b >> 4) & 7) ^ (r & 7)) << 4) + (b & 15);
  }

  // ---- Producer -------------------------------------------------------------

  /// Copy plan of one operand tile of T with ROWS rows: producer thread pt
  /// copies raw 16-byte chunk column pt % kCPR of rows pt / kCPR + i *
  /// kRowStep.
  template <typename T, int ROWS> struct Part {
    static constexpr int kRawRow = kBK * int(sizeof(T)); // bytes per raw row
    static constexpr int kCPR = kRawRow / 16;
    static constexpr int kE = 16 / int(sizeof(T)); // elements per chunk
    static constexpr int kRowStep = kProducer / kCPR;
    static constexpr int kNum = ROWS / kRowStep;
    static_assert(kProducer % kCPR == 0 && ROWS % kRowStep == 0, "chunk plan");
  };
  using PA = Part<TA, BM>;
  using PW = Part<TW, BN>;

  /// Issues the copies of K tile [k0, k0 + kBK) of one operand (no commit):
  /// row i of this thread from rows[i] (null: zero-filled), into the compute
  /// tile, or the raw tile when CVT.
  template <typename T, int ROWS, bool CVT>
  __device__ static void issue(unsigned tile, unsigned raw,
                               const char *const (&rows)[Part<T, ROWS>::kNum],
                               int k0, int K, const void *anyValid) {
    using P = Part<T, ROWS>;
    const int pt = threadIdx.x, cc = pt % P::kCPR;
    const bool kOk =
        k0 + cc * P::kE < K; // K % 16 == 0: a chunk is all in or all out
    const long long off = static_cast<long long>(k0) * int(sizeof(T)) + cc * 16;
#pragma unroll
    for (int i = 0; i < P::kNum; ++i) {
      const int r = pt / P::kCPR + i * P::kRowStep;
      const bool ok = kOk && rows[i] != nullptr;
      const unsigned dst = CVT ? raw + r * P::kRawRow + cc * 16
                               : tileAddr<ROWS>(tile, r, cc * 16);
      cpAsync16(dst, ok ? rows[i] + off : anyValid, ok);
    }
  }

  /// Converts the raw chunks this thread copied (landed: cp.async.wait_group)
  /// into the bf16 compute tile: fp8 e4m3 exactly, f32 rounded to nearest.
  template <typename T, int ROWS>
  __device__ static void convert(unsigned tile, unsigned raw) {
    using P = Part<T, ROWS>;
    const int pt = threadIdx.x, cc = pt % P::kCPR;
#pragma unroll
    for (int i = 0; i < P::kNum; ++i) {
      const int r = pt / P::kCPR + i * P::kRowStep;
      const uint4 v = lds128(raw + r * P::kRawRow + cc * 16);
      if constexpr (isF8<T>()) {
        // 16 elements -> 32 bytes = compute chunks 2 cc, 2 cc + 1.
        sts128(tileAddr<ROWS>(tile, r, cc * 32),
               make_uint4(e4m3x2ToBf16x2(v.x), e4m3x2ToBf16x2(v.x >> 16),
                          e4m3x2ToBf16x2(v.y), e4m3x2ToBf16x2(v.y >> 16)));
        sts128(tileAddr<ROWS>(tile, r, cc * 32 + 16),
               make_uint4(e4m3x2ToBf16x2(v.z), e4m3x2ToBf16x2(v.z >> 16),
                          e4m3x2ToBf16x2(v.w), e4m3x2ToBf16x2(v.w >> 16)));
      } else {
        // 4 floats -> 8 bytes: half of compute chunk cc / 2.
        sts64(tileAddr<ROWS>(tile, r, cc * 8),
              f32x2ToBf16x2(__uint_as_float(v.x), __uint_as_float(v.y)),
              f32x2ToBf16x2(__uint_as_float(v.z), __uint_as_float(v.w)));
      }
    }
  }

  /// Block scales of K block kb: a_scale[BM] (W8A8) then w_scale[BN].
  __device__ static void issueScales(unsigned scales, int kb, const Problem &p,
                                     const float *const *wScales) {
    constexpr int kTotal = kSA + kSW;
#pragma unroll
    for (int it = 0; it < (kTotal + kProducer - 1) / kProducer; ++it) {
      const int i = threadIdx.x + it * kProducer;
      if (i < kTotal) {
        const float *row;
        if (i < kSA)
          row = i < p.rows ? p.aScales + i * p.aScaleLd : nullptr;
        else
          row = wScales[i - kSA];
        cpAsync4(scales + 4 * i, row ? row + kb : p.anyValid, row != nullptr);
      }
    }
  }

  /// The producer warpgroup (threads 0..127): tiles 0..numKT-1 through the
  /// ring, running kStages - 1 tiles ahead of the landed ones.
  __device__ static void produce(unsigned base, unsigned char *smem,
                                 const Problem &p, int numKT) {
    const int pt = threadIdx.x;
    const char *aRows[PA::kNum];
#pragma unroll
    for (int i = 0; i < PA::kNum; ++i) {
      const int r = pt / PA::kCPR + i * PA::kRowStep;
      aRows[i] = r < p.rows ? p.a + r * p.aLd : nullptr;
    }
    const char *wRows[PW::kNum];
#pragma unroll
    for (int i = 0; i < PW::kNum; ++i)
      wRows[i] = weightRows<BN>(smem)[pt / PW::kCPR + i * PW::kRowStep];
    const float *const *wScales = weightScales<BN>(smem);

    // Iteration j: finish tile j - D (landed -> convert -> fence -> full),
    // then wait for tile j's slot to be empty and issue it. Tile t's group is
    // the t-th commit, so at iteration j at most D - 1 newer groups may be
    // pending. Finishing first means the tile the consumers wait for is never
    // behind a wait for them.
    constexpr int D = kStages - 1;
    int issueSlot = 0, issueRound = 0, doneSlot = 0;
    for (int j = 0; j < numKT + D; ++j) {
      if (j >= D) {
        cpAsyncWait<D - 1>();
        const unsigned st = stageAddr(base, doneSlot);
        if constexpr (kCvtA)
          convert<TA, BM>(st + kAOff, st + kRawAOff);
        if constexpr (kCvtW)
          convert<TW, BN>(st + kWOff, st + kRawWOff);
        fenceProxyAsync();
        mbarArrive(fullBar(base, doneSlot));
        doneSlot = doneSlot + 1 == kStages ? 0 : doneSlot + 1;
      }
      if (j < numKT) {
        if (issueRound > 0) // the consumers released tile j - kStages
          mbarWait(emptyBar(base, issueSlot), (issueRound - 1) & 1);
        const unsigned st = stageAddr(base, issueSlot);
        const int k0 = j * kBK;
        issue<TA, BM, kCvtA>(st + kAOff, st + kRawAOff, aRows, k0, p.K,
                             p.anyValid);
        issue<TW, BN, kCvtW>(st + kWOff, st + kRawWOff, wRows, k0, p.K,
                             p.anyValid);
        if constexpr (kSA + kSW > 0)
          issueScales(st + kScaleOff, k0 >> 7, p, wScales);
        if (++issueSlot == kStages) {
          issueSlot = 0;
          ++issueRound;
        }
      }
      cpAsyncCommit(); // possibly empty: keeps one group per iteration
    }
    cpAsyncWait<0>();
  }

  // ---- Consumers ------------------------------------------------------------

  /// Descriptor offset (>> 4) of wgmma step s in a ROWS-row operand tile.
  template <int ROWS>
  __host__ __device__ static constexpr unsigned stepOff(int s) {
    return static_cast<unsigned>(
        ((s * kStepBytes) / 128 * ROWS * 128 + (s * kStepBytes) % 128) >> 4);
  }

  __device__ static void mma(float (&d)[kRegs], unsigned long long a,
                             unsigned long long b, int scaleD) {
    if constexpr (kW8A8)
      wgmmaE4m3<kN>(d, a, b, scaleD);
    else
      wgmmaBf16<kN>(d, a, b, scaleD);
  }

  /// This consumer's rows and columns of the tile: rows rowBase + 16 warp +
  /// g (+ 8), columns colBase + 8 j + 2 t (+ 1).
  __device__ static int consumer() { return (threadIdx.x >> 7) - 1; }
  __device__ static int rowBase() { return BM == 128 ? 64 * consumer() : 0; }
  __device__ static int colBase() { return BM == 128 ? 0 : kN * consumer(); }

  /// Releases a stage: every lane's reads of it (wgmma, scales) are done.
  __device__ static void release(unsigned base, int slot) {
    __syncwarp();
    if ((threadIdx.x & 31) == 0)
      mbarArrive(emptyBar(base, slot));
  }

  /// A consumer warpgroup (threads 128..383): acc = the tile's A @ W^T.
  __device__ static void consume(unsigned base, unsigned char *smem, int numKT,
                                 float (&acc)[kRegs]) {
    const unsigned first = stageAddr(base, 0);
    const unsigned long long descA = smemDesc(first + kAOff + rowBase() * 128);
    const unsigned long long descW = smemDesc(first + kWOff + colBase() * 128);
#pragma unroll
    for (int i = 0; i < kRegs; ++i)
      acc[i] = 0.0f;
    float blk[kScaleW ? kRegs : 1];
#pragma unroll
    for (int i = 0; i < (kScaleW ? kRegs : 1); ++i)
      blk[i] = 0.0f;

    // One tile's wgmmas stay in flight while the next tile's are issued;
    // `pending` is the stage of the previous tile, released once they are
    // complete. FP8 weights wait for all at the end of each 128-wide K block
    // and promote `blk` into acc with the block's scales.
    int slot = 0, round = 0, pending = -1;
    for (int kt = 0; kt < numKT; ++kt) {
      mbarWait(fullBar(base, slot), round & 1);
      const unsigned so = static_cast<unsigned>(slot * kL.stageBytes) >> 4;
      const int k0 = kt * kBK;
      const bool firstOfBlock = (k0 & 127) == 0;
      const bool lastOfBlock = ((k0 + kBK) & 127) == 0 || kt == numKT - 1;
      wgmmaFence();
#pragma unroll
      for (int s = 0; s < kSteps; ++s) {
        if constexpr (kScaleW)
          mma(blk, descA + so + stepOff<BM>(s), descW + so + stepOff<BN>(s),
              (s > 0 || !firstOfBlock) ? 1 : 0);
        else
          mma(acc, descA + so + stepOff<BM>(s), descW + so + stepOff<BN>(s), 1);
      }
      wgmmaCommit();
      if (!kScaleW || !lastOfBlock) {
        wgmmaWait<1>(); // every tile before kt is complete
        if (pending >= 0)
          release(base, pending);
        pending = slot;
      } else {
        wgmmaWait<0>();
        if constexpr (kScaleW) {
          fenceRegs(blk);
          promote(acc, blk,
                  reinterpret_cast<const float *>(smem + kL.headerBytes +
                                                  slot * kL.stageBytes +
                                                  kScaleOff));
        }
        if (pending >= 0)
          release(base, pending);
        release(base, slot);
        pending = -1;
      }
      if (++slot == kStages) {
        slot = 0;
        ++round;
      }
    }
    wgmmaWait<0>();
    fenceRegs(acc);
  }

  /// acc += blk * (w_scale[col] * a_scale[row]) with the stage's scales
  /// (a_scale[kSA] then w_scale[kSW]; a_scale = 1 without FP8 A).
  __device__ static void promote(float (&acc)[kRegs], const float (&blk)[kRegs],
                                 const float *scales) {
    const int lane = threadIdx.x & 31, warp = (threadIdx.x >> 5) & 3;
    const int g = lane >> 2, t = lane & 3;
    float as0 = 1.0f, as1 = 1.0f;
    if constexpr (kScaleA) {
      as0 = scales[rowBase() + 16 * warp + g];
      as1 = scales[rowBase() + 16 * warp + g + 8];
    }
#pragma unroll
    for (int j = 0; j < kN / 8; ++j) {
      const float2 ws = *reinterpret_cast<const float2 *>(
          scales + kSA + colBase() + 8 * j + 2 * t);
      acc[4 * j + 0] += blk[4 * j + 0] * (ws.x * as0);
      acc[4 * j + 1] += blk[4 * j + 1] * (ws.y * as0);
      acc[4 * j + 2] += blk[4 * j + 2] * (ws.x * as1);
      acc[4 * j + 3] += blk[4 * j + 3] * (ws.y * as1);
    }
  }

  // ---- Epilogue -------------------------------------------------------------

  /// After produce and consume, on every thread of the block: the consumers
  /// write their accumulators to the fp32 staging tile [BM][stagingLd] over
  /// the stages (with SILU, tile columns 2i (gate) and 2i+1 (up) become
  /// column i), then the block synchronises. Returns the staging tile.
  template <bool SILU>
  __device__ static const float *stage(unsigned char *smem,
                                       const float (&acc)[kRegs]) {
    // Every copy has landed and every wgmma completed: the stages are free.
    __syncthreads();
    float *stg = reinterpret_cast<float *>(smem + kL.headerBytes);
    if (threadIdx.x >= kProducer) {
      const int lane = threadIdx.x & 31, warp = (threadIdx.x >> 5) & 3;
      const int g = lane >> 2, t = lane & 3;
#pragma unroll
      for (int j = 0; j < kN / 8; ++j)
        stageQuad<SILU, stagingLd<BN, SILU>()>(
            stg, rowBase() + 16 * warp + g, colBase() + 8 * j + 2 * t,
            acc[4 * j + 0], acc[4 * j + 1], acc[4 * j + 2], acc[4 * j + 3]);
    }
    __syncthreads();
    return stg;
  }
};

} // namespace wg
} // namespace kernels
} // namespace moela

#endif // __CUDACC__ || __CUDACC_RTC__ || MOELA_KERNEL_EMULATION

#endif // MOELA_KERNELS_WGMMACOMMON_CUH
