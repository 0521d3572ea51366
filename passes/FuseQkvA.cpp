//===- FuseQkvA.cpp - one GEMM for the q_a and kv_a projections -----------===//
//
// Analyse first: find the kv_a GEMM of every attention (the projection whose
// slices reach kernel.kv_append) and the other plain GEMMs reading the same
// normed hidden state (q_a_proj, or q_proj without q compression). Then merge
// each group into one GEMM whose result is sliced back.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

#include "mlir/IR/PatternMatch.h"

namespace moela {
#define GEN_PASS_DEF_FUSEQKVAPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// The GEMM whose output (through slices, norms and ropes) an append reads.
kernel::GemmOp producingGemm(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto gemm = dyn_cast<kernel::GemmOp>(def))
      return gemm;
    if (!isa<kernel::SliceOp, kernel::RmsNormOp, kernel::RopeOp>(def))
      return {};
    v = def->getOperand(0);
  }
  return {};
}

/// FP8 block scales cover abi::kFp8Block rows: every part but the last must end
/// on a block boundary so that the merged weight's blocks stay whole.
bool blocksAlign(ArrayRef<kernel::GemmOp> gemms) {
  int64_t rows = 0;
  for (kernel::GemmOp g : gemms.drop_back())
    for (Attribute a : g.getWeights()) {
      auto w = cast<nn::WeightAttr>(a);
      rows += w.getDim(0);
      if (w.isBlockScaled() && rows % abi::kFp8Block != 0)
        return false;
    }
  return true;
}

struct FuseQkvAPass : public moela::impl::FuseQkvAPassBase<FuseQkvAPass> {
  void runOnOperation() override {
    // Analysis: attention input -> its plain GEMMs, kv_a last.
    SmallVector<SmallVector<kernel::GemmOp>> groups;
    getOperation().walk([&](kernel::KvAppendOp append) {
      kernel::GemmOp kv = producingGemm(append.getLatent());
      if (!kv || kv.hasEpilogue() || kv != producingGemm(append.getKPe()))
        return;
      SmallVector<kernel::GemmOp> group;
      for (Operation *user : kv.getInput().getUsers())
        if (auto gemm = dyn_cast<kernel::GemmOp>(user);
            gemm && gemm != kv && !gemm.hasEpilogue() &&
            gemm.getInput() == kv.getInput())
          group.push_back(gemm);
      if (group.empty())
        return;
      llvm::sort(group, [](kernel::GemmOp a, kernel::GemmOp b) {
        return a->isBeforeInBlock(b);
      });
      group.push_back(kv);
      if (blocksAlign(group))
        groups.push_back(group);
    });

    // Rewrite: one GEMM at the first member, slices for each member.
    IRRewriter rewriter(&getContext());
    for (ArrayRef<kernel::GemmOp> group : groups) {
      kernel::GemmOp first = group.front();
      for (kernel::GemmOp g : group)
        if (g->isBeforeInBlock(first))
          first = g;
      SmallVector<Attribute> weights;
      SmallVector<Location> locs;
      int64_t cols = 0;
      for (kernel::GemmOp g : group) {
        weights.append(g.getWeights().begin(), g.getWeights().end());
        locs.push_back(g.getLoc());
        cols += nn::dimOf(g.getType(), 1);
      }
      rewriter.setInsertionPoint(first);
      auto merged = rewriter.create<kernel::GemmOp>(
          rewriter.getFusedLoc(locs),
          RankedTensorType::get({ShapedType::kDynamic, cols},
                                rewriter.getF32Type()),
          first.getInput(), rewriter.getArrayAttr(weights));
      int64_t offset = 0;
      for (kernel::GemmOp g : group) {
        int64_t n = nn::dimOf(g.getType(), 1);
        rewriter.setInsertionPoint(g);
        Value slice = rewriter.create<kernel::SliceOp>(g.getLoc(), g.getType(),
                                                       merged, offset, n);
        rewriter.replaceOp(g, slice);
        offset += n;
      }
    }
  }
};

} // namespace
