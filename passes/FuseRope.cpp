//===- FuseRope.cpp - RoPE into the epilogue of the GEMM producing q ------===//
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

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

struct FuseRopePass : public moela::impl::FuseRopePassBase<FuseRopePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseRopeIntoGemm>(&getContext());
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
