//===- HostCollectivesTest.cpp - The host backend on N ranks --------------===//
//
// A small sharded model (vocab-parallel embedding and lm_head, routed experts
// partitioned over the ranks in both MoE forms, AllReduce after each partial
// sum, AllGather of the logits) runs on the host backend as N ranks in N
// threads (ThreadCommunicator.h) with random weights, and must give the
// logits of the same model as a world_size 1 plan: every rank the same bits,
// and within float rounding of the single rank (the partial sums add in
// another order). The world_size 1 plan itself runs AllReduce and AllGather
// as the identity.
//
//===----------------------------------------------------------------------===//
#include "ShardedModel.h"
#include "ThreadCommunicator.h"

#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace moela::test {
namespace {

StepInputs inputs() {
  StepInputs in;
  in.tokens = {3, 17, 0, 23, 11, 12};
  in.positions = {0, 1, 2, 3, 4, 5};
  in.seqIds = {0, 0, 0, 0, 0, 0};
  in.logitRows = {0, 2, 5};
  in.blockTables = {0};
  return in;
}

/// Calls body(comm, plan, weights, backend) on each rank of the sharded model
/// on `world` ranks (threads), with a host backend of its own.
template <typename Body> void onRanks(int world, Body body) {
  const std::vector<uint8_t> bytes = shardedModel(world).build();
  runRanks(world, [&](Communicator &comm) {
    Plan plan = Plan::fromBytes(bytes, "sharded.plan");
    std::unique_ptr<WeightSource> weights = makeRandomWeights(21);
    std::unique_ptr<Backend> backend = makeHostBackend(comm);
    body(comm, plan, *weights, *backend);
  });
}

/// Each rank's logits of the model on `world` ranks.
std::vector<std::vector<float>> runOn(int world) {
  std::vector<std::vector<float>> logits(static_cast<size_t>(world));
  onRanks(world, [&](Communicator &comm, const Plan &plan,
                     WeightSource &weights, Backend &backend) {
    backend.prepare(plan, weights, KvCacheShape::contiguous(1, 8));
    logits[size_t(comm.rank())] = backend.run("p", inputs()).logits;
  });
  return logits;
}

TEST(HostCollectives, WorldOfOneIsTheIdentity) {
  // The single-process communicator of makeHostBackend() and a thread world
  // of one give the same logits.
  const std::vector<uint8_t> bytes = shardedModel(1).build();
  Plan plan = Plan::fromBytes(bytes, "one.plan");
  std::unique_ptr<WeightSource> weights = makeRandomWeights(21);
  std::unique_ptr<Backend> backend = makeHostBackend();
  backend->prepare(plan, *weights, KvCacheShape::contiguous(1, 8));
  const std::vector<float> logits = backend->run("p", inputs()).logits;
  ASSERT_EQ(logits.size(), size_t(3 * kVocab));
  EXPECT_EQ(runOn(1)[0], logits);
  float norm = 0;
  for (float v : logits)
    norm += v * v;
  EXPECT_GT(norm, 0.0f) << "the logits are all zero: nothing was computed";
}

TEST(HostCollectives, ShardedRanksMatchOneRank) {
  const std::vector<float> one = runOn(1)[0];
  for (int world : {2, 4}) {
    SCOPED_TRACE("world " + std::to_string(world));
    const std::vector<std::vector<float>> ranks = runOn(world);
    for (int r = 0; r < world; ++r) {
      ASSERT_EQ(ranks[size_t(r)].size(), one.size());
      EXPECT_EQ(std::memcmp(ranks[size_t(r)].data(), ranks[0].data(),
                            one.size() * sizeof(float)),
                0)
          << "rank " << r << " differs from rank 0";
      for (size_t i = 0; i < one.size(); ++i)
        ASSERT_NEAR(ranks[size_t(r)][i], one[i],
                    1e-5f * (1.0f + std::fabs(one[i])))
            << "rank " << r << " logit " << i;
    }
  }
}

/// The tokens each rank generates with temperature sampling, every rank with
/// its own sampling seed (seed + rank): rank 0's choices must win.
std::vector<std::vector<int32_t>> sampleOn(int world, uint64_t seed) {
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(world));
  onRanks(world, [&](Communicator &comm, const Plan &plan,
                     WeightSource &weights, Backend &backend) {
    Engine engine(plan, backend, weights, 1, 64);
    GenerationOptions options;
    options.maxNewTokens = 12;
    options.ignoreEos = true;
    options.sampling.temperature = 1.5f;
    options.sampling.seed = seed + uint64_t(comm.rank());
    options.comm = &comm;
    ids[size_t(comm.rank())] = generate(engine, {{3, 17, 5}}, options).ids[0];
  });
  return ids;
}

TEST(HostCollectives, EveryRankFeedsRankZerosSamples) {
  const std::vector<int32_t> one = sampleOn(1, 40)[0];
  ASSERT_EQ(one.size(), 12u);
  for (int world : {2, 4}) {
    const std::vector<std::vector<int32_t>> ranks = sampleOn(world, 40);
    for (int r = 0; r < world; ++r)
      EXPECT_EQ(ranks[size_t(r)], one) << "rank " << r << " of " << world;
  }
}

TEST(HostCollectives, PlanForAnotherWorldSizeIsRefused) {
  const std::vector<uint8_t> bytes = shardedModel(2).build();
  Plan plan = Plan::fromBytes(bytes, "two.plan");
  std::unique_ptr<WeightSource> weights = makeRandomWeights(21);
  std::unique_ptr<Backend> backend = makeHostBackend();
  try {
    backend->prepare(plan, *weights, KvCacheShape::contiguous(1, 8));
    FAIL() << "a 2-rank plan was prepared on a world of one";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("compiled for 2 ranks"),
              std::string::npos)
        << e.what();
  }
}

TEST(HostCollectives, ShardedEmbeddingKeepsTheWholeVocabularyRange) {
  const std::vector<uint8_t> bytes = shardedModel(2).build();
  EXPECT_THROW(runRanks(2,
                        [&](Communicator &comm) {
                          Plan plan = Plan::fromBytes(bytes, "two.plan");
                          std::unique_ptr<WeightSource> weights =
                              makeRandomWeights(21);
                          std::unique_ptr<Backend> backend =
                              makeHostBackend(comm);
                          backend->prepare(plan, *weights,
                                           KvCacheShape::contiguous(1, 8));
                          StepInputs in = inputs();
                          in.tokens[1] = int32_t(kVocab); // both ranks fail
                          backend->run("p", in);
                        }),
               Error);
}

} // namespace
} // namespace moela::test
