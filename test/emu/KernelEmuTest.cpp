//===- KernelEmuTest.cpp - The non-GEMM kernel families on the emulator ---===//
//
// Every family of runtime/kernels besides the matrix ones (Embedding,
// RmsNorm, Add, SiluMul, GatherRows, Rope, Argmax, KvAppend, KvGather,
// LatentAttention, MlaAttention, MlaPrefillAttention, Route, Dispatch,
// Combine, MoeExperts) runs on the CPU emulation (CudaEmu.h, PtxEmu.h) with
// the launch geometry, phases and workspaces of OpsLaunch.h, and is compared
// with the fp32 host reference (runtime/host/Kernels.h) on the same rounded
// inputs (MlaPrefillAttention: a double-precision reference written here).
// Bounds: 1e-5 relative L2 (or as the GPU test, test/gpu/OpsGpuTest.cpp) for
// fp32 paths, 1e-2 where bf16 is involved (LatentAttention,
// MlaPrefillAttention: bf16 q, k and P on tensor cores), exact for indices
// and copies. Outputs start as NaN; unwritten cache rows and input rows past
// the step's rows are NaN, so attention must never read them.
//
// Instantiations: those the emitter writes for the tiny models, each
// family's other documented ones (fp32 / bf16 / FP8 outputs, FP8 weights,
// the fused route gate), and LatentAttention and MlaPrefillAttention with
// several shapes and in their DeepSeek-V3 forms.
//
//===----------------------------------------------------------------------===//
#include "EmuTestUtil.h"
#include "../unit/RouteCases.h"

#include <algorithm>
#include <numeric>

namespace moela::emutest {
namespace {

using bf16 = __nv_bfloat16;
using f8 = __nv_fp8_e4m3;

const K::Tile kTile{};

// ---- Entry points: the emitter's instantiations ---------------------------------------

template <typename TO, typename TW> void embeddingEntry(const K::EmbeddingArgs a) {
  K::embedding<TO, TW>(a);
}
template <typename TX, typename TR, typename TY, typename TW>
void rmsNormEntry(const K::RmsNormArgs a) {
  K::rmsNorm<TX, TR, TY, TW>(a);
}
template <typename TA, typename TB, typename TC> void addEntry(const K::AddArgs a) {
  K::add<TA, TB, TC>(a);
}
template <typename TG, typename TU, typename TO> void siluMulEntry(const K::SiluMulArgs a) {
  K::siluMul<TG, TU, TO>(a);
}
template <typename TX, typename TO> void gatherRowsEntry(const K::GatherRowsArgs a) {
  K::gatherRows<TX, TO>(a);
}
template <typename TX, typename TY> void ropeEntry(const K::RopeArgs a) { K::rope<TX, TY>(a); }
template <typename TL> void argmaxEntry(const K::ArgmaxArgs a) { K::argmax<TL>(a); }
template <typename TL, typename TP, typename TW> void kvAppendEntry(const K::KvAppendArgs a) {
  K::kvAppend<TL, TP, TW>(a);
}
template <typename TQL, typename TQP, typename TO, int R, int DR, int MT>
void latentEntry(const K::LatentAttentionArgs a) {
  K::latentAttention<TQL, TQP, TO, R, DR, MT>(a);
}
template <typename TQ, typename TO, typename TW> void mlaEntry(const K::MlaAttentionArgs a) {
  K::mlaAttention<TQ, TO, TW>(a);
}
template <typename TO> void kvGatherEntry(const K::KvGatherArgs a) { K::kvGather<TO>(a); }
template <typename TQ, typename TKV, typename TKP, typename TO, int DN, int DR, int DV>
void prefillEntry(const K::MlaPrefillAttentionArgs a) {
  K::mlaPrefillAttention<TQ, TKV, TKP, TO, DN, DR, DV>(a);
}
template <typename TI, typename TW> void routeEntry(const K::RouteArgs a) { K::route<TI, TW>(a); }
template <typename TX, typename TS> void dispatchEntry(const K::DispatchArgs a) {
  K::dispatch<TX, TS>(a);
}
template <typename TY, typename TSH, typename TR, typename TO>
void combineEntry(const K::CombineArgs a) {
  K::combine<TY, TSH, TR, TO>(a);
}
template <typename TX, typename TY, typename TW> void moeExpertsEntry(const K::MoeExpertsArgs a) {
  K::moeExperts<TX, TY, TW>(a);
}

K::Weight vectorWeight(Tensor &t) { // a [1, n] or [n, cols] weight without scales
  return K::Weight{t.ptr(), nullptr, int(t.rows()), int(t.cols()), 0, 0, 0};
}

// ---- Embedding ------------------------------------------------------------------------

template <typename TO> void runEmbedding(int vocab, int dim, int rows) {
  const std::string what = std::string("embedding<") + tyName(tyOf<TO>()) +
                           ", bf16> V=" + std::to_string(vocab) + " D=" + std::to_string(dim);
  SCOPED_TRACE(what);
  Rng rng(what);
  Tensor table(Ty::BF16, vocab, dim);
  table.fillUniform(rng, -1, 1);
  std::vector<int32_t> ids(static_cast<size_t>(rows));
  for (int32_t &t : ids)
    t = rng.uniformInt(0, vocab - 1);
  ids[1] = vocab; // out of range: a row of NaN
  ids[2] = -1;
  Tensor tokens = fromInts(ids, rows, 1), out(tyOf<TO>(), rows, dim);
  K::EmbeddingArgs a{};
  a.tokens = tokens.as<int>();
  a.table = vectorWeight(table);
  a.out = out.view();
  a.rows = rows;
  launch(embeddingEntry<TO, bf16>, K::launchEmbedding(a, kTile), a);
  std::vector<float> ref(size_t(rows) * dim, NAN);
  for (int r = 0; r < rows; ++r)
    if (ids[size_t(r)] >= 0 && ids[size_t(r)] < vocab)
      for (int c = 0; c < dim; ++c)
        ref[size_t(r) * dim + c] = table.get(ids[size_t(r)], c);
  EXPECT_TRUE(equal(out.floats(), ref));
  EXPECT_TRUE(untouchedOutside(out, [](int64_t, int64_t) { return true; }));
}

TEST(KernelEmuOps, Embedding) {
  runEmbedding<float>(1024, 64, 37);
  runEmbedding<bf16>(1024, 192, 5);
}

// ---- RmsNorm --------------------------------------------------------------------------

struct NormCase {
  int rows, cols;
  bool residual, inPlace;
  bool ue8m0;
};

template <typename TY> void runRmsNorm(const NormCase &c) {
  constexpr Ty ty = tyOf<TY>();
  const std::string what = std::string("rmsNorm<f32, f32, ") + tyName(ty) + ", bf16> " +
                           std::to_string(c.rows) + "x" + std::to_string(c.cols) +
                           (c.residual ? " +residual" : "") + (c.inPlace ? " in-place" : "") +
                           (c.ue8m0 ? " ue8m0" : "");
  SCOPED_TRACE(what);
  Rng rng(what);
  const float eps = 1e-6f;
  const int blocks = (c.cols + 127) / 128;
  Tensor x(Ty::F32, c.rows, c.cols), r(Ty::F32, c.rows, c.cols), w(Ty::BF16, 1, c.cols);
  x.fillUniform(rng, -2, 2);
  r.fillUniform(rng, -2, 2);
  w.fillUniform(rng, 0.5f, 1.5f);
  const std::vector<float> xv = x.floats(), rv = r.floats(), wv = w.floats();
  Tensor y(ty, c.rows, c.cols), sum(Ty::F32, c.rows, c.cols), scales(Ty::F32, c.rows, blocks + 1);
  K::RmsNormArgs a{};
  a.x = x.view();
  if (c.residual) {
    a.residual = r.view();
    a.sum = c.inPlace ? x.view() : sum.view(); // in place: sum is x's view
  }
  a.y = y.view();
  a.weight = vectorWeight(w);
  a.y_scales = ty == Ty::F8 ? scales.as<float>() : nullptr;
  a.y_scale_ld = blocks + 1;
  a.ue8m0 = c.ue8m0;
  a.rows = c.rows;
  a.cols = c.cols;
  a.eps = eps;
  launch(rmsNormEntry<float, float, TY, bf16>, K::launchRmsNorm(a, kTile), a);

  std::vector<float> yRef(size_t(c.rows) * c.cols), sumRef(yRef.size());
  H::CMat rm = cmat(rv, c.rows, c.cols);
  H::Mat sm = mat(sumRef, c.rows, c.cols);
  H::rmsNorm(cmat(xv, c.rows, c.cols), c.residual ? &rm : nullptr, wv.data(), eps,
             mat(yRef, c.rows, c.cols), c.residual ? &sm : nullptr);
  if (c.residual)
    expectNear(what + " sum", c.inPlace ? x : sum, sumRef, 1e-7);
  if (ty != Ty::F8) {
    expectNear(what, y, yRef, ty == Ty::BF16 ? 1e-2 : 1e-5);
    return;
  }
  // FP8 (spec 3.4): the scales from the reference row, every value within
  // e4m3 rounding of y / s (a block whose amax sits on a power of two may
  // round up either way with ue8m0).
  std::vector<float> deq(yRef.size());
  int64_t badScale = 0, badValue = 0;
  for (int row = 0; row < c.rows; ++row)
    for (int b = 0; b < blocks; ++b) {
      float amax = 0;
      for (int col = b * 128; col < std::min(c.cols, b * 128 + 128); ++col)
        amax = std::max(amax, std::fabs(yRef[size_t(row) * c.cols + col]));
      const float raw = std::max(amax, 1e-4f) / 448.0f;
      const float s = c.ue8m0 ? std::ldexp(1.0f, int(std::ceil(std::log2(double(raw))))) : raw;
      const float got = scales.get(row, b);
      const bool nearPow2 =
          std::fabs(std::log2(double(raw)) - std::round(std::log2(double(raw)))) < 1e-5;
      if (!(std::fabs(got - s) <= 1e-5 * s ||
            (c.ue8m0 && nearPow2 && std::fabs(got / s - 1) <= 1.0)))
        ++badScale;
      for (int col = b * 128; col < std::min(c.cols, b * 128 + 128); ++col) {
        const size_t i = size_t(row) * c.cols + col;
        deq[i] = y.get(row, col) * got;
        if (!(std::fabs(deq[i] - yRef[i]) <=
              0.0625 * std::fabs(yRef[i]) + got * std::ldexp(1.0, -9) + 1e-6))
          ++badValue;
      }
    }
  EXPECT_EQ(badScale, 0) << what;
  EXPECT_EQ(badValue, 0) << what;
  EXPECT_TRUE(untouchedOutside(scales, [&](int64_t, int64_t b) { return b < blocks; }));
  Tensor dq = fromFloats(Ty::F32, deq, c.rows, c.cols);
  expectNear(what + " dequantized", dq, yRef, 0.05);
}

TEST(KernelEmuOps, RmsNorm) {
  runRmsNorm<float>({5, 64, false, false, false});
  runRmsNorm<bf16>({9, 192, true, false, false});
  runRmsNorm<bf16>({4, 320, true, true, false});
  runRmsNorm<f8>({3, 320, true, true, true});
  runRmsNorm<f8>({6, 192, false, false, false});
  runRmsNorm<f8>({2, 1300, false, false, true}); // more 128-column blocks than warps
}

// ---- Add, SiluMul, GatherRows ---------------------------------------------------------

TEST(KernelEmuOps, Elementwise) {
  Rng rng("elementwise");
  { // c = a + b over three 1024-column chunks (the last partial), in place and not
    const int rows = 3, cols = 2100;
    for (bool inPlace : {false, true}) {
      Tensor a(Ty::F32, rows, cols), b(Ty::F32, rows, cols), c(Ty::F32, rows, cols);
      a.fillUniform(rng, -1, 1);
      b.fillUniform(rng, -1, 1);
      const std::vector<float> av = a.floats(), bv = b.floats();
      std::vector<float> ref(av.size());
      H::add(cmat(av, rows, cols), cmat(bv, rows, cols), mat(ref, rows, cols));
      K::AddArgs args{a.view(), b.view(), inPlace ? a.view() : c.view(), rows, cols};
      launch(addEntry<float, float, float>, K::launchAdd(args, kTile), args);
      EXPECT_TRUE(equal((inPlace ? a : c).floats(), ref)) << "add in place " << inPlace;
    }
  }
  { // silu(gate) * up, f32 and bf16 out
    const int rows = 5, cols = 1300;
    Tensor g(Ty::F32, rows, cols), u(Ty::F32, rows, cols);
    g.fillUniform(rng, -6, 6);
    u.fillUniform(rng, -2, 2);
    const std::vector<float> gv = g.floats(), uv = u.floats();
    std::vector<float> ref(gv.size());
    H::siluMul(cmat(gv, rows, cols), cmat(uv, rows, cols), mat(ref, rows, cols));
    Tensor o32(Ty::F32, rows, cols), o16(Ty::BF16, rows, cols);
    K::SiluMulArgs args{g.view(), u.view(), o32.view(), rows, cols};
    launch(siluMulEntry<float, float, float>, K::launchSiluMul(args, kTile), args);
    expectNear("siluMul<f32, f32, f32> 5x1300", o32, ref, 1e-5);
    args.out = o16.view();
    launch(siluMulEntry<float, float, bf16>, K::launchSiluMul(args, kTile), args);
    expectNear("siluMul<f32, f32, bf16> 5x1300", o16, ref, 1e-2);
  }
  { // gather rows (with a repeat)
    const int rows = 17, cols = 2100, picked = 5;
    Tensor x(Ty::F32, rows, cols), out(Ty::F32, picked, cols);
    x.fillUniform(rng, -1, 1);
    std::vector<int32_t> index = {16, 0, 7, 7, 3};
    Tensor idx = fromInts(index, picked, 1);
    const std::vector<float> xv = x.floats();
    std::vector<float> ref(size_t(picked) * cols);
    H::gatherRows(cmat(xv, rows, cols), cimat(index, picked, 1), mat(ref, picked, cols));
    K::GatherRowsArgs args{x.view(), idx.as<int>(), out.view(), picked, cols};
    launch(gatherRowsEntry<float, float>, K::launchGatherRows(args, kTile), args);
    EXPECT_TRUE(equal(out.floats(), ref)) << "gatherRows";
  }
}

// ---- Rope -----------------------------------------------------------------------------

TEST(KernelEmuOps, Rope) {
  struct Case {
    int rows, heads, headDim, offset, dim;
    bool inPlace;
  };
  for (Case c :
       {Case{7, 4, 24, 16, 8, true}, Case{5, 2, 48, 32, 16, false}, Case{3, 1, 40, 32, 8, false}}) {
    const std::string what = "rope<f32, f32> " + std::to_string(c.rows) + "x" +
                             std::to_string(c.heads) + "x" + std::to_string(c.headDim) + " dim " +
                             std::to_string(c.dim) + (c.inPlace ? " in-place" : "");
    SCOPED_TRACE(what);
    Rng rng(what);
    const RopeSpec spec = yarnRope(c.dim);
    const std::vector<float> invFreq = ropeInvFreq(spec);
    const float magnitude = ropeMagnitude(spec);
    const int cols = c.heads * c.headDim;
    Tensor x(Ty::F32, c.rows, cols), y(Ty::F32, c.rows, cols), freq(Ty::F32, 1, c.dim / 2);
    x.fillUniform(rng, -1, 1);
    for (int i = 0; i < c.dim / 2; ++i)
      freq.set(0, i, invFreq[size_t(i)]);
    std::vector<int32_t> pos(size_t(c.rows));
    for (int32_t &p : pos)
      p = rng.uniformInt(0, 4096);
    pos[0] = 163839;
    Tensor positions = fromInts(pos, c.rows, 1);
    std::vector<float> ref = x.floats();
    K::RopeArgs a{};
    a.x = x.view();
    a.y = c.inPlace ? x.view() : y.view();
    a.positions = positions.as<int>();
    a.rope = K::Rope{freq.as<float>(), magnitude, c.heads, c.headDim, c.offset, c.dim};
    a.rows = c.rows;
    launch(ropeEntry<float, float>, K::launchRope(a, kTile), a);
    H::RopeTable table;
    table.build(invFreq, magnitude, cimat(pos, c.rows, 1));
    H::applyRope(mat(ref, c.rows, cols), table, c.heads, c.headDim, c.offset);
    expectNear(what, c.inPlace ? x : y, ref, 1e-5);
  }
}

// ---- Argmax ---------------------------------------------------------------------------

TEST(KernelEmuOps, Argmax) {
  Rng rng("argmax");
  const int rows = 7, cols = 3000;
  Tensor logits(Ty::F32, rows, cols);
  logits.fillUniform(rng, -10, 10);
  logits.set(1, 777, 50);
  logits.set(1, 2900, 50); // tie: the first wins
  logits.set(2, 0, NAN);   // NaN at 0: the host's scan answers 0
  logits.set(2, 5, 60);
  logits.set(3, 100, NAN);
  logits.set(3, 101, 70);
  for (int c = 0; c < cols; ++c)
    logits.set(4, c, -INFINITY); // all equal: 0
  logits.set(5, cols - 1, 80);
  logits.set(6, 1023, 90); // the first column of the last thread
  const std::vector<float> lv = logits.floats();
  std::vector<int32_t> ref(rows);
  H::argmax(cmat(lv, rows, cols), imat(ref, rows, 1));
  Tensor out(Ty::I32, rows, 1);
  K::ArgmaxArgs a{logits.view(), out.as<int>(), rows, cols};
  launch(argmaxEntry<float>, K::launchArgmax(a, kTile), a);
  EXPECT_TRUE(equal(out.ints(), ref));
}

// ---- KvAppend -------------------------------------------------------------------------

TEST(KernelEmuOps, KvAppend) {
  struct Case {
    int latent, rope, slots, maxSeq, rows;
    bool norm, rotate;
  };
  for (Case c : {Case{32, 8, 3, 16, 10, true, true}, Case{96, 16, 2, 40, 6, true, false},
                 Case{64, 16, 2, 20, 5, false, true}}) {
    const std::string what = "kvAppend<f32, f32, bf16> R=" + std::to_string(c.latent) +
                             " Dr=" + std::to_string(c.rope) + (c.norm ? " norm" : "") +
                             (c.rotate ? " rope" : "");
    SCOPED_TRACE(what);
    Rng rng(what);
    const int width = c.latent + c.rope;
    Tensor cache(Ty::BF16, int64_t(c.slots) * c.maxSeq, width);
    cache.fillUniform(rng, -3, 3);
    const std::vector<float> before = cache.floats();
    Tensor latent(Ty::F32, c.rows, c.latent), kpe(Ty::F32, c.rows, c.rope),
        w(Ty::BF16, 1, c.latent);
    latent.fillUniform(rng, -2, 2);
    kpe.fillUniform(rng, -2, 2);
    w.fillUniform(rng, 0.5f, 1.5f);
    // Distinct (slot, position) per token.
    std::vector<int> cells(size_t(c.slots) * c.maxSeq);
    std::iota(cells.begin(), cells.end(), 0);
    std::shuffle(cells.begin(), cells.end(), rng.engine());
    std::vector<int32_t> pos(size_t(c.rows)), seq(size_t(c.rows));
    for (int t = 0; t < c.rows; ++t) {
      seq[size_t(t)] = cells[size_t(t)] / c.maxSeq;
      pos[size_t(t)] = cells[size_t(t)] % c.maxSeq;
    }
    const RopeSpec spec = yarnRope(c.rope);
    const std::vector<float> invFreq = ropeInvFreq(spec);
    const float magnitude = ropeMagnitude(spec);
    Tensor freq = fromFloats(Ty::F32, invFreq, 1, int64_t(invFreq.size()));
    Tensor positions = fromInts(pos, c.rows, 1), seqIds = fromInts(seq, c.rows, 1);
    K::KvAppendArgs a{};
    a.latent = latent.view();
    a.k_pe = kpe.view();
    a.positions = positions.as<int>();
    a.seq_ids = seqIds.as<int>();
    a.norm = K::Weight{c.norm ? w.ptr() : nullptr, nullptr, 1, c.latent, 0, 0, 0};
    a.eps = 1e-6f;
    a.rope = K::Rope{freq.as<float>(), magnitude, 1, c.rope, 0, c.rotate ? c.rope : 0};
    a.cache = cache.ptr();
    a.slot_stride = int64_t(c.maxSeq) * width;
    a.rows = c.rows;
    a.latent_dim = c.latent;
    a.rope_dim = c.rope;
    launch(kvAppendEntry<float, float, bf16>, K::launchKvAppend(a, kTile), a);

    std::vector<float> ref = before;
    const std::vector<float> lv = latent.floats(), pv = kpe.floats(), wv = w.floats();
    H::RopeTable table;
    table.build(invFreq, magnitude, cimat(pos, c.rows, 1));
    H::KvLayer layer{ref.data(), c.slots, c.maxSeq, c.latent, c.rope};
    H::kvAppend(cmat(lv, c.rows, c.latent), cmat(pv, c.rows, c.rope), cimat(pos, c.rows, 1),
                cimat(seq, c.rows, 1), c.norm ? wv.data() : nullptr, 1e-6f,
                c.rotate ? &table : nullptr, layer);
    // Written rows: within one bf16 rounding of the fp32 reference; the
    // other rows: untouched.
    std::vector<char> written(size_t(c.slots) * c.maxSeq, 0);
    for (int t = 0; t < c.rows; ++t)
      written[size_t(seq[size_t(t)]) * c.maxSeq + pos[size_t(t)]] = 1;
    int64_t offRounding = 0, changed = 0;
    for (size_t row = 0; row < written.size(); ++row)
      for (int j = 0; j < width; ++j) {
        const float g = cache.get(int64_t(row), j), r = ref[row * width + j];
        if (written[row] ? !(std::fabs(g - r) <= std::ldexp(std::fabs(r), -8))
                         : !(g == before[row * width + j]))
          ++(written[row] ? offRounding : changed);
      }
    EXPECT_EQ(offRounding, 0);
    EXPECT_EQ(changed, 0);
    expectNear(what, cache, ref, 1e-2);
  }
}

// ---- KvGather -------------------------------------------------------------------------

template <typename TO> void runKvGather(int latent, int rope, int slots, int maxSeq, int rows) {
  constexpr Ty to = tyOf<TO>();
  const std::string what = std::string("kvGather<") + tyName(to) + "> R=" +
                           std::to_string(latent) + " Dr=" + std::to_string(rope) +
                           " T=" + std::to_string(rows);
  SCOPED_TRACE(what);
  Rng rng(what);
  const int width = latent + rope;
  Tensor cache(Ty::BF16, int64_t(slots) * maxSeq, width); // [slots, maxSeq, R + Dr]
  cache.fillUniform(rng, -3, 3);
  std::vector<int32_t> pos(static_cast<size_t>(rows)), seq(static_cast<size_t>(rows)); // repeats ok
  for (int t = 0; t < rows; ++t) {
    seq[size_t(t)] = rng.uniformInt(0, slots - 1);
    pos[size_t(t)] = rng.uniformInt(0, maxSeq - 1);
  }
  Tensor positions = fromInts(pos, rows, 1), seqIds = fromInts(seq, rows, 1);
  Tensor out(to, rows, width, width + 3); // [T, R + Dr], padded rows
  K::KvGatherArgs a{};
  a.cache = cache.ptr();
  a.slot_stride = int64_t(maxSeq) * width;
  a.positions = positions.as<int>();
  a.seq_ids = seqIds.as<int>();
  a.out = out.view();
  a.rows = rows;
  a.latent_dim = latent;
  a.rope_dim = rope;
  launch(kvGatherEntry<TO>, K::launchKvGather(a, kTile), a);
  std::vector<float> ref(size_t(rows) * width);
  for (int t = 0; t < rows; ++t)
    for (int j = 0; j < width; ++j)
      ref[size_t(t) * width + j] =
          cache.get(int64_t(seq[size_t(t)]) * maxSeq + pos[size_t(t)], j);
  EXPECT_TRUE(equal(out.floats(), ref));
  EXPECT_TRUE(untouchedOutside(out, [&](int64_t, int64_t c) { return c < width; }));
}

TEST(KernelEmuOps, KvGather) {
  runKvGather<float>(32, 8, 3, 40, 17);
  runKvGather<bf16>(32, 8, 3, 40, 17);
  runKvGather<bf16>(512, 64, 2, 300, 9); // DeepSeek-V3 rows
  runKvGather<float>(96, 16, 1, 10, 1);
}

// ---- LatentAttention ------------------------------------------------------------------

struct LatentCase {
  std::string name;
  int heads, slots, maxSeq;
  std::vector<std::pair<int, int>> tokens; // (slot, position)
  bool interleavedQ = false;               // q_lat and q_pe in one [T, H*(R+Dr)] buffer
};

template <typename TQ, typename TO, int R, int DR, int MT> void runLatent(const LatentCase &c) {
  constexpr Ty tq = tyOf<TQ>(), to = tyOf<TO>();
  const int T = int(c.tokens.size()), Hh = c.heads, width = R + DR;
  const float scale = 0.1352f;
  const std::string what = std::string("latentAttention<") + tyName(tq) + ", " + tyName(to) +
                           ", R=" + std::to_string(R) + ", Dr=" + std::to_string(DR) +
                           ", MT=" + std::to_string(MT) + "> " + c.name;
  SCOPED_TRACE(what);
  Rng rng(what);
  ASSERT_EQ(K::latentAttentionMTiles(Hh), MT);
  // Cache rows 0..(the slot's last position) random, the rest NaN.
  Tensor cache(Ty::BF16, int64_t(c.slots) * c.maxSeq, width);
  std::vector<int> last(size_t(c.slots), -1);
  for (auto [slot, p] : c.tokens)
    last[size_t(slot)] = std::max(last[size_t(slot)], p);
  for (int s = 0; s < c.slots; ++s)
    for (int p = 0; p <= last[size_t(s)]; ++p)
      for (int j = 0; j < width; ++j)
        cache.set(int64_t(s) * c.maxSeq + p, j, rng.nonZero(-1, 1));
  std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) {
    seq[size_t(t)] = c.tokens[size_t(t)].first;
    pos[size_t(t)] = c.tokens[size_t(t)].second;
  }
  Tensor positions = fromInts(pos, T, 1), seqIds = fromInts(seq, T, 1);
  // q: packed q_lat [T, H*R] and q_pe [T, H*Dr], or one [T, H*(R+Dr)] buffer
  // with head h's q_lat at h*(R+Dr) and its q_pe at h*(R+Dr) + R.
  const int64_t latStride = c.interleavedQ ? width : R, peStride = c.interleavedQ ? width : DR;
  const int64_t latCols = c.interleavedQ ? int64_t(Hh) * width : int64_t(Hh) * R;
  const int64_t peCols = c.interleavedQ ? latCols : int64_t(Hh) * DR;
  Tensor qLat(tq, T, latCols), qPe(tq, T, peCols);
  qLat.fillUniform(rng, -1, 1);
  qPe.fillUniform(rng, -1, 1);
  Tensor out(to, T, int64_t(Hh) * R);

  K::LatentAttentionArgs a{};
  a.q_lat = qLat.view();
  a.q_lat_stride = latStride;
  a.q_pe = c.interleavedQ ? K::View{static_cast<char *>(qLat.ptr()) + R * sizeOf(tq), latCols}
                          : qPe.view();
  a.q_pe_stride = peStride;
  a.positions = positions.as<int>();
  a.seq_ids = seqIds.as<int>();
  a.cache = cache.ptr();
  a.slot_stride = int64_t(c.maxSeq) * width;
  a.out = out.view();
  a.rows = T;
  a.heads = Hh;
  a.latent_dim = R;
  a.rope_dim = DR;
  a.scale = scale;
  Tensor workspace(Ty::F32, 1, std::max<int64_t>(1, K::latentAttentionWorkspaceBytes(a) / 4));
  a.workspace = workspace.as<float>();
  const int launches = K::latentAttentionLaunches(a);
  for (int phase = 0; phase < launches; ++phase) {
    a.phase = phase;
    launch(latentEntry<TQ, TQ, TO, R, DR, MT>, K::launchLatentAttention(a, kTile), a);
  }

  const std::vector<float> cacheF = cache.floats(), ql = qLat.floats(), qp = qPe.floats();
  std::vector<float> ref(size_t(T) * Hh * R);
  H::KvLayer layer{const_cast<float *>(cacheF.data()), c.slots, c.maxSeq, R, DR};
  H::mlaLatentAttention(H::CMat{ql.data(), T, latCols, latCols}, latStride,
                        c.interleavedQ ? H::CMat{ql.data() + R, T, latCols, latCols}
                                       : H::CMat{qp.data(), T, peCols, peCols},
                        peStride, cimat(pos, T, 1), cimat(seq, T, 1), Hh, scale, layer,
                        mat(ref, T, int64_t(Hh) * R));
  expectNear(what + " S=" + std::to_string(K::latentAttentionSplitsFor(a, T)) + " launches " +
                 std::to_string(launches),
             out, ref, 1e-2);
}

std::vector<std::pair<int, int>> randomTokens(Rng &rng, int n, int slots, int maxPos) {
  std::vector<std::pair<int, int>> v;
  for (int i = 0; i < n; ++i)
    v.push_back({rng.uniformInt(0, slots - 1), rng.uniformInt(0, maxPos)});
  return v;
}

TEST(KernelEmuLatentAttention, Tiny) { // R=32, Dr=8, H=4
  Rng rng("latent tiny tokens");
  const LatentCase split{
      "split-KV", 4, 4, 256, {{0, 0}, {0, 5}, {1, 63}, {1, 64}, {2, 200}, {3, 255}}};
  runLatent<bf16, bf16, 32, 8, 1>(split);
  runLatent<float, float, 32, 8, 1>(split);
  std::vector<std::pair<int, int>> chunk; // a prefill chunk of one slot: one split
  for (int i = 0; i < 150; ++i)
    chunk.push_back({1, 100 + i});
  LatentCase prefill{"prefill chunk T=150 interleaved q", 4, 2, 256, chunk, true};
  runLatent<bf16, bf16, 32, 8, 1>(prefill);
  runLatent<bf16, bf16, 32, 8, 2>(
      {"H=20 (2 head tiles)", 20, 3, 300, randomTokens(rng, 3, 3, 299)});
}

TEST(KernelEmuLatentAttention, TinyV2) { // R=64, Dr=16, H=2 (and H=4: tiny-v2-lite)
  Rng rng("latent tiny-v2 tokens");
  runLatent<bf16, bf16, 64, 16, 1>({"H=2", 2, 3, 512, randomTokens(rng, 7, 3, 511)});
  runLatent<bf16, float, 64, 16, 1>({"H=4", 4, 2, 300, randomTokens(rng, 3, 2, 299)});
}

TEST(KernelEmuLatentAttention, TinyV3Fp8) { // R=96, Dr=16: rows not swizzled (odd stride)
  Rng rng("latent tiny-v3-fp8 tokens");
  runLatent<bf16, bf16, 96, 16, 1>({"H=2", 2, 3, 700, randomTokens(rng, 5, 3, 699)});
}

TEST(KernelEmuLatentAttention, DeepSeekV3) { // the production form: 4 head tiles, R=512
  runLatent<bf16, bf16, 512, 64, 4>({"H=128 decode", 128, 2, 256, {{0, 130}, {1, 63}}});
}

// ---- MlaAttention ---------------------------------------------------------------------

template <typename TO, typename TW>
void runMla(const std::string &name, int heads, int nope, int rope, int v, int latent) {
  constexpr Ty to = tyOf<TO>(), tw = tyOf<TW>();
  const std::string what =
      std::string("mlaAttention<f32, ") + tyName(to) + ", " + tyName(tw) + "> " + name;
  SCOPED_TRACE(what);
  Rng rng(what);
  const int slots = 2, maxSeq = 100, width = latent + rope;
  const std::vector<std::pair<int, int>> toks = {{0, 0}, {0, 70}, {1, 30}};
  const int T = int(toks.size());
  Tensor cache(Ty::BF16, int64_t(slots) * maxSeq, width);
  for (int s = 0; s < slots; ++s)
    for (int p = 0; p <= (s == 0 ? 70 : 30); ++p)
      for (int j = 0; j < width; ++j)
        cache.set(int64_t(s) * maxSeq + p, j, rng.nonZero(-1, 1));
  std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) {
    seq[size_t(t)] = toks[size_t(t)].first;
    pos[size_t(t)] = toks[size_t(t)].second;
  }
  Tensor positions = fromInts(pos, T, 1), seqIds = fromInts(seq, T, 1);
  const int qCols = heads * (nope + rope), kvRows = heads * (nope + v);
  Tensor q(Ty::F32, T, qCols);
  q.fillUniform(rng, -1, 1);
  Tensor kvBf;
  Fp8Weight kv8;
  std::vector<float> kvRef(size_t(kvRows) * latent);
  K::Weight kw{};
  if (tw == Ty::F8) {
    kv8 = randomFp8Weight(rng, 1, kvRows, latent);
    for (int r = 0; r < kvRows; ++r)
      for (int col = 0; col < latent; ++col)
        kvRef[size_t(r) * latent + col] = kv8.value(0, r, col) * 0.1f;
    for (int64_t i = 0; i < kv8.scales.cols(); ++i) // keep the products modest
      kv8.scales.set(0, i, kv8.scales.get(0, i) * 0.1f);
    kw = K::Weight{kv8.codes.ptr(), kv8.scalePtr(), kvRows, latent, int(kv8.scaleLd), 0, 0};
  } else {
    kvBf = Tensor(Ty::BF16, kvRows, latent);
    kvBf.fillUniform(rng, -0.08f, 0.08f);
    kvRef = kvBf.floats();
    kw = vectorWeight(kvBf);
  }
  Tensor out(to, T, int64_t(heads) * v);
  K::MlaAttentionArgs a{};
  a.q = q.view();
  a.positions = positions.as<int>();
  a.seq_ids = seqIds.as<int>();
  a.kv_b = kw;
  a.cache = cache.ptr();
  a.slot_stride = int64_t(maxSeq) * width;
  a.out = out.view();
  a.workspace = nullptr;
  a.rows = T;
  a.heads = heads;
  a.nope_dim = nope;
  a.rope_dim = rope;
  a.v_dim = v;
  a.latent_dim = latent;
  a.absorbed = 0;
  a.scale = 0.1352f;
  launch(mlaEntry<float, TO, TW>, K::launchMlaAttention(a, kTile), a);

  const std::vector<float> cacheF = cache.floats(), qv = q.floats();
  std::vector<float> ref(size_t(T) * heads * v);
  H::MlaDims dims{heads, nope, rope, v, latent, 0.1352f};
  H::KvLayer layer{const_cast<float *>(cacheF.data()), slots, maxSeq, latent, rope};
  H::mlaAttentionAbsorbed(cmat(qv, T, qCols), cimat(pos, T, 1), cimat(seq, T, 1),
                          H::Weight{kvRef.data(), kvRows, latent}, dims, layer,
                          mat(ref, T, int64_t(heads) * v));
  expectNear(what, out, ref, to == Ty::F32 ? 1e-4 : 1e-2);
}

TEST(KernelEmuOps, MlaAttention) {
  runMla<float, bf16>("tiny H=4", 4, 16, 8, 16, 32);
  runMla<bf16, f8>("tiny-v3-fp8 H=2", 2, 32, 16, 32, 160);
}

// ---- MlaPrefillAttention --------------------------------------------------------------

struct PrefillCase {
  std::string name;
  int heads;
  std::vector<int> seqLens; // sequences packed back to back, positions from 0
  int kvPad = 0;            // extra kv columns per row: 4 leaves bf16 rows unaligned
};

/// The inputs of a prefill step as the kernel reads them (element values).
struct PrefillInputs {
  const Tensor &q, &kv, &kpBuf; // [T, H*(Dn+Dr)], [T, H*(Dn+Dv)], k_pe at column kpCol
  int kpCol;
  std::vector<int32_t> pos;
  int heads, dn, dr, dv;
  float scale;
};

/// out [T, H*Dv] in double precision: softmax over the keys [t - positions[t]
/// - extraLo, t - dropHi] (clamped to row 0 and to one key at least);
/// extraLo = dropHi = 0 is the kernel's contract, the others deliberately wrong.
std::vector<float> prefillReference(const PrefillInputs &in, int extraLo = 0, int dropHi = 0) {
  const int T = int(in.pos.size()), H = in.heads, dn = in.dn, dr = in.dr, dv = in.dv;
  std::vector<float> ref(size_t(T) * H * dv);
  std::vector<double> w, acc(static_cast<size_t>(dv));
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h) {
      const int lo = std::max(0, t - in.pos[size_t(t)] - extraLo);
      const int hi = std::max(lo, t - dropHi);
      const int64_t qc = int64_t(h) * (dn + dr), kc = int64_t(h) * (dn + dv);
      w.assign(size_t(hi - lo + 1), 0.0);
      double mx = -INFINITY;
      for (int j = lo; j <= hi; ++j) {
        double d = 0;
        for (int c = 0; c < dn; ++c)
          d += double(in.q.get(t, qc + c)) * in.kv.get(j, kc + c);
        for (int c = 0; c < dr; ++c)
          d += double(in.q.get(t, qc + dn + c)) * in.kpBuf.get(j, in.kpCol + c);
        w[size_t(j - lo)] = d * in.scale;
        mx = std::max(mx, w[size_t(j - lo)]);
      }
      double sum = 0;
      for (double &x : w)
        sum += (x = std::exp(x - mx));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int j = lo; j <= hi; ++j)
        for (int c = 0; c < dv; ++c)
          acc[size_t(c)] += w[size_t(j - lo)] * in.kv.get(j, kc + dn + c);
      for (int c = 0; c < dv; ++c)
        ref[(size_t(t) * H + h) * dv + c] = float(acc[size_t(c)] / sum);
    }
  return ref;
}

template <typename TQ, typename TKV, typename TKP, typename TO, int DN, int DR, int DV>
void runPrefill(const PrefillCase &c) {
  constexpr Ty tq = tyOf<TQ>(), tkv = tyOf<TKV>(), tkp = tyOf<TKP>(), to = tyOf<TO>();
  const int H = c.heads;
  const std::string what = std::string("mlaPrefillAttention<") + tyName(tq) + ", " +
                           tyName(tkv) + ", " + tyName(tkp) + ", " + tyName(to) + ", " +
                           std::to_string(DN) + ", " + std::to_string(DR) + ", " +
                           std::to_string(DV) + "> H=" + std::to_string(H) + " " + c.name +
                           (c.kvPad ? " kv ld+" + std::to_string(c.kvPad) : "");
  SCOPED_TRACE(what);
  Rng rng(what);
  std::vector<int32_t> pos;
  for (int len : c.seqLens)
    for (int p = 0; p < len; ++p)
      pos.push_back(p);
  const int T = int(pos.size());
  // Inputs have a tile of rows past T, left NaN: the kernel must not read them.
  const int64_t rows = T + 64, qCols = int64_t(H) * (DN + DR), kvCols = int64_t(H) * (DN + DV);
  const int kpCol = 8; // k_pe inside a wider row, as in the kv_a output
  Tensor q(tq, rows, qCols), kv(tkv, rows, kvCols, kvCols + c.kvPad),
      kpBuf(tkp, rows, kpCol + DR);
  auto fill = [&](Tensor &x) {
    for (int t = 0; t < T; ++t)
      for (int64_t j = 0; j < x.cols(); ++j)
        x.set(t, j, rng.nonZero(-1, 1));
  };
  fill(q);
  fill(kv);
  fill(kpBuf);
  Tensor positions = fromInts(pos, T, 1);
  Tensor out(to, T, int64_t(H) * DV, int64_t(H) * DV + 8); // [T, H*Dv], padded rows
  const float scale = 0.1352f;
  K::MlaPrefillAttentionArgs a{};
  a.q = q.view();
  a.kv = kv.view();
  a.k_pe = K::View{static_cast<char *>(kpBuf.ptr()) + kpCol * sizeOf(tkp), kpBuf.ld()};
  a.positions = positions.as<int>();
  a.out = out.view();
  a.rows = T;
  a.heads = H;
  a.nope_dim = DN;
  a.rope_dim = DR;
  a.v_dim = DV;
  a.scale = scale;
  launch(prefillEntry<TQ, TKV, TKP, TO, DN, DR, DV>, K::launchMlaPrefillAttention(a, kTile), a);

  const PrefillInputs in{q, kv, kpBuf, kpCol, pos, H, DN, DR, DV, scale};
  expectNear(what, out, prefillReference(in), 1e-2);
  EXPECT_TRUE(untouchedOutside(out, [&](int64_t, int64_t col) { return col < int64_t(H) * DV; }));
  // The bound separates: one key fewer (the diagonal) or, with several
  // sequences, one more (the row before the sequence) is far outside it.
  for (int wrong = 0; wrong < (c.seqLens.size() > 1 ? 2 : 1); ++wrong) {
    const ::testing::AssertionResult r =
        near(out, prefillReference(in, wrong, 1 - wrong), 1e-2);
    const std::string label = what + (wrong ? " vs one key more" : " vs one key fewer");
    std::printf("  %-78s %s\n", label.c_str(), r.message());
    EXPECT_FALSE(r) << what << (wrong ? ": one key more" : ": one key fewer");
  }
}

/// Packings of every test shape: several sequences (one of a single token),
/// one full tile, a partial tile, and keys over several tiles.
std::vector<PrefillCase> prefillPackings(int heads) {
  return {{"T=100 seqs 37+1+62", heads, {37, 1, 62}},
          {"T=64 one seq", heads, {64}},
          {"T=5 one seq", heads, {5}},
          {"T=200 seqs 150+50", heads, {150, 50}}};
}

TEST(KernelEmuMlaPrefillAttention, Tiny) { // (16, 8, 16): Dn+Dr = 24 padded to 32
  for (const PrefillCase &c : prefillPackings(4)) {
    runPrefill<float, float, float, float, 16, 8, 16>(c);
    runPrefill<bf16, bf16, bf16, bf16, 16, 8, 16>(c);
  }
  runPrefill<float, bf16, bf16, bf16, 16, 8, 16>({"T=100 seqs 37+1+62", 4, {37, 1, 62}});
  runPrefill<bf16, bf16, float, float, 16, 8, 16>({"T=70 seqs 3+67", 4, {3, 67}, 4});
}

TEST(KernelEmuMlaPrefillAttention, TinyV2) { // (32, 16, 32)
  runPrefill<bf16, bf16, bf16, bf16, 32, 16, 32>({"T=100 seqs 37+1+62", 2, {37, 1, 62}});
  runPrefill<bf16, bf16, bf16, bf16, 32, 16, 32>({"T=130 seqs 1+129", 2, {1, 129}, 4});
}

TEST(KernelEmuMlaPrefillAttention, TinyV3Fp8) { // (64, 32, 48): V rows not swizzled
  for (const PrefillCase &c : prefillPackings(3)) {
    runPrefill<float, float, float, float, 64, 32, 48>(c);
    runPrefill<bf16, bf16, bf16, bf16, 64, 32, 48>(c);
  }
}

TEST(KernelEmuMlaPrefillAttention, DeepSeekV3) { // (128, 64, 128): swizzled rows
  for (const PrefillCase &c : prefillPackings(2)) {
    runPrefill<bf16, bf16, bf16, bf16, 128, 64, 128>(c);
    runPrefill<float, float, float, float, 128, 64, 128>(c);
  }
  runPrefill<float, bf16, bf16, bf16, 128, 64, 128>({"T=100 seqs 37+1+62", 2, {37, 1, 62}});
  runPrefill<bf16, bf16, bf16, float, 128, 64, 128>({"T=100 seqs 37+1+62", 2, {37, 1, 62}, 4});
}

// ---- Route ----------------------------------------------------------------------------

using test::RouteCase;
using test::clearMargins;
using test::hostConfig;

void runRoute(const RouteCase &c) {
  const std::string what = "route " + c.name;
  SCOPED_TRACE(what);
  Rng rng(what);
  const int T = c.rows, E = c.experts;
  Tensor bias(Ty::F32, 1, E);
  bias.fillUniform(rng, -0.02f, 0.02f);
  const std::vector<float> bv = bias.floats();
  std::vector<float> logits(size_t(T) * E);
  Tensor x, gate;
  if (c.fusedDim) {
    x = Tensor(Ty::F32, T, c.fusedDim);
    x.fillUniform(rng, -1, 1);
    gate = Tensor(Ty::BF16, E, c.fusedDim);
    gate.fillUniform(rng, -0.1f, 0.1f);
    const std::vector<float> xv = x.floats(), gv = gate.floats();
    H::gemm(cmat(xv, T, c.fusedDim), H::Weight{gv.data(), E, c.fusedDim}, mat(logits, T, E));
  } else {
    // Selection scores on a jittered ladder (gaps >= 0.45 / E), redrawn until
    // the group scores are clear too; logits inverted from the scores.
    for (int t = 0; t < T; ++t) {
      float *lt = logits.data() + size_t(t) * E;
      for (int attempt = 0; attempt < 1000; ++attempt) {
        std::vector<int> rank(static_cast<size_t>(E));
        std::iota(rank.begin(), rank.end(), 0);
        std::shuffle(rank.begin(), rank.end(), rng.engine());
        for (int e = 0; e < E; ++e) {
          const double sb = 0.05 + 0.9 * (rank[size_t(e)] + 0.5 * rng.uniform(0, 1)) / E;
          if (c.sigmoid) {
            const double s = sb - (c.bias ? bv[size_t(e)] : 0.0);
            lt[e] = float(std::log(s / (1 - s)));
          } else {
            lt[e] = float(std::log(sb) + 1.0);
          }
        }
        if (clearMargins(c, lt, c.bias ? bv.data() : nullptr))
          break;
      }
    }
  }
  std::vector<char> clear(static_cast<size_t>(T));
  int clearCount = 0;
  for (int t = 0; t < T; ++t)
    clearCount += clear[size_t(t)] =
        clearMargins(c, logits.data() + size_t(t) * E, c.bias ? bv.data() : nullptr);
  std::vector<int32_t> idxRef(size_t(T) * c.topK);
  std::vector<float> wRef(size_t(T) * c.topK);
  H::route(cmat(logits, T, E), c.bias ? bv.data() : nullptr, hostConfig(c), imat(idxRef, T, c.topK),
           mat(wRef, T, c.topK));

  Tensor in = c.fusedDim ? std::move(x) : fromFloats(Ty::F32, logits, T, E);
  Tensor idx(Ty::I32, T, c.topK + 1), w(Ty::F32, T, c.topK); // idx_ld = K + 1
  K::RouteArgs a{};
  a.input = in.view();
  a.gate = K::Weight{c.fusedDim ? gate.ptr() : nullptr, nullptr, E, c.fusedDim, 0, 0, 0};
  a.bias = c.bias ? bias.as<float>() : nullptr;
  a.idx = idx.as<int>();
  a.idx_ld = c.topK + 1;
  a.w = w.view();
  a.rows = T;
  a.dim = c.fusedDim;
  a.experts = E;
  a.top_k = c.topK;
  a.groups = c.groups;
  a.topk_groups = c.topkGroups;
  a.sigmoid = c.sigmoid;
  a.method = c.method;
  a.norm_topk_prob = c.norm;
  a.fused_gate = c.fusedDim > 0;
  a.scaling = c.scaling;
  if (c.fusedDim)
    launch(routeEntry<float, bf16>, K::launchRoute(a, kTile), a);
  else
    launch(routeEntry<float, float>, K::launchRoute(a, kTile), a);

  // The tokens decided by clear margins (all of them, except with the fused
  // gate, whose logits come from a GEMV in another order).
  std::vector<int32_t> gotI, refI;
  std::vector<float> gotW, refW;
  for (int t = 0; t < T; ++t)
    if (clear[size_t(t)])
      for (int k = 0; k < c.topK; ++k) {
        gotI.push_back(idx.geti(t, k));
        refI.push_back(idxRef[size_t(t) * c.topK + k]);
        gotW.push_back(w.get(t, k));
        refW.push_back(wRef[size_t(t) * c.topK + k]);
      }
  EXPECT_TRUE(c.fusedDim ? clearCount >= T / 2 : clearCount == T)
      << clearCount << " of " << T << " tokens with clear margins";
  EXPECT_TRUE(equal(gotI, refI)) << "idx";
  expectNear(what + " w (" + std::to_string(clearCount) + " clear tokens)",
             fromFloats(Ty::F32, gotW, 1, int64_t(gotW.size())), refW, c.fusedDim ? 1e-4 : 1e-5);
  EXPECT_TRUE(untouchedOutside(idx, [&](int64_t, int64_t k) { return k < c.topK; }));
}

TEST(KernelEmuOps, Route) {
  for (const RouteCase &c : std::vector<RouteCase>{
           {"tiny sigmoid noaux_tc E8 K2 G4/2", true, 2, 8, 2, 4, 2, true, true, 2.5f, 13},
           {"tiny-v3-fp8 sigmoid noaux_tc E8 K2 G2/1", true, 2, 8, 2, 2, 1, true, true, 2.5f, 6},
           {"tiny-v2 softmax group_limited E16 K3 G4/2", false, 1, 16, 3, 4, 2, false, false, 4.0f,
            9},
           {"tiny-v2-lite softmax greedy E12 K3", false, 0, 12, 3, 1, 1, false, false, 1.0f, 17},
           {"v2-lite softmax greedy E64 K6", false, 0, 64, 6, 1, 1, false, false, 1.0f, 9},
           {"v3 sigmoid noaux_tc E256 K8 G8/4", true, 2, 256, 8, 8, 4, true, true, 2.5f, 10},
           {"tiny fused gate D64", true, 2, 8, 2, 4, 2, true, true, 2.5f, 8, 64},
       })
    runRoute(c);
}

// ---- Dispatch, Combine, MoeExperts ----------------------------------------------------

/// idx [T, K]: K distinct experts per token; `skew` draws them from the
/// first few experts only (long runs of one expert inside a warp).
std::vector<int32_t> randomIdx(Rng &rng, int T, int Kk, int E, bool skew) {
  std::vector<int32_t> idx(size_t(T) * Kk);
  std::vector<int> all(static_cast<size_t>(E));
  std::iota(all.begin(), all.end(), 0);
  for (int t = 0; t < T; ++t) {
    const int pool = skew ? std::min(E, Kk + 2) : E;
    std::shuffle(all.begin(), all.begin() + pool, rng.engine());
    for (int k = 0; k < Kk; ++k)
      idx[size_t(t) * Kk + k] = all[size_t(k)];
  }
  return idx;
}

TEST(KernelEmuOps, Dispatch) {
  struct Case {
    int T, Kk, E, D;
    bool skew;
  };
  for (Case c : {Case{5, 2, 8, 64, false}, Case{70, 3, 16, 96, true},
                 Case{400, 3, 12, 32, false},    // 1200 slots: two chunks of 1024
                 Case{33, 6, 160, 128, true}}) { // V2: more experts than lanes
    const std::string what = "dispatch<f32, bf16> T=" + std::to_string(c.T) +
                             " K=" + std::to_string(c.Kk) + " E=" + std::to_string(c.E) +
                             (c.skew ? " skewed" : "");
    SCOPED_TRACE(what);
    Rng rng(what);
    const int N = c.T * c.Kk;
    const std::vector<int32_t> idxV = randomIdx(rng, c.T, c.Kk, c.E, c.skew);
    Tensor x(Ty::F32, c.T, c.D), idx = fromInts(idxV, c.T, c.Kk);
    x.fillUniform(rng, -1, 1);
    const std::vector<float> xv = x.floats();
    std::vector<float> sortedRef(size_t(N) * c.D);
    std::vector<int32_t> offRef(size_t(c.E + 1)), permRef(static_cast<size_t>(N));
    H::moeDispatch(cmat(xv, c.T, c.D), cimat(idxV, c.T, c.Kk), c.E, mat(sortedRef, N, c.D),
                   imat(offRef, c.E + 1, 1), imat(permRef, N, 1));
    Tensor sorted(Ty::BF16, N, c.D), offsets(Ty::I32, c.E + 1, 1), perm(Ty::I32, N, 1);
    K::DispatchArgs a{};
    a.x = x.view();
    a.idx = idx.as<int>();
    a.idx_ld = c.Kk;
    a.sorted = sorted.view();
    a.offsets = offsets.as<int>();
    a.perm = perm.as<int>();
    a.counters = nullptr;
    a.rows = c.T;
    a.cols = c.D;
    a.experts = c.E;
    a.top_k = c.Kk;
    for (int phase = 0; phase < K::dispatchLaunches(a); ++phase) {
      a.phase = phase;
      launch(dispatchEntry<float, bf16>, K::launchDispatch(a, kTile), a);
    }
    EXPECT_TRUE(equal(offsets.ints(), offRef)) << "offsets";
    EXPECT_TRUE(equal(perm.ints(), permRef)) << "perm";
    for (float &v : sortedRef)
      v = roundTo(Ty::BF16, v);
    EXPECT_TRUE(equal(sorted.floats(), sortedRef)) << "sorted rows";
  }
}

TEST(KernelEmuOps, Combine) {
  struct Case {
    int T, Kk, D;
    bool perm, shared, residual, inPlace;
  };
  for (Case c :
       {Case{5, 2, 64, false, false, false, false}, Case{70, 3, 96, true, true, true, true},
        Case{9, 2, 300, true, false, true, false}, Case{7, 3, 96, false, true, false, false}}) {
    const std::string what = "combine<f32, f32, f32, f32> T=" + std::to_string(c.T) +
                             " K=" + std::to_string(c.Kk) + " D=" + std::to_string(c.D) +
                             (c.perm ? " perm" : "") + (c.shared ? " +shared" : "") +
                             (c.residual ? " +residual" : "") + (c.inPlace ? " in-place" : "");
    SCOPED_TRACE(what);
    Rng rng(what);
    const int N = c.T * c.Kk, E = 16;
    const std::vector<int32_t> idx = randomIdx(rng, c.T, c.Kk, E, false);
    Tensor y(Ty::F32, N, c.D), w(Ty::F32, c.T, c.Kk), shared(Ty::F32, c.T, c.D),
        resid(Ty::F32, c.T, c.D), out(Ty::F32, c.T, c.D), inverse(Ty::I32, N, 1);
    y.fillUniform(rng, -1, 1);
    w.fillUniform(rng, 0, 1);
    shared.fillUniform(rng, -1, 1);
    resid.fillUniform(rng, -1, 1);
    std::vector<int32_t> permV(static_cast<size_t>(N)), offsets(size_t(E + 1));
    if (c.perm) { // the permutation of a real dispatch
      std::vector<float> dummyX(size_t(c.T), 0.0f), dummyS(size_t(N), 0.0f);
      H::moeDispatch(cmat(dummyX, c.T, 1), cimat(idx, c.T, c.Kk), E, mat(dummyS, N, 1),
                     imat(offsets, E + 1, 1), imat(permV, N, 1));
    }
    Tensor perm = fromInts(permV, N, 1);
    const std::vector<float> yv = y.floats(), wv = w.floats(), sv = shared.floats(),
                             rv = resid.floats();
    std::vector<float> ref(size_t(c.T) * c.D);
    H::CIMat pm = cimat(permV, N, 1);
    H::CMat sm = cmat(sv, c.T, c.D), rm = cmat(rv, c.T, c.D);
    H::moeCombine(cmat(yv, N, c.D), cmat(wv, c.T, c.Kk), c.perm ? &pm : nullptr,
                  c.shared ? &sm : nullptr, c.residual ? &rm : nullptr, c.Kk, mat(ref, c.T, c.D));
    K::CombineArgs a{};
    a.y = y.view();
    a.w = w.view();
    if (c.shared)
      a.shared = shared.view();
    if (c.residual)
      a.residual = resid.view();
    a.out = c.inPlace ? resid.view() : out.view();
    a.perm = c.perm ? perm.as<int>() : nullptr;
    a.inverse = inverse.as<int>();
    a.rows = c.T;
    a.cols = c.D;
    a.top_k = c.Kk;
    for (int phase = 0; phase < K::combineLaunches(a); ++phase) {
      a.phase = phase;
      launch(combineEntry<float, float, float, float>, K::launchCombine(a, kTile), a);
    }
    expectNear(what, c.inPlace ? resid : out, ref, 1e-6);
  }
}

template <typename TW>
void runMoeExperts(const std::string &name, int T, int Kk, int E, int D, int F) {
  constexpr Ty tw = tyOf<TW>();
  const std::string what = std::string("moeExperts<f32, f32, ") + tyName(tw) + "> " + name;
  SCOPED_TRACE(what);
  Rng rng(what);
  const int N = T * Kk;
  std::vector<int32_t> idxV = randomIdx(rng, T, Kk, E, false);
  idxV[1] = -1; // writes a row of NaN
  Tensor x(Ty::F32, T, D), idx = fromInts(idxV, T, Kk), y(Ty::F32, N, D);
  x.fillUniform(rng, -1, 1);
  // Per expert: gate [F, D], up [F, D], down [D, F].
  struct M {
    Tensor data;
    Fp8Weight fp8;
    std::vector<float> ref; // [E][rows, cols]
    int rows, cols;
  };
  auto make = [&](int rows, int cols) {
    M m;
    m.rows = rows;
    m.cols = cols;
    const float range = 1.5f / std::sqrt(float(cols));
    m.ref.resize(size_t(E) * rows * cols);
    if (tw == Ty::F8) {
      m.fp8 = randomFp8Weight(rng, E, rows, cols);
      for (int64_t i = 0; i < m.fp8.scales.cols(); ++i)
        m.fp8.scales.set(0, i, m.fp8.scales.get(0, i) * range);
      for (int e = 0; e < E; ++e)
        for (int r = 0; r < rows; ++r)
          for (int c = 0; c < cols; ++c)
            m.ref[(size_t(e) * rows + r) * cols + c] = m.fp8.value(e, r, c);
    } else {
      m.data = Tensor(tw, int64_t(E) * rows, cols);
      m.data.fillUniform(rng, -range, range);
      m.ref = m.data.floats();
    }
    return m;
  };
  M gate = make(F, D), up = make(F, D), down = make(D, F);
  auto weight = [&](M &m) {
    if (tw == Ty::F8)
      return K::Weight{
          m.fp8.codes.ptr(),        m.fp8.scalePtr(),       m.rows, m.cols, int(m.fp8.scaleLd),
          int64_t(m.rows) * m.cols, m.fp8.scaleExpertStride};
    return K::Weight{m.data.ptr(), nullptr, m.rows, m.cols, 0, int64_t(m.rows) * m.cols, 0};
  };
  K::MoeExpertsArgs a{};
  a.x = x.view();
  a.idx = idx.as<int>();
  a.idx_ld = Kk;
  a.gate = weight(gate);
  a.up = weight(up);
  a.down = weight(down);
  a.y = y.view();
  a.workspace = nullptr;
  a.rows = T;
  a.top_k = Kk;
  a.hidden = D;
  a.intermediate = F;
  launch(moeExpertsEntry<float, float, TW>, K::launchMoeExperts(a, kTile), a);

  // Reference: every slot with a valid expert (host::moeExperts rejects -1).
  std::vector<int32_t> idxValid = idxV;
  idxValid[1] = 0;
  std::vector<std::vector<float>> gu(static_cast<size_t>(E));
  std::vector<H::Weight> gateUp, downW;
  for (int e = 0; e < E; ++e) {
    const size_t fd = size_t(F) * D;
    gu[size_t(e)].assign(gate.ref.begin() + e * fd, gate.ref.begin() + (e + 1) * fd);
    gu[size_t(e)].insert(gu[size_t(e)].end(), up.ref.begin() + e * fd,
                         up.ref.begin() + (e + 1) * fd);
    gateUp.push_back(H::Weight{gu[size_t(e)].data(), 2 * F, D});
    downW.push_back(H::Weight{down.ref.data() + e * fd, D, F});
  }
  const std::vector<float> xv = x.floats();
  std::vector<float> ref(size_t(N) * D), scratch;
  H::moeExperts(cmat(xv, T, D), cimat(idxValid, T, Kk), gateUp, downW, mat(ref, N, D), scratch);
  for (int c = 0; c < D; ++c)
    ref[size_t(1) * D + c] = NAN;
  expectNear(what, y, ref, 1e-4);
}

TEST(KernelEmuOps, MoeExperts) {
  runMoeExperts<bf16>("tiny T=5 K=2 E=8 D=64 F=32", 5, 2, 8, 64, 32);
  runMoeExperts<f8>("tiny-v3-fp8 T=5 K=2 E=8 D=192 F=96 (partial 128-blocks)", 5, 2, 8, 192, 96);
}

} // namespace
} // namespace moela::emutest
