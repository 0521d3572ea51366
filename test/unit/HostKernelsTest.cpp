//===- HostKernelsTest.cpp - Host backend: GEMMs, norms, RoPE, misc -------===//
//
// Each test builds a small plan around one step family, runs it on the host
// backend and compares every output with a direct double computation.
//
//===----------------------------------------------------------------------===//
#include "HostTestHarness.h"

#include "host/BufferLayout.h"

#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>

namespace moela::test {
namespace {

using plan::RowKind;
using plan::StepParams;

ParamsFn gemmParams(bool siluMul, bool residual,
                    std::optional<RopeDesc> rope = std::nullopt) {
  return [=](flatbuffers::FlatBufferBuilder &b) {
    flatbuffers::Offset<plan::Rope> r;
    if (rope)
      r = rope->build(b);
    return plan::CreateGemmParams(b, siluMul, r, residual).Union();
  };
}

/// A weight of two row blocks (like gate;up), values random.
uint32_t twoPartWeight(Harness &h, const std::string &a, const std::string &b,
                       int64_t rowsA, int64_t rowsB, int64_t k, float scale) {
  h.weights.random(a, {rowsA, k}, h.rng, scale);
  h.weights.random(b, {rowsB, k}, h.rng, scale);
  return h.plan.addWeight({{a, {rowsA, k}}, {b, {rowsB, k}}});
}

std::vector<double> concatRows(const std::vector<float> &a,
                               const std::vector<float> &b) {
  std::vector<double> w(a.begin(), a.end());
  w.insert(w.end(), b.begin(), b.end());
  return w;
}

// Tests that a GEMM with concatenated weight parts, and sizes beyond every
// blocking size (rows > 64, K > 512, K % 8 != 0), equals x @ W^T.
TEST(HostGemm, ConcatenatedWeightsLargeBlocks) {
  const int t = 70, k = 601, n1 = 30, n2 = 41;
  Harness h(80);
  uint32_t x = h.input("x", k);
  uint32_t w = twoPartWeight(h, "w.a", "w.b", n1, n2, k, 0.05f);
  uint32_t c = h.buffer("c", n1 + n2);
  h.step({"gemm",
          StepParams::GemmParams,
          gemmParams(false, false),
          {h.op(x)},
          {h.op(c)},
          {w}});
  h.prepare(1, 128);
  h.runFirst(t);
  auto expected = refGemm(
      toDouble(h.table("x"), size_t(t) * k),
      concatRows(h.weights.get("w.a"), h.weights.get("w.b")), t, k, n1 + n2);
  expectClose(h.read("c"), expected, 1e-5, "c");
}

// Tests the residual epilogue in place: the output is the residual's view.
TEST(HostGemm, ResidualInPlace) {
  const int t = 5, k = 37, n = 19;
  Harness h;
  uint32_t x = h.input("x", k);
  uint32_t r = h.input("r", n);
  uint32_t w = h.weight("w", {n, k}, 0.2f);
  h.step({"gemm",
          StepParams::GemmParams,
          gemmParams(false, true),
          {h.op(x), h.op(r)},
          {h.op(r)},
          {w}});
  h.prepare();
  h.runFirst(t);
  auto expected = refGemm(toDouble(h.table("x"), size_t(t) * k),
                          toDouble(h.weights.get("w")), t, k, n);
  for (size_t i = 0; i < expected.size(); ++i)
    expected[i] += h.table("r")[i];
  expectClose(h.read("r"), expected, 1e-5, "r + x W^T");
}

// Tests the silu_mul epilogue: c = silu(acc[:, :N/2]) * acc[:, N/2:] with the
// weight given as gate;up parts, into a column slice of a wider buffer.
TEST(HostGemm, SiluMul) {
  const int t = 6, k = 24, f = 13;
  Harness h;
  uint32_t x = h.input("x", k);
  uint32_t w = twoPartWeight(h, "gate", "up", f, f, k, 0.3f);
  uint32_t c = h.buffer("c", f + 3);
  h.step({"gemm",
          StepParams::GemmParams,
          gemmParams(true, false),
          {h.op(x)},
          {h.op(c, 2, f)},
          {w}});
  h.prepare();
  h.runFirst(t);
  auto acc = refGemm(toDouble(h.table("x"), size_t(t) * k),
                     concatRows(h.weights.get("gate"), h.weights.get("up")), t,
                     k, 2 * f);
  std::vector<double> expected(size_t(t) * (f + 3), 0.0);
  for (int i = 0; i < t; ++i)
    for (int j = 0; j < f; ++j) {
      double g = acc[size_t(i * 2 * f + j)], u = acc[size_t(i * 2 * f + f + j)];
      expected[size_t(i * (f + 3) + 2 + j)] = g / (1 + std::exp(-g)) * u;
    }
  expectClose(h.read("c"), expected, 1e-5, "silu(g) * u");
}

RopeDesc yarnRope(int heads, int headDim, int offset, int dim) {
  RopeDesc r;
  r.theta = 10000.0;
  r.dim = dim;
  r.heads = heads;
  r.headDim = headDim;
  r.offset = offset;
  r.yarn.enabled = true;
  r.yarn.factor = 40;
  r.yarn.originalMaxPositionEmbeddings = 64;
  r.yarn.betaFast = 32;
  r.yarn.betaSlow = 1;
  r.yarn.mscale = 1.0;
  r.yarn.mscaleAllDim = 0.8; // makes the cos/sin magnitude != 1
  return r;
}

double yarnMagnitude(const YarnConfig &y) {
  auto g = [&](double m) { return 0.1 * m * std::log(y.factor) + 1.0; };
  return g(y.mscale) / g(y.mscaleAllDim);
}

/// Applies `rope` to every head of rows [T, heads*headDim] in double.
void refRopeRows(std::vector<double> &rows, int t, const RopeDesc &rope,
                 const std::vector<int32_t> &positions) {
  auto freq = refInvFreq(rope.theta, rope.dim, rope.yarn);
  double magnitude = rope.yarn.enabled ? yarnMagnitude(rope.yarn) : 1.0;
  for (int i = 0; i < t; ++i)
    for (int hd = 0; hd < rope.heads; ++hd)
      refRope(&rows[size_t(i * rope.heads * rope.headDim + hd * rope.headDim +
                           rope.offset)],
              rope.dim, positions[size_t(i)], freq, magnitude);
}

// Tests the rope and residual epilogues together: c = rope(acc) + r, with
// YaRN, on a slice in the middle of each head, at scattered positions.
TEST(HostGemm, RopeAndResidual) {
  const int t = 5, k = 20, heads = 3, headDim = 10;
  const std::vector<int32_t> positions = {3, 0, 57, 100, 11};
  RopeDesc rope = yarnRope(heads, headDim, 2, 6);
  Harness h;
  uint32_t x = h.input("x", k);
  uint32_t r = h.input("r", heads * headDim);
  uint32_t w = h.weight("w", {heads * headDim, k}, 0.3f);
  h.step({"gemm",
          StepParams::GemmParams,
          gemmParams(false, true, rope),
          {h.op(x), h.op(kPositions), h.op(r)},
          {h.op(r)},
          {w}});
  h.prepare(1, 128);
  h.run(Harness::iota(t), positions);
  auto expected = refGemm(toDouble(h.table("x"), size_t(t) * k),
                          toDouble(h.weights.get("w")), t, k, heads * headDim);
  refRopeRows(expected, t, rope, positions);
  for (size_t i = 0; i < expected.size(); ++i)
    expected[i] += h.table("r")[i];
  expectClose(h.read("r"), expected, 2e-5, "rope(x W^T) + r");
}

// Tests the Rope step against the formulas of docs/model.md §3.1: plain and
// YaRN, in place and into another buffer.
TEST(HostRope, PlainAndYarn) {
  const int t = 6, heads = 2, headDim = 12;
  const std::vector<int32_t> positions = {0, 1, 7, 31, 63, 90};
  RopeDesc plain;
  plain.dim = 8;
  plain.heads = heads;
  plain.headDim = headDim;
  plain.offset = 4;
  RopeDesc yarn = yarnRope(heads, headDim, 0, 12);
  Harness h;
  uint32_t x = h.input("x", heads * headDim);
  uint32_t y = h.buffer("y", heads * headDim);
  auto ropeStep = [&](const RopeDesc &rope, uint32_t out) {
    return StepDesc{"rope",
                    StepParams::RopeParams,
                    [rope](flatbuffers::FlatBufferBuilder &b) {
                      return plan::CreateRopeParams(b, rope.build(b)).Union();
                    },
                    {h.op(x), h.op(kPositions)},
                    {h.op(out)},
                    {}};
  };
  h.step(ropeStep(plain, y)); // y = plain(x)
  h.step(ropeStep(yarn, x));  // x = yarn(x), in place
  h.prepare(1, 128);
  h.run(Harness::iota(t), positions);
  auto input = toDouble(h.table("x"), size_t(t) * heads * headDim);
  auto expectPlain = input, expectYarn = input;
  refRopeRows(expectPlain, t, plain, positions);
  refRopeRows(expectYarn, t, yarn, positions);
  expectClose(h.read("y"), expectPlain, 2e-5, "plain rope");
  expectClose(h.read("x"), expectYarn, 2e-5, "yarn rope");
}

ParamsFn headGemmParams(int heads, int headRows, int rowOffset, int rows,
                        bool transpose, int inStride) {
  return [=](flatbuffers::FlatBufferBuilder &b) {
    return plan::CreateHeadGemmParams(b, heads, headRows, rowOffset, rows,
                                      transpose, inStride)
        .Union();
  };
}

// Tests HeadGemm both ways with input strides and packed outputs, on operands
// that sit inside wider buffers; the columns around them stay untouched.
TEST(HostHeadGemm, BothTransposesWithStrides) {
  const int t = 4, heads = 3, headRows = 10, rowOffset = 2, rows = 5, c = 7;
  Harness h;
  uint32_t w = h.weight("w", {heads * headRows, c});
  // transpose = false: x head [C] every 9 columns, y packed [heads*rows].
  const int in1 = 9, out1 = rows, span1In = 2 * in1 + c,
            span1Out = 2 * out1 + rows;
  uint32_t x1 = h.input("x1", span1In + 2);
  uint32_t y1 = h.buffer("y1", span1Out + 3);
  h.step({"hg",
          StepParams::HeadGemmParams,
          headGemmParams(heads, headRows, rowOffset, rows, false, in1),
          {h.op(x1, 1, span1In)},
          {h.op(y1, 2, span1Out)},
          {w}});
  // transpose = true: x head [rows] every 7 columns, y packed [heads*C].
  const int in2 = 7, out2 = c, span2In = 2 * in2 + rows,
            span2Out = 2 * out2 + c;
  uint32_t x2 = h.input("x2", span2In);
  uint32_t y2 = h.buffer("y2", span2Out);
  h.step({"hgT",
          StepParams::HeadGemmParams,
          headGemmParams(heads, headRows, rowOffset, rows, true, in2),
          {h.op(x2)},
          {h.op(y2)},
          {w}});
  h.prepare();
  h.runFirst(t);

  const auto &wv = h.weights.get("w");
  auto wAt = [&](int hd, int r, int col) {
    return double(wv[size_t((hd * headRows + rowOffset + r) * c + col)]);
  };
  std::vector<double> e1(size_t(t) * (span1Out + 3), 0.0),
      e2(size_t(t) * span2Out, 0.0);
  const auto &t1 = h.table("x1"), &t2 = h.table("x2");
  for (int i = 0; i < t; ++i)
    for (int hd = 0; hd < heads; ++hd) {
      for (int r = 0; r < rows; ++r) {
        double s = 0;
        for (int col = 0; col < c; ++col)
          s += wAt(hd, r, col) *
               t1[size_t(i * (span1In + 2) + 1 + hd * in1 + col)];
        e1[size_t(i * (span1Out + 3) + 2 + hd * out1 + r)] = s;
      }
      for (int col = 0; col < c; ++col) {
        double s = 0;
        for (int r = 0; r < rows; ++r)
          s += wAt(hd, r, col) * t2[size_t(i * span2In + hd * in2 + r)];
        e2[size_t(i * span2Out + hd * out2 + col)] = s;
      }
    }
  expectClose(h.read("y1"), e1, 1e-5, "W_h x");
  expectClose(h.read("y2"), e2, 1e-5, "W_h^T x");
}

ParamsFn rmsNormParams(float eps, bool residual) {
  return [=](flatbuffers::FlatBufferBuilder &b) {
    return plan::CreateRmsNormParams(b, eps, residual).Union();
  };
}

// Tests RMSNorm with the fused residual add writing the sum back into the
// residual's view, and plain RMSNorm in place.
TEST(HostNorm, RmsNormResidualAndInPlace) {
  const int t = 5, n = 37;
  const float eps = 1e-6f;
  Harness h;
  uint32_t x = h.input("x", n, 3.0f);
  uint32_t r = h.input("r", n);
  uint32_t z = h.input("z", n, 0.01f);
  uint32_t y = h.buffer("y", n);
  h.weights.set("norm", {n}, [&] {
    std::vector<float> w(n);
    std::uniform_real_distribution<float> u(0.75f, 1.25f);
    for (float &v : w)
      v = u(h.rng);
    return w;
  }());
  uint32_t w = h.plan.addWeight({{"norm", {n}}});
  h.step({"norm.res",
          StepParams::RmsNormParams,
          rmsNormParams(eps, true),
          {h.op(x), h.op(r)},
          {h.op(y), h.op(r)},
          {w}});
  h.step({"norm.inplace",
          StepParams::RmsNormParams,
          rmsNormParams(eps, false),
          {h.op(z)},
          {h.op(z)},
          {w}});
  h.prepare();
  h.runFirst(t);
  const auto &wv = h.weights.get("norm");
  std::vector<double> sum, ey, ez;
  for (int i = 0; i < t; ++i) {
    std::vector<double> s(n), zr(n);
    for (int j = 0; j < n; ++j) {
      s[size_t(j)] = double(h.table("x")[size_t(i * n + j)]) +
                     h.table("r")[size_t(i * n + j)];
      zr[size_t(j)] = h.table("z")[size_t(i * n + j)];
    }
    sum.insert(sum.end(), s.begin(), s.end());
    auto ny = refRmsNorm(s, wv, eps), nz = refRmsNorm(zr, wv, eps);
    ey.insert(ey.end(), ny.begin(), ny.end());
    ez.insert(ez.end(), nz.begin(), nz.end());
  }
  expectClose(h.read("r"), sum, 1e-6, "x + r");
  expectClose(h.read("y"), ey, 1e-5, "RMSNorm(x + r)");
  expectClose(h.read("z"), ez, 1e-5, "RMSNorm(z) in place");
}

// Tests Add and SiluMul.
TEST(HostNorm, AddAndSiluMul) {
  const int t = 3, n = 11;
  Harness h;
  uint32_t a = h.input("a", n), b = h.input("b", n);
  uint32_t sum = h.buffer("sum", n), prod = h.buffer("prod", n);
  h.step({"add",
          StepParams::AddParams,
          [](auto &fbb) { return plan::CreateAddParams(fbb).Union(); },
          {h.op(a), h.op(b)},
          {h.op(sum)},
          {}});
  h.step({"silu",
          StepParams::SiluMulParams,
          [](auto &fbb) { return plan::CreateSiluMulParams(fbb).Union(); },
          {h.op(a), h.op(b)},
          {h.op(prod)},
          {}});
  h.prepare();
  h.runFirst(t);
  std::vector<double> es, ep;
  for (int i = 0; i < t * n; ++i) {
    double g = h.table("a")[size_t(i)], u = h.table("b")[size_t(i)];
    es.push_back(g + u);
    ep.push_back(g / (1 + std::exp(-g)) * u);
  }
  expectClose(h.read("sum"), es, 1e-6, "a + b");
  expectClose(h.read("prod"), ep, 1e-6, "silu(a) * b");
}

// Tests GatherRows into the program's logits and Argmax with ties (first
// index wins).
TEST(HostMisc, GatherRowsAndArgmaxTies) {
  const int v = 4;
  Harness h(4);
  h.plan.config.vocabSize = v;
  h.program.buffers[kLogits].cols = v;
  // Rows: a tie between 1 and 2; all equal; a tie between 1 and 3; plain.
  uint32_t x = h.input("x", v,
                       std::vector<float>{1, 5, 5, 2,     //
                                          -1, -1, -1, -1, //
                                          0, 3, 1, 3,     //
                                          0, 1, 2, 9});
  uint32_t ids = h.buffer("ids", 1, RowKind::PerToken, 1, plan::DType::I32);
  h.step({"gather",
          StepParams::GatherRowsParams,
          [](auto &fbb) { return plan::CreateGatherRowsParams(fbb).Union(); },
          {h.op(x), h.op(kLogitRows)},
          {h.op(kLogits)},
          {}});
  h.step({"argmax",
          StepParams::ArgmaxParams,
          [](auto &fbb) { return plan::CreateArgmaxParams(fbb).Union(); },
          {h.op(x)},
          {h.op(ids)},
          {}});
  h.prepare();
  auto logits = h.run(Harness::iota(4), {}, {}, {3, 0, 3});
  EXPECT_EQ(logits, (std::vector<float>{0, 1, 2, 9, 1, 5, 5, 2, 0, 1, 2, 9}));
  EXPECT_EQ(h.read("ids"), (std::vector<float>{1, 0, 1, 3}));
}

// Tests that a token id outside the embedding table is an error naming the
// step, the id and the limit, and that the backend still runs afterwards.
TEST(HostMisc, EmbeddingTokenOutOfRange) {
  Harness h(4);
  h.input("x", 3);
  h.prepare();
  try {
    h.run({0, 4});
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "test.plan: program 'p' step 0 'embed.x' "
                           "(Embedding): token id 4 at row 1 out of range "
                           "[0, 4) (vocab size)");
  }
  EXPECT_THROW(h.run({-1}), Error);
  EXPECT_NO_THROW(h.run({3, 2}));
}

std::string runError(Harness &h, StepInputs in) {
  try {
    h.backend.run("p", in);
  } catch (const Error &e) {
    return e.what();
  }
  return "no error";
}

// Tests that every malformed run input is an error naming value and limit.
TEST(HostBackendInputs, Errors) {
  Harness h(4);
  h.input("x", 3);
  h.prepare(2, 16);
  StepInputs ok{{0, 1}, {0, 1}, {0, 1}, {1}, h.blockTables};
  EXPECT_NO_THROW(h.backend.run("p", ok));

  StepInputs in = ok;
  in.tokens = {0, 1, 2, 3, 0};
  in.positions = {0, 1, 2, 3, 4};
  in.seqIds = {0, 0, 0, 0, 0};
  EXPECT_EQ(runError(h, in), "program 'p': 5 tokens exceed max_tokens 4");
  in = ok;
  in.positions = {0, 16};
  EXPECT_EQ(runError(h, in), "program 'p': position 16 of token 1 out of "
                             "range [0, 16) (maxSeqLen)");
  in.positions = {-1, 0};
  EXPECT_EQ(runError(h, in), "program 'p': position -1 of token 0 out of "
                             "range [0, 16) (maxSeqLen)");
  in = ok;
  in.seqIds = {0, 2};
  EXPECT_EQ(runError(h, in), "program 'p': sequence slot 2 of token 1 out of "
                             "range [0, 2) (slots)");
  in = ok;
  in.logitRows = {2};
  EXPECT_EQ(runError(h, in),
            "program 'p': logit row 2 out of range [0, 2) (tokens)");
  in = ok;
  in.logitRows = {0, 1, 0, 1, 0};
  EXPECT_EQ(runError(h, in),
            "program 'p': 5 logit rows exceed max_logit_rows 4");
  in = ok;
  in.positions = {0};
  EXPECT_EQ(runError(h, in),
            "program 'p': 2 tokens but 1 positions and 2 sequence ids");
  // Block tables: one row of 1 page per slot (16 positions), ids in the pool
  // of 2 pages, a page for every token.
  in = ok;
  in.blockTables = {0};
  EXPECT_EQ(runError(h, in),
            "program 'p': block tables of 1 entries, expected 2 sequences x 1 "
            "pages (maxSeqLen 16 / 64 tokens per page)");
  in.blockTables = {0, -1};
  EXPECT_EQ(runError(h, in),
            "program 'p': token 1 (sequence 1, position 1) needs a page at "
            "block 0 of its block table, none is allocated");
  in.blockTables = {0, 2};
  EXPECT_EQ(runError(h, in), "program 'p': block table of sequence 1 names "
                             "page 2 at block 0, outside [-1, 2)");
  in = StepInputs{};
  EXPECT_EQ(runError(h, in), "program 'p': needs at least 1 token, got 0");
  EXPECT_THROW(h.backend.run("decode", ok), Error);
}

} // namespace
} // namespace moela::test

namespace moela::test {
namespace {

// Tests that buffers share memory only when their lifetimes do not overlap,
// and that a chain of steps gives the same logits with and without reuse.
TEST(HostBufferLayout, ReuseKeepsLiveBuffersApart) {
  const int d = 12, t = 5;
  auto build = [&](Harness &h) {
    h.plan.config.vocabSize = d;
    h.program.buffers[kLogits].cols = d;
    uint32_t x = h.input("x", d);
    uint32_t prev = x;
    for (int i = 0; i < 6; ++i) { // x -> a0 -> a1 ... each a GEMM of the last
      uint32_t next = h.buffer("a" + std::to_string(i), d);
      uint32_t w = h.weight("w" + std::to_string(i), {d, d}, 0.3f);
      h.step({"gemm" + std::to_string(i),
              StepParams::GemmParams,
              gemmParams(false, i % 2 == 1), // odd steps add x as residual
              i % 2 == 1 ? std::vector<plan::Operand>{h.op(prev), h.op(x)}
                         : std::vector<plan::Operand>{h.op(prev)},
              {h.op(next)},
              {w}});
      prev = next;
    }
    h.step({"last",
            StepParams::GatherRowsParams,
            [](auto &b) { return plan::CreateGatherRowsParams(b).Union(); },
            {h.op(prev), h.op(kLogitRows)},
            {h.op(kLogits)},
            {}});
  };
  Harness reused(8, 8, 3), separate(8, 8, 3);
  build(reused);
  build(separate);
  separate.prepare();
  reused.plan.programs = {reused.program};
  reused.loaded.emplace(Plan::fromBytes(reused.plan.build(), "test.plan"));
  reused.kv = KvCacheShape::contiguous(1, 64);
  reused.blockTables = contiguousBlockTables(reused.kv);
  reused.backend.prepare(*reused.loaded, reused.weights, reused.kv); // reuse on
  const std::vector<int32_t> rows = {4, 0, 2};
  auto a = reused.run(Harness::iota(t), {}, {}, rows);
  auto b = separate.run(Harness::iota(t), {}, {}, rows);
  EXPECT_EQ(a, b);

  const plan::Program &program = *reused.loaded->root().programs()->Get(0);
  host::BufferLayout layout = host::layoutBuffers(program, true);
  host::BufferLayout own = host::layoutBuffers(program, false);
  EXPECT_LT(layout.floatElements, own.floatElements);
  // x (buffer 5) is read by every odd step: nothing written meanwhile may
  // share its memory; a0 (6) is dead after step 2 and a2 (8) may reuse it.
  auto overlaps = [&](size_t i, size_t j) {
    return layout.offset[i] < layout.offset[j] + layout.elements[j] &&
           layout.offset[j] < layout.offset[i] + layout.elements[i];
  };
  for (size_t i = 6; i < 12; ++i)
    EXPECT_FALSE(overlaps(5, i)) << "buffer " << i;
  for (size_t i = 6; i < 11; ++i)
    EXPECT_FALSE(overlaps(i, i + 1)) << "buffers " << i << ", " << i + 1;
}

} // namespace
} // namespace moela::test

namespace moela::test {
namespace {

// Tests that prepare() reports a weight the source cannot provide (here: a
// shape mismatch) as an error naming the tensor.
TEST(HostBackendPrepare, WeightErrorsNameTheTensor) {
  Harness h;
  uint32_t x = h.input("x", 4);
  uint32_t y = h.buffer("y", 3);
  h.weights.set("w", {3, 5}, std::vector<float>(15, 1.0f));
  uint32_t w = h.plan.addWeight({{"w", {3, 4}}});
  h.step({"gemm",
          StepParams::GemmParams,
          gemmParams(false, false),
          {h.op(x)},
          {h.op(y)},
          {w}});
  try {
    h.prepare();
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "tensor 'w': shape [3, 5], plan expects [3, 4]");
  }
  EXPECT_THROW(h.backend.run("p", StepInputs{{0}, {0}, {0}, {}}), Error);
}

} // namespace
} // namespace moela::test
