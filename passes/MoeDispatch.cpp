//===- MoeDispatch.cpp - experts as dispatch, grouped GEMMs, combine ------===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_MOEDISPATCHPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// moe_combine(moe_experts(x, idx), w, shared) ->
///   xs, offsets, perm = moe_dispatch(x, idx)
///   a  = grouped_gemm(xs, offsets, gate_up) silu_mul      [K*T, Fm]
///   ys = grouped_gemm(a, offsets, down)                    [K*T, D]
///   moe_combine(ys, w, perm, shared)
struct DispatchExperts : public OpRewritePattern<kernel::MoeCombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::MoeCombineOp combine,
                                PatternRewriter &rewriter) const override {
    auto experts =
        combine.getExpertOutputs().getDefiningOp<kernel::MoeExpertsOp>();
    if (combine.getPerm() || !experts || !experts->hasOneUse())
      return rewriter.notifyMatchFailure(combine, "not fed by moe_experts");
    Location loc = experts.getLoc();
    moe::ExpertWeightsAttr weights = experts.getWeights();
    int64_t e = weights.getCount();
    auto i32 = rewriter.getI32Type();
    auto rows = [&](int64_t cols) {
      return RankedTensorType::get({ShapedType::kDynamic, cols},
                                   rewriter.getF32Type());
    };
    Value x = experts.getInput();
    auto dispatch = rewriter.create<kernel::MoeDispatchOp>(
        loc, x.getType(), RankedTensorType::get({e + 1}, i32),
        RankedTensorType::get({ShapedType::kDynamic}, i32), x,
        experts.getIndices(), rewriter.getI64IntegerAttr(e));
    Value act = rewriter.create<kernel::GroupedGemmOp>(
        loc, rows(weights.getIntermediate()), dispatch.getSorted(),
        dispatch.getOffsets(), weights, kernel::ExpertProj::gate_up,
        /*siluMul=*/true);
    Value ys = rewriter.create<kernel::GroupedGemmOp>(
        loc, rows(weights.getHidden()), act, dispatch.getOffsets(), weights,
        kernel::ExpertProj::down, /*siluMul=*/false);
    rewriter.replaceOpWithNewOp<kernel::MoeCombineOp>(
        combine, combine.getType(), ys, combine.getWeights(),
        dispatch.getPerm(), combine.getShared(), combine.getResidual());
    rewriter.eraseOp(experts);
    return success();
  }
};

struct MoeDispatchPass
    : GreedyPass<moela::impl::MoeDispatchPassBase<MoeDispatchPass>,
                 populateMoeDispatchPatterns> {};

} // namespace

void moela::populateMoeDispatchPatterns(RewritePatternSet &patterns) {
  patterns.add<DispatchExperts>(patterns.getContext());
}
