//===- MlaFuseKvAppend.cpp - latent norm and k_pe rope into the append ----===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_MLAFUSEKVAPPENDPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// kv_append(rms_norm(c), rope(k_pe)) -> kv_append(c, k_pe) {norm, rope}. The
/// norm and rope become dead when nothing else reads them.
struct FuseIntoKvAppend : public OpRewritePattern<kernel::KvAppendOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::KvAppendOp append,
                                PatternRewriter &rewriter) const override {
    if (append.getNormAttr() || append.getRopeAttr())
      return rewriter.notifyMatchFailure(append, "already fused");
    auto norm = append.getLatent().getDefiningOp<kernel::RmsNormOp>();
    auto rope = append.getKPe().getDefiningOp<kernel::RopeOp>();
    if (!norm || !rope || rope.getPositions() != append.getPositions() ||
        rope.getRope().getHeads() != 1 || rope.getRope().getOffset() != 0)
      return rewriter.notifyMatchFailure(append,
                                         "inputs are not norm and rope");
    rewriter.replaceOpWithNewOp<kernel::KvAppendOp>(
        append, norm.getInput(), rope.getInput(), append.getPositions(),
        append.getSeqIds(), append.getLayerAttr(), norm.getWeight(),
        norm.getEpsAttr(), rope.getRope());
    return success();
  }
};

struct MlaFuseKvAppendPass
    : GreedyPass<moela::impl::MlaFuseKvAppendPassBase<MlaFuseKvAppendPass>,
                 populateMlaFuseKvAppendPatterns> {};

} // namespace

void moela::populateMlaFuseKvAppendPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseIntoKvAppend>(patterns.getContext());
}
