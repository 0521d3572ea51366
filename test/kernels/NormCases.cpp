//===- NormCases.cpp - Embedding, RmsNorm, Elementwise, Rope, Argmax ------===//
//
// Row families against the host reference (runtime/host/Kernels.h) on the
// same rounded inputs. Bounds: exact for copies and indices, 1e-5 relative
// L2 for fp32 outputs, 1e-2 for bf16 outputs; FP8 outputs: every scale as
// docs/model.md §3.4 derives it from the reference row and every value
// within e4m3 rounding of y / s. Emulator shapes are the tiny models';
// the GPU adds DeepSeek-V3's and times the large launches.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"
#include "Operands.h"

#include "kernels/OpsLaunch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace moela::cases {
namespace {

std::string dims(int rows, int cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

// ---- Embedding --------------------------------------------------------------

/// Ids out of range (one past the vocabulary, -1) give rows of NaN. With
/// `parts` > 1 the table is one rank's rows of a vocab-parallel table
/// (docs/parallel.md): rank 1's, so ids of the other ranks' rows give zeros.
void runEmbedding(Report &r, const std::string &what, Ty out, int vocab,
                  int dim, int rows, int parts = 1) {
  Rng rng(what);
  const int local = vocab / parts, first = parts > 1 ? local : 0;
  Tensor table(Ty::BF16, local, dim);
  table.fillUniform(rng, -1, 1);
  std::vector<int32_t> ids(static_cast<size_t>(rows));
  for (int32_t &t : ids)
    t = rng.uniformInt(0, vocab - 1);
  ids[1] = vocab;
  ids[2] = -1;
  ids[3] = first; // the rank's first and last rows, and their neighbours
  ids[4] = first + local - 1;
  ids[5] = first > 0 ? first - 1 : 0;
  ids[6] = std::min(first + local, vocab - 1);
  std::vector<float> ref(size_t(rows) * dim, NAN);
  for (int t = 0; t < rows; ++t) {
    const int id = ids[size_t(t)];
    if (id < 0 || id >= vocab)
      continue;
    const bool mine = id >= first && id < first + local;
    for (int c = 0; c < dim; ++c)
      ref[size_t(t) * dim + c] = mine ? table.get(id - first, c) : 0.0f;
  }
  Tensor tokens = fromInts(ids, rows, 1), y(out, rows, dim);
  K::EmbeddingArgs a{};
  a.tokens = tokens.devAs<int>();
  a.table = plainWeight(table, local, dim);
  a.out = y.view();
  a.rows = rows;
  if (parts > 1) {
    a.first_row = first;
    a.vocab = vocab;
  }
  launch(embeddingKernel(out, Ty::BF16), K::launchEmbedding(a, kTile), a);
  r.equal(what, y.floats(), ref);
  r.untouchedOutside(what, y, [](int64_t, int64_t) { return true; });
}

// ---- RmsNorm ----------------------------------------------------------------

struct NormCase {
  Ty y;
  int rows, cols;
  bool residual, inPlace, ue8m0;
};

/// FP8 y: the scales derived from the reference row (a block whose amax
/// sits on a power of two may round up either way with ue8m0), every value
/// within e4m3 rounding of y / s, and the dequantized row near the reference.
void checkFp8Norm(Report &r, const std::string &what, const NormCase &c,
                  const Tensor &y, const Tensor &scales,
                  const std::vector<float> &yRef) {
  const int blocks = (c.cols + 127) / 128;
  std::vector<float> deq(yRef.size());
  int64_t badScale = 0, badValue = 0;
  for (int row = 0; row < c.rows; ++row)
    for (int b = 0; b < blocks; ++b) {
      float amax = 0;
      for (int col = b * 128; col < std::min(c.cols, b * 128 + 128); ++col)
        amax = std::max(amax, std::fabs(yRef[size_t(row) * c.cols + col]));
      const float raw = std::max(amax, 1e-4f) / 448.0f;
      const float s =
          c.ue8m0 ? std::ldexp(1.0f, int(std::ceil(std::log2(double(raw)))))
                  : raw;
      const float got = scales.get(row, b);
      const bool nearPow2 =
          std::fabs(std::log2(double(raw)) -
                    std::round(std::log2(double(raw)))) < 1e-5;
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
  r.expect(what + " scales", badScale == 0,
           std::to_string(badScale) + " scales off");
  r.expect(what + " values", badValue == 0,
           std::to_string(badValue) + " off e4m3 rounding");
  r.untouchedOutside(what + " scales", scales,
                     [&](int64_t, int64_t b) { return b < blocks; });
  r.near(what + " dequantized", fromFloats(Ty::F32, deq, c.rows, c.cols), yRef,
         0.05);
}

void runRmsNorm(Report &r, const std::string &what, const NormCase &c) {
  Rng rng(what);
  const float eps = 1e-6f;
  const int blocks = (c.cols + 127) / 128;
  Tensor x(Ty::F32, c.rows, c.cols), res(Ty::F32, c.rows, c.cols),
      w(Ty::BF16, 1, c.cols);
  x.fillUniform(rng, -2, 2);
  res.fillUniform(rng, -2, 2);
  w.fillUniform(rng, 0.5f, 1.5f);
  const std::vector<float> xv = x.floats(), rv = res.floats(), wv = w.floats();
  std::vector<float> yRef(size_t(c.rows) * c.cols), sumRef(yRef.size());
  H::CMat rm = cmat(rv, c.rows, c.cols);
  H::Mat sm = mat(sumRef, c.rows, c.cols);
  H::rmsNorm(cmat(xv, c.rows, c.cols), c.residual ? &rm : nullptr, wv.data(),
             eps, mat(yRef, c.rows, c.cols), c.residual ? &sm : nullptr);

  Tensor y(c.y, c.rows, c.cols), sum(Ty::F32, c.rows, c.cols),
      scales(Ty::F32, c.rows, blocks + 1);
  K::RmsNormArgs a{};
  a.x = x.view();
  if (c.residual) {
    a.residual = res.view();
    a.sum = c.inPlace ? x.view() : sum.view(); // in place: sum is x's view
  }
  a.y = y.view();
  a.weight = plainWeight(w, 1, c.cols);
  a.y_scales = c.y == Ty::F8 ? scales.devAs<float>() : nullptr;
  a.y_scale_ld = blocks + 1;
  a.ue8m0 = c.ue8m0;
  a.rows = c.rows;
  a.cols = c.cols;
  a.eps = eps;
  launch(rmsNormKernel(c.y, Ty::BF16), K::launchRmsNorm(a, kTile), a);
  if (c.residual)
    r.near(what + " sum", c.inPlace ? x : sum, sumRef, 1e-7);
  if (c.y == Ty::F8)
    checkFp8Norm(r, what, c, y, scales, yRef);
  else
    r.near(what, y, yRef, c.y == Ty::BF16 ? 1e-2 : 1e-5);
}

std::string normName(const NormCase &c) {
  return std::string("rmsNorm<f32, f32, ") + tyName(c.y) + ", bf16> " +
         dims(c.rows, c.cols) + (c.residual ? " +residual" : "") +
         (c.inPlace ? " in-place" : "") + (c.ue8m0 ? " ue8m0" : "");
}

/// Add + RMSNorm of a DeepSeek-V3 prefill chunk, bf16 out (timing only).
void timeRmsNorm() {
  if (!device().timed())
    return;
  const int T = 4096, D = 7168;
  Rng rng("time rms_norm");
  Tensor x(Ty::F32, T, D), res(Ty::F32, T, D), y(Ty::BF16, T, D),
      w(Ty::BF16, 1, D);
  x.fillUniform(rng, -1, 1);
  res.fillUniform(rng, -1, 1);
  w.fillUniform(rng, 0.5f, 1.5f);
  K::RmsNormArgs a{};
  a.x = x.view();
  a.residual = res.view();
  a.sum = x.view();
  a.y = y.view();
  a.weight = plainWeight(w, 1, D);
  a.rows = T;
  a.cols = D;
  a.eps = 1e-6f;
  const Kernel k = rmsNormKernel(Ty::BF16, Ty::BF16);
  timeBandwidth("rms_norm +residual 4096x7168 -> bf16",
                double(T) * D * (4 + 4 + 4 + 2),
                [&] { launch(k, K::launchRmsNorm(a, kTile), a); });
}

// ---- Add, SiluMul, GatherRows -----------------------------------------------

void runAdd(Report &r, const std::string &what, int rows, int cols,
            bool inPlace) {
  Rng rng(what);
  Tensor a(Ty::F32, rows, cols), b(Ty::F32, rows, cols), c(Ty::F32, rows, cols);
  a.fillUniform(rng, -1, 1);
  b.fillUniform(rng, -1, 1);
  const std::vector<float> av = a.floats(), bv = b.floats();
  std::vector<float> ref(av.size());
  H::add(cmat(av, rows, cols), cmat(bv, rows, cols), mat(ref, rows, cols));
  K::AddArgs args{a.view(), b.view(), inPlace ? a.view() : c.view(), rows,
                  cols};
  launch(addKernel(), K::launchElementwise(args), args);
  r.equal(what, (inPlace ? a : c).floats(), ref);
}

void runSiluMul(Report &r, const std::string &what, int rows, int cols,
                Ty out) {
  Rng rng(what);
  Tensor g(Ty::F32, rows, cols), u(Ty::F32, rows, cols), o(out, rows, cols);
  g.fillUniform(rng, -6, 6);
  u.fillUniform(rng, -2, 2);
  const std::vector<float> gv = g.floats(), uv = u.floats();
  std::vector<float> ref(gv.size());
  H::siluMul(cmat(gv, rows, cols), cmat(uv, rows, cols), mat(ref, rows, cols));
  K::SiluMulArgs args{g.view(), u.view(), o.view(), rows, cols};
  launch(siluMulKernel(out), K::launchElementwise(args), args);
  r.near(what, o, ref, out == Ty::F32 ? 1e-5 : 1e-2);
}

void runGatherRows(Report &r, const std::string &what, int rows, int cols,
                   const std::vector<int32_t> &index) {
  Rng rng(what);
  const int picked = int(index.size());
  Tensor x(Ty::F32, rows, cols), out(Ty::F32, picked, cols),
      idx = fromInts(index, picked, 1);
  x.fillUniform(rng, -1, 1);
  const std::vector<float> xv = x.floats();
  std::vector<float> ref(size_t(picked) * cols);
  H::gatherRows(cmat(xv, rows, cols), cimat(index, picked, 1),
                mat(ref, picked, cols));
  K::GatherRowsArgs args{x.view(), idx.devAs<int>(), out.view(), picked, cols};
  launch(gatherRowsKernel(Ty::F32), K::launchElementwise(args), args);
  r.equal(what, out.floats(), ref);
}

// ---- Rope -------------------------------------------------------------------

struct RopeCase {
  int rows, heads, headDim, offset, dim;
  bool inPlace;
  RopeKind kind;
  int maxPos;
  bool far; // position 163839 in row 0: the angle reduction
};

void runRope(Report &r, const std::string &what, const RopeCase &c) {
  Rng rng(what);
  const RopeTables rope = ropeTables(c.kind, c.dim);
  const int cols = c.heads * c.headDim;
  Tensor x(Ty::F32, c.rows, cols), y(Ty::F32, c.rows, cols);
  x.fillUniform(rng, -1, 1);
  std::vector<int32_t> pos(size_t(c.rows));
  for (int32_t &p : pos)
    p = rng.uniformInt(0, c.maxPos);
  if (c.far)
    pos[0] = 163839;
  Tensor positions = fromInts(pos, c.rows, 1);
  std::vector<float> ref = x.floats();
  H::applyRope(mat(ref, c.rows, cols), rope.table(pos), c.heads, c.headDim,
               c.offset);
  K::RopeArgs a{};
  a.x = x.view();
  a.y = c.inPlace ? x.view() : y.view();
  a.positions = positions.devAs<int>();
  a.rope = rope.rope(c.heads, c.headDim, c.offset, c.dim);
  a.rows = c.rows;
  launch(ropeKernel(), K::launchRope(a, kTile), a);
  r.near(what, c.inPlace ? x : y, ref, 1e-5);
}

std::string ropeName(const RopeCase &c) {
  static const char *kinds[] = {"tiny yarn", "v3 yarn", "plain"};
  return "rope<f32, f32> " + std::to_string(c.rows) + "x" +
         std::to_string(c.heads) + "x" + std::to_string(c.headDim) + " dim " +
         std::to_string(c.dim) + " " + kinds[int(c.kind)] +
         (c.inPlace ? " in-place" : "") +
         " pos<=" + std::to_string(c.far ? 163839 : c.maxPos);
}

// ---- Argmax -----------------------------------------------------------------

/// Ties (the first wins), NaN (the host's scan answers 0 for a NaN at 0), a
/// row of -inf (0), the last column, and column 1023 (the first of the last
/// thread) when there are 7 rows.
void runArgmax(Report &r, const std::string &what, int rows, int cols,
               int tieCol) {
  Rng rng(what);
  Tensor logits(Ty::F32, rows, cols);
  logits.fillUniform(rng, -10, 10);
  logits.set(1, 777, 50);
  logits.set(1, tieCol, 50);
  logits.set(2, 0, NAN);
  logits.set(2, 5, 60);
  logits.set(3, 100, NAN);
  logits.set(3, 101, 70);
  for (int c = 0; c < cols; ++c)
    logits.set(4, c, -INFINITY);
  logits.set(5, cols - 1, 80);
  if (rows > 6)
    logits.set(6, 1023, 90);
  const std::vector<float> lv = logits.floats();
  std::vector<int32_t> ref(static_cast<size_t>(rows));
  H::argmax(cmat(lv, rows, cols), imat(ref, rows, 1));
  Tensor out(Ty::I32, rows, 1);
  K::ArgmaxArgs a{logits.view(), out.devAs<int>(), rows, cols};
  launch(argmaxKernel(), K::launchArgmax(a, kTile), a);
  r.equal(what, out.ints(), ref);
}

void timeArgmax() {
  if (!device().timed())
    return;
  const int rows = 64, V = 129280;
  Rng rng("time argmax");
  Tensor logits(Ty::F32, rows, V), out(Ty::I32, rows, 1);
  logits.fillUniform(rng, -1, 1);
  K::ArgmaxArgs a{logits.view(), out.devAs<int>(), rows, V};
  timeBandwidth("argmax 64x129280", double(rows) * V * 4,
                [&] { launch(argmaxKernel(), K::launchArgmax(a, kTile), a); });
}

// ---- Sample -----------------------------------------------------------------

/// One row's abi::SamplingWord words.
std::vector<int32_t> samplingRow(float temperature, int topK, float topP,
                                 uint64_t seed, uint64_t counter, int top) {
  std::vector<int32_t> w(abi::kSamplingWords, 0);
  std::memcpy(&w[abi::kTemperatureBits], &temperature, 4);
  std::memcpy(&w[abi::kTopPBits], &topP, 4);
  w[abi::kTopK] = topK;
  w[abi::kSeedLo] = int32_t(uint32_t(seed));
  w[abi::kSeedHi] = int32_t(uint32_t(seed >> 32));
  w[abi::kCounterLo] = int32_t(uint32_t(counter));
  w[abi::kCounterHi] = int32_t(uint32_t(counter >> 32));
  w[abi::kTopLogprobs] = top;
  return w;
}

/// Greedy with a tie (the first wins) and with top logprobs; temperature
/// alone (more candidates than kMaxSampleCandidates when cols > 1024), top-k,
/// top-p, both, a tie at the top-k threshold (lowest ids kept), a row of
/// -inf, and 20 top logprobs. Ids must equal the host's, logprobs 1e-5.
/// With parts > 1 the vocab-parallel form: sampleCandidates on each of
/// `parts` column slices, then sampleRows over the blocks, against the
/// host's sample of the whole rows.
void runSample(Report &r, const std::string &what, int cols, int parts = 1) {
  Rng rng(what);
  const int rows = 12;
  Tensor logits(Ty::F32, rows, cols);
  logits.fillUniform(rng, -4, 4);
  logits.set(0, 700 % cols, 9);
  logits.set(0, 3, 9); // tie: 3 wins
  for (int c = 100; c < 140; ++c)
    logits.set(7, c, 5); // 40 equal logits across the top-k threshold
  for (int c = 0; c < cols; ++c)
    logits.set(9, c, -INFINITY);
  logits.set(9, cols / 2, 0);
  std::vector<std::vector<int32_t>> params = {
      samplingRow(0, 0, 1, 0, 0, 0),
      samplingRow(0, 0, 1, 0, 0, 5),
      samplingRow(0.7f, 0, 1, 1, 0, 0),
      samplingRow(1, 3, 1, 2, 5, 3),
      samplingRow(1.3f, 0, 0.5f, 3, 9, 0),
      samplingRow(0.5f, 50, 0.9f, 4, 1, 20),
      samplingRow(2, 0, 0.95f, 5, 77, 1),
      samplingRow(1, 10, 1, 6, 3, 12),
      samplingRow(1, 0, 0.05f, 7, 0, 0),
      samplingRow(1, 0, 1, 8, 0, 2),
      samplingRow(0.9f, 1, 1, 9, 0, -1),
      samplingRow(1, 4000, 1, 10, 2, 0)};
  Tensor sampling(Ty::I32, rows, abi::kSamplingWords);
  std::vector<int32_t> flat;
  for (int i = 0; i < rows; ++i)
    for (int c = 0; c < abi::kSamplingWords; ++c) {
      sampling.seti(i, c, params[i][c]);
      flat.push_back(params[i][c]);
    }
  const std::vector<float> lv = logits.floats();
  std::vector<int32_t> refIds(size_t(rows) * abi::kSampleCols);
  std::vector<float> refLp(size_t(rows) * abi::kSampleCols);
  H::sample(cmat(lv, rows, cols), cimat(flat, rows, abi::kSamplingWords),
            imat(refIds, rows, abi::kSampleCols),
            mat(refLp, rows, abi::kSampleCols));
  Tensor ids(Ty::I32, rows, abi::kSampleCols),
      lp(Ty::F32, rows, abi::kSampleCols);
  K::SampleArgs a{logits.view(),
                  sampling.devAs<int>(),
                  ids.devAs<int>(),
                  lp.devAs<float>(),
                  rows,
                  cols,
                  0};
  const int Vr = cols / parts;
  const int C = std::min(Vr, abi::kMaxSampleCandidates);
  const int W = abi::sampleCandidateCols(C);
  Tensor blocks(Ty::F32, rows, parts > 1 ? parts * W : 1);
  if (parts > 1) {
    for (int b = 0; b < parts; ++b) {
      const K::View slice{logits.dev(size_t(b) * Vr * sizeof(float)),
                          logits.ld()};
      const K::View block{blocks.dev(size_t(b) * W * sizeof(float)),
                          blocks.ld()};
      K::SampleCandidatesArgs c{
          slice, sampling.devAs<int>(), block, rows, Vr, C, b * Vr};
      launch(sampleCandidatesKernel(), K::launchSampleCandidates(c, kTile), c);
    }
    a.logits = blocks.view();
    a.cols = parts * W;
    a.candidate_parts = parts;
  }
  launch(sampleKernel(), K::launchSample(a, kTile), a);
  r.equal(what + " ids", ids.ints(), refIds);
  // -inf rows give -inf logprobs on both sides: compare the finite ones.
  const std::vector<float> got = lp.floats();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::isfinite(refLp[i]) || std::isfinite(got[i]))
      worst = std::max(worst, double(std::fabs(got[i] - refLp[i])));
  r.expect(what + " logprobs", worst <= 1e-5,
           "max |logprob - host| = " + std::to_string(worst));
}

} // namespace

void addNormCases(Cases &cases) {
  struct Emb {
    unsigned suites;
    Ty out;
    int vocab, dim, rows, parts;
  };
  for (Emb e : {Emb{kEmu, Ty::F32, 1024, 64, 37, 1},
                Emb{kEmu, Ty::BF16, 1024, 192, 7, 1},
                Emb{kEmuAndGpu, Ty::F32, 1024, 64, 37, 4},
                Emb{kGpu, Ty::F32, 129280, 64, 37, 1},
                Emb{kGpu, Ty::F32, 1024, 7168, 9, 1}}) {
    const std::string name =
        std::string("embedding<") + tyName(e.out) +
        ", bf16> V=" + std::to_string(e.vocab) + " D=" + std::to_string(e.dim) +
        (e.parts > 1 ? " rank 1 of " + std::to_string(e.parts) : "");
    addCase(cases, "Ops.Embedding", name, e.suites,
            embeddingKernel(e.out, Ty::BF16), [=](Report &r) {
              runEmbedding(r, name, e.out, e.vocab, e.dim, e.rows, e.parts);
            });
  }

  struct Norm {
    unsigned suites;
    NormCase c;
  };
  for (Norm n :
       {Norm{kEmuAndGpu, {Ty::F32, 5, 64, false, false, false}},
        Norm{kEmu, {Ty::BF16, 9, 192, true, false, false}},
        Norm{kEmu, {Ty::BF16, 4, 320, true, true, false}},
        Norm{kEmu, {Ty::F8, 3, 320, true, true, true}},
        Norm{kEmu, {Ty::F8, 6, 192, false, false, false}},
        Norm{kEmu,
             {Ty::F8, 2, 1300, false, false, true}}, // more blocks than warps
        Norm{kGpu, {Ty::BF16, 64, 7168, true, false, false}},
        Norm{kGpu, {Ty::BF16, 7, 1536, false, false, false}},
        Norm{kGpu, {Ty::F32, 2, 512, true, true, false}},
        Norm{kGpu, {Ty::F8, 3, 7168, true, true, true}},
        Norm{kGpu, {Ty::F8, 9, 192, true, false, false}},
        Norm{kGpu, {Ty::F8, 4, 7168, false, false, false}}}) {
    const std::string name = normName(n.c);
    addCase(cases, "Ops.RmsNorm", name, n.suites,
            rmsNormKernel(n.c.y, Ty::BF16),
            [=](Report &r) { runRmsNorm(r, name, n.c); });
  }
  addCase(
      cases, "Ops.RmsNorm", "time rms_norm", kGpu,
      rmsNormKernel(Ty::BF16, Ty::BF16), [](Report &) { timeRmsNorm(); }, true);

  // Three 1024-column chunks (the last partial) on the emulator.
  for (auto [suites, cols] :
       {std::pair<unsigned, int>{kEmu, 2100}, {kGpu, 7168}}) {
    for (bool inPlace : {false, true}) {
      const std::string name =
          "add<f32, f32, f32> " + dims(3, cols) + (inPlace ? " in-place" : "");
      addCase(cases, "Ops.Elementwise", name, suites, addKernel(),
              [=](Report &r) { runAdd(r, name, 3, cols, inPlace); });
    }
    for (Ty out : {Ty::F32, Ty::BF16}) {
      const int siluCols = suites == kEmu ? 1300 : 2048;
      const std::string name = std::string("siluMul<f32, f32, ") + tyName(out) +
                               "> " + dims(5, siluCols);
      addCase(cases, "Ops.Elementwise", name, suites, siluMulKernel(out),
              [=](Report &r) { runSiluMul(r, name, 5, siluCols, out); });
    }
    // First and last rows and a repeat.
    const std::vector<int32_t> index =
        suites == kEmu ? std::vector<int32_t>{16, 0, 7, 7, 3}
                       : std::vector<int32_t>{16, 0, 9, 9};
    const std::string name = "gatherRows<f32, f32> " +
                             std::to_string(index.size()) + " of " +
                             dims(17, cols);
    addCase(cases, "Ops.Elementwise", name, suites, gatherRowsKernel(Ty::F32),
            [=](Report &r) { runGatherRows(r, name, 17, cols, index); });
  }

  struct Rp {
    unsigned suites;
    RopeCase c;
  };
  for (Rp p :
       {Rp{kEmu, {7, 4, 24, 16, 8, true, RopeKind::TinyYarn, 4096, true}},
        Rp{kEmu, {5, 2, 48, 32, 16, false, RopeKind::TinyYarn, 4096, true}},
        Rp{kEmu, {3, 1, 40, 32, 8, false, RopeKind::TinyYarn, 4096, true}},
        Rp{kGpu,
           {64, 128, 192, 128, 64, false, RopeKind::V3Yarn, 163839, false}},
        Rp{kGpu, {9, 128, 192, 128, 64, true, RopeKind::V3Yarn, 4096, false}},
        Rp{kGpu, {5, 4, 24, 16, 8, false, RopeKind::V3Yarn, 200, false}},
        Rp{kGpu, {7, 2, 48, 32, 16, true, RopeKind::Plain, 1000, false}}}) {
    const std::string name = ropeName(p.c);
    addCase(cases, "Ops.Rope", name, p.suites, ropeKernel(),
            [=](Report &r) { runRope(r, name, p.c); });
  }

  addCase(cases, "Ops.Argmax", "argmax<f32> 7x3000", kEmu, argmaxKernel(),
          [](Report &r) { runArgmax(r, "argmax<f32> 7x3000", 7, 3000, 2900); });
  addCase(cases, "Ops.Argmax", "argmax<f32> 6x129280", kGpu, argmaxKernel(),
          [](Report &r) {
            runArgmax(r, "argmax<f32> 6x129280", 6, 129280, 90000);
          });
  addCase(
      cases, "Ops.Argmax", "time argmax", kGpu, argmaxKernel(),
      [](Report &) { timeArgmax(); }, true);
  for (int cols : {1280, 3000})
    addCase(cases, "Ops.Sample", "sample<f32> 12x" + std::to_string(cols),
            kEmuAndGpu, sampleKernel(), [cols](Report &r) {
              runSample(r, "sample<f32> 12x" + std::to_string(cols), cols);
            });
  for (int parts : {2, 3}) {
    const std::string name =
        "sample<f32> 12x3000 vocab-parallel x" + std::to_string(parts);
    addCase(cases, "Ops.Sample", name, kEmuAndGpu, sampleKernel(),
            [=](Report &r) { runSample(r, name, 3000, parts); });
    cases.back().kernels.push_back(sampleCandidatesKernel());
  }
  addCase(cases, "Ops.Sample", "sample<f32> 12x129280", kGpu, sampleKernel(),
          [](Report &r) { runSample(r, "sample<f32> 12x129280", 129280); });
}

} // namespace moela::cases
