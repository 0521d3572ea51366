//===- GreedyPass.h - Passes that apply their patterns greedily -*- C++ -*-===//
#ifndef MOELA_PASSES_GREEDYPASS_H
#define MOELA_PASSES_GREEDYPASS_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace moela {

/// Adds a pass's rewrite patterns (the populate...Patterns of Passes.h).
using PopulatePatterns = void (*)(mlir::RewritePatternSet &);

/// Rewrites the ops nested in `op` with the patterns of `populate` until none
/// applies; fails when that does not converge.
inline mlir::LogicalResult applyGreedily(mlir::Operation *op,
                                         PopulatePatterns populate) {
  mlir::RewritePatternSet patterns(op->getContext());
  populate(patterns);
  return mlir::applyPatternsAndFoldGreedily(op, std::move(patterns));
}

/// A pass that does nothing but apply the patterns of `Populate`:
///   struct FooPass
///       : GreedyPass<impl::FooPassBase<FooPass>, populateFooPatterns> {};
template <typename PassBase, PopulatePatterns Populate>
struct GreedyPass : public PassBase {
  using PassBase::PassBase;

  void runOnOperation() override {
    if (mlir::failed(applyGreedily(this->getOperation(), Populate)))
      this->signalPassFailure();
  }
};

} // namespace moela

#endif // MOELA_PASSES_GREEDYPASS_H
