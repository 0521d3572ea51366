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

} // namespace
} // namespace moela::emutest
