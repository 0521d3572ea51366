//===- EngineScoreTest.cpp - Engine::score, the log-prob of every token ---===//
//
// The v3_a fixture's plan on the host backend, compiled --max-batch 3 so
// that a prefill chunk holds at most 3 logit rows: Engine::score of whole
// sequences (cut into @prefill and @extend chunks at 3 scored tokens, two
// sequences in one step, some tokens context only) gives the log-softmax of
// the logits feed() returns token by token, for the same tokens.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include <cmath>

using namespace moela;
using namespace moela::test;

namespace {

const std::string kFixture = std::string(MOELA_TEST_DATA) + "/v3_a";

double logSoftmax(const std::vector<float> &l, int32_t id) {
  double m = *std::max_element(l.begin(), l.end()), s = 0;
  for (float v : l)
    s += std::exp(double(v) - m);
  return double(l[id]) - m - std::log(s);
}

std::string smallBatchPlan() {
  CompileOptions options;
  options.input = kFixture + "/config.json";
  options.target = "host";
  options.maxBatch = 3;
  return compilePlan(options);
}

TEST(EngineScore, EveryTokenAsFeedGivesIt) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  const std::string path = smallBatchPlan();
  HostRun scored(path, *weights, 2), fed(path, *weights, 2);
  ASSERT_EQ(scored.plan.program("prefill").max_logit_rows(), 3);
  const std::vector<std::vector<int32_t>> tokens = {
      {0, 9, 99, 999, 12, 7, 300, 41, 5}, {0, 4, 77, 1000, 23, 8}};
  // Sequence 0 scores every next token; sequence 1 only its last three.
  std::vector<std::vector<int32_t>> targets(2);
  for (size_t b = 0; b < 2; ++b)
    for (size_t i = 0; i < tokens[b].size(); ++i)
      targets[b].push_back(i + 1 < tokens[b].size() && (b == 0 || i >= 2)
                               ? tokens[b][i + 1]
                               : -1);
  std::vector<std::vector<double>> got = scored.engine.score(tokens, targets);
  ASSERT_EQ(got[0].size(), 8u);
  ASSERT_EQ(got[1].size(), 3u);
  EXPECT_EQ(scored.engine.length(0), 9);
  EXPECT_EQ(scored.engine.length(1), 6);

  // The reference: one token per step, each sequence on its own.
  for (size_t b = 0; b < 2; ++b) {
    size_t k = 0;
    for (size_t i = 0; i < tokens[b].size(); ++i) {
      std::vector<std::vector<int32_t>> step(b + 1);
      step[b] = {tokens[b][i]};
      std::vector<float> logits = fed.engine.feed(step)[b];
      if (targets[b][i] < 0)
        continue;
      EXPECT_NEAR(got[b][k], logSoftmax(logits, targets[b][i]), 1e-4)
          << "sequence " << b << " token " << i;
      ++k;
    }
  }

  // A continuation scores after what the sequence holds (@extend).
  std::vector<std::vector<double>> more =
      scored.engine.score({{88, 6}, {}}, {{6, 90}, {}});
  ASSERT_EQ(more[0].size(), 2u);
  EXPECT_TRUE(more[1].empty());
  std::vector<float> after88 = fed.engine.feed({{88}})[0];
  std::vector<float> after6 = fed.engine.feed({{6}})[0];
  EXPECT_NEAR(more[0][0], logSoftmax(after88, 6), 1e-4);
  EXPECT_NEAR(more[0][1], logSoftmax(after6, 90), 1e-4);
}

TEST(EngineScore, Errors) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  HostRun run(smallBatchPlan(), *weights, 1, 8);
  auto error = [&](const std::vector<std::vector<int32_t>> &tokens,
                   const std::vector<std::vector<int32_t>> &targets) {
    try {
      run.engine.score(tokens, targets);
    } catch (const Error &e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error({{0, 1}}, {{1}}),
            "score: sequence 0 has 2 tokens but 1 targets");
  EXPECT_EQ(error({{0, 1}}, {{1, -2}}),
            "score: target -2 of sequence 0 is outside the vocabulary of " +
                std::to_string(run.engine.vocab()));
  EXPECT_EQ(error({std::vector<int32_t>(9, 3)}, {std::vector<int32_t>(9, -1)}),
            "sequence 0 needs 9 positions but the context holds 8");
}

} // namespace
