//===- OracleTest.cpp - Compiled plans against the independent oracle ===//
//
// Configs without DeepSeek goldens (V2-Lite style q_proj + softmax + greedy,
// V2 style group_limited_greedy, V3.1 style FP8 with ue8m0 and plain RoPE, the
// bundled tiny model with the real vocabulary) are compiled with the default
// pipeline, run on the host backend and compared with test/reference's
// double-precision forward pass written straight from docs/model.md: two
// sequences of different lengths, prefill then teacher-forced decode steps.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "SpecReference.h"

#include <cmath>
#include <random>

using namespace moela;
using namespace moela::test;

namespace {

struct OracleCase {
  std::string model;      // folder under models/
  std::string checkpoint; // folder under test/data, or "" for random weights
  std::vector<std::string> disable;
};

/// Keeps ctest's test names short: gtest appends the printed parameter.
void PrintTo(const OracleCase &c, std::ostream *os) { *os << c.model; }

class OracleTest : public testing::TestWithParam<OracleCase> {};

TEST_P(OracleTest, PrefillAndDecodeMatchTheSpecOracle) {
  const OracleCase &c = GetParam();
  std::string config =
      std::string(MOELA_SOURCE_DIR) + "/models/" + c.model + "/config.json";
  std::unique_ptr<WeightSource> weights =
      c.checkpoint.empty()
          ? makeRandomWeights(11)
          : openCheckpoint(std::string(MOELA_TEST_DATA) + "/" + c.checkpoint);
  spec::SpecReference oracle(spec::loadSpecConfig(config), *weights);
  HostRun run(compilePlan(config, "host", c.disable, /*maxPrefillTokens=*/16),
              *weights, 2);
  const int64_t vocab = run.plan.config().vocabSize;

  // Two prompts of different lengths; the longer one spans two prefill chunks.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> token(2,
                                               static_cast<int32_t>(vocab - 1));
  std::vector<std::vector<int32_t>> prompts(2);
  std::vector<std::vector<int64_t>> prompts64(2);
  for (int len : {13, 7})
    for (int i = 0; i < len; ++i) {
      size_t b = len == 13 ? 0 : 1;
      int32_t t = i == 0 ? 0 : token(rng);
      prompts[b].push_back(t);
      prompts64[b].push_back(t);
    }

  std::vector<std::vector<float>> got = run.engine.feed(prompts);
  std::vector<std::vector<double>> want = oracle.prefill(prompts64);
  for (int step = 0; step < 6; ++step) {
    std::vector<std::vector<int32_t>> next(2);
    std::vector<int64_t> next64(2);
    for (size_t b = 0; b < 2; ++b) {
      double diff = maxAbsDiff(got[b], want[b]);
      EXPECT_LE(diff, 2e-3) << c.model << " sequence " << b << " step " << step;
      int64_t chosen = spec::SpecReference::argmax(want[b]);
      EXPECT_EQ(argmax(got[b].data(), vocab), chosen)
          << c.model << " sequence " << b << " step " << step;
      next[b] = {static_cast<int32_t>(chosen)};
      next64[b] = chosen;
    }
    got = run.engine.feed(next);
    want = oracle.decode(next64);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, OracleTest,
    testing::Values(OracleCase{"tiny-v2-lite", "tiny-v2-lite", {}},
                    OracleCase{
                        "tiny-v2-lite", "tiny-v2-lite", {"moela-mla-absorb"}},
                    OracleCase{"tiny-v2", "", {}},
                    OracleCase{"tiny-v3-fp8", "", {}},
                    OracleCase{"tiny", "", {}}),
    [](const testing::TestParamInfo<OracleCase> &info) {
      std::string name =
          info.param.model +
          (info.param.disable.empty() ? "" : "_unfused_attention");
      for (char &ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)))
          ch = '_';
      return name;
    });

} // namespace
