//===- ShardVocab.cpp - vocab-parallel embedding and lm_head --------------===//
//
// Per rank, with Vr = V / N vocab rows (docs/parallel.md):
//   embedding table [V, D] -> [Vr, D]: tokens outside the rank's rows give
//     zero rows, then all_reduce
//   lm_head weight  [V, D] -> [Vr, D]: logits [R, Vr], then all_gather
//     puts the ranks' columns side by side, [R, V]
// A vocabulary that does not divide stays whole.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Sharding.h"

namespace moela {
#define GEN_PASS_DEF_SHARDVOCABPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct ShardVocabPass : public moela::impl::ShardVocabPassBase<ShardVocabPass> {
  using ShardVocabPassBase::ShardVocabPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool splits = ranks > 1;
    module.walk([&](Operation *op) {
      if (auto e = dyn_cast<nn::EmbeddingOp>(op))
        splits &= e.getTable().getDim(0) % ranks == 0;
      if (auto h = dyn_cast<nn::LmHeadOp>(op))
        splits &= h.getWeight().getDim(0) % ranks == 0;
    });
    if (!splits)
      return;
    WalkResult result = module.walk([&](Operation *op) {
      LogicalResult done = success();
      if (auto e = dyn_cast<nn::EmbeddingOp>(op))
        done = shardEmbedding(e);
      else if (auto h = dyn_cast<nn::LmHeadOp>(op))
        done = shardHead(h);
      return failed(done) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (result.wasInterrupted() ||
        failed(recordLayout(module, ranks,
                            [](kernel::Layout &l) { l.vocabParallel = true; })))
      signalPassFailure();
  }

  LogicalResult shardEmbedding(nn::EmbeddingOp op) {
    FailureOr<nn::WeightAttr> table =
        shardWeight(op, op.getTable(), 0, ranks, target);
    if (failed(table))
      return failure();
    op.setTableAttr(*table);
    insertAllReduce(op.getResult(), ranks);
    return success();
  }

  LogicalResult shardHead(nn::LmHeadOp op) {
    FailureOr<nn::WeightAttr> weight =
        shardWeight(op, op.getWeight(), 0, ranks, target);
    if (failed(weight))
      return failure();
    op.setWeightAttr(*weight);
    auto whole = cast<RankedTensorType>(op.getType());
    Value part = op.getResult();
    part.setType(whole.clone({whole.getDimSize(0), weight->getDim(0)}));
    OpBuilder b(op);
    b.setInsertionPointAfter(op);
    auto gather = b.create<nn::AllGatherOp>(op.getLoc(), whole, part,
                                            b.getI64IntegerAttr(ranks));
    part.replaceAllUsesExcept(gather, gather);
    return success();
  }
};

} // namespace
