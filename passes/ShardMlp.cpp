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
    if (ranks > 1 &&
        failed(shardEach<nn::MlpOp>(
            getOperation(), ranks, [&](nn::MlpOp op) { return shard(op); },
            [&](kernel::Layout &l) { l.tp = ranks; })))
      signalPassFailure();
  }

  LogicalResult shard(nn::MlpOp mlp) {
    if (failed(shardMlpWeights(mlp, ranks, target)))
      return failure();
    insertAllReduce(mlp.getResult(), ranks);
    return success();
  }
};

} // namespace
