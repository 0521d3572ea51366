//===- WgmmaEmuTest.cpp - The emulated Hopper async PTX (PtxAsyncEmu.h) ---===//
//
// wgmma descriptors and fragments (both K-major layouts, bf16 and e4m3, every
// N; a wrong swizzle mode or K step gives a large error), mbarriers, and the
// rules that fail a launch: missing proxy and wgmma fences, operands
// overwritten in flight, mbarrier deadlocks.
//
//===----------------------------------------------------------------------===//
#include "EmuKernels.h"
#include "LaunchError.h"
#include "Random.h"

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

// ---- wgmma, mbarrier, the async proxy ---------------------------------------

/// What wgmmaProbe runs: one warpgroup writes A (64 x 64 bf16, or 64 x 128
/// e4m3) and B (N x the same) K-major into shared memory (st.shared) in the
/// layout of `layout`, fences, and issues one wgmma.mma_async per K step with
/// descriptors of `descSwizzle` (start + `stepBytes` per step), on top of
/// D = 1 (scale-d = 1) or not.
struct WgmmaProbe {
  bool fp8 = false;
  int n = 16;
  int layout = 1; // 0: no swizzle (8x16-byte core matrices), 1: 128B swizzle
  int descSwizzle = 1; // the descriptor's mode field
  int stepBytes = 32;
  bool scaleD = true;
  bool proxyFence = true, wgmmaFence = true, overwriteInFlight = false,
       wait = true;
  unsigned baseOffset = 0;
  unsigned threads = 128;
};

/// Byte offset of K byte b (< 128: four 32-byte K steps) of row `row` of a
/// `rows`-row K-major operand in `layout` (PTX ISA "Shared Memory Matrix
/// Layout"; the 128B swizzle as the TMA writes it).
unsigned probeOffset(int layout, int rows, int row, int b) {
  if (layout == 1) // 8-row atoms of 8 x 128 bytes, 16-byte chunk c of row r at
                   // c ^ (r % 8)
    return unsigned((row / 8) * 1024 + (row % 8) * 128 +
                    (((b / 16) ^ (row % 8)) * 16) + b % 16);
  // core matrices of 8 rows x 16 bytes: K-adjacent ones LBO = rows * 16 apart,
  // row groups SBO = 128
  return unsigned((b / 16) * rows * 16 + (row / 8) * 128 + (row % 8) * 16 +
                  b % 16);
}

/// Runs the probe; returns the launch error ("" if none) and the rel-L2 error
/// of D against the product of the operands.
std::pair<std::string, double> wgmmaProbe(const WgmmaProbe &pr) {
  Rng rng("wgmma probe");
  const int N = pr.n, kBytes = 128, steps = 4;
  const int perStep = pr.fp8 ? 32 : 16, K = 4 * perStep; // elements
  std::vector<uint8_t> a(64 * kBytes), b(size_t(N) * kBytes);
  std::vector<float> av(64 * K), bv(size_t(N) * K);
  auto fill = [&](std::vector<uint8_t> &bytes, std::vector<float> &vals,
                  int rows) {
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < K; ++k) {
        float v;
        if (pr.fp8) {
          const uint8_t c = rng.fp8Code(9);
          bytes[size_t(r) * kBytes + k] = c;
          v = emu::num::e4m3ToFloat(c);
        } else {
          const uint16_t h = emu::num::floatToBf16(rng.nonZero(-1, 1));
          std::memcpy(&bytes[size_t(r) * kBytes + 2 * k], &h, 2);
          v = emu::num::bf16ToFloat(h);
        }
        vals[size_t(r) * K + k] = v;
      }
  };
  fill(a, av, 64);
  fill(b, bv, N);
  std::vector<float> out(size_t(64) * N, NAN);
  const unsigned bOff = pr.layout == 1 ? 64 * 128 : 64 * kBytes;
  std::string error;
  try {
    emu::launch(
        [&](int) {
          const unsigned raw = unsigned(__cvta_generic_to_shared(mmSmem));
          const unsigned base = (raw + 1023u) & ~1023u;
          const unsigned t = threadIdx.x;
          // Every thread stores 16-byte chunks of A and B in the layout.
          auto store = [&](unsigned tile, const std::vector<uint8_t> &bytes,
                           int rows) {
            for (int i = int(t); i < rows * 8; i += int(pr.threads)) {
              const int r = i / 8, c = i % 8;
              uint4 v;
              std::memcpy(&v, &bytes[size_t(r) * kBytes + c * 16], 16);
              emu::ptx::st_shared_v4_u32(
                  tile + probeOffset(pr.layout, rows, r, c * 16), v);
            }
          };
          store(base, a, 64);
          store(base + bOff, b, N);
          if (pr.proxyFence)
            emu::ptx::fence_proxy_async_shared_cta();
          __syncthreads();
          float d[128];
          for (int i = 0; i < N / 2; ++i)
            d[i] = 1.0f;
          auto desc = [&](unsigned addr, int rows) {
            const unsigned lbo = pr.layout == 1 ? 16 : unsigned(rows) * 16;
            const unsigned sbo = pr.layout == 1 ? 1024 : 128;
            return uint64_t((addr & 0x3ffffu) >> 4) |
                   (uint64_t(lbo >> 4) << 16) | (uint64_t(sbo >> 4) << 32) |
                   (uint64_t(pr.baseOffset) << 49) |
                   (uint64_t(pr.descSwizzle) << 62);
          };
          if (pr.wgmmaFence)
            emu::ptx::wgmma_fence_sync_aligned();
          for (int s = 0; s < steps; ++s) {
            // Step s: K bytes [32 s, 32 s + 32): in the swizzled layout the
            // start moves by 32 bytes; without swizzle by two core matrices.
            const unsigned step =
                pr.layout == 1 ? unsigned(s * pr.stepBytes) : 0;
            const uint64_t da = desc(base + step, 64) +
                                (pr.layout == 1 ? 0 : s * 2 * 64),
                           db = desc(base + bOff + step, N) +
                                (pr.layout == 1 ? 0 : s * 2 * N);
            const int scaleD = pr.scaleD || s > 0;
            if (pr.fp8)
              emu::ptx::wgmma_mma_async_m64nNk32_f32_e4m3_e4m3(N, d, da, db,
                                                               scaleD, 1, 1);
            else
              emu::ptx::wgmma_mma_async_m64nNk16_f32_bf16_bf16(
                  N, d, da, db, scaleD, 1, 1, 0, 0);
          }
          emu::ptx::wgmma_commit_group_sync_aligned();
          if (pr.overwriteInFlight && t == 0)
            emu::ptx::st_shared_v4_u32(base, make_uint4(0, 0, 0, 0));
          if (pr.wait)
            emu::ptx::wgmma_wait_group_sync_aligned(0);
          // The accumulator layout of the PTX ISA (m64nNk16 / k32 D fragments).
          const int q = int(t) / 32, g = int(t % 32) / 4, tq = int(t % 4);
          for (int j = 0; j < N / 8; ++j)
            for (int i = 0; i < 4; ++i)
              out[size_t(16 * q + g + (i >= 2 ? 8 : 0)) * N + 8 * j + 2 * tq +
                  (i & 1)] = d[4 * j + i];
        },
        dim3(1), dim3(pr.threads), 64 * 1024, 0);
  } catch (const emu::Error &e) {
    error = e.what();
  }
  double err2 = 0, ref2 = 0;
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < N; ++c) {
      double ref = pr.scaleD ? 1.0 : 0.0;
      for (int k = 0; k < K; ++k)
        ref += double(av[size_t(r) * K + k]) * double(bv[size_t(c) * K + k]);
      const double o = out[size_t(r) * N + c];
      err2 += (o - ref) * (o - ref);
      ref2 += ref * ref;
    }
  return {error, std::sqrt(err2 / ref2)};
}

TEST(CudaEmu, WgmmaFragmentsAndDescriptors) {
  // The ISA's layouts: the 128B-swizzled and the unswizzled K-major ones,
  // bf16 (k16) and e4m3 (k32), every N the engine issues, scale-d both ways.
  for (bool fp8 : {false, true})
    for (int n : {16, 32, 64, 128, 256})
      for (int layout : {1, 0}) {
        WgmmaProbe p;
        p.fp8 = fp8;
        p.n = n;
        p.layout = layout;
        p.descSwizzle = layout;
        p.scaleD = n != 64;
        const auto [error, rel] = wgmmaProbe(p);
        EXPECT_EQ(error, "") << n;
        EXPECT_LE(rel, 1e-6)
            << "fp8 " << fp8 << " n " << n << " layout " << layout;
      }
  // A wrong descriptor reads other elements: a large error, not a failure.
  WgmmaProbe p;
  for (int wrongMode : {0, 2, 3}) { // none, 64B, 32B over 128B-swizzled data
    p.descSwizzle = wrongMode;
    const auto [error, rel] = wgmmaProbe(p);
    std::printf(
        "  128B-swizzled operands, descriptor swizzle mode %d: rel %.3g\n",
        wrongMode, rel);
    EXPECT_GT(rel, 0.3) << wrongMode;
  }
  p.descSwizzle = 1;
  p.stepBytes = 16; // K steps 16 bytes apart instead of 32
  const auto [error, rel] = wgmmaProbe(p);
  std::printf("  K step of 16 bytes instead of 32: rel %.3g\n", rel);
  EXPECT_GT(rel, 0.3);
}

TEST(CudaEmu, WgmmaRulesFailTheLaunch) {
  auto fails = [](WgmmaProbe p, const char *what) {
    const std::string error = wgmmaProbe(p).first;
    EXPECT_NE(error.find(what), std::string::npos)
        << "expected \"" << what << "\", got \"" << error << "\"";
  };
  WgmmaProbe p;
  p.proxyFence = false; // st.shared then wgmma without fence.proxy.async
  fails(p, "with no fence.proxy.async since");
  p = {};
  p.wgmmaFence = false;
  fails(p, "without wgmma.fence");
  p = {};
  p.overwriteInFlight =
      true; // st.shared over an operand before wgmma.wait_group
  fails(p, "overwritten before it completed");
  p = {};
  p.wait = false;
  fails(p, "not waited for");
  p = {};
  p.baseOffset = 3;
  fails(p, "matrix base offset 3");
  p = {};
  p.threads = 96; // not a whole warpgroup
  fails(p, "not in a complete warpgroup");
}

TEST(CudaEmu, Mbarriers) {
  // A producer / consumer ring of 2 slots over 6 rounds: warp 0 fills slot
  // i % 2 once `empty` says the consumers are done with it; warps 1..3 read
  // it once `full` completes; parities alternate per round.
  std::vector<int> got(16 * 96, -1);
  emu::launch(
      [&](int) {
        const unsigned raw = unsigned(__cvta_generic_to_shared(mmSmem));
        int *data = reinterpret_cast<int *>(mmSmem + 64);
        const unsigned full = raw, empty = raw + 16;
        if (threadIdx.x == 0) {
          for (int s = 0; s < 2; ++s) {
            emu::ptx::mbarrier_init_shared_b64(full + 8 * s, 32);
            emu::ptx::mbarrier_init_shared_b64(empty + 8 * s, 96);
          }
        }
        __syncthreads();
        for (int i = 0; i < 16; ++i) {
          const int slot = i % 2, round = i / 2;
          if (threadIdx.x < 32) {
            if (round > 0)
              while (!emu::ptx::mbarrier_try_wait_parity_shared_b64(
                  empty + 8 * slot, unsigned(round - 1) & 1)) {
              }
            data[slot * 32 + threadIdx.x] = 100 * i + int(threadIdx.x);
            emu::ptx::mbarrier_arrive_shared_b64(full + 8 * slot);
          } else {
            while (!emu::ptx::mbarrier_try_wait_parity_shared_b64(
                full + 8 * slot, unsigned(round) & 1)) {
            }
            got[size_t(i) * 96 + threadIdx.x - 32] =
                data[slot * 32 + (threadIdx.x % 32)];
            emu::ptx::mbarrier_arrive_shared_b64(empty + 8 * slot);
          }
        }
      },
      dim3(3), dim3(128), 1024, 0);
  for (int i = 0; i < 16; ++i)
    for (int t = 0; t < 96; ++t)
      ASSERT_EQ(got[size_t(i) * 96 + t], 100 * i + t % 32) << i << " " << t;

  // A wait that can never complete is a deadlock, not a hang.
  EXPECT_NE(launchError([] {
              const unsigned bar = unsigned(__cvta_generic_to_shared(mmSmem));
              if (threadIdx.x == 0)
                emu::ptx::mbarrier_init_shared_b64(
                    bar, 65); // one more than the block
              __syncthreads();
              emu::ptx::mbarrier_arrive_shared_b64(bar);
              while (!emu::ptx::mbarrier_try_wait_parity_shared_b64(bar, 0)) {
              }
            }).find("deadlock: 64 threads wait at mbarrier.try_wait.parity"),
            std::string::npos);
  EXPECT_NE(launchError([] {
              emu::ptx::mbarrier_arrive_shared_b64(
                  unsigned(__cvta_generic_to_shared(mmSmem)));
            }).find("no mbarrier.init"),
            std::string::npos);
  EXPECT_NE(launchError([] { // a generic store over a live barrier
              const unsigned bar = unsigned(__cvta_generic_to_shared(mmSmem));
              if (threadIdx.x == 0) {
                emu::ptx::mbarrier_init_shared_b64(bar, 1);
                mmSmem[0] = 0;
                emu::ptx::mbarrier_arrive_shared_b64(bar);
              }
            })
                .find("was overwritten"),
            std::string::npos);
}

} // namespace
} // namespace moela::emutest
