//===- FuseRope.cpp - RoPE into the epilogue of the GEMM producing q ------===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_FUSEROPEPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// rope(gemm(x)) -> gemm(x) with a rope epilogue, when the GEMM has no other
/// user and no epilogue yet.
struct FuseRopeIntoGemm : public OpRewritePattern<kernel::RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::RopeOp rope,
                                PatternRewriter &rewriter) const override {
    auto gemm = rope.getInput().getDefiningOp<kernel::GemmOp>();
    if (!gemm || !gemm->hasOneUse() || gemm.hasEpilogue())
      return rewriter.notifyMatchFailure(rope, "input is not a plain GEMM");
    rewriter.replaceOpWithNewOp<kernel::GemmOp>(rope, gemm, rope.getPositions(),
                                                rope.getRope());
    rewriter.eraseOp(gemm);
    return success();
  }
};

struct FuseRopePass : GreedyPass<moela::impl::FuseRopePassBase<FuseRopePass>,
                                 populateFuseRopePatterns> {};

} // namespace

void moela::populateFuseRopePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseRopeIntoGemm>(patterns.getContext());
}
