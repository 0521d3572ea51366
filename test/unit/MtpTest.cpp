//===- MtpTest.cpp - MTP drafts and speculative decoding on the host ------===//
//
// Plans compiled with --mtp run DeepSeek's MTP module 0 inside every program
// (moela-mtp-draft). On the host backend (fp32):
//  - its logits at every logit row match test/reference's double-precision
//    MTP forward pass written from docs/model.md §3.3, after the prompt and
//    after each greedy decode step, for the v3_a fixture's bf16 and fp8
//    checkpoints (their MTP layer is model.layers.3);
//  - the main model's logits are those of the plan without MTP;
//  - greedy speculative decoding with the drafts gives exactly the tokens of
//    plain greedy decoding, with chunked prefill and a batch of 3, and the
//    engine refuses what it cannot do;
//  - the speculative loop itself, on a scripted backend whose drafts are
//    right two times in three: accepted drafts save a step each, rejected
//    ones and the re-feeds after them keep the tokens of greedy decoding.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "SpecReference.h"

#include "host/HostBackend.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Sampler.h"

#include <cmath>

using namespace moela;
using namespace moela::test;

namespace {

const std::string kFixture = std::string(MOELA_TEST_DATA) + "/v3_a";

std::string compileMtp(const std::string &dir,
                       int64_t maxPrefillTokens = 2048) {
  CompileOptions options;
  options.input = dir + "/config.json";
  options.target = "host";
  options.maxPrefillTokens = maxPrefillTokens;
  options.maxBatch = 8;
  options.mtp = true;
  return compilePlan(options);
}

class MtpOracle : public testing::TestWithParam<std::string> {};

TEST_P(MtpOracle, LogitsMatchTheSpecAfterPromptAndDecodeSteps) {
  const std::string dir = kFixture + (GetParam() == "fp8w" ? "/model-fp8" : "");
  std::unique_ptr<WeightSource> weights = openCheckpoint(dir);
  spec::SpecReference oracle(spec::loadSpecConfig(dir + "/config.json"),
                             *weights, /*withMtp=*/true);
  Plan plan = Plan::load(compileMtp(dir));
  HostBackend backend;
  backend.setBufferReuse(false); // the MTP logits are read back
  Engine engine(plan, backend, *weights, 1, 64);
  const int64_t vocab = plan.config().vocabSize;

  std::vector<int64_t> tokens = {0, 17, 400, 33, 1021, 5, 77};
  std::vector<int32_t> prompt(tokens.begin(), tokens.end());
  std::vector<float> logits = engine.feed({prompt})[0];
  for (int step = 0; step < 4; ++step) {
    // The module reads the greedy successor of the last row.
    tokens.push_back(argmax(logits.data(), vocab));
    std::vector<std::vector<double>> want = oracle.mtpLogits(tokens);
    std::vector<float> got =
        backend.bufferContents(step == 0 ? "prefill" : "decode", "mtp.0.head");
    ASSERT_EQ(got.size(), size_t(vocab));
    const double diff = maxAbsDiff(got, want.back());
    EXPECT_LE(diff, 1e-3) << GetParam() << " step " << step;
    EXPECT_EQ(engine.drafts()[0], spec::SpecReference::argmax(want.back()))
        << GetParam() << " step " << step;
    logits = engine.feed({{static_cast<int32_t>(tokens.back())}})[0];
  }
}

INSTANTIATE_TEST_SUITE_P(V3a, MtpOracle, testing::Values("bf16w", "fp8w"));

/// The MTP module changes no main-model logit.
TEST(Mtp, MainLogitsUnchanged) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  HostRun with(compileMtp(kFixture), *weights, 1);
  HostRun without(compilePlan(kFixture + "/config.json", "host"), *weights, 1);
  std::vector<int32_t> prompt = {0, 9, 99, 999, 12};
  EXPECT_EQ(with.engine.feed({prompt}), without.engine.feed({prompt}));
  EXPECT_EQ(with.engine.feed({{3}}), without.engine.feed({{3}}));
}

/// Speculative greedy decoding gives the tokens of plain greedy decoding:
/// three prompts, a prefill chunked by 5 (continuation chunks re-feed the
/// row before them), drafts mostly rejected (random MTP weights) and the
/// forced re-feeds that follow.
TEST(Mtp, SpeculativeGreedyMatchesPlainGreedy) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  const std::string plan = compileMtp(kFixture, /*maxPrefillTokens=*/5);
  std::vector<std::vector<int32_t>> prompts = {
      {0, 5, 6, 7, 8, 9, 10, 11}, {0, 1000}, {0, 44, 55, 66}};
  GenerationOptions options;
  options.maxNewTokens = 20;
  options.ignoreEos = true;
  HostRun plain(plan, *weights, 3), fast(plan, *weights, 3);
  GenerationResult want = generate(plain.engine, prompts, options);
  options.speculative = true;
  GenerationResult got = generate(fast.engine, prompts, options);
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_GT(got.draftsProposed, 0);
  EXPECT_LE(got.draftsAccepted, got.draftsProposed);
  // A rejected draft costs no step (the fixture's MTP weights are random).
  EXPECT_LE(got.steps, want.steps);
}

/// A draft the greedy choice agrees with is kept, and the step then yields
/// two tokens: drafts forced to the true continuation are all accepted.
TEST(Mtp, AcceptedDraftsGiveTwoTokensPerStep) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  const std::string plan = compileMtp(kFixture);
  HostRun run(plan, *weights, 1);
  std::vector<int32_t> prompt = {0, 31, 41, 59};
  GenerationOptions options;
  options.maxNewTokens = 6;
  options.ignoreEos = true;
  HostRun reference(plan, *weights, 1);
  std::vector<int32_t> greedy =
      generate(reference.engine, {prompt}, options).ids[0];
  // Feed the prompt, then verify [newest, true successor] pairs by hand.
  std::vector<float> logits = run.engine.feed({prompt})[0];
  int32_t newest = argmax(logits.data(), run.engine.vocab());
  ASSERT_EQ(newest, greedy[0]);
  for (size_t k = 1; k + 1 < greedy.size(); k += 2) {
    auto rows = run.engine.verify({{newest, greedy[k]}})[0];
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(argmax(rows[0].logits.data(), run.engine.vocab()), greedy[k]);
    EXPECT_EQ(argmax(rows[1].logits.data(), run.engine.vocab()), greedy[k + 1]);
    newest = greedy[k + 1];
  }
}

/// A backend whose model is a rule: after token t at position p comes
/// next(t, p), and the draft after that is right unless p % 3 == 0. It
/// drives speculative generation through accepted drafts, rejected ones and
/// the forced re-feeds after them.
class ScriptedBackend : public Backend {
public:
  explicit ScriptedBackend(int64_t vocab) : vocab(vocab) {}
  static int32_t next(int32_t t, int32_t p) { return (t * 7 + p + 3) % 1000; }
  std::string name() const override { return "scripted"; }
  void prepare(const Plan &, WeightSource &, const KvCacheShape &) override {}
  StepOutputs run(const std::string &, const StepInputs &in) override {
    StepOutputs out;
    out.logits.assign(in.logitRows.size() * vocab, 0.0f);
    for (size_t r = 0; r < in.logitRows.size(); ++r) {
      const int32_t t = in.tokens[in.logitRows[r]],
                    p = in.positions[in.logitRows[r]];
      const int32_t y = next(t, p);
      out.logits[r * vocab + y] = 1.0f;
      out.drafts.push_back(p % 3 == 0 ? (next(y, p + 1) + 1) % 1000
                                      : next(y, p + 1));
    }
    return out;
  }
  int64_t vocab;
};

TEST(Mtp, SpeculativeLoopAcceptsRejectsAndRefeeds) {
  Plan plan = Plan::load(compileMtp(kFixture));
  std::unique_ptr<WeightSource> weights = makeRandomWeights(1);
  ScriptedBackend a(plan.config().vocabSize), b(plan.config().vocabSize);
  Engine plainEngine(plan, a, *weights, 2, 64),
      fastEngine(plan, b, *weights, 2, 64);
  std::vector<std::vector<int32_t>> prompts = {{0, 5, 6}, {0, 9}};
  GenerationOptions options;
  options.maxNewTokens = 30;
  options.ignoreEos = true;
  GenerationResult want = generate(plainEngine, prompts, options);
  options.speculative = true;
  GenerationResult got = generate(fastEngine, prompts, options);
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_GT(got.draftsAccepted, 0);
  EXPECT_LT(got.draftsAccepted, got.draftsProposed);
  EXPECT_LT(got.steps, want.steps);
  // One sequence: each accepted draft saves exactly one step.
  options.speculative = false;
  Engine plainOne(plan, a, *weights, 1, 64), fastOne(plan, b, *weights, 1, 64);
  GenerationResult one = generate(plainOne, {prompts[0]}, options);
  options.speculative = true;
  GenerationResult oneFast = generate(fastOne, {prompts[0]}, options);
  EXPECT_EQ(oneFast.ids, one.ids);
  EXPECT_GT(oneFast.draftsAccepted, 0);
  EXPECT_EQ(oneFast.steps, one.steps - oneFast.draftsAccepted);
  // Up to the context's end, where a draft no longer fits.
  Engine shortEngine(plan, b, *weights, 2, 16);
  options.maxNewTokens = 100;
  GenerationResult edge = generate(shortEngine, prompts, options);
  Engine plainShort(plan, a, *weights, 2, 16);
  options.speculative = false;
  EXPECT_EQ(edge.ids, generate(plainShort, prompts, options).ids);
}

TEST(Mtp, Refusals) {
  std::unique_ptr<WeightSource> weights = openCheckpoint(kFixture);
  // No drafts without --mtp.
  HostRun plain(compilePlan(kFixture + "/config.json", "host"), *weights, 1);
  GenerationOptions options;
  options.speculative = true;
  EXPECT_FALSE(plain.engine.hasDrafts());
  EXPECT_EQ(plain.engine.drafts(), std::vector<int32_t>{-1});
  try {
    generate(plain.engine, {{0, 1}}, options);
    ADD_FAILURE() << "speculated without drafts";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(),
                 "speculative decoding needs a plan compiled with --mtp");
  }
  // Greedy only.
  HostRun mtp(compileMtp(kFixture), *weights, 1);
  options.sampling.temperature = 0.7f;
  EXPECT_THROW(generate(mtp.engine, {{0, 1}}, options), Error);
  // At most two tokens per sequence and step.
  EXPECT_THROW(mtp.engine.verify({{1, 2, 3}}), Error);
  // A config without an MTP module cannot be compiled with --mtp.
  CompileOptions bad;
  bad.input = std::string(MOELA_SOURCE_DIR) + "/models/tiny-v3-fp8/config.json";
  bad.target = "host";
  bad.mtp = true;
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  bad.output = "/dev/null";
  EXPECT_EQ(runCompiler(bad, context), 1);
}

} // namespace
