//===- CudaEmuTest.cpp - The CUDA emulation itself (CudaEmu.h, PtxEmu.h) ===//
//
// Before the kernels are checked against it, the emulator is checked against
// the CUDA / PTX rules it implements: number formats against the runtime's
// converters (DType.h, written separately), ldmatrix and mma fragments
// against the layouts the PTX ISA tabulates, cp.async groups, warp
// primitives and barriers, and that every rule it enforces (traps, warp
// divergence, barriers after exits, shared-memory bounds and alignment,
// device-buffer bounds, missing barriers) fails a launch with a message.
// The Hopper asynchronous part (wgmma, mbarriers, the async proxy) is
// checked in WgmmaEmuTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "EmuKernels.h"
#include "LaunchError.h"
#include "Random.h"

#include "moela/Runtime/DType.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace moela::emutest {
namespace {

using moela::cases::Rng;

// Test kernels use the kernels' dynamic shared array of Gemm (any registered
// one would do).
using moela::kernels::mmSmem;

uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

bool sameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || floatBits(a) == floatBits(b);
}

// ---- Number formats ---------------------------------------------------------

TEST(CudaEmu, NumberFormatsMatchTheRuntime) {
  for (uint32_t b = 0; b < 65536; ++b) {
    ASSERT_TRUE(
        sameFloat(emu::num::bf16ToFloat(uint16_t(b)), bf16ToFloat(uint16_t(b))))
        << b;
    ASSERT_TRUE(
        sameFloat(emu::num::halfToFloat(uint16_t(b)), f16ToFloat(uint16_t(b))))
        << b;
  }
  for (uint32_t b = 0; b < 256; ++b)
    ASSERT_TRUE(
        sameFloat(emu::num::e4m3ToFloat(uint8_t(b)), e4m3ToFloat(uint8_t(b))))
        << b;
  // Rounding: random floats over many binades, ties, specials.
  Rng rng("number formats");
  std::vector<float> values = {0.0f,      -0.0f,  1.0f,     -1.0f,   448.0f,
                               464.0f,    465.0f, 1e6f,     -1e6f,   INFINITY,
                               -INFINITY, 1e-10f, 65504.0f, 65520.0f};
  for (const auto &[m, e] :
       std::vector<std::pair<float, int>>{{1.0f, -9},
                                          {1.5f, -10},
                                          {1.0625f, -7},
                                          {1.0f, -24},
                                          {3.0f, -26}}) // subnormals
    values.push_back(std::ldexp(m, e));
  // (NaN: any NaN will do, checked below.)
  for (int i = 0; i < 200000; ++i)
    values.push_back(std::ldexp(rng.uniform(-1, 1), rng.uniformInt(-30, 20)));
  for (uint32_t h = 0; h < 65536; h += 7) // bf16 ties: the exact midpoints
    values.push_back(emu::num::fromBits((h << 16) | 0x8000u));
  for (float v : values) {
    if (std::isnan(v))
      continue;
    ASSERT_EQ(emu::num::floatToBf16(v), floatToBf16(v)) << v;
    ASSERT_EQ(emu::num::floatToE4m3(v), floatToE4m3(v)) << v;
    // f16: round trips and the value nearest (ties to even) by brute force.
    const uint16_t h = emu::num::floatToHalf(v);
    const float back = emu::num::halfToFloat(h);
    if (std::fabs(v) < 65504.0f) {
      for (int d : {-1, 1}) {
        const uint16_t n = uint16_t(h + d);
        if ((n & 0x7c00) == 0x7c00 || ((n ^ h) & 0x8000))
          continue;
        const double mine = std::fabs(double(back) - v),
                     other = std::fabs(double(emu::num::halfToFloat(n)) - v);
        ASSERT_TRUE(mine < other || (mine == other && !(h & 1))) << v;
      }
    }
  }
  EXPECT_TRUE(std::isnan(emu::num::e4m3ToFloat(emu::num::floatToE4m3(NAN))));
  EXPECT_TRUE(std::isnan(emu::num::bf16ToFloat(emu::num::floatToBf16(NAN))));
  EXPECT_TRUE(std::isnan(emu::num::halfToFloat(emu::num::floatToHalf(NAN))));
  EXPECT_EQ(emu::num::floatToE4m3(1e9f), 0x7e); // satfinite
  EXPECT_EQ(emu::num::floatToE4m3(-INFINITY), 0xfe);
}

// ---- ldmatrix and mma against the PTX ISA's fragment tables -----------------

/// Runs `body` as one warp (32 threads) of one block with `shared` bytes of
/// dynamic shared memory.
template <typename Body> void oneWarp(unsigned shared, Body body) {
  emu::launch([&](int) { body(); }, dim3(1), dim3(32), shared, 0);
}

TEST(CudaEmu, LdmatrixFragments) {
  // Four 8x8 b16 matrices, element (i, r, c) = i*64 + r*8 + c, row r of
  // matrix i at (8i + r) * 32 bytes (rows need not be contiguous).
  for (bool trans : {false, true}) {
    std::vector<unsigned> got(32 * 4);
    oneWarp(4096, [&] {
      const int lane = threadIdx.x;
      uint16_t *m = reinterpret_cast<uint16_t *>(mmSmem);
      for (int e = 0; e < 8; ++e) // lane l writes row l
        m[lane * 16 + e] = uint16_t((lane / 8) * 64 + (lane % 8) * 8 + e);
      __syncwarp();
      unsigned r[4];
      emu::ptx::ldmatrix_m8n8_shared_b16(
          r, 4, trans, unsigned(__cvta_generic_to_shared(m + lane * 16)));
      for (int i = 0; i < 4; ++i)
        got[size_t(lane * 4 + i)] = r[i];
    });
    // PTX ISA, ldmatrix: "each thread receives a fragment of a row": lane l
    // holds elements 2 (l % 4) and 2 (l % 4) + 1 of row l / 4 (low half
    // first); with .trans the matrix is read column-major.
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < 4; ++i) {
        const int row = lane / 4, col = 2 * (lane % 4);
        const unsigned lo =
            trans ? i * 64 + col * 8 + row : i * 64 + row * 8 + col;
        const unsigned hi =
            trans ? i * 64 + (col + 1) * 8 + row : i * 64 + row * 8 + col + 1;
        ASSERT_EQ(got[size_t(lane * 4 + i)], lo | (hi << 16))
            << "lane " << lane << " matrix " << i << (trans ? " .trans" : "");
      }
    // The ISA's figure: lane 5 holds row 1, columns 2 and 3 of each matrix.
    EXPECT_EQ(got[5 * 4 + 2],
              trans ? (128u + 2 * 8 + 1) | ((128u + 3 * 8 + 1) << 16)
                    : (128u + 8 + 2) | ((128u + 8 + 3) << 16));
  }
}

TEST(CudaEmu, MmaFragments) {
  // Small integers: every product and sum is exact in bf16 / f16 and fp32.
  Rng rng("mma");
  float A[16][16], B[16][8], C[16][8];
  for (auto &r : A)
    for (float &v : r)
      v = float(rng.uniformInt(-8, 8));
  for (auto &r : B)
    for (float &v : r)
      v = float(rng.uniformInt(-8, 8));
  for (auto &r : C)
    for (float &v : r)
      v = float(rng.uniformInt(-100, 100));
  for (bool half : {false, true}) {
    auto enc = [&](float v) {
      return half ? emu::num::floatToHalf(v) : emu::num::floatToBf16(v);
    };
    auto pack = [&](float lo, float hi) {
      return unsigned(enc(lo)) | (unsigned(enc(hi)) << 16);
    };
    std::vector<float> d(32 * 4);
    oneWarp(0, [&] {
      // PTX ISA "Matrix fragments for mma.m16n8k16 with floating point type",
      // groupID = lane >> 2, threadID_in_group = lane % 4:
      //   A: a0,a1: (g, 2t + 0/1), a2,a3: (g+8, ...), a4,a5: (g, 2t+8 + 0/1),
      //   a6,a7: (g+8, ...) B: b0,b1: (k = 2t + 0/1, n = g), b2,b3: (k = 2t+8 +
      //   0/1, n = g) C/D: c0,c1: (g, 2t + 0/1), c2,c3: (g+8, 2t + 0/1)
      const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
      const unsigned a[4] = {pack(A[g][2 * t], A[g][2 * t + 1]),
                             pack(A[g + 8][2 * t], A[g + 8][2 * t + 1]),
                             pack(A[g][2 * t + 8], A[g][2 * t + 9]),
                             pack(A[g + 8][2 * t + 8], A[g + 8][2 * t + 9])};
      const unsigned b[2] = {pack(B[2 * t][g], B[2 * t + 1][g]),
                             pack(B[2 * t + 8][g], B[2 * t + 9][g])};
      float c[4] = {C[g][2 * t], C[g][2 * t + 1], C[g + 8][2 * t],
                    C[g + 8][2 * t + 1]};
      if (half)
        emu::ptx::mma_m16n8k16_row_col_f32_f16_f16_f32(c, a, b, c);
      else
        emu::ptx::mma_m16n8k16_row_col_f32_bf16_bf16_f32(c, a, b, c);
      for (int e = 0; e < 4; ++e)
        d[size_t(lane * 4 + e)] = c[e];
    });
    for (int lane = 0; lane < 32; ++lane)
      for (int e = 0; e < 4; ++e) {
        const int i = (lane >> 2) + (e >= 2 ? 8 : 0),
                  j = 2 * (lane & 3) + (e & 1);
        float want = C[i][j];
        for (int k = 0; k < 16; ++k)
          want += A[i][k] * B[k][j];
        ASSERT_EQ(d[size_t(lane * 4 + e)], want)
            << "lane " << lane << " d" << e;
      }
  }
}

TEST(CudaEmu, Conversions) {
  // cvt.rn.bf16x2.f32 d, a, b: a -> the upper half.
  EXPECT_EQ(emu::ptx::cvt_rn_bf16x2_f32(1.0f, 2.0f), 0x3f804000u);
  EXPECT_EQ(emu::ptx::cvt_rn_f16x2_f32(1.0f, 2.0f), 0x3c004000u);
  // cvt.rn.f16x2.e4m3x2: the low byte -> the low half; every code exactly.
  for (unsigned lo = 0; lo < 256; ++lo)
    for (unsigned hi : {0x00u, 0x38u, 0xc1u, 0x7eu, 0x01u}) {
      const unsigned h =
          emu::ptx::cvt_rn_f16x2_e4m3x2(uint16_t(lo | (hi << 8)));
      ASSERT_TRUE(sameFloat(emu::ptx::cvt_f32_f16(uint16_t(h & 0xffff)),
                            e4m3ToFloat(uint8_t(lo))));
      ASSERT_TRUE(sameFloat(emu::ptx::cvt_f32_f16(uint16_t(h >> 16)),
                            e4m3ToFloat(uint8_t(hi))));
    }
}

// ---- cp.async ---------------------------------------------------------------

TEST(CudaEmu, CpAsyncGroups) {
  alignas(16) static float src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> seen;
  oneWarp(1024, [&] {
    if (threadIdx.x != 0) // other lanes do nothing (no collectives here)
      return;
    float *s = reinterpret_cast<float *>(mmSmem);
    const unsigned dst = unsigned(__cvta_generic_to_shared(s));
    emu::ptx::cp_async_shared_global(true, dst, src, 16, 16); // group 0
    emu::ptx::cp_async_commit_group();
    emu::ptx::cp_async_shared_global(true, dst + 16, src + 4, 16,
                                     16);                         // group 1
    emu::ptx::cp_async_shared_global(false, dst + 32, src, 4, 0); // zero fill
    emu::ptx::cp_async_commit_group();
    emu::ptx::cp_async_shared_global(false, dst + 48, src + 1, 4,
                                     4); // not committed
    seen.push_back(s[0]);             // before any wait: undefined (NaN here)
    emu::ptx::cp_async_wait_group(1); // group 0 landed, group 1 may not have
    seen.push_back(s[0]);
    seen.push_back(s[3]);
    seen.push_back(s[4]);
    emu::ptx::cp_async_wait_group(0); // group 1 too; the uncommitted copy not
    seen.push_back(s[7]);
    seen.push_back(s[8]);
    seen.push_back(s[12]);
    emu::ptx::cp_async_wait_all(); // commits and waits for it
    seen.push_back(s[12]);
    seen.push_back(float(emu::ptx::dynamic_smem_size()));
  });
  ASSERT_EQ(seen.size(), 9u);
  EXPECT_TRUE(std::isnan(seen[0]));
  EXPECT_EQ(seen[1], 1.0f);
  EXPECT_EQ(seen[2], 4.0f);
  EXPECT_TRUE(std::isnan(seen[3]));
  EXPECT_EQ(seen[4], 8.0f);
  EXPECT_EQ(seen[5], 0.0f);
  EXPECT_TRUE(std::isnan(seen[6]));
  EXPECT_EQ(seen[7], 2.0f);
  EXPECT_EQ(seen[8], 1024.0f);
}

// ---- Warp primitives, barriers, atomics -------------------------------------

TEST(CudaEmu, WarpPrimitives) {
  std::vector<int> out(64 * 8);
  emu::launch(
      [&](int) {
        const int t = threadIdx.x, lane = t & 31;
        int *o = out.data() + t * 8;
        o[0] = __shfl_sync(0xffffffffu, t * 10, 3);  // lane 3 of my warp
        o[1] = __shfl_xor_sync(0xffffffffu, t, 5);   // lane ^ 5
        o[2] = __shfl_up_sync(0xffffffffu, t, 2, 8); // within groups of 8
        o[3] = __shfl_down_sync(0xffffffffu, t, 3);  // lane + 3, or mine
        o[4] = int(__ballot_sync(0xffffffffu, lane % 3 == 0));
        o[5] = int(__match_any_sync(0xffffffffu, lane / 4 % 2));
        o[6] = __any_sync(0xffffffffu, lane == 17) +
               2 * __all_sync(0xffffffffu, lane < 31);
        o[7] = int(__shfl_xor_sync(0xffffffffu, double(t) + 0.5, 16) *
                   2); // 64-bit values
      },
      dim3(1), dim3(64), 0, 0);
  for (int t = 0; t < 64; ++t) {
    const int lane = t & 31, w = t & ~31;
    const int *o = out.data() + t * 8;
    EXPECT_EQ(o[0], (w + 3) * 10);
    EXPECT_EQ(o[1], w + (lane ^ 5));
    EXPECT_EQ(o[2], lane % 8 >= 2 ? t - 2 : t);
    EXPECT_EQ(o[3], lane + 3 < 32 ? t + 3 : t);
    EXPECT_EQ(unsigned(o[4]), 0x49249249u);
    EXPECT_EQ(unsigned(o[5]), lane / 4 % 2 ? 0xf0f0f0f0u : 0x0f0f0f0fu);
    EXPECT_EQ(o[6], 1);
    EXPECT_EQ(o[7], 2 * (w + (lane ^ 16)) + 1);
  }
}

TEST(CudaEmu, BarriersSharedMemoryAndAtomics) {
  // A block sum through static shared memory and atomics, many blocks on
  // every worker; the results must not depend on the schedule.
  std::vector<int> sums(37, -1);
  for (int workers : {1, 2}) {
    emu::options().workers = workers;
    emu::launch(
        [&](int) {
          __shared__ int partial[8];
          __shared__ int total;
          const int t = threadIdx.x;
          if (t == 0)
            total = 0;
          int v = t + int(blockIdx.x);
          for (int o = 16; o > 0; o >>= 1)
            v += __shfl_xor_sync(0xffffffffu, v, o);
          if ((t & 31) == 0)
            partial[t >> 5] = v;
          __syncthreads();
          atomicAdd(&total, t < 8 ? partial[t] : 0);
          __syncthreads();
          if (t == 0)
            sums[blockIdx.x] = total;
        },
        dim3(37), dim3(256), 0, 0);
    for (int b = 0; b < 37; ++b)
      EXPECT_EQ(sums[size_t(b)], 255 * 256 / 2 + 256 * b);
  }
  emu::options().workers = 0;
}

// ---- Rules that fail a launch -----------------------------------------------

TEST(CudaEmu, FailuresAreReported) {
  EXPECT_NE(launchError([] {
              if (blockIdx.x == 1 && threadIdx.x == 7)
                __trap();
            }).find("block (1,0,0) thread (7,0,0): __trap()"),
            std::string::npos);
  EXPECT_NE(launchError([] { // lane 0 at a shuffle, the others at a ballot
              if (threadIdx.x % 32 == 0)
                __shfl_sync(0xffffffffu, 1, 0);
              else
                __ballot_sync(0xffffffffu, 1);
            })
                .find("warp divergence"),
            std::string::npos);
  EXPECT_NE(launchError([] {
              if (threadIdx.x >= 32)
                return;
              __syncthreads();
            }).find("exited"),
            std::string::npos);
  EXPECT_NE(
      launchError([] { // half of warp 1 at a shuffle, the rest at a barrier
        if (threadIdx.x >= 48)
          __shfl_sync(0xffffffffu, 1, 0);
        __syncthreads();
      })
          .find("deadlock: 16 threads wait at __shfl_sync; 48 threads wait at "
                "__syncthreads"),
      std::string::npos);
  EXPECT_NE(launchError([] {
              __shfl_sync(0x0000ffffu, 1, 0);
            }).find("full-warp masks"),
            std::string::npos);
  EXPECT_NE(launchError([] { __syncwarp(); }, 48).find("missing lanes"),
            std::string::npos);
  EXPECT_NE(
      launchError([] { // past the launch's 256 bytes of dynamic shared memory
        if (threadIdx.x == 0)
          mmSmem[300] = 1;
      })
          .find("past the launch's 256 bytes"),
      std::string::npos);
  EXPECT_NE(launchError([] { // ldmatrix rows must be 16-byte aligned
              unsigned r[4];
              emu::ptx::ldmatrix_m8n8_shared_b16(
                  r, 4, false,
                  unsigned(__cvta_generic_to_shared(mmSmem + 8)) +
                      16 * (threadIdx.x % 8));
            })
                .find("not 16-byte aligned"),
            std::string::npos);
  EXPECT_NE(launchError([] { // ldmatrix past the dynamic shared memory
              unsigned r[4];
              emu::ptx::ldmatrix_m8n8_shared_b16(
                  r, 4, false,
                  unsigned(__cvta_generic_to_shared(mmSmem +
                                                    16 * (threadIdx.x % 32))));
            })
                .find("past the launch's"),
            std::string::npos);
  // cp.async from outside every device buffer, with the check on.
  std::vector<float> buffer(8);
  const emu::GlobalRange range(buffer.data(), sizeof(float) * buffer.size());
  const float *inside = buffer.data();
  emu::options().checkGlobal = true;
  EXPECT_EQ(launchError([&] {
              emu::ptx::cp_async_shared_global(
                  true, unsigned(__cvta_generic_to_shared(mmSmem)), inside + 4,
                  16, 16);
            }),
            "");
  EXPECT_NE(launchError([&] {
              emu::ptx::cp_async_shared_global(
                  true, unsigned(__cvta_generic_to_shared(mmSmem)), inside + 8,
                  16, 16);
            }).find("outside every device buffer"),
            std::string::npos);
  emu::options().checkGlobal = false;
}

TEST(CudaEmu, MissingBarrierIsVisible) {
  // Warp 1 reads what warp 0 writes without a barrier between: with the
  // shuffled fiber order, some of 16 blocks read before the write (and see
  // the poison of fresh shared memory), some after.
  std::vector<float> got(16);
  const bool shuffle = emu::options().shuffle;
  emu::options().shuffle = true; // (whatever MOELA_EMU_SCHEDULE says)
  emu::launch(
      [&](int) {
        float *s = reinterpret_cast<float *>(mmSmem);
        if (threadIdx.x == 0)
          s[0] = 1.0f;
        if (threadIdx.x == 32)
          got[blockIdx.x] = s[0];
      },
      dim3(16), dim3(64), 64, 0);
  emu::options().shuffle = shuffle;
  int stale = 0;
  for (float v : got)
    stale += std::isnan(v);
  EXPECT_GT(stale, 0);
  EXPECT_LT(stale, 16);
}

} // namespace
} // namespace moela::emutest
