//===- ShardedModel.h - A small model sharded over N ranks (tests) --------===//
//
// A plan a multi-device compile could write, built by hand: vocab-parallel
// embedding and lm_head, routed experts partitioned over the ranks in both
// MoE forms (MoeExperts; MoeDispatch + GroupedGemm), an AllReduce after each
// partial sum and an AllGather of the logits. shardedModel(1) is the same
// model unsharded, whose collectives are the identity, ending with a
// vocab-parallel Sample over its one rank. Programs "p",
// "prefill" and "decode" hold the same steps (no attention).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_UNIT_SHARDEDMODEL_H
#define MOELA_TEST_UNIT_SHARDEDMODEL_H

#include "PlanTestUtil.h"

namespace moela::test {

using plan::RowKind;
using plan::StepParams;

constexpr int64_t kVocab = 24, kDim = 16, kExperts = 4, kTopK = 2, kInter = 8;

/// The model of the header for `world` ranks (1: nothing sharded).
inline PlanDesc shardedModel(int world) {
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
  if (world == 1) {
    // The vocab-parallel Sample (docs/parallel.md) over the one rank's row:
    // its candidate blocks, gathered (a copy), then the draw from them.
    const uint32_t sampling = p.add("sampling", abi::kSamplingWords,
                                    RowKind::PerLogitRow, 1, plan::DType::I32);
    const int C = int(kVocab);
    const uint32_t blocks =
        p.add("candidates", abi::sampleCandidateCols(C), RowKind::PerLogitRow);
    const uint32_t gathered = p.add(
        "candidates_all", abi::sampleCandidateCols(C), RowKind::PerLogitRow);
    const uint32_t ids = p.add("ids", abi::kSampleCols, RowKind::PerLogitRow, 1,
                               plan::DType::I32);
    const uint32_t lp =
        p.add("logprobs", abi::kSampleCols, RowKind::PerLogitRow);
    p.inputs.push_back(sampling);
    p.outputs.insert(p.outputs.end(), {ids, lp});
    step(StepParams::SampleCandidatesParams, none([C](auto &b) {
           return plan::CreateSampleCandidatesParams(b, C);
         }),
         {p.op(kLogits), p.op(sampling)}, {p.op(blocks)});
    step(StepParams::AllGatherParams,
         none([](auto &b) { return plan::CreateAllGatherParams(b); }),
         {p.op(blocks)}, {p.op(gathered)});
    step(StepParams::SampleParams,
         none([](auto &b) { return plan::CreateSampleParams(b, 1); }),
         {p.op(gathered), p.op(sampling)}, {p.op(ids), p.op(lp)});
  }
  d.programs.push_back(p);
  // The same steps as the engine's two programs (the model has no
  // attention: each token's logits depend on that token alone).
  for (const char *name : {"prefill", "decode"}) {
    d.programs.push_back(p);
    d.programs.back().name = name;
  }
  return d;
}

} // namespace moela::test

#endif // MOELA_TEST_UNIT_SHARDEDMODEL_H
