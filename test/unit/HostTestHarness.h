//===- HostTestHarness.h - One-program plans run on the host backend ------===//
//
// A Harness builds a plan with one program "p" (vocab 1 unless a test sets
// it), feeds float activations in through Embedding steps over random tables
// (row t of a table is the activation of token t), runs it on the host backend
// and reads any buffer back. Reference results are computed in double by the
// tests themselves.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_UNIT_HOSTTESTHARNESS_H
#define MOELA_TEST_UNIT_HOSTTESTHARNESS_H

#include "PlanTestUtil.h"

#include "host/HostBackend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace moela::test {

class Harness {
public:
  explicit Harness(int maxTokens = 8, int tableRows = 0, uint32_t seed = 1)
      : rng(seed), tableRows_(tableRows ? tableRows : maxTokens) {
    plan.config = testConfig(1);
    program = ProgramDesc::standard("p", maxTokens, maxTokens, 1);
  }

  /// A float activation [T, cols]: row t is row tokens[t] of a random table.
  uint32_t input(const std::string &name, int64_t cols, float scale = 1.0f) {
    weights.random("in." + name, {tableRows_, cols}, rng, scale);
    return embed(name, cols,
                 plan.addWeight({{"in." + name, {tableRows_, cols}}}));
  }
  /// The same with chosen table values [tableRows, cols].
  uint32_t input(const std::string &name, int64_t cols,
                 std::vector<float> table) {
    weights.set("in." + name, {tableRows_, cols}, std::move(table));
    return embed(name, cols,
                 plan.addWeight({{"in." + name, {tableRows_, cols}}}));
  }
  /// Another buffer holding the same activation as input `source`.
  uint32_t copyOf(const std::string &name, const std::string &source) {
    for (size_t i = 0; i < plan.weights.size(); ++i)
      if (plan.weights[i].parts[0].name == "in." + source)
        return embed(name, plan.weights[i].parts[0].shape[1], uint32_t(i));
    ADD_FAILURE() << "no input " << source;
    return 0;
  }
  /// The table of input `name`: [tableRows, cols].
  const std::vector<float> &table(const std::string &name) const {
    return weights.get("in." + name);
  }

  /// A single-tensor weight with random N(0, scale^2) values.
  uint32_t weight(const std::string &name, std::vector<int64_t> shape,
                  float scale = 1.0f) {
    weights.random(name, shape, rng, scale);
    return plan.addWeight({{name, shape}});
  }

  uint32_t buffer(const std::string &name, int64_t cols,
                  plan::RowKind kind = plan::RowKind::PerToken,
                  int64_t factor = 1, plan::DType dtype = plan::DType::F32) {
    return program.add(name, cols, kind, factor, dtype);
  }
  plan::Operand op(uint32_t b) const { return program.op(b); }
  plan::Operand op(uint32_t b, uint32_t offset, uint32_t cols) const {
    return program.op(b, offset, cols);
  }
  void step(StepDesc s) { program.steps.push_back(std::move(s)); }

  /// A KV cache of `slots` sequences of `maxSeqLen` positions, each owning
  /// its pages (in a shuffled order with `shuffled`).
  void prepare(int slots = 1, int maxSeqLen = 64, bool shuffled = false) {
    plan.programs = {program};
    if (program.freshSequences) // the plan must say what runs the other chunks
      plan.programs.push_back(ProgramDesc::standard("extend", program.maxTokens,
                                                    program.maxLogitRows,
                                                    plan.config.vocabSize));
    loaded.emplace(Plan::fromBytes(plan.build(), "test.plan"));
    backend.setBufferReuse(false); // tests read intermediates back
    kv = KvCacheShape::contiguous(slots, maxSeqLen);
    blockTables = contiguousBlockTables(kv);
    if (shuffled)
      std::shuffle(blockTables.begin(), blockTables.end(), rng);
    backend.prepare(*loaded, weights, kv);
  }

  /// Runs "p" on tokens (default 0..T-1), positions (default 0..T-1), slots
  /// (default 0) and logit rows (default none); returns the logits.
  std::vector<float> run(std::vector<int32_t> tokens,
                         std::vector<int32_t> positions = {},
                         std::vector<int32_t> seqIds = {},
                         std::vector<int32_t> logitRows = {}) {
    StepInputs in;
    in.tokens = tokens;
    in.positions = positions;
    in.seqIds = seqIds;
    in.logitRows = logitRows;
    in.blockTables = blockTables;
    for (size_t t = 0; positions.empty() && t < tokens.size(); ++t)
      in.positions.push_back(int32_t(t));
    if (seqIds.empty())
      in.seqIds.assign(tokens.size(), 0);
    return backend.run("p", in).logits;
  }
  std::vector<float> runFirst(int tokens) { return run(iota(tokens)); }

  std::vector<float> read(const std::string &name) {
    return backend.bufferContents("p", name);
  }

  static std::vector<int32_t> iota(int n, int first = 0) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      v[size_t(i)] = first + i;
    return v;
  }

  PlanDesc plan;
  ProgramDesc program;
  MapWeights weights;
  std::mt19937 rng;
  KvCacheShape kv;
  std::vector<int32_t> blockTables; // [slots, pages per slot]
  std::optional<Plan> loaded;
  HostBackend backend;

private:
  uint32_t embed(const std::string &name, int64_t cols, uint32_t weight) {
    uint32_t b = program.add(name, cols);
    program.steps.push_back({"embed." + name,
                             plan::StepParams::EmbeddingParams,
                             [](flatbuffers::FlatBufferBuilder &fbb) {
                               return plan::CreateEmbeddingParams(fbb).Union();
                             },
                             {program.op(kTokens)},
                             {program.op(b)},
                             {weight}});
    return b;
  }

  int64_t tableRows_;
};

/// Expects |actual - expected| <= tol * max(1, |expected|) everywhere.
inline void expectClose(const std::vector<float> &actual,
                        const std::vector<double> &expected, double tol,
                        const std::string &what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double err = std::abs(actual[i] - expected[i]) /
                 std::max(1.0, std::abs(expected[i]));
    if (!(err <= worst)) { // also catches NaN
      worst = std::isnan(err) ? INFINITY : err;
      at = i;
    }
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " is " << actual[at]
                        << ", expected " << expected[at];
}

inline void expectClose(const std::vector<float> &actual,
                        const std::vector<float> &expected, double tol,
                        const std::string &what) {
  expectClose(actual, std::vector<double>(expected.begin(), expected.end()),
              tol, what);
}

/// x @ W^T in double: x [T, K], W [N, K] -> [T, N].
inline std::vector<double> refGemm(const std::vector<double> &x,
                                   const std::vector<double> &w, int64_t t,
                                   int64_t k, int64_t n) {
  std::vector<double> y(size_t(t * n), 0.0);
  for (int64_t i = 0; i < t; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t kk = 0; kk < k; ++kk)
        s += x[size_t(i * k + kk)] * w[size_t(j * k + kk)];
      y[size_t(i * n + j)] = s;
    }
  return y;
}

inline std::vector<double> toDouble(const std::vector<float> &v, size_t n = 0) {
  return std::vector<double>(v.begin(), n ? v.begin() + long(n) : v.end());
}

/// RMSNorm of one row in double.
inline std::vector<double> refRmsNorm(const std::vector<double> &x,
                                      const std::vector<float> &w, double eps) {
  double ms = 0;
  for (double v : x)
    ms += v * v;
  ms /= double(x.size());
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = w[i] * x[i] / std::sqrt(ms + eps);
  return y;
}

/// Inverse RoPE frequencies from the formulas of docs/model.md §3.1, in double.
inline std::vector<double> refInvFreq(double theta, int dim,
                                      const YarnConfig &yarn) {
  std::vector<double> freq(static_cast<size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i)
    freq[size_t(i)] = std::pow(theta, -2.0 * i / dim);
  if (!yarn.enabled)
    return freq;
  const double pi = 3.14159265358979323846;
  auto corr = [&](double r) {
    return dim * std::log(yarn.originalMaxPositionEmbeddings / (r * 2 * pi)) /
           (2 * std::log(theta));
  };
  double low = std::max(std::floor(corr(yarn.betaFast)), 0.0);
  double high = std::min(std::ceil(corr(yarn.betaSlow)), double(dim - 1));
  if (low == high)
    high += 0.001;
  for (int i = 0; i < dim / 2; ++i) {
    double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    freq[size_t(i)] =
        freq[size_t(i)] / yarn.factor * ramp + freq[size_t(i)] * (1 - ramp);
  }
  return freq;
}

/// Rotates x [dim] (interleaved pairs) for `pos`; the angle is float32 as the
/// docs/model.md prescribes, the rest double. magnitude scales cos and sin.
inline void refRope(double *x, int dim, int pos,
                    const std::vector<double> &invFreq, double magnitude) {
  for (int i = 0; i < dim / 2; ++i) {
    const double angle = double(float(pos) * float(invFreq[size_t(i)]));
    const double c = std::cos(angle) * magnitude,
                 s = std::sin(angle) * magnitude;
    const double a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * c - b * s;
    x[2 * i + 1] = a * s + b * c;
  }
}

} // namespace moela::test

#endif // MOELA_TEST_UNIT_HOSTTESTHARNESS_H
