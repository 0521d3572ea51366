//===- ShardMlp.cpp - tensor-parallel dense MLPs --------------------------===//
//
// down(silu(gate(x)) * up(x)) per rank over F / ranks intermediate columns:
//   gate, up rows   [F, D] -> [F/N, D]
//   down columns    [D, F] -> [D, F/N], then all_reduce
// (docs/parallel.md).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Sharding.h"

namespace moela {
#define GEN_PASS_DEF_SHARDMLPPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct ShardMlpPass : public moela::impl::ShardMlpPassBase<ShardMlpPass> {
  using ShardMlpPassBase::ShardMlpPassBase;

  void runOnOperation() override {
    if (ranks <= 1)
      return;
    WalkResult result = getOperation().walk([&](nn::MlpOp op) {
      return failed(shard(op)) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (result.wasInterrupted() ||
        failed(recordLayout(getOperation(), ranks,
                            [&](kernel::Layout &l) { l.tp = ranks; })))
      signalPassFailure();
  }

  LogicalResult shard(nn::MlpOp mlp) {
    // One error at most: the first weight that cannot be cut.
    FailureOr<nn::WeightAttr> gate, up, down;
    if (failed(gate = shardWeight(mlp, mlp.getGate(), 0, ranks, target)) ||
        failed(up = shardWeight(mlp, mlp.getUp(), 0, ranks, target)) ||
        failed(down = shardWeight(mlp, mlp.getDown(), 1, ranks, target)))
      return failure();
    mlp.setGateAttr(*gate);
    mlp.setUpAttr(*up);
    mlp.setDownAttr(*down);
    insertAllReduce(mlp.getResult(), ranks);
    return success();
  }
};

} // namespace
