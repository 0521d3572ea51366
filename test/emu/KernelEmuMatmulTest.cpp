//===- KernelEmuMatmulTest.cpp - The matrix kernels on the emulator -------===//
//
// The tensor-core matrix families (runtime/kernels/Gemm.cuh, GroupedGemm.cuh,
// HeadGemm.cuh over MatmulCommon.cuh, and GemmWgmma.cuh over WgmmaCommon.cuh)
// run on the CPU emulation (CudaEmu.h, PtxEmu.h) with the launch geometry of
// MatmulLaunch.h (WgmmaLaunch.h) and are compared with
// the fp32 host reference (runtime/host/Kernels.h) on the values the kernel
// multiplies: f32 operands rounded to bf16 as the kernel rounds them, FP8
// codes times their block scales. So an fp32 output must agree to fp32
// accumulation order (1e-5 relative L2) and a bf16 output to one rounding
// (3e-3). Outputs start as NaN; padding columns, gaps between heads and rows
// outside every expert must stay NaN.
//
// Instantiations: every one the emitter writes for the tiny models
// (models/tiny*, `moela-compile --emit=cuda`): bf16 and FP8 weights, f32 and
// bf16 activations, 64x64 and 128x128 tiles, silu_mul and rope epilogues;
// plus every (silu_mul, rope, residual) combination, W8A8, f32 weights,
// grouped GEMMs with both gate/up layouts and HeadGemm both ways; for
// gemmWgmma every one `--gemm-kernel=wgmma` writes for the tiny models, the
// other legal tiles, every epilogue and K over more tiles than the ring's
// stages. Shapes leave partial M, N and K tiles and FP8 scale blocks.
//
//===----------------------------------------------------------------------===//
#include "EmuTestUtil.h"

#include <numeric>

namespace moela::emutest {
namespace {

using bf16 = __nv_bfloat16;
using f8 = __nv_fp8_e4m3;

// ---- Operands -------------------------------------------------------------------------

/// Activations [rows, cols] in TA and the values the kernel computes with:
/// f32 rounded to bf16; FP8 quantized per row and 128 columns (spec 3.4) with
/// their scales.
struct Activations {
  Tensor data;
  Tensor scales; // FP8: f32 [rows, scaleLd]
  int64_t scaleLd = 0;
  std::vector<float> ref; // [rows, cols]
};

Activations randomActivations(Rng &rng, Ty ty, int64_t rows, int64_t cols) {
  Activations a;
  a.data = Tensor(ty, rows, cols);
  a.ref.resize(size_t(rows * cols));
  if (ty == Ty::F8) {
    a.scaleLd = (cols + 127) / 128 + 1;
    a.scales = Tensor(Ty::F32, rows, a.scaleLd);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float mag = rng.uniform(0.5f, 2.0f);
    std::vector<float> row(static_cast<size_t>(cols));
    for (float &v : row)
      v = mag * rng.nonZero(-1, 1);
    for (int64_t kb = 0; kb * 128 < cols; ++kb) {
      const int64_t c0 = kb * 128, c1 = std::min(cols, c0 + 128);
      float s = 1;
      if (ty == Ty::F8) {
        float amax = 0;
        for (int64_t c = c0; c < c1; ++c)
          amax = std::max(amax, std::fabs(row[size_t(c)]));
        s = std::max(amax, 1e-4f) / 448.0f;
        a.scales.set(r, kb, s);
      }
      for (int64_t c = c0; c < c1; ++c) {
        a.data.set(r, c, ty == Ty::F8 ? row[size_t(c)] / s : row[size_t(c)]);
        a.ref[size_t(r * cols + c)] =
            ty == Ty::F8 ? a.data.get(r, c) * s : roundTo(Ty::BF16, a.data.get(r, c));
      }
    }
  }
  return a;
}

/// Weights: `experts` stacked [rows, cols] matrices in TW and the values the
/// kernel multiplies by (f32 rounded to bf16; FP8 codes times block scales).
struct Weights {
  Ty ty = Ty::BF16;
  int64_t experts = 1, rows = 0, cols = 0;
  Tensor data;            // bf16 / f32 [experts * rows, cols]
  Fp8Weight fp8;          // FP8
  std::vector<float> ref; // [experts * rows, cols]

  K::Weight kernelWeight() {
    K::Weight w{};
    w.data = ty == Ty::F8 ? fp8.codes.ptr() : data.ptr();
    w.scales = ty == Ty::F8 ? fp8.scalePtr() : nullptr;
    w.rows = int(rows);
    w.cols = int(cols);
    w.scale_ld = int(fp8.scaleLd);
    w.expert_stride = rows * cols;
    w.scale_expert_stride = fp8.scaleExpertStride;
    return w;
  }
  const float *expertRef(int64_t e) const { return ref.data() + e * rows * cols; }
};

Weights randomWeights(Rng &rng, Ty ty, int64_t experts, int64_t rows, int64_t cols) {
  Weights w;
  w.ty = ty;
  w.experts = experts;
  w.rows = rows;
  w.cols = cols;
  w.ref.resize(size_t(experts * rows * cols));
  if (ty == Ty::F8) {
    w.fp8 = randomFp8Weight(rng, experts, rows, cols);
    for (int64_t e = 0; e < experts; ++e)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          w.ref[size_t((e * rows + r) * cols + c)] = w.fp8.value(e, r, c);
    return w;
  }
  w.data = Tensor(ty, experts * rows, cols);
  w.data.fillUniform(rng, -1, 1);
  for (int64_t r = 0; r < experts * rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w.ref[size_t(r * cols + c)] = roundTo(Ty::BF16, w.data.get(r, c));
  return w;
}

/// Positions: random up to 5000, and one far (163839) for the angle reduction.
std::vector<int32_t> randomPositions(Rng &rng, int64_t rows) {
  std::vector<int32_t> p(static_cast<size_t>(rows));
  for (int32_t &v : p)
    v = rng.uniformInt(0, 5000);
  if (rows > 1)
    p[size_t(rows / 2)] = 163839;
  return p;
}

/// fp32 outputs: fp32 accumulation order; bf16 outputs: one rounding, at most
/// 2^-8 of each element, about 1.6e-3 in relative L2 over many elements (so
/// under 3e-3; an output of a few elements can exceed that: give those f32).
double outputBound(Ty out) { return out == Ty::BF16 ? 3e-3 : 1e-5; }

std::string tileName(int bm, int bn, int bk) {
  return std::to_string(bm) + "x" + std::to_string(bn) + "x" + std::to_string(bk);
}

// ---- Gemm -----------------------------------------------------------------------------

template <typename TA, typename TW, typename TC, typename TR, int BM, int BN, int BK, bool SILU_MUL,
          bool ROPE, bool RESIDUAL, bool PRECISE_A = false>
void gemmEntry(const K::GemmArgs args) {
  K::gemm<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE, RESIDUAL, PRECISE_A>(args);
}

template <typename TA, typename TW, typename TC, typename TR, int BM, int BN, int BK, bool SILU_MUL,
          bool ROPE, bool RESIDUAL>
void gemmWgmmaEntry(const K::GemmArgs args) {
  K::gemmWgmma<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE, RESIDUAL>(args);
}

struct RopeShape {
  int heads = 0, headDim = 0, offset = 0, dim = 0;
};

struct GemmShape {
  int m = 0, k = 0;
  std::vector<int> parts; // weight rows of each part
  RopeShape rope;         // ROPE: heads * headDim = the output columns
  bool inPlace = false;   // RESIDUAL: c is the residual's view (TC == TR)
};

/// Gemm.cuh's gemm, or with WGMMA GemmWgmma.cuh's gemmWgmma (same semantics).
template <typename TA, typename TW, typename TC, typename TR, int BM, int BN, int BK, bool SILU_MUL,
          bool ROPE, bool RESIDUAL, bool WGMMA = false>
void runGemm(const GemmShape &s) {
  constexpr Ty ta = tyOf<TA>(), tw = tyOf<TW>(), tc = tyOf<TC>(), tr = tyOf<TR>();
  const int n = std::accumulate(s.parts.begin(), s.parts.end(), 0);
  const int nOut = SILU_MUL ? n / 2 : n;
  std::string what = std::string(WGMMA ? "gemmWgmma<" : "gemm<") + tyName(ta) + ", " +
                     tyName(tw) + ", " + tyName(tc) + ", " + tyName(tr) + ", " +
                     tileName(BM, BN, BK) + (SILU_MUL ? ", silu" : "") +
                     (ROPE ? ", rope" : "") + (RESIDUAL ? ", residual" : "") +
                     "> m=" + std::to_string(s.m) + " n=" + std::to_string(n) +
                     " k=" + std::to_string(s.k) + " parts=" + std::to_string(s.parts.size()) +
                     (s.inPlace ? " in-place" : "");
  SCOPED_TRACE(what);
  Rng rng(what);
  ASSERT_TRUE(!ROPE || s.rope.heads * s.rope.headDim == nOut) << "rope shape";
  const bool inPlace = RESIDUAL && s.inPlace;
  ASSERT_TRUE(!inPlace || tc == tr);

  Activations a = randomActivations(rng, ta, s.m, s.k);
  std::vector<Weights> parts;
  for (int rows : s.parts)
    parts.push_back(randomWeights(rng, tw, 1, rows, s.k));
  Tensor res(tr, s.m, nOut);
  res.fillUniform(rng, -2, 2);
  const int64_t ldc = inPlace ? nOut : nOut + 8; // + 8: padding that must stay NaN
  Tensor c(tc, s.m, nOut, ldc);
  if (inPlace)
    for (int64_t r = 0; r < s.m; ++r)
      for (int64_t col = 0; col < nOut; ++col)
        c.set(r, col, res.get(r, col));
  const std::vector<int32_t> positions = randomPositions(rng, s.m);
  const RopeSpec spec = yarnRope(std::max(2, s.rope.dim));
  const std::vector<float> invFreq = ropeInvFreq(spec);
  const float magnitude = ropeMagnitude(spec);

  K::GemmArgs args{};
  args.a = a.data.view();
  args.a_scales = ta == Ty::F8 ? a.scales.as<float>() : nullptr;
  args.a_scale_ld = a.scaleLd;
  for (size_t p = 0; p < parts.size(); ++p)
    args.parts[p] = parts[p].kernelWeight();
  args.num_parts = int(parts.size());
  args.c = c.view();
  if (RESIDUAL)
    args.residual = inPlace ? c.view() : res.view();
  args.positions = positions.data();
  if (ROPE)
    args.rope =
        K::Rope{invFreq.data(), magnitude, s.rope.heads, s.rope.headDim, s.rope.offset, s.rope.dim};
  args.silu_mul = SILU_MUL;
  args.m = s.m;
  args.n = n;
  args.k = s.k;
  if constexpr (WGMMA) {
    const K::Tile tile{BM, BN, BK, 0, K::kWgmmaThreads};
    launch(gemmWgmmaEntry<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE, RESIDUAL>,
           K::launchGemmWgmma(args, tile), args);
  } else {
    const K::Tile tile{BM, BN, BK, 0, 0};
    launch(gemmEntry<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE, RESIDUAL>,
           K::launchGemm(args, tile), args);
  }

  // Reference: acc = a @ W^T in fp32, then the epilogue in the kernel's order.
  std::vector<float> w;
  for (const Weights &p : parts)
    w.insert(w.end(), p.ref.begin(), p.ref.end());
  std::vector<float> acc(size_t(s.m) * n), ref(size_t(s.m) * nOut);
  H::gemm(cmat(a.ref, s.m, s.k), H::Weight{w.data(), n, s.k}, mat(acc, s.m, n));
  if (SILU_MUL)
    H::siluMul(H::CMat{acc.data(), s.m, nOut, n}, H::CMat{acc.data() + nOut, s.m, nOut, n},
               mat(ref, s.m, nOut));
  else
    ref = acc;
  if (ROPE) {
    H::RopeTable table;
    table.build(invFreq, magnitude, cimat(positions, s.m, 1));
    H::applyRope(mat(ref, s.m, nOut), table, s.rope.heads, s.rope.headDim, s.rope.offset);
  }
  if (RESIDUAL) {
    const std::vector<float> r = res.floats();
    for (size_t i = 0; i < ref.size(); ++i)
      ref[i] += r[i];
  }
  expectNear(what, c, ref, outputBound(tc));
  EXPECT_TRUE(untouchedOutside(c, [&](int64_t, int64_t col) { return col < nOut; }));
}

/// Shapes for an instantiation: a prefill-like one (m over a tile: a partial
/// M tile) for 128-row tiles, decode-like ones for 64-row tiles; K with a
/// partial K tile and FP8 scale block; N with partial tiles and parts.
template <bool SILU_MUL, bool ROPE, bool RESIDUAL> std::vector<GemmShape> gemmShapes(bool prefill) {
  std::vector<GemmShape> shapes;
  const std::vector<int> ms = prefill ? std::vector<int>{130} : std::vector<int>{5, 70};
  for (size_t i = 0; i < ms.size(); ++i) {
    GemmShape s;
    s.m = ms[i];
    s.k = prefill ? 208 : 160;
    if (SILU_MUL && ROPE) {
      s.rope = {4, 24, 16, 8}; // tiny q heads: 16 nope + 8 rope
      s.parts = {50, 80, 62};  // gate = rows 0..95, up = rows 96..191
    } else if (SILU_MUL) {
      s.parts = {100, 120, 100}; // F = 160
    } else if (ROPE) {
      s.rope = i == 0 ? RopeShape{2, 48, 32, 16} : RopeShape{1, 40, 32, 8}; // q / kv_a
      s.parts = i == 0 ? std::vector<int>{96} : std::vector<int>{32, 8};
    } else {
      s.parts = {72, 136};
    }
    s.inPlace = RESIDUAL && i == 1;
    shapes.push_back(s);
  }
  return shapes;
}

template <typename TA, typename TW, typename TC, typename TR, int BM, int BN, int BK, bool SILU_MUL,
          bool ROPE, bool RESIDUAL>
void gemmCase() {
  for (GemmShape s : gemmShapes<SILU_MUL, ROPE, RESIDUAL>(BM == 128)) {
    if (tyOf<TC>() != tyOf<TR>())
      s.inPlace = false;
    runGemm<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE, RESIDUAL>(s);
  }
}

// The tiny models' instantiations (moela-compile --emit=cuda on models/tiny,
// tiny-v2, tiny-v2-lite: bf16 weights; tiny-v3-fp8: FP8 weights).

TEST(KernelEmuGemm, TinyBf16Prefill) {
  gemmCase<bf16, bf16, bf16, bf16, 128, 128, 64, false, true, false>();
  gemmCase<bf16, bf16, bf16, bf16, 128, 128, 64, true, false, false>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, false, false, false>();
  gemmCase<float, bf16, bf16, bf16, 128, 128, 64, true, false, false>();
  gemmCase<float, bf16, float, float, 128, 128, 64, false, false, false>();
}

TEST(KernelEmuGemm, TinyBf16Decode) {
  gemmCase<bf16, bf16, bf16, bf16, 64, 64, 64, false, true, false>();
  gemmCase<bf16, bf16, bf16, bf16, 64, 64, 64, true, false, false>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, false, false, false>();
  gemmCase<float, bf16, bf16, bf16, 64, 64, 64, true, false, false>();
  gemmCase<float, bf16, float, float, 64, 64, 64, false, false, false>();
}

TEST(KernelEmuGemm, TinyFp8Prefill) {
  gemmCase<bf16, f8, bf16, bf16, 128, 128, 128, false, true, false>();
  gemmCase<bf16, f8, bf16, bf16, 128, 128, 128, true, false, false>();
  gemmCase<bf16, f8, float, float, 128, 128, 128, false, false, false>();
  gemmCase<float, f8, bf16, bf16, 128, 128, 128, true, false, false>();
}

TEST(KernelEmuGemm, TinyFp8Decode) {
  gemmCase<bf16, f8, bf16, bf16, 64, 64, 128, false, true, false>();
  gemmCase<bf16, f8, bf16, bf16, 64, 64, 128, true, false, false>();
  gemmCase<bf16, f8, float, float, 64, 64, 128, false, false, false>();
  gemmCase<float, f8, bf16, bf16, 64, 64, 128, true, false, false>();
}

// Every (silu_mul, rope, residual) combination with an fp32 output (tight
// bound) and residual, both tiles; the residual ones also in place.

TEST(KernelEmuGemm, EpilogueCombinationsTile64) {
  gemmCase<bf16, bf16, float, float, 64, 64, 64, false, false, true>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, false, true, false>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, false, true, true>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, true, false, false>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, true, false, true>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, true, true, false>();
  gemmCase<bf16, bf16, float, float, 64, 64, 64, true, true, true>();
}

TEST(KernelEmuGemm, EpilogueCombinationsTile128) {
  gemmCase<bf16, bf16, float, float, 128, 128, 64, false, false, true>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, false, true, false>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, false, true, true>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, true, false, false>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, true, false, true>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, true, true, false>();
  gemmCase<bf16, bf16, float, float, 128, 128, 64, true, true, true>();
}

// Every epilogue with a bf16 residual (MatmulCompileTest's extra kernels).
TEST(KernelEmuGemm, AllEpiloguesBf16Residual) {
  gemmCase<bf16, bf16, bf16, bf16, 64, 64, 64, true, true, true>();
  gemmCase<bf16, bf16, bf16, bf16, 128, 128, 64, true, true, true>();
  gemmCase<bf16, f8, bf16, bf16, 64, 64, 128, true, true, true>();
  gemmCase<bf16, f8, bf16, bf16, 128, 128, 128, true, true, true>();
}

// FP8 activations with FP8 weights: the f16 MMA path and A block scales.
TEST(KernelEmuGemm, W8A8) {
  gemmCase<f8, f8, float, float, 128, 128, 128, false, false, false>();
  gemmCase<f8, f8, float, float, 64, 64, 128, false, true, true>();
  gemmCase<f8, f8, bf16, bf16, 64, 64, 128, true, false, false>();
}

// f32 weights: converted to bf16 in shared memory.
TEST(KernelEmuGemm, F32Weights) {
  gemmCase<bf16, float, float, float, 64, 64, 64, false, false, false>();
  gemmCase<float, float, bf16, bf16, 128, 128, 64, true, false, false>();
}

// K over more tiles than the pipeline has stages (up to 8): every slot of
// the cp.async ring is reused while other warps may still read it.
TEST(KernelEmuGemm, LongK) {
  const GemmShape plain{130, 1040, {72, 136}, {}, false};
  runGemm<bf16, bf16, float, float, 128, 128, 64, false, false, false>(plain);
  runGemm<bf16, bf16, float, float, 64, 64, 64, false, false, false>({70, 1040, {72}, {}, false});
  runGemm<bf16, f8, float, float, 128, 128, 128, false, false, false>(plain);
  runGemm<f8, f8, float, float, 128, 128, 128, false, false, true>(plain);
  runGemm<float, f8, bf16, bf16, 64, 64, 128, true, false, false>(
      {40, 1040, {100, 120, 100}, {}, false});
}

/// rel-L2 of gemm<f32, bf16, f32, 64x64x64> with (PRECISE) or without split
/// A against a double-precision product of the exact f32 activations.
template <bool PRECISE> double routerGemmError(int m, int k, int n) {
  const std::string what = std::string("router gemm ") + (PRECISE ? "precise" : "plain");
  Rng rng(what);
  Tensor a(Ty::F32, m, k);
  a.fillUniform(rng, -3, 3); // full f32 mantissas
  Weights w = randomWeights(rng, Ty::BF16, 1, n, k);
  Tensor c(Ty::F32, m, n);
  K::GemmArgs args{};
  args.a = a.view();
  args.parts[0] = w.kernelWeight();
  args.num_parts = 1;
  args.c = c.view();
  args.m = m;
  args.n = n;
  args.k = k;
  launch(gemmEntry<float, bf16, float, float, 64, 64, 64, false, false, false, PRECISE>,
         K::launchGemm(args, K::Tile{64, 64, 64, 0, 0}), args);
  double num = 0, den = 0;
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) {
      double want = 0;
      for (int q = 0; q < k; ++q)
        want += double(a.get(r, q)) * double(w.ref[size_t(j) * k + q]);
      const double d = double(c.get(r, j)) - want;
      num += d * d;
      den += want * want;
    }
  return std::sqrt(num / den);
}

// PRECISE_A (the router logits of spec 3.2 in f32): the activations as bf16
// hi + lo keep ~16 bits, where one bf16 rounding keeps 8.
TEST(KernelEmuGemm, PreciseA) {
  const double precise = routerGemmError<true>(70, 200, 72);
  const double plain = routerGemmError<false>(70, 200, 72);
  std::printf("  router gemm rel-L2: precise %.3g, plain %.3g\n", precise, plain);
  EXPECT_LE(precise, 2e-5);
  EXPECT_GE(plain, 5e-4); // what the split buys
}

// Edges: no rows (one block that exits), one 16-wide K step, an output
// narrower than one 8-column piece, one row.
TEST(KernelEmuGemm, EdgeShapes) {
  runGemm<bf16, bf16, float, float, 64, 64, 64, false, false, false>({0, 64, {40}, {}, false});
  runGemm<bf16, bf16, float, float, 64, 64, 64, false, false, false>({1, 16, {4}, {}, false});
  runGemm<bf16, f8, bf16, bf16, 128, 128, 128, false, false, false>({129, 16, {5, 130}, {}, false});
  runGemm<bf16, bf16, float, float, 128, 128, 64, true, false, false>({1, 48, {6, 6}, {}, false});
}

// ---- GemmWgmma (the sm_90a warpgroup engine) ------------------------------------------
//
// gemmWgmma on the emulated mbarriers, async proxy and wgmma.mma_async (the
// descriptors decoded and the 128B swizzle applied as the PTX ISA says,
// PtxEmu.h), against the same reference and bounds as gemm. Tiles: those of
// moela-tile --gemm-kernel=wgmma (128x256x64 bf16 weights and 128x128x64
// others at prefill, 64x64x64 decode) and the other legal ones (BN = 256
// with BM = 64, BN = 64 with BM = 128, BK = 128); W8A8 runs K tiles of 128.

template <typename TA, typename TW, typename TC, typename TR, int BM, int BN, int BK, bool SILU_MUL,
          bool ROPE, bool RESIDUAL>
void wgmmaCase() {
  for (GemmShape s : gemmShapes<SILU_MUL, ROPE, RESIDUAL>(BM == 128)) {
    if (tyOf<TC>() != tyOf<TR>())
      s.inPlace = false;
    runGemm<TA, TW, TC, TR, BM, BN, BK, SILU_MUL, ROPE, RESIDUAL, true>(s);
  }
}

// Every instantiation `moela-compile --gemm-kernel=wgmma --emit=cuda` writes
// for models/tiny, tiny-v2, tiny-v2-lite, tiny-v3-fp8 (and with
// --activation-dtype=fp8): 24 kernels.
TEST(KernelEmuGemmWgmma, TinyBf16Weights) {
  wgmmaCase<bf16, bf16, bf16, bf16, 128, 256, 64, false, false, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 128, 256, 64, false, true, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 128, 256, 64, true, false, false>();
  wgmmaCase<bf16, bf16, float, float, 128, 256, 64, false, false, false>();
  wgmmaCase<float, bf16, bf16, bf16, 128, 256, 64, true, false, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 64, 64, 64, false, true, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 64, 64, 64, true, false, false>();
  wgmmaCase<bf16, bf16, float, float, 64, 64, 64, false, false, false>();
  wgmmaCase<float, bf16, bf16, bf16, 64, 64, 64, true, false, false>();
}

TEST(KernelEmuGemmWgmma, TinyFp8Weights) {
  wgmmaCase<bf16, f8, bf16, bf16, 128, 128, 64, false, false, false>();
  wgmmaCase<bf16, f8, bf16, bf16, 128, 128, 64, false, true, false>();
  wgmmaCase<bf16, f8, bf16, bf16, 128, 128, 64, true, false, false>();
  wgmmaCase<bf16, f8, float, float, 128, 128, 64, false, false, false>();
  wgmmaCase<float, f8, bf16, bf16, 128, 128, 64, true, false, false>();
  wgmmaCase<bf16, f8, bf16, bf16, 64, 64, 64, false, true, false>();
  wgmmaCase<bf16, f8, bf16, bf16, 64, 64, 64, true, false, false>();
  wgmmaCase<bf16, f8, float, float, 64, 64, 64, false, false, false>();
  wgmmaCase<float, f8, bf16, bf16, 64, 64, 64, true, false, false>();
}

TEST(KernelEmuGemmWgmma, TinyW8A8) {
  wgmmaCase<f8, f8, bf16, bf16, 128, 128, 64, false, true, false>();
  wgmmaCase<f8, f8, bf16, bf16, 128, 128, 64, true, false, false>();
  wgmmaCase<f8, f8, float, float, 128, 128, 64, false, false, false>();
  wgmmaCase<f8, f8, bf16, bf16, 64, 64, 64, false, true, false>();
  wgmmaCase<f8, f8, bf16, bf16, 64, 64, 64, true, false, false>();
  wgmmaCase<f8, f8, float, float, 64, 64, 64, false, false, false>();
}

TEST(KernelEmuGemmWgmma, Bf16Prefill) { // 128x256x64: N' = 128 per block with silu_mul
  wgmmaCase<bf16, bf16, float, float, 128, 256, 64, false, false, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 128, 256, 64, true, false, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 128, 256, 64, false, true, false>();
}

TEST(KernelEmuGemmWgmma, Bf16Decode) { // 64x64x64: two consumers of 32 columns each
  wgmmaCase<bf16, bf16, float, float, 64, 64, 64, false, false, false>();
  wgmmaCase<bf16, bf16, bf16, bf16, 64, 64, 64, true, false, false>();
  wgmmaCase<bf16, bf16, float, float, 64, 64, 64, false, true, true>();
}

TEST(KernelEmuGemmWgmma, Fp8Weights) { // block scales per 128-wide K block over two K tiles
  wgmmaCase<bf16, f8, float, float, 128, 128, 64, false, false, false>();
  wgmmaCase<bf16, f8, bf16, bf16, 128, 128, 64, true, false, false>();
  wgmmaCase<bf16, f8, float, float, 64, 64, 64, false, false, true>();
  wgmmaCase<bf16, f8, bf16, bf16, 64, 64, 64, false, true, false>();
}

TEST(KernelEmuGemmWgmma, W8A8) { // e4m3 x e4m3 (m64nNk32), activation scales, K tiles of 128
  wgmmaCase<f8, f8, float, float, 128, 128, 64, false, false, false>();
  wgmmaCase<f8, f8, bf16, bf16, 64, 64, 64, true, false, false>();
}

TEST(KernelEmuGemmWgmma, F32Operands) { // converted to bf16 in shared memory (st.shared)
  wgmmaCase<float, bf16, bf16, bf16, 64, 64, 64, true, false, false>();
  wgmmaCase<float, f8, float, float, 128, 128, 64, false, false, false>();
  wgmmaCase<bf16, float, float, float, 64, 64, 64, false, false, false>();
}

TEST(KernelEmuGemmWgmma, AllEpilogues) { // silu_mul + rope + residual, in place too
  wgmmaCase<bf16, bf16, float, float, 64, 64, 64, true, true, true>();
  wgmmaCase<bf16, bf16, bf16, bf16, 128, 256, 64, true, true, true>();
  wgmmaCase<bf16, f8, bf16, bf16, 128, 128, 64, true, true, true>();
}

TEST(KernelEmuGemmWgmma, OtherTiles) { // the other legal tiles of WgmmaGpuTest
  const GemmShape plain{70, 208, {96, 160}, {}, false};
  runGemm<bf16, bf16, float, float, 64, 256, 64, false, false, false, true>(plain);
  runGemm<bf16, f8, float, float, 64, 256, 64, false, false, false, true>(plain);
  runGemm<bf16, bf16, float, float, 128, 64, 64, false, false, false, true>(plain);
  runGemm<bf16, f8, float, float, 64, 64, 128, false, false, false, true>(plain);
  runGemm<bf16, bf16, float, float, 128, 128, 128, false, false, false, true>(plain);
  runGemm<f8, f8, float, float, 64, 256, 64, false, false, false, true>(plain);
  const GemmShape all{70, 64, {64, 80, 144}, {2, 72, 8, 64}, false}; // silu + rope + residual
  runGemm<bf16, bf16, bf16, bf16, 64, 256, 64, true, true, true, true>(all);
  runGemm<bf16, f8, bf16, bf16, 128, 64, 64, true, true, true, true>(all);
  runGemm<bf16, f8, bf16, bf16, 64, 64, 128, true, true, true, true>(all);
}

// K over more tiles than stages: every slot of the mbarrier ring is reused
// (parities of later rounds), FP8 blocks across K tiles, partial last block.
TEST(KernelEmuGemmWgmma, LongK) {
  runGemm<bf16, bf16, float, float, 128, 256, 64, false, false, false, true>(
      {130, 1040, {72, 136}, {}, false});                                    // 4 stages
  runGemm<bf16, bf16, float, float, 64, 64, 64, false, false, false, true>( // 8 stages
      {70, 1040, {72}, {}, false});
  runGemm<bf16, f8, float, float, 128, 128, 64, false, false, false, true>(
      {70, 1040, {72, 136}, {}, false});
  runGemm<f8, f8, float, float, 128, 128, 64, false, false, true, true>(
      {130, 1040, {72, 136}, {}, false});
  // Raw f32 tiles: 2 stages (the producer waits for every group at once).
  runGemm<float, bf16, float, float, 128, 256, 64, false, false, false, true>(
      {130, 1040, {72, 136}, {}, false});
  runGemm<float, float, bf16, bf16, 128, 128, 64, true, false, false, true>( // 3 stages
      {70, 1040, {100, 120, 100}, {}, false});
}

TEST(KernelEmuGemmWgmma, EdgeShapes) { // no rows, one K step, one row, narrow N
  runGemm<bf16, bf16, float, float, 64, 64, 64, false, false, false, true>(
      {0, 64, {40}, {}, false});
  runGemm<bf16, bf16, float, float, 64, 64, 64, false, false, false, true>(
      {1, 16, {4}, {}, false});
  runGemm<bf16, f8, bf16, bf16, 128, 128, 64, false, false, false, true>(
      {129, 16, {5, 130}, {}, false});
  runGemm<bf16, bf16, float, float, 128, 256, 64, true, false, false, true>(
      {1, 48, {6, 6}, {}, false});
}

// ---- GroupedGemm ----------------------------------------------------------------------

template <typename TA, typename TW, typename TC, int BM, int BN, int BK, bool SILU_MUL>
void groupedEntry(const K::GroupedGemmArgs args) {
  K::groupedGemm<TA, TW, TC, BM, BN, BK, SILU_MUL>(args);
}

struct GroupedShape {
  int experts, tokens, topK, k, n; // n: weight rows per expert (2F with silu_mul)
  bool separateUp;                 // silu_mul: gate in w, up in `up`
  int unrouted;                    // rows at the end of a outside every expert
};

template <typename TA, typename TW, typename TC, int BM, int BN, int BK, bool SILU_MUL>
void runGrouped(const GroupedShape &s) {
  constexpr Ty ta = tyOf<TA>(), tw = tyOf<TW>(), tc = tyOf<TC>();
  const int mMax = s.tokens * s.topK, nOut = SILU_MUL ? s.n / 2 : s.n;
  const std::string what = std::string("groupedGemm<") + tyName(ta) + ", " + tyName(tw) + ", " +
                           tyName(tc) + ", " + tileName(BM, BN, BK) + (SILU_MUL ? ", silu" : "") +
                           "> E=" + std::to_string(s.experts) + " rows=" + std::to_string(mMax) +
                           " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) +
                           (SILU_MUL ? (s.separateUp ? " gate|up" : " gate;up") : "");
  SCOPED_TRACE(what);
  Rng rng(what);

  // Random routing, skewed: expert 0 takes most tokens (several M tiles),
  // the last two experts none; the last `unrouted` rows belong to no expert.
  std::vector<int> count(size_t(s.experts), 0);
  for (int t = 0; t < s.tokens; ++t) {
    std::vector<int> chosen;
    while (int(chosen.size()) < s.topK) {
      const int e = rng.uniformInt(0, 3) ? rng.uniformInt(0, s.experts - 3) : 0;
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end())
        chosen.push_back(e);
    }
    for (int e : chosen)
      ++count[size_t(e)];
  }
  std::vector<int32_t> offsets(size_t(s.experts + 1), 0);
  for (int e = 0; e < s.experts; ++e)
    offsets[size_t(e + 1)] = offsets[size_t(e)] + count[size_t(e)];
  for (int e = 0; e <= s.experts; ++e) // drop the last rows from the last routed experts
    offsets[size_t(e)] = std::min(offsets[size_t(e)], mMax - s.unrouted);

  Activations a = randomActivations(rng, ta, mMax, s.k);
  const bool split = SILU_MUL && s.separateUp;
  const int perExpert = split ? s.n / 2 : s.n;
  Weights w = randomWeights(rng, tw, s.experts, perExpert, s.k);
  Weights up = split ? randomWeights(rng, tw, s.experts, perExpert, s.k) : Weights{};
  Tensor c(tc, mMax, nOut);

  K::GroupedGemmArgs args{};
  args.a = a.data.view();
  args.offsets = offsets.data();
  args.w = w.kernelWeight();
  if (split)
    args.up = up.kernelWeight();
  args.c = c.view();
  args.m_max = mMax;
  args.n = s.n;
  args.k = s.k;
  args.experts = s.experts;
  args.silu_mul = SILU_MUL;
  launch(groupedEntry<TA, TW, TC, BM, BN, BK, SILU_MUL>,
         K::launchGroupedGemm(args, K::Tile{BM, BN, BK, 0, 0}), args);

  // Reference: expert e's weight [n, k] = w_e, or [gate_e; up_e].
  std::vector<std::vector<float>> we(size_t(s.experts));
  std::vector<H::Weight> hw;
  for (int e = 0; e < s.experts; ++e) {
    const size_t sz = size_t(perExpert) * s.k;
    we[size_t(e)].assign(w.expertRef(e), w.expertRef(e) + sz);
    if (split)
      we[size_t(e)].insert(we[size_t(e)].end(), up.expertRef(e), up.expertRef(e) + sz);
    hw.push_back(H::Weight{we[size_t(e)].data(), s.n, s.k});
  }
  std::vector<float> ref(size_t(mMax) * nOut, NAN), scratch;
  H::groupedGemm(cmat(a.ref, mMax, s.k), cimat(offsets, s.experts + 1, 1), hw, SILU_MUL,
                 mat(ref, mMax, nOut), scratch);
  const int routedEnd = offsets[size_t(s.experts)];
  for (int64_t r = routedEnd; r < mMax; ++r)
    for (int64_t col = 0; col < nOut; ++col)
      ref[size_t(r * nOut + col)] = NAN; // rows of no expert stay NaN
  expectNear(what, c, ref, outputBound(tc));
  EXPECT_TRUE(untouchedOutside(c, [&](int64_t r, int64_t) { return r < routedEnd; }));
}

template <typename TA, typename TW, typename TC, int BM, int BN, int BK, bool SILU_MUL>
void groupedCase(int experts, int hidden, int inter) {
  // gate_up (silu_mul): n = 2F, k = D; down: n = D, k = F.
  const int n = SILU_MUL ? 2 * inter : hidden, k = SILU_MUL ? hidden : inter;
  // Expert 0 gets about a third of the slots: over one M tile.
  runGrouped<TA, TW, TC, BM, BN, BK, SILU_MUL>({experts, BM == 128 ? 200 : 100, 2, k, n, true, 3});
  // Decode-like: a few rows per expert.
  runGrouped<TA, TW, TC, BM, BN, BK, SILU_MUL>({experts, 5, 3, k, n, false, 0});
}

TEST(KernelEmuGroupedGemm, TinyBf16) { // tiny: E=8, D=64, F=32
  groupedCase<bf16, bf16, bf16, 128, 128, 64, true>(8, 64, 32);
  groupedCase<bf16, bf16, bf16, 64, 64, 64, true>(8, 64, 32);
  groupedCase<bf16, bf16, float, 128, 128, 64, false>(8, 64, 32);
  groupedCase<bf16, bf16, float, 64, 64, 64, false>(8, 64, 32);
}

TEST(KernelEmuGroupedGemm, TinyFp8) { // tiny-v3-fp8: E=8, D=192, F=96
  groupedCase<bf16, f8, bf16, 128, 128, 128, true>(8, 192, 96);
  groupedCase<bf16, f8, bf16, 64, 64, 128, true>(8, 192, 96);
  groupedCase<bf16, f8, float, 128, 128, 128, false>(8, 192, 96);
  groupedCase<bf16, f8, float, 64, 64, 128, false>(8, 192, 96);
}

TEST(KernelEmuGroupedGemm, F32Activations) { // tiny-v2-lite: E=12, D=96, F=48
  groupedCase<float, bf16, float, 64, 64, 64, false>(12, 96, 48);
  groupedCase<float, bf16, bf16, 64, 64, 64, true>(12, 96, 48);
}

TEST(KernelEmuGroupedGemm, LongK) { // more K tiles than pipeline stages
  runGrouped<bf16, f8, float, 128, 128, 128, false>({8, 100, 2, 1040, 192, true, 0});
  runGrouped<bf16, bf16, bf16, 64, 64, 64, true>({8, 60, 2, 1040, 64, true, 0});
}

// ---- HeadGemm -------------------------------------------------------------------------

template <typename TX, typename TW, typename TY, int BM, int BN, int BK, bool TRANSPOSE>
void headEntry(const K::HeadGemmArgs args) {
  K::headGemm<TX, TW, TY, BM, BN, BK, TRANSPOSE>(args);
}

struct HeadShape {
  int rows, heads, nope, v, latent; // kv_b = [heads * (nope + v), latent]
  int inPad;                        // in_stride = input length + inPad (0: packed)
  int outPad;                       // out_stride = output length + outPad (0: packed)
};

/// The MLA absorption GEMMs on kv_b: TRANSPOSE: q_lat[t,h] = W_uk_h^T
/// q_nope[t,h] (W_uk_h = rows [h (Dn+Dv), + Dn)); else o[t,h] = W_uv_h
/// o_lat[t,h] (W_uv_h = rows [h (Dn+Dv) + Dn, + Dv)).
template <typename TX, typename TW, typename TY, int BM, int BN, int BK, bool TRANSPOSE>
void runHead(const HeadShape &s) {
  constexpr Ty tx = tyOf<TX>(), tw = tyOf<TW>(), ty = tyOf<TY>();
  const int headRows = s.nope + s.v, wRows = TRANSPOSE ? s.nope : s.v;
  const int rowOffset = TRANSPOSE ? 0 : s.nope, C = s.latent;
  const int inLen = TRANSPOSE ? wRows : C, outLen = TRANSPOSE ? C : wRows;
  const int inStride = inLen + s.inPad, outStride = outLen + s.outPad;
  const std::string what = std::string("headGemm<") + tyName(tx) + ", " + tyName(tw) + ", " +
                           tyName(ty) + ", " + tileName(BM, BN, BK) +
                           (TRANSPOSE ? ", transpose" : "") + "> T=" + std::to_string(s.rows) +
                           " H=" + std::to_string(s.heads) + " w_rows=" + std::to_string(wRows) +
                           " C=" + std::to_string(C);
  SCOPED_TRACE(what);
  Rng rng(what);
  Activations x = randomActivations(rng, tx, s.rows, int64_t(s.heads) * inStride);
  Weights w = randomWeights(rng, tw, 1, int64_t(s.heads) * headRows, C);
  Tensor y(ty, s.rows, int64_t(s.heads) * outStride);

  K::HeadGemmArgs args{};
  args.x = x.data.view();
  args.in_stride = s.inPad ? inStride : 0;
  args.w = w.kernelWeight();
  args.y = y.view();
  args.out_stride = s.outPad ? outStride : 0;
  args.rows = s.rows;
  args.heads = s.heads;
  args.head_rows = headRows;
  args.row_offset = rowOffset;
  args.w_rows = wRows;
  args.transpose = TRANSPOSE;
  launch(headEntry<TX, TW, TY, BM, BN, BK, TRANSPOSE>,
         K::launchHeadGemm(args, K::Tile{BM, BN, BK, 0, 0}), args);

  std::vector<float> ref(size_t(s.rows) * s.heads * outStride, NAN);
  H::HeadGemmShape hs;
  hs.heads = s.heads;
  hs.headRows = headRows;
  hs.rowOffset = rowOffset;
  hs.rows = wRows;
  hs.transpose = TRANSPOSE;
  hs.inStride = inStride;
  hs.outStride = outStride;
  H::headGemm(cmat(x.ref, s.rows, int64_t(s.heads) * inStride),
              H::Weight{w.ref.data(), int64_t(s.heads) * headRows, C}, hs,
              mat(ref, s.rows, int64_t(s.heads) * outStride));
  expectNear(what, y, ref, outputBound(ty));
  EXPECT_TRUE(untouchedOutside(y, [&](int64_t, int64_t col) { return col % outStride < outLen; }));
}

template <typename TX, typename TW, typename TY, int BM, int BN, int BK>
void headCase(const HeadShape &s) {
  runHead<TX, TW, TY, BM, BN, BK, true>(s);
  runHead<TX, TW, TY, BM, BN, BK, false>(s);
}

TEST(KernelEmuHeadGemm, TinyBf16) {
  // tiny: H=4, Dn=16, Dv=16, R=32; q_nope read in place from q [T, H*(Dn+Dr)].
  headCase<bf16, bf16, bf16, 64, 64, 64>({70, 4, 16, 16, 32, 8, 0});
  // tiny-v2: H=2, Dn=32, Dv=32, R=64; gaps between the output heads.
  headCase<bf16, bf16, bf16, 64, 64, 64>({5, 2, 32, 32, 64, 0, 8});
}

TEST(KernelEmuHeadGemm, TinyFp8) {
  // tiny-v3-fp8: H=2, Dn=32, Dv=32, R=96.
  headCase<bf16, f8, bf16, 64, 64, 64>({70, 2, 32, 32, 96, 16, 0});
  // Heads across 128-row scale blocks, K across one (Dn=144), R=160 across
  // a 128-column block.
  headCase<bf16, f8, bf16, 64, 64, 64>({9, 3, 144, 64, 160, 0, 8});
}

TEST(KernelEmuHeadGemm, GemmTiles) { // should the tiler ever give 128x128 tiles
  headCase<bf16, bf16, float, 128, 128, 64>({130, 2, 32, 48, 160, 0, 0});
}

TEST(KernelEmuHeadGemm, LongK) { // K over the pipeline's stages both ways (V3: Dn = 128, R = 512)
  headCase<bf16, f8, bf16, 64, 64, 64>({9, 2, 576, 64, 640, 0, 0});
}

} // namespace
} // namespace moela::emutest
