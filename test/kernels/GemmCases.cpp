//===- GemmCases.cpp - The mma.sync GEMM (Gemm.cuh) -----------------------===//
//
// On the emulator: every instantiation the emitter writes for the tiny
// models (bf16 and FP8 weights, f32 and bf16 activations, 64x64 and 128x128
// tiles, silu_mul and rope epilogues), every (silu_mul, rope, residual)
// combination, W8A8, f32 weights, K over more tiles than the pipeline's
// stages, edge shapes, and PRECISE_A; shapes leave partial M, N and K tiles
// and FP8 scale blocks. On the GPU: every element type and epilogue on both
// tiles at m = 1, 7, 64, 333, and DeepSeek-V3's projections, timed.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "GemmCase.h"
#include "MatmulOperands.h"

#include "kernels/MatmulLaunch.h"

#include <cmath>
#include <cstdio>

namespace moela::cases {
namespace {

const Ty f32 = Ty::F32, bf16 = Ty::BF16, f8 = Ty::F8;

/// A kernel of Gemm.cuh (mma.sync).
const GemmEngine mma{false};

/// rel-L2 of gemm<f32, bf16, f32, 64x64x64> with or without PRECISE_A
/// against a double-precision product of the exact f32 activations.
double routerGemmError(bool precise, int m, int k, int n) {
  Rng rng(std::string("router gemm ") + (precise ? "precise" : "plain"));
  Tensor a(f32, m, k), c(f32, m, n);
  a.fillUniform(rng, -3, 3); // full f32 mantissas
  const Weights w = randomWeights(rng, bf16, 1, n, k);
  std::vector<double> want(size_t(m) * n);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j)
      for (int q = 0; q < k; ++q)
        want[size_t(r) * n + j] += double(a.get(r, q)) * w.value(0, j, q);
  K::GemmArgs args{};
  args.a = a.view();
  args.parts[0] = w.weight();
  args.num_parts = 1;
  args.c = c.view();
  args.m = m;
  args.n = n;
  args.k = k;
  GemmKind kind = mma(f32, bf16, f32, f32, {64, 64, 64}, false, false, false);
  kind.precise = precise;
  launch(gemmKernel(kind), K::launchGemm(args, K::Tile{64, 64, 64, 0, 0}),
         args);
  double num = 0, den = 0;
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) {
      const double d = double(c.get(r, j)) - want[size_t(r) * n + j];
      num += d * d;
      den += want[size_t(r) * n + j] * want[size_t(r) * n + j];
    }
  return std::sqrt(num / den);
}

/// PRECISE_A (the router logits of docs/model.md §3.2 in f32): activations
/// as bf16 hi + lo keep ~16 bits, where one bf16 rounding keeps 8.
void runPreciseA(Report &r) {
  const double precise = routerGemmError(true, 70, 200, 72);
  const double plain = routerGemmError(false, 70, 200, 72);
  char buf[100];
  std::snprintf(buf, sizeof buf, "precise %.3g, plain %.3g", precise, plain);
  r.expect("router gemm precise rel-L2 <= 2e-5", precise <= 2e-5, buf);
  r.expect("router gemm plain rel-L2 >= 5e-4 (what the split buys)",
           plain >= 5e-4, buf);
}

void emuCases(Cases &cases) {
  // The tiny models' instantiations (moela-compile --emit=cuda on models/tiny,
  // tiny-v2, tiny-v2-lite: bf16 weights; tiny-v3-fp8: FP8 weights).
  for (auto [test, w, tile] : {std::tuple<const char *, Ty, TileShape>{
                                   "TinyBf16Prefill", bf16, {128, 128, 64}},
                               {"TinyBf16Decode", bf16, {64, 64, 64}},
                               {"TinyFp8Prefill", f8, {128, 128, 128}},
                               {"TinyFp8Decode", f8, {64, 64, 128}}}) {
    addEmuShapes(cases, test,
                 mma(bf16, w, bf16, bf16, tile, false, true, false));
    addEmuShapes(cases, test,
                 mma(bf16, w, bf16, bf16, tile, true, false, false));
    addEmuShapes(cases, test,
                 mma(bf16, w, f32, f32, tile, false, false, false));
    addEmuShapes(cases, test,
                 mma(f32, w, bf16, bf16, tile, true, false, false));
    if (w == bf16)
      addEmuShapes(cases, test,
                   mma(f32, w, f32, f32, tile, false, false, false));
  }
  // Every (silu_mul, rope, residual) combination with an fp32 output (tight
  // bound), both tiles; the residual ones also in place.
  for (auto [test, tile] : {std::pair<const char *, TileShape>{
                                "EpilogueCombinationsTile64", {64, 64, 64}},
                            {"EpilogueCombinationsTile128", {128, 128, 64}}})
    for (int f = 1; f < 8; ++f)
      addEmuShapes(cases, test,
                   mma(bf16, bf16, f32, f32, tile, f & 4, f & 2, f & 1));
  // Every epilogue with a bf16 residual (the compile check's extra kernels).
  for (TileShape t : {TileShape{64, 64, 64}, TileShape{128, 128, 64}})
    addEmuShapes(cases, "AllEpiloguesBf16Residual",
                 mma(bf16, bf16, bf16, bf16, t, true, true, true));
  for (TileShape t : {TileShape{64, 64, 128}, TileShape{128, 128, 128}})
    addEmuShapes(cases, "AllEpiloguesBf16Residual",
                 mma(bf16, f8, bf16, bf16, t, true, true, true));
  // FP8 activations with FP8 weights: the f16 MMA path and A block scales.
  addEmuShapes(cases, "W8A8",
               mma(f8, f8, f32, f32, {128, 128, 128}, false, false, false));
  addEmuShapes(cases, "W8A8",
               mma(f8, f8, f32, f32, {64, 64, 128}, false, true, true));
  addEmuShapes(cases, "W8A8",
               mma(f8, f8, bf16, bf16, {64, 64, 128}, true, false, false));
  // f32 weights: converted to bf16 in shared memory.
  addEmuShapes(cases, "F32Weights",
               mma(bf16, f32, f32, f32, {64, 64, 64}, false, false, false));
  addEmuShapes(cases, "F32Weights",
               mma(f32, f32, bf16, bf16, {128, 128, 64}, true, false, false));
  // K over more tiles than the pipeline has stages (up to 8): every slot of
  // the cp.async ring is reused while other warps may still read it.
  addEmuShape(cases, "LongK",
              mma(bf16, bf16, f32, f32, {128, 128, 64}, false, false, false),
              130, 1040, {72, 136});
  addEmuShape(cases, "LongK",
              mma(bf16, bf16, f32, f32, {64, 64, 64}, false, false, false), 70,
              1040, {72});
  addEmuShape(cases, "LongK",
              mma(bf16, f8, f32, f32, {128, 128, 128}, false, false, false),
              130, 1040, {72, 136});
  addEmuShape(cases, "LongK",
              mma(f8, f8, f32, f32, {128, 128, 128}, false, false, true), 130,
              1040, {72, 136});
  addEmuShape(cases, "LongK",
              mma(f32, f8, bf16, bf16, {64, 64, 128}, true, false, false), 40,
              1040, {100, 120, 100});
  GemmKind precise =
               mma(f32, bf16, f32, f32, {64, 64, 64}, false, false, false),
           plain = precise;
  precise.precise = true;
  cases.push_back({"Gemm.PreciseA",
                   "gemm<f32, bf16, f32, f32, 64x64x64> precise vs plain A",
                   kEmu,
                   false,
                   {gemmKernel(precise), gemmKernel(plain)},
                   runPreciseA});
  // Edges: no rows (one block that exits), one 16-wide K step, an output
  // narrower than one 8-column piece, one row.
  const GemmKind edge =
      mma(bf16, bf16, f32, f32, {64, 64, 64}, false, false, false);
  addEmuShape(cases, "EdgeShapes", edge, 0, 64, {40});
  addEmuShape(cases, "EdgeShapes", edge, 1, 16, {4});
  addEmuShape(cases, "EdgeShapes",
              mma(bf16, f8, bf16, bf16, {128, 128, 128}, false, false, false),
              129, 16, {5, 130});
  addEmuShape(cases, "EdgeShapes",
              mma(bf16, bf16, f32, f32, {128, 128, 64}, true, false, false), 1,
              48, {6, 6});
}

void gpuCases(Cases &cases) {
  // Tiny-model dims (multiples of 16), every element type, both tiles, every
  // epilogue.
  for (bool prefill : {false, true})
    for (Ty w : {bf16, f8, f32})
      for (Ty a : {bf16, f32, f8}) {
        if (a == f8 && w != f8)
          continue; // FP8 activations only feed FP8-weight GEMMs (W8A8)
        addGpuEpilogues(cases, false, a, w,
                        prefill ? prefillTile(w) : decodeTile(w));
      }
  // DeepSeek-V3 dims, timed: q_b with rope (H = 128, [128 nope | 64 rope]),
  // q_a fused with kv_a (rope on the last 64 of the 576), o_proj and down
  // with the residual, the dense SwiGLU, lm_head.
  const GemmRope qRope{128, 192, 128, 64}, kvRope{1, 2112, 512, 64};
  for (int m : {1, 64, 2048}) {
    const bool prefill = m > 64;
    for (Ty w : {f8, bf16}) {
      const Ty a = w == f8 && prefill ? f8 : bf16;
      const TileShape t = prefill ? prefillTile(w) : decodeTile(w);
      addGpuShape(cases, mma(a, w, f32, f32, t, false, true, false), m, 1536,
                  {24576}, qRope, false, true);
      addGpuShape(cases, mma(a, w, f32, f32, t, false, true, false), m, 7168,
                  {576, 1536}, kvRope, false, true);
      addGpuShape(cases, mma(a, w, f32, f32, t, false, false, true), m, 16384,
                  {7168}, {}, false, true);
      addGpuShape(cases, mma(a, w, bf16, bf16, t, true, false, false), m, 7168,
                  {18432, 18432}, {}, false, true);
      addGpuShape(cases, mma(a, w, f32, f32, t, false, false, true), m, 18432,
                  {7168}, {}, false, true);
      if (w == f8) // W8A16 at prefill too (bf16 A)
        addGpuShape(cases, mma(bf16, w, f32, f32, t, false, false, true), m,
                    7168, {2048}, {}, false, true);
    }
    addGpuShape(cases,
                mma(f32, bf16, f32, f32,
                    prefill ? prefillTile(bf16) : decodeTile(bf16), false,
                    false, false),
                std::min(m, 64), 7168, {129280}, {}, false, true);
  }
  for (int m : {7, 333}) { // not timed
    GemmCase g{mma(bf16, f8, f32, f32,
                   m > 64 ? prefillTile(f8) : decodeTile(f8), false, true,
                   false),
               m,
               1536,
               {24576},
               qRope};
    g.rope.kind = RopeKind::Plain;
    g.maxPos = 159999;
    g.bound = gpuBound(bf16, f8, f32);
    Case c = gemmCase("Gpu", kGpu, g);
    c.large = true;
    cases.push_back(c);
  }
}

} // namespace

void addGemmCases(Cases &cases) {
  emuCases(cases);
  gpuCases(cases);
}

} // namespace moela::cases
