//===- FuseSwiGlu.cpp - gate + up + SwiGLU into one GEMM ------------------===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

#include <cstdlib>
#include <string_view>

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

/// TEST HOOK, off by default: with MOELA_TEST_HOOK_SWIGLU_SWAP=1 the fused
/// GEMM gets [up; gate] instead of [gate; up], a wrong rewrite that
/// test/Tools/bisect-planted.test expects moela-bisect to pin on this pass.
/// Read once when the pattern is built, so it costs nothing per match.
bool swapGateAndUpForTest() {
  const char *hook = std::getenv("MOELA_TEST_HOOK_SWIGLU_SWAP");
  return hook && std::string_view(hook) == "1";
}

/// silu_mul(gemm(x, gate), gemm(x, up)) -> gemm(x, [gate; up]) silu_mul.
struct FuseGateUp : public OpRewritePattern<kernel::SiluMulOp> {
  explicit FuseGateUp(MLIRContext *context)
      : OpRewritePattern(context), swapForTest(swapGateAndUpForTest()) {}

  LogicalResult matchAndRewrite(kernel::SiluMulOp op,
                                PatternRewriter &rewriter) const override {
    kernel::GemmOp gate = plainGemm(op.getGate()), up = plainGemm(op.getUp());
    if (!gate || !up || gate.getInput() != up.getInput())
      return rewriter.notifyMatchFailure(op,
                                         "operands are not GEMMs of one input");
    kernel::GemmOp first = swapForTest ? up : gate;
    kernel::GemmOp second = swapForTest ? gate : up;
    SmallVector<Attribute> weights(first.getWeights().begin(),
                                   first.getWeights().end());
    weights.append(second.getWeights().begin(), second.getWeights().end());
    rewriter.replaceOpWithNewOp<kernel::GemmOp>(
        op, op.getType(), gate.getInput(), rewriter.getArrayAttr(weights),
        /*siluMul=*/true);
    rewriter.eraseOp(gate);
    rewriter.eraseOp(up);
    return success();
  }

private:
  bool swapForTest;
};

struct FuseSwiGluPass
    : GreedyPass<moela::impl::FuseSwiGluPassBase<FuseSwiGluPass>,
                 populateFuseSwiGluPatterns> {};

} // namespace

void moela::populateFuseSwiGluPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseGateUp>(patterns.getContext());
}
