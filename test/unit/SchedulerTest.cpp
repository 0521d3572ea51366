//===- SchedulerTest.cpp - Continuous batching against plain generation ---===//
//
// The scheduler on the host backend with the v3_a fixture's weights: every
// greedy request, whatever joins or leaves around it, yields exactly the
// tokens that generate() gives its prompt alone; a long prompt is prefilled
// in chunks while other sequences keep decoding; a short KV pool makes
// admission wait and decode steps preempt, still with the same tokens;
// cancelled requests give their pages back; stop, EOS, length and context
// endings and bad requests behave as documented.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "host/HostBackend.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/Scheduler.h"

#include <optional>
#include <thread>

using namespace moela;
using namespace moela::test;

namespace {

const std::string kFixture = std::string(MOELA_TEST_DATA) + "/v3_a";

const Plan &hostPlan() {
  static Plan plan = Plan::load(compilePlan(kFixture + "/config.json", "host"));
  return plan;
}

WeightSource &weights() {
  static std::unique_ptr<WeightSource> w = openCheckpoint(kFixture);
  return *w;
}

std::vector<int32_t> prompt(int length, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < length; ++i)
    p.push_back((salt * 131 + i * 37 + 5) % 1000);
  return p;
}

/// What generate() gives `p` alone on a fresh engine (EOS dropped).
std::vector<int32_t> alone(const std::vector<int32_t> &p, int maxTokens) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 1, 128);
  GenerationOptions options;
  options.maxNewTokens = maxTokens;
  options.eosId = static_cast<int32_t>(hostPlan().config().eosTokenId);
  std::vector<int32_t> ids = generate(engine, {p}, options).ids[0];
  if (!ids.empty() && ids.back() == options.eosId)
    ids.pop_back();
  return ids;
}

/// A request that records its tokens and outcome.
struct Recorded {
  std::shared_ptr<ServeRequest> request = std::make_shared<ServeRequest>();
  std::vector<int32_t> tokens;
  std::optional<RequestOutcome> outcome;

  Recorded(std::vector<int32_t> p, int maxTokens) {
    request->prompt = std::move(p);
    request->maxTokens = maxTokens;
    request->onToken = [this](const GeneratedToken &t) {
      tokens.push_back(t.id);
      return false;
    };
    request->onFinish = [this](const RequestOutcome &o) { outcome = o; };
  }
};

void drain(Scheduler &scheduler, int maxSteps = 10000) {
  for (int i = 0; i < maxSteps && scheduler.step(); ++i) {
  }
  ASSERT_FALSE(scheduler.step()) << "the scheduler did not go idle";
}

int32_t eos() { return static_cast<int32_t>(hostPlan().config().eosTokenId); }

TEST(Scheduler, GreedyTokensEqualGenerationAloneWhateverJoins) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 4, 128);
  Scheduler scheduler(engine, eos(), 2048, {/*maxStepTokens=*/16});
  std::vector<std::unique_ptr<Recorded>> requests;
  const int lengths[] = {3, 40, 9, 1, 25, 12, 60};
  const int outputs[] = {8, 5, 12, 6, 3, 10, 4};
  for (int i = 0; i < 7; ++i) {
    requests.push_back(
        std::make_unique<Recorded>(prompt(lengths[i], i), outputs[i]));
    scheduler.submit(requests.back()->request);
    // Later requests join while earlier ones are running.
    if (i % 2 == 1)
      for (int s = 0; s < 3; ++s)
        scheduler.step();
  }
  drain(scheduler);
  for (int i = 0; i < 7; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_TRUE(requests[i]->outcome.has_value());
    EXPECT_EQ(requests[i]->tokens, alone(prompt(lengths[i], i), outputs[i]));
    EXPECT_EQ(requests[i]->outcome->promptTokens, lengths[i]);
  }
  EXPECT_EQ(engine.pagesFree(), engine.pagesTotal());
  EXPECT_EQ(scheduler.stats().running, 0);
}

TEST(Scheduler, LongPromptIsChunkedWhileOthersDecode) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 2, 128);
  Scheduler scheduler(engine, eos(), 2048, {/*maxStepTokens=*/8});
  Recorded decoding(prompt(4, 1), 30);
  decoding.request->ignoreEos = true;
  scheduler.submit(decoding.request);
  scheduler.step(); // its prompt, and its first decode step
  Recorded longPrompt(prompt(64, 2), 2);
  scheduler.submit(longPrompt.request);
  // 64 prompt tokens at 8 per step: 8 steps, each with a decode step too.
  for (int s = 0; s < 8; ++s) {
    const size_t before = decoding.tokens.size();
    scheduler.step();
    EXPECT_EQ(decoding.tokens.size(), before + 1) << "step " << s;
  }
  // After its 8th chunk it got its first token and joined that decode step.
  EXPECT_EQ(longPrompt.tokens.size(), 2u);
  drain(scheduler);
  EXPECT_EQ(longPrompt.tokens, alone(prompt(64, 2), 2));
}

TEST(Scheduler, ShortPoolMakesAdmissionWaitAndPreemptsWithSameTokens) {
  HostBackend backend;
  // Two pages of 64 for four slots: one 128-token context.
  Engine engine(hostPlan(), backend, weights(), 4, 128, {/*pages=*/2});
  Scheduler scheduler(engine, eos(), 2048, {/*maxStepTokens=*/32});
  std::vector<std::unique_ptr<Recorded>> requests;
  for (int i = 0; i < 4; ++i) {
    requests.push_back(std::make_unique<Recorded>(prompt(50, 10 + i), 30));
    requests.back()->request->ignoreEos = true;
    scheduler.submit(requests.back()->request);
  }
  int maxRunning = 0;
  for (int i = 0; i < 10000 && scheduler.step(); ++i)
    maxRunning = std::max(maxRunning, scheduler.stats().running);
  EXPECT_LE(maxRunning, 2);
  EXPECT_GT(scheduler.stats().preemptions, 0);
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_TRUE(requests[i]->outcome.has_value());
    EXPECT_EQ(requests[i]->outcome->end, RequestEnd::Length);
    EXPECT_EQ(requests[i]->tokens.size(), 30u);
    HostBackend single;
    Engine lone(hostPlan(), single, weights(), 1, 128);
    GenerationOptions options;
    options.maxNewTokens = 30;
    options.ignoreEos = true;
    EXPECT_EQ(requests[i]->tokens,
              generate(lone, {prompt(50, 10 + i)}, options).ids[0]);
  }
  EXPECT_EQ(engine.pagesFree(), engine.pagesTotal());
}

TEST(Scheduler, CancelledRequestsFreeTheirPages) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 2, 128);
  Scheduler scheduler(engine, eos(), 2048);
  Recorded running(prompt(70, 3), 50), queued(prompt(5, 4), 5),
      third(prompt(5, 5), 5);
  running.request->ignoreEos = true;
  scheduler.submit(running.request);
  scheduler.submit(queued.request);
  scheduler.submit(third.request);
  scheduler.step();
  EXPECT_LT(engine.pagesFree(), engine.pagesTotal());
  running.request->cancelled = true;
  third.request->cancelled = true; // still waiting for a slot
  scheduler.step();
  ASSERT_TRUE(running.outcome.has_value());
  EXPECT_EQ(running.outcome->end, RequestEnd::Cancelled);
  ASSERT_TRUE(third.outcome.has_value());
  EXPECT_EQ(third.outcome->end, RequestEnd::Cancelled);
  drain(scheduler);
  EXPECT_EQ(engine.pagesFree(), engine.pagesTotal());
  ASSERT_TRUE(queued.outcome.has_value());
  EXPECT_EQ(queued.tokens, alone(prompt(5, 4), 5));
}

TEST(Scheduler, EndsAtStopEosLengthAndContext) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 2, 40);
  Scheduler scheduler(engine, eos(), 2048);
  const std::vector<int32_t> greedy = alone(prompt(6, 7), 5);
  ASSERT_GE(greedy.size(), 3u);

  Recorded stop(prompt(6, 7), 5);
  stop.request->onToken = [&](const GeneratedToken &t) {
    stop.tokens.push_back(t.id);
    return stop.tokens.size() == 2;
  };
  Recorded length(prompt(6, 7), 3);
  scheduler.submit(stop.request);
  scheduler.submit(length.request);
  drain(scheduler);
  EXPECT_EQ(stop.outcome->end, RequestEnd::Stop);
  EXPECT_EQ(stop.tokens,
            std::vector<int32_t>(greedy.begin(), greedy.begin() + 2));
  EXPECT_EQ(length.outcome->end, RequestEnd::Length);
  EXPECT_EQ(length.outcome->completionTokens, 3);

  // The first greedy token as EOS: it ends the request and is not handed out.
  Scheduler eosAtFirst(engine, greedy[0], 2048);
  Recorded early(prompt(6, 7), 5);
  eosAtFirst.submit(early.request);
  drain(eosAtFirst);
  EXPECT_EQ(early.outcome->end, RequestEnd::Eos);
  EXPECT_TRUE(early.tokens.empty());
  EXPECT_EQ(early.outcome->completionTokens, 1);

  // 36 prompt tokens + 4 = the context of 40.
  Recorded context(prompt(36, 8), 4);
  context.request->ignoreEos = true;
  scheduler.submit(context.request);
  drain(scheduler);
  EXPECT_EQ(context.tokens.size(), 4u);
}

TEST(Scheduler, LogprobsAreTheLogSoftmaxOfTheChosenToken) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 1, 64);
  Scheduler scheduler(engine, eos(), 2048);
  std::vector<GeneratedToken> seen;
  auto request = std::make_shared<ServeRequest>();
  request->prompt = prompt(5, 9);
  request->maxTokens = 3;
  request->topLogprobs = 4;
  request->onToken = [&](const GeneratedToken &t) {
    seen.push_back(t);
    return false;
  };
  scheduler.submit(request);
  drain(scheduler);
  ASSERT_FALSE(seen.empty());
  for (const GeneratedToken &t : seen) {
    ASSERT_EQ(t.top.size(), 4u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_EQ(t.top[0].first, t.id);
    EXPECT_DOUBLE_EQ(t.top[0].second, t.logprob);
    EXPECT_LE(t.logprob, 0.0);
    for (size_t i = 1; i < t.top.size(); ++i)
      EXPECT_LE(t.top[i].second, t.top[i - 1].second);
  }
}

TEST(Scheduler, RefusesWhatCanNeverRun) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 1, 32);
  Scheduler scheduler(engine, eos(), 2048);
  auto request = [](std::vector<int32_t> p, int maxTokens) {
    auto r = std::make_shared<ServeRequest>();
    r->prompt = std::move(p);
    r->maxTokens = maxTokens;
    return r;
  };
  EXPECT_THROW(scheduler.submit(request({}, 4)), Error);
  EXPECT_THROW(scheduler.submit(request(prompt(30, 1), 3)), Error);
  EXPECT_THROW(scheduler.submit(request(prompt(3, 1), 0)), Error);
  EXPECT_THROW(scheduler.submit(request({-1}, 4)), Error);
  auto hot = request(prompt(3, 1), 2);
  hot->sampling.temperature = -1;
  EXPECT_THROW(scheduler.submit(hot), Error);
  scheduler.shutdown();
  EXPECT_THROW(scheduler.submit(request(prompt(3, 1), 2)), Error);
  // A pool smaller than one context is refused up front.
  Engine small(hostPlan(), backend, weights(), 1, 256, {/*pages=*/2});
  EXPECT_THROW(Scheduler(small, eos(), 2048), Error);
}

TEST(Scheduler, RunServesFromAnotherThreadAndDrains) {
  HostBackend backend;
  Engine engine(hostPlan(), backend, weights(), 2, 64);
  Scheduler scheduler(engine, eos(), 2048);
  std::thread loop([&] { scheduler.run(); });
  std::vector<std::unique_ptr<Recorded>> requests;
  for (int i = 0; i < 3; ++i) {
    requests.push_back(std::make_unique<Recorded>(prompt(4 + i, 20 + i), 4));
    scheduler.submit(requests.back()->request);
  }
  scheduler.shutdown(); // returns once the three are done
  loop.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(requests[i]->outcome.has_value());
    EXPECT_EQ(requests[i]->tokens, alone(prompt(4 + i, 20 + i), 4));
  }
}

} // namespace
