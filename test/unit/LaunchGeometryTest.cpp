//===- LaunchGeometryTest.cpp - The launch arithmetic of every family -----===//
//
// No GPU needed. The host-side launch geometry of OpsLaunch.h, MatmulLaunch.h
// and WgmmaLaunch.h (plain C++ here): grids, blocks, phases, workspaces and
// shared memory, the GEMM raster and the grouped GEMM's tile search, the
// wgmma layout's stages; and that the shared-memory formulas of
// LatentAttention and MlaPrefillAttention are the device templates' own
// (static_asserts compiled by NVRTC).
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Nvrtc.h"

#include "kernels/MatmulLaunch.h"
#include "kernels/OpsLaunch.h"
#include "kernels/WgmmaLaunch.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace moela::kernels;
namespace kernels = moela::kernels;

/// NVRTC compiles `asserts` (static_asserts over `header`'s templates).
void expectDeviceAgrees(const std::string &header, const std::string &asserts) {
  const std::string src = "#include \"" + header +
                          "\"\nusing namespace moela::kernels;\n" + asserts +
                          "extern \"C\" __global__ void geometry_check() {}\n";
  moela::NvrtcOptions o;
  o.arch = "sm_90a";
  o.cacheDir = moela::defaultKernelCacheDir();
  EXPECT_NO_THROW(moela::compileCuda("geometry_check", src, o)) << src;
}

// The host formulas of LatentAttention's shared memory and threads are the
// device template's.
TEST(OpsLaunch, LatentAttentionSharedBytesMatchDevice) {
  struct Shape {
    int r, dr, heads;
  };
  std::string asserts;
  for (Shape s : {Shape{512, 64, 128}, Shape{512, 64, 16}, Shape{512, 64, 40},
                  Shape{32, 8, 4}, Shape{64, 16, 2}, Shape{96, 16, 2}}) {
    const std::string geometry =
        "latent::Geometry<" + std::to_string(s.r) + ", " +
        std::to_string(s.dr) + ", " +
        std::to_string(latentAttentionMTiles(s.heads)) + ">";
    asserts +=
        "static_assert(" + geometry + "::BYTES == " +
        std::to_string(latentAttentionMaxSharedBytes(s.r, s.dr, s.heads)) +
        ", \"\");\n";
    asserts += "static_assert(" + geometry + "::THREADS == " +
               std::to_string(latentAttentionThreads(s.heads)) + ", \"\");\n";
  }
  expectDeviceAgrees("LatentAttention.cuh", asserts);
  EXPECT_EQ(latentAttentionMaxSharedBytes(512, 64, 128), 229888u);
}

// The same for MlaPrefillAttention.
TEST(OpsLaunch, MlaPrefillAttentionSharedBytesMatchDevice) {
  struct Shape {
    int dn, dr, dv;
  };
  std::string asserts;
  for (Shape s : {Shape{128, 64, 128}, Shape{16, 8, 16}, Shape{32, 16, 32},
                  Shape{64, 32, 48}, Shape{192, 64, 256}})
    asserts +=
        "static_assert(prefill::Geometry<" + std::to_string(s.dn) + ", " +
        std::to_string(s.dr) + ", " + std::to_string(s.dv) + ">::BYTES == " +
        std::to_string(mlaPrefillAttentionSharedBytes(s.dn, s.dr, s.dv)) +
        ", \"\");\n";
  asserts += "static_assert(prefill::kThreads == " +
             std::to_string(mlaPrefillAttentionThreads()) + ", \"\");\n";
  expectDeviceAgrees("MlaPrefillAttention.cuh", asserts);
  EXPECT_EQ(mlaPrefillAttentionSharedBytes(128, 64, 128), 106496u);
}

TEST(OpsLaunch, MlaFamilies) {
  Tile tile{};
  MlaPrefillAttentionArgs p{};
  p.rows = 4096;
  p.heads = 128;
  p.nope_dim = 128;
  p.rope_dim = 64;
  p.v_dim = 128;
  Launch l = launchMlaPrefillAttention(p, tile);
  EXPECT_EQ(l.grid_x, 64u);  // 64-row query tiles
  EXPECT_EQ(l.grid_y, 128u); // heads
  EXPECT_EQ(l.block, 128u);
  EXPECT_EQ(l.shared_bytes, 106496u);
  p.rows = 65;
  EXPECT_EQ(launchMlaPrefillAttention(p, tile).grid_x, 2u);
  p.rows = 0; // never an empty grid
  EXPECT_EQ(launchMlaPrefillAttention(p, tile).grid_x, 1u);
  // tiny: Dn+Dr = 24 padded to 32 (4 chunks, row stride 5), Dv = 16 (2
  // chunks, row stride 3).
  EXPECT_EQ(mlaPrefillAttentionSharedBytes(16, 8, 16),
            16u * (3 * 64 * 5 + 2 * 64 * 3));
  KvGatherArgs g{};
  g.rows = 7;
  g.latent_dim = 512;
  g.rope_dim = 64;
  l = launchKvGather(g, tile);
  EXPECT_EQ(l.grid_x, 7u);
  EXPECT_EQ(l.block, 256u);
  EXPECT_EQ(l.shared_bytes, 0u);
}

LatentAttentionArgs v3Latent(int rows, int maxSeq) {
  LatentAttentionArgs a{};
  a.rows = rows;
  a.heads = 128;
  a.latent_dim = 512;
  a.rope_dim = 64;
  a.cache.pages_per_seq = (maxSeq + 63) / 64;
  return a;
}

TEST(OpsLaunch, LatentAttentionSplits) {
  // Decode: about 264 blocks in all (two head groups per token), <= 64 splits.
  Tile tile{};
  LatentAttentionArgs a = v3Latent(1, 163840);
  EXPECT_EQ(latentAttentionSplitsFor(a, 1), 64);
  EXPECT_EQ(latentAttentionLaunches(a), 2);
  Launch l = launchLatentAttention(a, tile);
  EXPECT_EQ(l.grid_x, 2u);
  EXPECT_EQ(l.grid_y, 64u);
  EXPECT_EQ(l.block, 256u);
  EXPECT_EQ(l.shared_bytes, 229888u);
  EXPECT_EQ(latentAttentionSplitsFor(a, 8), 16);
  EXPECT_EQ(latentAttentionSplitsFor(a, 64), 2);
  EXPECT_EQ(latentAttentionSplitsFor(a, 66), 2);
  EXPECT_EQ(latentAttentionSplitsFor(a, 67), 1);
  // A prefill chunk: one split, one launch, no workspace.
  a = v3Latent(4096, 163840);
  EXPECT_EQ(latentAttentionLaunches(a), 1);
  EXPECT_EQ(launchLatentAttention(a, tile).grid_y, 1u);
  // A short cache caps the splits at its tiles.
  a = v3Latent(1, 100);
  EXPECT_EQ(latentAttentionSplitsFor(a, 1), 2);
  // Phase 1: a thread per 4 columns of every (token, head).
  a = v3Latent(3, 4096);
  a.phase = 1;
  l = launchLatentAttention(a, tile);
  EXPECT_EQ(l.grid_x, (3u * 128 * 128 + 255) / 256);
  EXPECT_EQ(l.shared_bytes, 0u);
}

TEST(OpsLaunch, LatentAttentionWorkspaceCoversEveryRowCount) {
  LatentAttentionArgs a = v3Latent(64, 163840);
  const long long bytes = latentAttentionWorkspaceBytes(a);
  for (int t = 1; t <= 64; ++t) {
    const int s = latentAttentionSplitsFor(a, t);
    if (s > 1) {
      EXPECT_GE(bytes, 4LL * ((t + 3) / 4 * 4 + 1LL * s * t * 128 * 516)) << t;
    }
  }
  // T * S(T) <= 264 / 2 = 132 partial rows of 128 heads; at most T = 66 splits.
  EXPECT_EQ(bytes, 4LL * (44 + 132LL * 128 * 516)); // T = 44, S = 3
  a.rows = 10000; // prefill-sized programs need no more than T = 66, S = 2
  EXPECT_EQ(latentAttentionWorkspaceBytes(a), 4LL * (68 + 132LL * 128 * 516));
}

TEST(OpsLaunch, RowFamilies) {
  Tile tile{};
  RmsNormArgs n{};
  n.rows = 5;
  n.cols = 7168;
  Launch l = launchRmsNorm(n, tile);
  EXPECT_EQ(l.grid_x, 5u);
  EXPECT_EQ(l.shared_bytes, 4u * 7168);
  AddArgs add{};
  add.rows = 3;
  add.cols = 7168;
  EXPECT_EQ(launchElementwise(add).grid_x, 3u * 7);
  add.rows = 0;
  EXPECT_EQ(launchElementwise(add).grid_x, 1u); // never an empty grid
  RouteArgs r{};
  r.rows = 17;
  r.experts = 256;
  r.dim = 7168;
  EXPECT_EQ(launchRoute(r, tile).grid_x, 3u);
  r.fused_gate = 1;
  EXPECT_EQ(launchRoute(r, tile).grid_x, 17u);
  EXPECT_EQ(launchRoute(r, tile).shared_bytes, 4u * (7168 + 256));
  DispatchArgs d{};
  d.rows = 100;
  d.top_k = 8;
  d.experts = 256;
  EXPECT_EQ(dispatchLaunches(d), 2);
  EXPECT_EQ(launchDispatch(d, tile).grid_x, 1u);
  d.phase = 1;
  EXPECT_EQ(launchDispatch(d, tile).grid_x, 25u);
  CombineArgs c{};
  c.rows = 100;
  c.top_k = 8;
  EXPECT_EQ(combineLaunches(c), 1);
  int fake = 0;
  c.perm = &fake;
  EXPECT_EQ(combineLaunches(c), 2);
  EXPECT_EQ(launchCombine(c, tile).grid_x, 4u);
  c.phase = 1;
  EXPECT_EQ(launchCombine(c, tile).grid_x, 100u);
  EXPECT_EQ(combineWorkspaceBytes(c), 3200);
}

// ---- Matrix families (host only) --------------------------------------------

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
  EXPECT_EQ(kernels::launchGemm(args, {64, 64, 128, 8, 256}).grid_x,
            1u); // blocks exit
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
            ++count[trial == 0   ? 0
                    : trial == 1 ? s % experts
                                 : int(rng() % experts)];
          std::vector<int> offsets(experts + 1, 0);
          for (int e = 0; e < experts; ++e)
            offsets[e + 1] = offsets[e] + count[e];
          kernels::GroupedGemmArgs args{};
          args.m_max = slots;
          args.n = 256;
          args.experts = experts;
          kernels::Launch l =
              kernels::launchGroupedGemm(args, {bm, 128, 128, 4, 384});
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
            ASSERT_EQ(covered[r], 1)
                << "row " << r << " bm " << bm << " experts " << experts;
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
  EXPECT_EQ(kernels::launchHeadGemm(args, {64, 64, 64, 4, 128}).grid_x,
            8u * 1u * 128u);
  args.transpose = 0;
  args.rows = 2048;
  EXPECT_EQ(kernels::launchHeadGemm(args, {64, 64, 64, 4, 128}).grid_x,
            2u * 32u * 128u);
  args.rows = 0;
  EXPECT_EQ(kernels::launchHeadGemm(args, {64, 64, 64, 4, 128}).grid_x, 1u);
}

TEST(WgmmaLayout, StagesAndAlignment) {
  struct Case {
    int bm, bn, bk, a, w, stages;
  };
  // The tiler's tiles: bf16 / FP8 weights with bf16 activations, W8A8, f32.
  const Case cases[] = {{128, 256, 64, 2, 2, 4}, {128, 128, 64, 2, 1, 5},
                        {128, 128, 64, 1, 1, 6}, {64, 64, 64, 2, 2, 8},
                        {64, 64, 64, 2, 1, 8},   {128, 256, 64, 4, 2, 2},
                        {128, 128, 64, 4, 4, 2}};
  for (const Case &c : cases) {
    const kernels::WgmmaLayout l =
        kernels::wgmmaLayout(c.bm, c.bn, c.bk, c.a, c.w);
    SCOPED_TRACE(std::to_string(c.bm) + "x" + std::to_string(c.bn) + "x" +
                 std::to_string(c.bk));
    EXPECT_EQ(l.stages, c.stages);
    EXPECT_EQ(l.stageBytes % 1024, 0);
    EXPECT_EQ(l.headerBytes % 1024, 0);
    EXPECT_EQ(l.aTile % 1024, 0);
    EXPECT_EQ(l.wTile % 1024, 0);
    EXPECT_EQ(l.bk, c.a == 1 && c.w == 1 ? 128 : c.bk);
  }
}

TEST(WgmmaLaunch, Gemm) {
  kernels::GemmArgs args{};
  args.m = 333;
  args.n = 7168;
  const kernels::Tile tile{128, 128, 64, 5, kernels::kWgmmaThreads};
  kernels::Launch l = kernels::launchGemmWgmma(args, tile);
  EXPECT_EQ(l.grid_x, 3u * 56u);
  EXPECT_EQ(l.grid_y, 1u);
  EXPECT_EQ(l.grid_z, 1u);
  EXPECT_EQ(l.block, 384u);
  EXPECT_EQ(l.shared_bytes, 232448u);
  // The same grid as the mma.sync Gemm for the same tile.
  for (int silu : {0, 1})
    for (int m : {0, 1, 7, 64, 65, 4096})
      for (int n : {64, 2112, 7168, 36864})
        for (kernels::Tile t : {kernels::Tile{128, 256, 64, 4, 384},
                                kernels::Tile{64, 64, 64, 8, 384},
                                kernels::Tile{128, 128, 64, 5, 384}}) {
          args.m = m;
          args.n = n;
          args.silu_mul = silu;
          EXPECT_EQ(kernels::launchGemmWgmma(args, t).grid_x,
                    kernels::launchGemm(args, t).grid_x);
        }
  args.m = 0;
  EXPECT_EQ(kernels::launchGemmWgmma(args, tile).grid_x, 1u); // blocks exit
}

} // namespace
