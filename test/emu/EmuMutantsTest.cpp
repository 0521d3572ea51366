//===- EmuMutantsTest.cpp - Planted bugs the emulator must report ---------===//
//
// `ctest -L emu-mutants`: for each class of GPU bug the emulator claims to
// catch, a small kernel with the bug planted (a mutant) and its correct twin.
// The mutant must be reported, by a failed launch naming the cause or by a
// poisoned (NaN) result; the twin must pass with exact results. A mutant
// that passes means the emulator has a blind spot again (issue 16).
//
//===----------------------------------------------------------------------===//
#include "CudaEmu.h"
#include "PtxAsyncEmu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace moela::emutest {
MOELA_EMU_DYNAMIC_SHARED(unsigned char, mutantSmem);

namespace {

// ---- An uninitialised static __shared__ array -------------------------------

/// Block b writes b + 1 to every element of a static shared array and sums
/// it. The mutant skips the writes on odd blocks: on a GPU it reads garbage;
/// the emulator must not let it read the previous block's (correct-looking)
/// values. One worker, so that every block reuses the same instance.
std::vector<float> staticSharedSums(bool initialise) {
  std::vector<float> sums(4, 0.0f);
  emu::options().workers = 1;
  emu::launch(
      [&](int) {
        __shared__ float values[64];
        const unsigned t = threadIdx.x;
        if (initialise || blockIdx.x % 2 == 0)
          values[t] = float(blockIdx.x % 2 == 0 ? 1 : 2);
        __syncthreads();
        if (t == 0) {
          float s = 0.0f;
          for (int i = 0; i < 64; ++i)
            s += values[i];
          sums[blockIdx.x] = s;
        }
      },
      dim3(4), dim3(64), 0, 0);
  emu::options().workers = 0;
  return sums;
}

TEST(EmuMutants, UninitialisedStaticSharedReadsNaN) {
  const std::vector<float> twin = staticSharedSums(true);
  EXPECT_EQ(twin, (std::vector<float>{64, 128, 64, 128}));
  const std::vector<float> mutant = staticSharedSums(false);
  EXPECT_EQ(mutant[0], 64.0f);
  EXPECT_TRUE(std::isnan(mutant[1])) << mutant[1];
  EXPECT_TRUE(std::isnan(mutant[3])) << mutant[3];
}

TEST(EmuMutants, StaticSharedPoisonReadsAsALargeInteger) {
  // An index kept in uninitialised static shared memory is far out of range
  // (0xff bytes would read -1, which a `< n` test accepts). Block 1 writes
  // (an object that nothing writes would be folded to 0 by g++), block 0,
  // first on the one worker, reads before any write.
  int seen = 0;
  float halfSeen = 0.0f;
  emu::options().workers = 1;
  emu::launch(
      [&](int) {
        __shared__ int index;
        __shared__ unsigned short half;
        if (blockIdx.x == 1) {
          index = 5;
          half = 0;
        } else if (threadIdx.x == 0) {
          seen = index;
          halfSeen = emu::num::bf16ToFloat(half);
        }
      },
      dim3(2), dim3(32), 0, 0);
  emu::options().workers = 0;
  EXPECT_EQ(unsigned(seen), emu::kStaticSharedPoison);
  EXPECT_TRUE(std::isnan(halfSeen)) << halfSeen;
}

// ---- A wgmma accumulator read before wgmma.wait_group
// ------------------------

/// How the wgmma kernel below treats its accumulators.
enum class AccessAcc { AfterWait, ReadBeforeWait, WriteBeforeWait };

/// One warpgroup computes D (64 x 8) = A (64 x 16) B (8 x 16)^T with one
/// wgmma, A and B all ones in the unswizzled K-major layout (8 x 16-byte
/// core matrices), and stores d[0] of each thread: 16 when read after
/// wgmma.wait_group. Returns the launch error ("" if none).
std::string wgmmaAccumulators(AccessAcc access, std::vector<float> &out) {
  out.assign(128, 0.0f);
  try {
    emu::launch(
        [&](int) {
          const unsigned base =
              (unsigned(__cvta_generic_to_shared(mutantSmem)) + 15u) & ~15u;
          const unsigned t = threadIdx.x, bBase = base + 64 * 32;
          const uint4 ones = {0x3f803f80u, 0x3f803f80u, 0x3f803f80u,
                              0x3f803f80u}; // bf16 1.0
          // Chunk c (K elements [8c, 8c + 8)) of row r at
          // (r % 8) * 16 + (r / 8) * 128 (SBO) + c * rows * 16 (LBO).
          emu::ptx::st_shared_v4_u32(base + (t / 2 % 8) * 16 +
                                         (t / 2 / 8) * 128 + (t % 2) * 1024,
                                     ones);
          if (t < 16)
            emu::ptx::st_shared_v4_u32(bBase + (t / 2) * 16 + (t % 2) * 128,
                                       ones);
          emu::ptx::fence_proxy_async_shared_cta();
          __syncthreads();
          auto desc = [](unsigned addr, unsigned lbo) {
            return uint64_t((addr & 0x3ffffu) >> 4) |
                   (uint64_t(lbo >> 4) << 16) | (uint64_t(128 >> 4) << 32);
          };
          float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          emu::ptx::wgmma_fence_sync_aligned();
          emu::ptx::wgmma_mma_async_m64nNk16_f32_bf16_bf16(
              8, d, desc(base, 1024), desc(bBase, 128), 0, 1, 1, 0, 0);
          emu::ptx::wgmma_commit_group_sync_aligned();
          if (access == AccessAcc::ReadBeforeWait)
            out[t] = d[0];
          if (access == AccessAcc::WriteBeforeWait)
            d[1] = 0.0f;
          emu::ptx::wgmma_wait_group_sync_aligned(0);
          if (access == AccessAcc::AfterWait)
            out[t] = d[0];
        },
        dim3(1), dim3(128), 4096, 0);
  } catch (const emu::Error &e) {
    return e.what();
  }
  return "";
}

TEST(EmuMutants, WgmmaAccumulatorReadBeforeWaitGroupIsNaN) {
  std::vector<float> out;
  EXPECT_EQ(wgmmaAccumulators(AccessAcc::AfterWait, out), "");
  EXPECT_EQ(out, std::vector<float>(128, 16.0f));
  EXPECT_EQ(wgmmaAccumulators(AccessAcc::ReadBeforeWait, out), "");
  for (float v : out)
    ASSERT_TRUE(std::isnan(v)) << v;
}

TEST(EmuMutants, WgmmaAccumulatorWrittenInFlightFailsTheLaunch) {
  std::vector<float> out;
  EXPECT_NE(wgmmaAccumulators(AccessAcc::WriteBeforeWait, out)
                .find("accumulator register 1 of a thread was written while "
                      "a wgmma.mma_async owned it"),
            std::string::npos);
}

} // namespace
} // namespace moela::emutest
