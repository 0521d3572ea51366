//===- ShardAttention.cpp - tensor-parallel MLA by heads ------------------===//
//
// q_proj -> rope -> attention -> o_proj, per rank over H / ranks heads:
//   q_b (or q) rows      [H*(Dn+Dr), Rq] -> [H/N*(Dn+Dr), Rq]
//   kv_b rows            [H*(Dn+Dv), R]  -> [H/N*(Dn+Dv), R]
//   o_proj columns       [D, H*Dv]       -> [D, H/N*Dv], then all_reduce
// (docs/parallel.md). q_a, kv_a, their norms and the latent cache stay whole.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Sharding.h"

namespace moela {
#define GEN_PASS_DEF_SHARDATTENTIONPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// [T, H, X] with H / ranks heads.
RankedTensorType fewerHeads(Type type, int64_t ranks) {
  auto t = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(t.getShape());
  shape[1] /= ranks;
  return t.clone(shape);
}

/// [T, C] with C / ranks columns.
RankedTensorType fewerCols(Type type, int64_t ranks) {
  auto t = cast<RankedTensorType>(type);
  return t.clone({t.getDimSize(0), t.getDimSize(1) / ranks});
}

struct ShardAttentionPass
    : public moela::impl::ShardAttentionPassBase<ShardAttentionPass> {
  using ShardAttentionPassBase::ShardAttentionPassBase;

  void runOnOperation() override {
    if (ranks <= 1)
      return;
    WalkResult result = getOperation().walk([&](mla::AttentionOp op) {
      return failed(shard(op)) ? WalkResult::interrupt() : WalkResult::advance();
    });
    if (result.wasInterrupted() ||
        failed(recordLayout(getOperation(), ranks,
                            [&](kernel::Layout &l) { l.tp = ranks; })))
      signalPassFailure();
  }

  LogicalResult shard(mla::AttentionOp attention) {
    if (failed(checkDivisible(attention, "num_attention_heads",
                              attention.getHeads(), ranks)))
      return failure();
    // The importer's chain: q_proj -> rope -> attention -> o_proj.
    auto rope = attention.getQuery().getDefiningOp<mla::RopeOp>();
    auto qProj = rope ? rope.getInput().getDefiningOp<mla::QProjOp>() : nullptr;
    nn::LinearOp oProj;
    if (attention->hasOneUse())
      oProj = dyn_cast<nn::LinearOp>(*attention->user_begin());
    if (!qProj || !rope->hasOneUse() || !qProj->hasOneUse() || !oProj)
      return attention.emitError()
             << "tensor parallelism expects q_proj -> rope -> attention -> "
                "o_proj (a linear), each used once";

    auto cut = [&](Operation *op, nn::WeightAttr w, int64_t dim) {
      return shardWeight(op, w, dim, ranks, target);
    };
    FailureOr<nn::WeightAttr> q, kvB, o;
    if (failed(q = cut(qProj, qProj.hasLora() ? *qProj.getQB() : *qProj.getQ(),
                       0)) ||
        failed(kvB = cut(attention, attention.getKvB(), 0)) ||
        failed(o = cut(oProj, oProj.getWeight(), 1)))
      return failure();

    if (qProj.hasLora())
      qProj.setQBAttr(*q);
    else
      qProj.setQAttr(*q);
    qProj.getResult().setType(fewerHeads(qProj.getType(), ranks));
    rope.getResult().setType(qProj.getType());
    attention.setKvBAttr(*kvB);
    attention.getResult().setType(fewerCols(attention.getType(), ranks));
    oProj.setWeightAttr(*o);
    insertAllReduce(oProj.getResult(), ranks);
    return success();
  }
};

} // namespace
