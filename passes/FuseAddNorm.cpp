//===- FuseAddNorm.cpp - residual add + RMSNorm (+ FP8 quant) in one pass -===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_FUSEADDNORMPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// rms_norm(add(a, b)) -> add_rms_norm(a, b): the sum replaces the add for
/// its other users (the next residual connection).
struct FuseAddIntoNorm : public OpRewritePattern<kernel::RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::RmsNormOp norm,
                                PatternRewriter &rewriter) const override {
    auto add = norm.getInput().getDefiningOp<kernel::AddOp>();
    if (!add)
      return rewriter.notifyMatchFailure(norm, "input is not a residual add");
    // At the add, where both summands are available to every user of the sum.
    rewriter.setInsertionPoint(add);
    auto fused = rewriter.create<kernel::AddRmsNormOp>(
        rewriter.getFusedLoc({add.getLoc(), norm.getLoc()}), add.getLhs(),
        add.getRhs(), norm.getWeight(), norm.getEpsAttr(),
        norm.getQuantizeAttr());
    rewriter.replaceOp(norm, fused.getResult());
    rewriter.replaceOp(add, fused.getSum());
    return success();
  }
};

/// True when every use of `v` is the input (A operand) of a GEMM over FP8
/// weights; a residual operand stays at full precision.
bool feedsOnlyFp8Gemms(Value v) {
  return !v.use_empty() && llvm::all_of(v.getUses(), [](OpOperand &use) {
    auto gemm = dyn_cast<kernel::GemmOp>(use.getOwner());
    return gemm && &use == &gemm.getInputMutable() &&
           llvm::all_of(gemm.getWeights(), [](Attribute w) {
             return cast<nn::WeightAttr>(w).getDtype().isFloat8E4M3FN();
           });
  });
}

struct FuseAddNormPass
    : public moela::impl::FuseAddNormPassBase<FuseAddNormPass> {
  using FuseAddNormPassBase::FuseAddNormPassBase;

  void runOnOperation() override {
    if (failed(applyGreedily(getOperation(), populateFuseAddNormPatterns)))
      return signalPassFailure();
    if (!quantize)
      return;
    UnitAttr unit = UnitAttr::get(&getContext());
    getOperation().walk([&](Operation *op) {
      if (auto norm = dyn_cast<kernel::RmsNormOp>(op);
          norm && feedsOnlyFp8Gemms(norm.getResult()))
        norm.setQuantizeAttr(unit);
      if (auto norm = dyn_cast<kernel::AddRmsNormOp>(op);
          norm && feedsOnlyFp8Gemms(norm.getResult()))
        norm.setQuantizeAttr(unit);
    });
  }
};

} // namespace

void moela::populateFuseAddNormPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAddIntoNorm>(patterns.getContext());
}
