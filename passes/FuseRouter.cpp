//===- FuseRouter.cpp - The router GEMM into expert selection -------------===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_FUSEROUTERPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// route(gemm(x, gate)) -> route(x) with the gate weight.
struct FuseGateIntoRoute : public OpRewritePattern<kernel::RouteOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::RouteOp route,
                                PatternRewriter &rewriter) const override {
    auto gemm = route.getInput().getDefiningOp<kernel::GemmOp>();
    if (route.getGateAttr() || !gemm || !gemm->hasOneUse() ||
        gemm.getWeights().size() != 1 || gemm.hasEpilogue())
      return rewriter.notifyMatchFailure(route, "no plain gate GEMM to fuse");
    auto gate = cast<nn::WeightAttr>(gemm.getWeights()[0]);
    rewriter.replaceOpWithNewOp<kernel::RouteOp>(
        route, route.getResultTypes(), gemm.getInput(), route.getRouting(),
        gate, route.getBiasAttr());
    rewriter.eraseOp(gemm);
    return success();
  }
};

struct FuseRouterPass : public moela::impl::FuseRouterPassBase<FuseRouterPass> {
  using FuseRouterPassBase::FuseRouterPassBase;

  void runOnOperation() override {
    if (!functions.empty() &&
        !llvm::is_contained(functions, getOperation().getSymName())) {
      // Not fused here: the gate GEMM computes the logits from f32 inputs
      // to ~16 bits instead (docs/model.md §3.2).
      getOperation().walk([](kernel::RouteOp route) {
        if (auto gemm = route.getInput().getDefiningOp<kernel::GemmOp>())
          gemm.setPrecise(true);
      });
      return;
    }
    if (failed(applyGreedily(getOperation(), populateFuseRouterPatterns)))
      signalPassFailure();
  }
};

} // namespace

void moela::populateFuseRouterPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseGateIntoRoute>(patterns.getContext());
}
