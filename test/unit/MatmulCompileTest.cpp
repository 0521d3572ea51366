//===- MatmulCompileTest.cpp - Matrix kernels compile for sm_90a, no spills ===//
//
// No GPU needed: every Gemm / GroupedGemm / HeadGemm instantiation the
// emitter can produce for DeepSeek-V3 and the tiny models (element types x
// tiles x epilogue flags) is written as MatmulSources.h says and compiled
// with NVRTC for sm_90a; ptxas must report no spills, no stack, <= 255
// registers and no static shared memory (the launch asks for the 227 KiB
// maximum dynamically). Also checks the launch geometry of MatmulLaunch.h
// (plain C++) against the blocks' own tile mapping.
//
//===----------------------------------------------------------------------===//
#include "MatmulSources.h"

#include "moela/Runtime/Nvrtc.h"

#include "kernels/MatmulLaunch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace moela;
using namespace moela::test;

struct Job {
  std::string name, source;
};

struct Outcome {
  std::string name, error;
  NvrtcResult result;
};

/// Compiles every job on all cores (NVRTC programs are independent).
std::vector<Outcome> compileAll(const std::vector<Job> &jobs) {
  std::vector<Outcome> out(jobs.size());
  std::atomic<size_t> next{0};
  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  NvrtcOptions options; // no cache: compile for real
  for (unsigned w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < jobs.size();) {
        out[i].name = jobs[i].name;
        try {
          out[i].result = compileCuda(jobs[i].name, jobs[i].source, options);
        } catch (const std::exception &e) {
          out[i].error = e.what();
        }
      }
    });
  for (std::thread &t : pool)
    t.join();
  return out;
}

void checkOutcomes(const std::vector<Outcome> &outcomes) {
  for (const Outcome &o : outcomes) {
    SCOPED_TRACE(o.name);
    ASSERT_TRUE(o.error.empty()) << o.error;
    const NvrtcResult &r = o.result;
    EXPECT_FALSE(r.cubin.empty());
    EXPECT_EQ(r.spillBytes, 0) << r.log;
    EXPECT_EQ(r.stackBytes, 0) << r.log;
    EXPECT_GT(r.registers, 0) << r.log;
    EXPECT_LE(r.registers, 255) << r.log;
    EXPECT_EQ(r.sharedBytes, 0) << r.log;
    EXPECT_LE(r.sharedBytes + static_cast<int>(kernels::kMatmulSharedBytes), 232448);
    std::printf("  %-62s %3d regs %d spill %d stack %d smem + %u dynamic\n", o.name.c_str(),
                r.registers, r.spillBytes, r.stackBytes, r.sharedBytes,
                kernels::kMatmulSharedBytes);
  }
}

const Ty kAll[] = {Ty::F32, Ty::BF16, Ty::F8};
const Ty kOut[] = {Ty::F32, Ty::BF16};

TEST(MatmulCompile, Gemm) {
  std::vector<Job> jobs;
  for (bool prefill : {true, false})
    for (Ty a : kAll)
      for (Ty w : kAll) {
        if (a == Ty::F8 && w != Ty::F8)
          continue; // FP8 activations only feed FP8-weight GEMMs (W8A8)
        const TileShape tile = prefill ? prefillTile(w) : decodeTile(w);
        for (Ty c : kOut) {
          // Epilogues the passes produce: none, silu_mul (SwiGLU), rope (q,
          // kv-a), residual (o_proj, down), rope + residual; the residual
          // stream is f32.
          const bool flags[][3] = {{false, false, false}, {true, false, false},
                                   {false, true, false},  {false, false, true},
                                   {false, true, true}};
          for (const auto &f : flags)
            jobs.push_back({GemmKernel{a, w, c, f[2] ? Ty::F32 : c, tile, f[0], f[1], f[2]}.name(),
                            GemmKernel{a, w, c, f[2] ? Ty::F32 : c, tile, f[0], f[1], f[2]}
                                .source()});
        }
      }
  // The precise router GEMM (f32 input as two bf16 halves), bf16 or f32 weights.
  for (Ty w : {Ty::BF16, Ty::F32}) {
    GemmKernel k{Ty::F32, w, Ty::F32, Ty::F32, {64, 64, 64}, false, false, false, true};
    jobs.push_back({k.name(), k.source()});
  }
  // Every epilogue together, and a bf16 residual.
  for (Ty w : {Ty::BF16, Ty::F8})
    for (bool prefill : {true, false}) {
      GemmKernel k{Ty::BF16, w, Ty::BF16, Ty::BF16, prefill ? prefillTile(w) : decodeTile(w),
                   true, true, true};
      jobs.push_back({k.name(), k.source()});
    }
  checkOutcomes(compileAll(jobs));
}

TEST(MatmulCompile, GroupedGemm) {
  std::vector<Job> jobs;
  for (bool prefill : {true, false})
    for (Ty a : {Ty::BF16, Ty::F32})
      for (Ty w : kAll)
        for (Ty c : kOut)
          for (bool silu : {false, true}) {
            GroupedGemmKernel k{a, w, c, prefill ? prefillTile(w) : decodeTile(w), silu};
            jobs.push_back({k.name(), k.source()});
          }
  checkOutcomes(compileAll(jobs));
}

TEST(MatmulCompile, HeadGemm) {
  std::vector<Job> jobs;
  for (Ty x : {Ty::BF16, Ty::F32})
    for (Ty w : kAll)
      for (Ty y : kOut)
        for (bool transpose : {false, true}) {
          HeadGemmKernel k{x, w, y, headTile(), transpose};
          jobs.push_back({k.name(), k.source()});
        }
  // The GEMM tiles too, should the tiler ever give them to HeadGemm.
  for (bool transpose : {false, true}) {
    HeadGemmKernel k{Ty::BF16, Ty::BF16, Ty::F32, {128, 128, 64}, transpose};
    jobs.push_back({k.name(), k.source()});
  }
  checkOutcomes(compileAll(jobs));
}

// ---- Launch geometry (host only) --------------------------------------------

TEST(MatmulLaunch, GemmRasterIsABijection) {
  for (int tilesM : {1, 2, 15, 16, 17, 40})
    for (int tilesN : {1, 3, 56, 144}) {
      std::set<std::pair<int, int>> seen;
      for (int id = 0; id < tilesM * tilesN; ++id) {
        int mt, nt;
        kernels::matmulRaster(id, tilesM, tilesN, mt, nt);
        ASSERT_GE(mt, 0);
        ASSERT_LT(mt, tilesM);
        ASSERT_GE(nt, 0);
        ASSERT_LT(nt, tilesN);
        seen.insert({mt, nt});
      }
      EXPECT_EQ(static_cast<int>(seen.size()), tilesM * tilesN);
    }
}

TEST(MatmulLaunch, Gemm) {
  kernels::GemmArgs args{};
  args.m = 333;
  args.n = 7168;
  kernels::Launch l = kernels::launchGemm(args, {128, 128, 128, 7, 384});
  EXPECT_EQ(l.grid_x, 3u * 56u);
  EXPECT_EQ(l.grid_y, 1u);
  EXPECT_EQ(l.block, 256u);
  EXPECT_EQ(l.shared_bytes, 232448u);
  args.silu_mul = 1;
  args.n = 2 * 18432;
  l = kernels::launchGemm(args, {64, 64, 128, 8, 256});
  EXPECT_EQ(l.grid_x, 6u * (18432u / 32u));
  args.m = 0;
  EXPECT_EQ(kernels::launchGemm(args, {64, 64, 128, 8, 256}).grid_x, 1u); // blocks exit
}

/// The grouped grid bounds the expert tiles for any routing: simulate the
/// blocks' tile search (findExpertTile) on random and extreme offsets.
TEST(MatmulLaunch, GroupedGemmCoversEveryRow) {
  std::mt19937 rng(1234);
  for (int bm : {64, 128})
    for (int experts : {1, 4, 256})
      for (int slots : {1, 8, 512, 16384}) {
        for (int trial = 0; trial < 4; ++trial) {
          std::vector<int> count(experts, 0);
          for (int s = 0; s < slots; ++s) // trial 0: all rows on one expert
            ++count[trial == 0 ? 0 : trial == 1 ? s % experts : int(rng() % experts)];
          std::vector<int> offsets(experts + 1, 0);
          for (int e = 0; e < experts; ++e)
            offsets[e + 1] = offsets[e] + count[e];
          kernels::GroupedGemmArgs args{};
          args.m_max = slots;
          args.n = 256;
          args.experts = experts;
          kernels::Launch l = kernels::launchGroupedGemm(args, {bm, 128, 128, 4, 384});
          const long long tilesN = 2, tilesM = l.grid_x / tilesN;
          ASSERT_EQ(l.grid_x % tilesN, 0u);
          std::vector<int> covered(slots, 0);
          for (long long tile = 0; tile < tilesM; ++tile) {
            long long before = 0; // the device scan, serially
            for (int e = 0; e < experts; ++e) {
              const int rows = offsets[e + 1] - offsets[e];
              const long long tiles = rows > 0 ? (rows + bm - 1) / bm : 0;
              if (tile >= before && tile < before + tiles) {
                const int begin = offsets[e] + int(tile - before) * bm;
                const int end = std::min(begin + bm, offsets[e + 1]);
                for (int r = begin; r < end; ++r)
                  ++covered[r];
                break;
              }
              before += tiles;
            }
          }
          for (int r = 0; r < slots; ++r)
            ASSERT_EQ(covered[r], 1) << "row " << r << " bm " << bm << " experts " << experts;
        }
      }
}

TEST(MatmulLaunch, HeadGemm) {
  kernels::HeadGemmArgs args{};
  args.rows = 64;
  args.heads = 128;
  args.w.cols = 512;
  args.w_rows = 128;
  args.transpose = 1;
  EXPECT_EQ(kernels::launchHeadGemm(args, {64, 64, 64, 4, 128}).grid_x, 8u * 1u * 128u);
  args.transpose = 0;
  args.rows = 2048;
  EXPECT_EQ(kernels::launchHeadGemm(args, {64, 64, 64, 4, 128}).grid_x, 2u * 32u * 128u);
  args.rows = 0;
  EXPECT_EQ(kernels::launchHeadGemm(args, {64, 64, 64, 4, 128}).grid_x, 1u);
}

} // namespace
