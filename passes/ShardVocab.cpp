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
      if (!isa<nn::EmbeddingOp, nn::LmHeadOp>(op))
        return WalkResult::advance();
      return failed(shard(op)) ? WalkResult::interrupt()
                               : WalkResult::advance();
    });
    if (result.wasInterrupted() ||
        failed(recordLayout(module, ranks,
                            [](kernel::Layout &l) { l.vocabParallel = true; })))
      signalPassFailure();
  }

  /// Cuts the vocab rows of an embedding table or an lm_head weight.
  LogicalResult shard(Operation *op) {
    auto embedding = dyn_cast<nn::EmbeddingOp>(op);
    auto head = dyn_cast<nn::LmHeadOp>(op);
    FailureOr<nn::WeightAttr> rows =
        shardWeight(op, embedding ? embedding.getTable() : head.getWeight(), 0,
                    ranks, target);
    if (failed(rows))
      return failure();
    if (embedding) {
      embedding.setTableAttr(*rows);
      insertAllReduce(embedding.getResult(), ranks);
      return success();
    }
    head.setWeightAttr(*rows);
    return gatherLogits(head, rows->getDim(0));
  }

  /// The rank's logits [R, Vr] side by side again: [R, V].
  LogicalResult gatherLogits(nn::LmHeadOp op, int64_t rows) {
    auto whole = cast<RankedTensorType>(op.getType());
    Value part = op.getResult();
    part.setType(whole.clone({whole.getDimSize(0), rows}));
    OpBuilder b(op);
    b.setInsertionPointAfter(op);
    auto gather = b.create<nn::AllGatherOp>(op.getLoc(), whole, part,
                                            b.getI64IntegerAttr(ranks));
    part.replaceAllUsesExcept(gather, gather);
    return success();
  }
};

} // namespace
