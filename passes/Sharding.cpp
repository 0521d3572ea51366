//===- Sharding.cpp - What the sharding passes share ----------------------===//
#include "passes/Sharding.h"

using namespace mlir;

FailureOr<moela::nn::WeightAttr> moela::shardWeight(Operation *op,
                                                    nn::WeightAttr w,
                                                    int64_t dim, int64_t ranks,
                                                    CompileTarget target) {
  if (w.isSharded())
    return op->emitError() << "'" << w.getName() << "' is already split (shard "
                           << w.getShardDim() << " of " << w.getShardParts()
                           << "); a module is sharded once";
  int64_t extent = w.getDim(dim);
  if (extent % ranks != 0)
    return op->emitError() << "cannot split '" << w.getName() << "' "
                           << nn::shapeToString(w.getShape()) << " along dim "
                           << dim << " into " << ranks << " equal parts ("
                           << extent << " is not a multiple of " << ranks
                           << ")";
  int64_t slice = extent / ranks;
  if (w.isBlockScaled() && gpuTarget(target) && slice % abi::kFp8Block != 0)
    return op->emitError()
           << "cannot split FP8 '" << w.getName() << "' "
           << nn::shapeToString(w.getShape()) << " along dim " << dim
           << " into " << ranks << " parts for " << compileTargetName(target)
           << ": a slice of " << slice << " is not a multiple of the "
           << abi::kFp8Block << "x" << abi::kFp8Block
           << " scale blocks the GPU kernels read (the host target "
              "splits anywhere)";
  return w.sharded(dim, ranks);
}

LogicalResult moela::checkDivisible(Operation *op, StringRef what,
                                    int64_t count, int64_t ranks) {
  if (count % ranks == 0)
    return success();
  return op->emitError() << what << " = " << count
                         << " cannot be split evenly over " << ranks
                         << " ranks";
}

Value moela::insertAllReduce(Value partial, int64_t ranks) {
  OpBuilder b(partial.getContext());
  b.setInsertionPointAfterValue(partial);
  auto sum = b.create<nn::AllReduceOp>(partial.getLoc(), partial.getType(),
                                       partial, b.getI64IntegerAttr(ranks));
  partial.replaceAllUsesExcept(sum, sum);
  return sum;
}

LogicalResult
moela::recordLayout(ModuleOp module, int64_t ranks,
                    llvm::function_ref<void(kernel::Layout &)> update) {
  kernel::Layout layout = kernel::readLayout(module);
  if (layout.ranks != 1 && layout.ranks != ranks)
    return module.emitError() << "the module is split over " << layout.ranks
                              << " ranks; cannot split it over " << ranks;
  layout.ranks = ranks;
  update(layout);
  kernel::writeLayout(module, layout);
  return success();
}
