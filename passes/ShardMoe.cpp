//===- ShardMoe.cpp - expert or tensor parallelism for MoE layers ---------===//
//
// Per rank (docs/parallel.md):
//   --ep: experts E/N of E (expert_parts = N); slots routed elsewhere give 0
//   else: every expert's intermediate Fm/N (intermediate_parts = N)
//   shared expert: intermediate Fs/N, as a dense MLP
//   combine(...) is then a partial sum: all_reduce after it.
// Routing (gate, bias, top-k) runs whole on every rank, so every rank picks
// the same experts.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Sharding.h"

namespace moela {
#define GEN_PASS_DEF_SHARDMOEPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct ShardMoePass : public moela::impl::ShardMoePassBase<ShardMoePass> {
  using ShardMoePassBase::ShardMoePassBase;

  void runOnOperation() override {
    if (ranks <= 1)
      return;
    WalkResult result = getOperation().walk([&](moe::CombineOp op) {
      return failed(shard(op)) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (result.wasInterrupted() ||
        failed(recordLayout(getOperation(), ranks, [&](kernel::Layout &l) {
          l.ep = ep;
          l.tp = ranks;
        })))
      signalPassFailure();
  }

  LogicalResult shard(moe::CombineOp combine) {
    auto experts = combine.getExpertOutputs().getDefiningOp<moe::ExpertsOp>();
    if (!experts)
      return combine.emitError() << "expected moe.combine of moe.experts";
    if (failed(shardExperts(experts)))
      return failure();
    if (Value shared = combine.getShared()) {
      auto op = shared.getDefiningOp<moe::SharedExpertOp>();
      if (!op)
        return combine.emitError() << "expected a moe.shared_expert";
      if (failed(shardShared(op)))
        return failure();
    }
    insertAllReduce(combine.getResult(), ranks);
    return success();
  }

  LogicalResult shardExperts(moe::ExpertsOp op) {
    moe::ExpertWeightsAttr w = op.getWeights();
    int64_t count = w.getCount(), inter = w.getIntermediate();
    if (ep) {
      if (failed(checkDivisible(op, "n_routed_experts", count, ranks)))
        return failure();
      op.setWeightsAttr(moe::ExpertWeightsAttr::get(
          op.getContext(), w.getPrefix(), count, w.getHidden(), inter,
          w.getDtype(), ranks, 1));
      return success();
    }
    // Each expert's gate/up rows and down columns, checked as any weight.
    for (auto [proj, dim] : {std::pair<StringRef, int64_t>{"gate_proj", 0},
                             {"down_proj", 1}})
      if (failed(shardWeight(op, w.getWeight(-1, proj), dim, ranks, target)))
        return failure();
    op.setWeightsAttr(moe::ExpertWeightsAttr::get(
        op.getContext(), w.getPrefix(), count, w.getHidden(), inter / ranks,
        w.getDtype(), 1, ranks));
    return success();
  }

  LogicalResult shardShared(moe::SharedExpertOp op) {
    FailureOr<nn::WeightAttr> gate, up, down;
    if (failed(gate = shardWeight(op, op.getGate(), 0, ranks, target)) ||
        failed(up = shardWeight(op, op.getUp(), 0, ranks, target)) ||
        failed(down = shardWeight(op, op.getDown(), 1, ranks, target)))
      return failure();
    op.setGateAttr(*gate);
    op.setUpAttr(*up);
    op.setDownAttr(*down);
    return success();
  }
};

} // namespace
