//===- MlaExpandPrefill.cpp - Expanded MLA over a prefill's own tokens ---===//
//
// When every sequence of a prefill step starts in that step, all keys its
// queries see are the step's own tokens: the expanded form needs no cache
// reads beyond the rows the step just appended, and becomes one GEMM
// (kv = c kv_b^T, [T, H*(Dn+Dv)]) and causal attention over the step's rows,
// which tensor cores do well (a flash kernel instead of per-query latent
// attention). Chunks that continue a sequence (a long prompt's later chunks,
// text fed after generation) need the cached prefix: they run @extend, a copy
// of @prefill whose attention is absorbed.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

namespace moela {
#define GEN_PASS_DEF_MLAEXPANDPREFILLPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

bool isExpanded(kernel::MlaAttentionOp op) {
  return op.getForm() == mla::AttentionForm::expanded;
}

/// kv_gather + kv_b GEMM + prefill attention in place of `op`.
void expand(kernel::MlaAttentionOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  // Named parts ("layers.0.attn.core.rows") so that plan dumps tell the
  // buffers apart.
  auto part = [&](StringRef suffix) {
    return NameLoc::get(
        b.getStringAttr(kernel::locationName(loc) + "." + suffix.str()), loc);
  };
  const int64_t h = op.getHeads(), dn = op.getNopeDim(), dr = op.getRopeDim();
  const int64_t dv = op.getVDim(), r = op.getLatentDim();
  auto rows = [&](int64_t cols) {
    return RankedTensorType::get({ShapedType::kDynamic, cols}, b.getF32Type());
  };
  // [T, R + Dr]: the rows this step appended, as stored.
  Value cached = b.create<kernel::KvGatherOp>(part("rows"), rows(r + dr),
                                              op.getPositions(), op.getSeqIds(),
                                              op.getLayerAttr());
  Value latent = b.create<kernel::SliceOp>(loc, rows(r), cached, 0, r);
  Value kPe = b.create<kernel::SliceOp>(loc, rows(dr), cached, r, dr);
  // [T, H*(Dn+Dv)] = c kv_b^T: per head [k_nope | v].
  Value kv = b.create<kernel::GemmOp>(part("kv"), rows(h * (dn + dv)), latent,
                                      b.getArrayAttr({op.getKvB()}));
  Value out = b.create<kernel::MlaPrefillAttentionOp>(
      loc, op.getType(), op.getQuery(), kv, kPe, op.getPositions(),
      op.getHeadsAttr(), op.getNopeDimAttr(), op.getRopeDimAttr(),
      op.getVDimAttr(), op.getScaleAttr());
  op.replaceAllUsesWith(out);
  op.erase();
}

struct MlaExpandPrefillPass
    : public moela::impl::MlaExpandPrefillPassBase<MlaExpandPrefillPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto prefill = module.lookupSymbol<func::FuncOp>(abi::kPrefill);
    if (!prefill)
      return;
    SmallVector<kernel::MlaAttentionOp> expanded;
    prefill.walk([&](kernel::MlaAttentionOp op) {
      if (isExpanded(op))
        expanded.push_back(op);
    });
    if (expanded.empty())
      return;
    if (module.lookupSymbol(abi::kExtend)) {
      prefill.emitError() << "moela-mla-expand-prefill: the module already has "
                             "an @extend";
      return signalPassFailure();
    }

    func::FuncOp extend = prefill.clone();
    extend.setSymName(abi::kExtend);
    extend.walk([&](kernel::MlaAttentionOp op) {
      op.setForm(mla::AttentionForm::absorbed);
    });
    module.insert(std::next(Block::iterator(prefill)), extend);

    for (kernel::MlaAttentionOp op : expanded)
      expand(op);
    prefill->setAttr(kernel::kFreshSequencesAttr, UnitAttr::get(&getContext()));
  }
};

} // namespace
