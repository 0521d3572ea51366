//===- EngineSampleTest.cpp - Tokens chosen by the plan's Sample step -----===//
//
// The v3_a fixture's plan on the host backend, through Engine::feedAndSample
// (docs/model.md §4):
//  - greedy rows give the argmax of feed()'s logits, with their log-softmax
//    and top logprobs, and greedy generate() the tokens of a plain argmax
//    loop over feed();
//  - a request's sampled tokens depend only on its seed and counter, not on
//    the other sequences of the batch nor on its slot;
//  - the logits are copied only when asked.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "moela/Runtime/Sampler.h"

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

TEST(EngineSample, GreedyIsTheArgmaxOfTheLogits) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  const std::string plan = compilePlan(kFixture + "/config.json", "host");
  HostRun logits(plan, *weights, 2), sampled(plan, *weights, 2);
  ASSERT_TRUE(sampled.engine.samplesOnDevice());
  std::vector<std::vector<int32_t>> feed = {{0, 9, 99, 999, 12}, {0, 4}};
  std::vector<RowSampling> rows(2);
  rows[0].topLogprobs = 0;
  rows[1].topLogprobs = 5;
  for (int step = 0; step < 6; ++step) {
    std::vector<std::vector<float>> want = logits.engine.feed(feed);
    std::vector<std::vector<float>> copied;
    std::vector<SampledToken> got =
        sampled.engine.feedAndSample(feed, rows, step % 2 ? &copied : nullptr);
    if (step % 2)
      EXPECT_EQ(copied, want);
    for (size_t b = 0; b < 2; ++b) {
      const int32_t id = argmax(want[b].data(), int64_t(want[b].size()));
      EXPECT_EQ(got[b].id, id) << "step " << step << " sequence " << b;
      EXPECT_NEAR(got[b].logprob, logSoftmax(want[b], id), 1e-5);
      ASSERT_EQ(got[b].top.size(), size_t(std::max(0, rows[b].topLogprobs)));
      for (size_t i = 0; i < got[b].top.size(); ++i) {
        EXPECT_NEAR(got[b].top[i].second,
                    logSoftmax(want[b], got[b].top[i].first), 1e-5);
        if (i > 0)
          EXPECT_GE(got[b].top[i - 1].second, got[b].top[i].second);
      }
      if (!got[b].top.empty())
        EXPECT_EQ(got[b].top[0].first, id);
      feed[b] = {id};
    }
  }
}

TEST(EngineSample, GreedyGenerateMatchesAnArgmaxLoop) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  const std::string plan = compilePlan(kFixture + "/config.json", "host");
  std::vector<std::vector<int32_t>> prompts = {{0, 5, 6, 7}, {0, 1000}};
  HostRun loop(plan, *weights, 2), gen(plan, *weights, 2);
  std::vector<std::vector<int32_t>> want(2);
  std::vector<std::vector<float>> logits = loop.engine.feed(prompts);
  for (int step = 0; step < 12; ++step) {
    std::vector<std::vector<int32_t>> next(2);
    for (size_t b = 0; b < 2; ++b) {
      want[b].push_back(argmax(logits[b].data(), int64_t(logits[b].size())));
      next[b] = {want[b].back()};
    }
    logits = loop.engine.feed(next);
  }
  GenerationOptions options;
  options.maxNewTokens = 12;
  options.ignoreEos = true;
  EXPECT_EQ(generate(gen.engine, prompts, options).ids, want);
}

/// Sequence A draws the same tokens alone in slot 0 and in slot 1 of a batch
/// with two others (with other seeds and parameters), given its seed.
TEST(EngineSample, ARequestsDrawsDoNotDependOnTheBatch) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  const std::string plan = compilePlan(kFixture + "/config.json", "host");
  const std::vector<int32_t> a = {0, 31, 41, 59};
  RowSampling sa;
  sa.temperature = 1.5f;
  sa.topP = 0.95f;
  sa.seed = 2718;
  RowSampling other;
  other.temperature = 0.7f;
  other.topK = 5;
  other.seed = 1;
  auto draws = [&](std::vector<std::vector<int32_t>> prompts,
                   std::vector<RowSampling> rows, size_t slot) {
    HostRun run(plan, *weights, int(prompts.size()));
    std::vector<int32_t> got;
    std::vector<std::vector<int32_t>> feed = prompts;
    for (int step = 0; step < 16; ++step) {
      std::vector<SampledToken> t = run.engine.feedAndSample(feed, rows);
      got.push_back(t[slot].id);
      for (size_t b = 0; b < feed.size(); ++b) {
        feed[b] = {t[b].id};
        ++rows[b].counter;
      }
    }
    return got;
  };
  const std::vector<int32_t> alone = draws({a}, {sa}, 0);
  EXPECT_EQ(draws({{0, 7, 7, 7, 7, 7}, a, {0, 2}}, {other, sa, other}, 1),
            alone);
  // Another seed draws other tokens.
  RowSampling sb = sa;
  sb.seed = 3141;
  EXPECT_NE(draws({a}, {sb}, 0), alone);
}

} // namespace
