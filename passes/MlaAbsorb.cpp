//===- MlaAbsorb.cpp - absorbed MLA as W_UK, latent attention, W_UV -------===//
//
// score = q_nope . (Wuk c) = (Wuk^T q_nope) . c, and Wuv (sum_j P_j c_j) is
// the value: folding kv_b_proj into the query and the output lets decode
// attend over the latent cache [S, R + Dr] directly (docs/model.md §3.1).
//
//===----------------------------------------------------------------------===//
#include "passes/GreedyPass.h"
#include "passes/Passes.h"

namespace moela {
#define GEN_PASS_DEF_MLAABSORBPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct AbsorbAttention : public OpRewritePattern<kernel::MlaAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(kernel::MlaAttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getForm() != mla::AttentionForm::absorbed)
      return rewriter.notifyMatchFailure(op, "expanded attention stays whole");
    Location loc = op.getLoc();
    const int64_t h = op.getHeads(), dn = op.getNopeDim(), dr = op.getRopeDim();
    const int64_t dv = op.getVDim(), r = op.getLatentDim();
    auto i64 = [&](int64_t v) { return rewriter.getI64IntegerAttr(v); };
    auto rows = [&](int64_t cols) {
      return RankedTensorType::get({ShapedType::kDynamic, cols},
                                   rewriter.getF32Type());
    };
    // q_lat[t,h] = Wuk[h]^T q_nope[t,h]: [T, H*R]. Wuk[h] = rows
    // [h*(Dn+Dv), +Dn) of kv_b.
    Value qLat = rewriter.create<kernel::HeadGemmOp>(
        loc, rows(h * r), op.getQuery(), op.getKvB(), h, /*headRows=*/dn + dv,
        /*rowOffset=*/0, /*rows=*/dn, /*transpose=*/true, /*inOffset=*/0,
        /*inStride=*/dn + dr);
    // o_lat[t,h] = sum_j P_j c_j over the latent cache: [T, H*R].
    Value oLat = rewriter.create<kernel::MlaLatentAttentionOp>(
        loc, rows(h * r), qLat, op.getQuery(), op.getPositions(),
        op.getSeqIds(), op.getLayerAttr(), i64(h), i64(r), i64(dr), i64(dn),
        i64(dn + dr), op.getScaleAttr(), kernel::TileAttr());
    // out[t,h] = Wuv[h] o_lat[t,h]: [T, H*Dv]. Wuv[h] = rows [h*(Dn+Dv)+Dn,
    // +Dv).
    rewriter.replaceOpWithNewOp<kernel::HeadGemmOp>(
        op, op.getType(), oLat, op.getKvB(), h, /*headRows=*/dn + dv,
        /*rowOffset=*/dn, /*rows=*/dv, /*transpose=*/false, /*inOffset=*/0,
        /*inStride=*/r);
    return success();
  }
};

struct MlaAbsorbPass : GreedyPass<moela::impl::MlaAbsorbPassBase<MlaAbsorbPass>,
                                  populateMlaAbsorbPatterns> {};

} // namespace

void moela::populateMlaAbsorbPatterns(RewritePatternSet &patterns) {
  patterns.add<AbsorbAttention>(patterns.getContext());
}
