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
#include "PlanTestUtil.h"
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

using plan::RowKind;
using plan::StepParams;

constexpr int64_t kVocab = 24, kDim = 16, kExperts = 4, kTopK = 2, kInter = 8;

/// The model of the header for `world` ranks (1: nothing sharded).
PlanDesc shardedModel(int world) {
  PlanDesc d;
  d.config = testConfig(1);
  d.config.vocabSize = kVocab;
  d.worldSize = world;
  const int parts = world > 1 ? world : 1;
  const int shardDim = world > 1 ? 0 : -1;
  auto tensor = [&](std::string name, std::vector<int64_t> shape, int dim) {
    TensorDesc t{std::move(name), std::move(shape)};
    if (dim >= 0 && world > 1) {
      t.shape[size_t(dim)] /= world;
      t.shardDim = dim;
      t.shardParts = world;
    }
    return t;
  };
  const uint32_t embed = d.addWeight(
      {tensor("model.embed_tokens.weight", {kVocab, kDim}, shardDim)});
  const uint32_t gate =
      d.addWeight({tensor("model.gate.weight", {kExperts, kDim}, -1)});
  auto expertSet = [&](std::vector<TensorDesc> ts) {
    const uint32_t w = d.addWeight(std::move(ts), int(kExperts / parts));
    d.weights[w].expertParts = parts;
    return w;
  };
  const uint32_t gateUp =
      expertSet({tensor("l0.experts.{e}.gate_proj.weight", {kInter, kDim}, -1),
                 tensor("l0.experts.{e}.up_proj.weight", {kInter, kDim}, -1)});
  const uint32_t down = expertSet(
      {tensor("l0.experts.{e}.down_proj.weight", {kDim, kInter}, -1)});
  const uint32_t gateUp1 =
      expertSet({tensor("l1.experts.{e}.gate_proj.weight", {kInter, kDim}, -1),
                 tensor("l1.experts.{e}.up_proj.weight", {kInter, kDim}, -1)});
  const uint32_t down1 = expertSet(
      {tensor("l1.experts.{e}.down_proj.weight", {kDim, kInter}, -1)});
  const uint32_t head =
      d.addWeight({tensor("lm_head.weight", {kVocab, kDim}, shardDim)});

  ProgramDesc p = ProgramDesc::standard("p", 8, 8, kVocab);
  const uint32_t h = p.add("h", kDim), gl = p.add("gate_logits", kExperts);
  const uint32_t idx =
      p.add("idx", kTopK, RowKind::PerToken, 1, plan::DType::I32);
  const uint32_t rw = p.add("route_w", kTopK);
  const uint32_t y = p.add("y", kDim, RowKind::PerToken, kTopK);
  const uint32_t o = p.add("o", kDim);
  const uint32_t xs = p.add("x_sorted", kDim, RowKind::PerToken, kTopK);
  const uint32_t off =
      p.add("offsets", 1, RowKind::Fixed, kExperts + 1, plan::DType::I32);
  const uint32_t perm =
      p.add("perm", 1, RowKind::PerToken, kTopK, plan::DType::I32);
  const uint32_t hid = p.add("hidden", kInter, RowKind::PerToken, kTopK);
  const uint32_t y1 = p.add("y1", kDim, RowKind::PerToken, kTopK);
  const uint32_t o1 = p.add("o1", kDim);
  const uint32_t part = p.add("logits_part", kVocab / parts);
  const uint32_t full = p.add("logits_full", kVocab);
  auto step = [&](StepParams type, ParamsFn params,
                  std::vector<plan::Operand> in, std::vector<plan::Operand> out,
                  std::vector<uint32_t> w = {}) {
    p.steps.push_back({plan::EnumNameStepParams(type), type, std::move(params),
                       std::move(in), std::move(out), std::move(w)});
  };
  auto none = [](auto create) {
    return [create](flatbuffers::FlatBufferBuilder &b) {
      return create(b).Union();
    };
  };
  step(StepParams::EmbeddingParams,
       none([](auto &b) { return plan::CreateEmbeddingParams(b); }),
       {p.op(kTokens)}, {p.op(h)}, {embed});
  step(StepParams::AllReduceParams,
       none([](auto &b) { return plan::CreateAllReduceParams(b); }), {p.op(h)},
       {p.op(h)});
  step(StepParams::GemmParams,
       none([](auto &b) { return plan::CreateGemmParams(b); }), {p.op(h)},
       {p.op(gl)}, {gate});
  step(StepParams::RouteParams, none([](auto &b) {
         return plan::CreateRouteParams(b, plan::ScoringFunc::Softmax,
                                        plan::TopkMethod::Greedy, kExperts,
                                        kTopK, 1, 1, true, 1.0f);
       }),
       {p.op(gl)}, {p.op(idx), p.op(rw)});
  // Layer 0: MoeExperts, partial sums over the ranks' experts.
  step(StepParams::MoeExpertsParams, none([](auto &b) {
         return plan::CreateMoeExpertsParams(b, kExperts, kTopK, kInter);
       }),
       {p.op(h), p.op(idx)}, {p.op(y)}, {gateUp, down});
  step(StepParams::MoeCombineParams,
       none([](auto &b) { return plan::CreateMoeCombineParams(b, kTopK); }),
       {p.op(y), p.op(rw)}, {p.op(o)});
  step(StepParams::AllReduceParams,
       none([](auto &b) { return plan::CreateAllReduceParams(b); }), {p.op(o)},
       {p.op(o)});
  // Layer 1: dispatch + grouped GEMMs, same routing.
  step(StepParams::MoeDispatchParams, none([](auto &b) {
         return plan::CreateMoeDispatchParams(b, kExperts, kTopK);
       }),
       {p.op(o), p.op(idx)}, {p.op(xs), p.op(off), p.op(perm)});
  step(StepParams::GroupedGemmParams, none([](auto &b) {
         return plan::CreateGroupedGemmParams(b, kExperts, true);
       }),
       {p.op(xs), p.op(off)}, {p.op(hid)}, {gateUp1});
  step(StepParams::GroupedGemmParams, none([](auto &b) {
         return plan::CreateGroupedGemmParams(b, kExperts, false);
       }),
       {p.op(hid), p.op(off)}, {p.op(y1)}, {down1});
  step(StepParams::MoeCombineParams, none([](auto &b) {
         return plan::CreateMoeCombineParams(b, kTopK, true);
       }),
       {p.op(y1), p.op(rw), p.op(perm)}, {p.op(o1)});
  step(StepParams::AllReduceParams,
       none([](auto &b) { return plan::CreateAllReduceParams(b); }), {p.op(o1)},
       {p.op(o1)});
  // Vocab-parallel head: each rank's rows of the logits, gathered.
  step(StepParams::GemmParams,
       none([](auto &b) { return plan::CreateGemmParams(b); }), {p.op(o1)},
       {p.op(part)}, {head});
  step(StepParams::AllGatherParams,
       none([](auto &b) { return plan::CreateAllGatherParams(b); }),
       {p.op(part)}, {p.op(full)});
  step(StepParams::GatherRowsParams,
       none([](auto &b) { return plan::CreateGatherRowsParams(b); }),
       {p.op(full), p.op(kLogitRows)}, {p.op(kLogits)});
  d.programs.push_back(p);
  // The same steps as the engine's two programs (the model has no
  // attention: each token's logits depend on that token alone).
  for (const char *name : {"prefill", "decode"}) {
    d.programs.push_back(p);
    d.programs.back().name = name;
  }
  return d;
}

StepInputs inputs() {
  StepInputs in;
  in.tokens = {3, 17, 0, 23, 11, 12};
  in.positions = {0, 1, 2, 3, 4, 5};
  in.seqIds = {0, 0, 0, 0, 0, 0};
  in.logitRows = {0, 2, 5};
  return in;
}

/// Each rank's logits of the model on `world` ranks.
std::vector<std::vector<float>> runOn(int world) {
  const std::vector<uint8_t> bytes = shardedModel(world).build();
  std::vector<std::vector<float>> logits(static_cast<size_t>(world));
  runRanks(world, [&](Communicator &comm) {
    Plan plan = Plan::fromBytes(bytes, "sharded.plan");
    std::unique_ptr<WeightSource> weights = makeRandomWeights(21);
    std::unique_ptr<Backend> backend = makeHostBackend(comm);
    backend->prepare(plan, *weights, 1, 8);
    logits[size_t(comm.rank())] = backend->run("p", inputs()).logits;
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
  backend->prepare(plan, *weights, 1, 8);
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
  const std::vector<uint8_t> bytes = shardedModel(world).build();
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(world));
  runRanks(world, [&](Communicator &comm) {
    Plan plan = Plan::fromBytes(bytes, "sharded.plan");
    std::unique_ptr<WeightSource> weights = makeRandomWeights(21);
    std::unique_ptr<Backend> backend = makeHostBackend(comm);
    Engine engine(plan, *backend, *weights, 1, 64);
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
    backend->prepare(plan, *weights, 1, 8);
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
                          backend->prepare(plan, *weights, 1, 8);
                          StepInputs in = inputs();
                          in.tokens[1] = int32_t(kVocab); // both ranks fail
                          backend->run("p", in);
                        }),
               Error);
}

} // namespace
} // namespace moela::test
