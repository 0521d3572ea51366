//===- FuseSwiGlu.cpp - gate + up + SwiGLU into one GEMM ------------------===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_FUSESWIGLUPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// The GEMM that defines `v` when it has no epilogue and no other user.
kernel::GemmOp plainGemm(Value v) {
  auto gemm = v.getDefiningOp<kernel::GemmOp>();
  if (!gemm || !gemm->hasOneUse() || gemm.hasEpilogue())
    return {};
  return gemm;
}

/// silu_mul(gemm(x, gate), gemm(x, up)) -> gemm(x, [gate; up]) silu_mul.
struct FuseGateUp : public OpRewritePattern<kernel::SiluMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::SiluMulOp op,
                                PatternRewriter &rewriter) const override {
    kernel::GemmOp gate = plainGemm(op.getGate()), up = plainGemm(op.getUp());
    if (!gate || !up || gate.getInput() != up.getInput())
      return rewriter.notifyMatchFailure(op,
                                         "operands are not GEMMs of one input");
    SmallVector<Attribute> weights(gate.getWeights().begin(),
                                   gate.getWeights().end());
    weights.append(up.getWeights().begin(), up.getWeights().end());
    rewriter.replaceOpWithNewOp<kernel::GemmOp>(
        op, op.getType(), gate.getInput(), rewriter.getArrayAttr(weights),
        /*siluMul=*/true);
    rewriter.eraseOp(gate);
    rewriter.eraseOp(up);
    return success();
  }
};

struct FuseSwiGluPass
    : GreedyPass<moela::impl::FuseSwiGluPassBase<FuseSwiGluPass>,
                 populateFuseSwiGluPatterns> {};

} // namespace

void moela::populateFuseSwiGluPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseGateUp>(patterns.getContext());
}
