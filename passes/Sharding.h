//===- Sharding.h - What the sharding passes share --------------*- C++ -*-===//
//
// The moela-shard-* passes (docs/parallel.md) cut weights into per-rank
// slices and insert the collectives that make the partial results whole.
// They run on the model IR before lowering, so every later pass, tiling and
// memory planning see one rank's shapes.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_PASSES_SHARDING_H
#define MOELA_PASSES_SHARDING_H

#include "Kernel/KernelPrograms.h"
#include "NN/NNOps.h"
#include "passes/Target.h"

#include "mlir/IR/Builders.h"

namespace moela {

/// Cuts `w` along `dim` into `ranks` slices for `op`. Fails with one error
/// naming the tensor and the numbers when the dim does not divide, or when on
/// a GPU target an FP8 slice would not fill whole 128x128 scale blocks (the
/// host target splits anywhere).
mlir::FailureOr<nn::WeightAttr> shardWeight(mlir::Operation *op,
                                            nn::WeightAttr w, int64_t dim,
                                            int64_t ranks,
                                            CompileTarget target);

/// Fails with one error on `op` unless `count` (what `what` counts) divides
/// into `ranks` parts.
mlir::LogicalResult checkDivisible(mlir::Operation *op, llvm::StringRef what,
                                   int64_t count, int64_t ranks);

/// Inserts `nn.all_reduce` of `partial` right after its producer; every
/// other use of `partial` reads the sum instead.
mlir::Value insertAllReduce(mlir::Value partial, int64_t ranks);

/// Records in the module's layout that it runs on `ranks` ranks and lets
/// `update` set what the pass split; fails when another pass recorded a
/// different world size.
mlir::LogicalResult
recordLayout(mlir::ModuleOp module, int64_t ranks,
             llvm::function_ref<void(kernel::Layout &)> update);

/// A sharding pass's body: `shard` on every `OpT` of the module (stopping at
/// the first that fails), then its layout recorded with `update`.
template <typename OpT>
mlir::LogicalResult
shardEach(mlir::ModuleOp module, int64_t ranks,
          llvm::function_ref<mlir::LogicalResult(OpT)> shard,
          llvm::function_ref<void(kernel::Layout &)> update) {
  mlir::WalkResult walk = module.walk([&](OpT op) {
    return mlir::failed(shard(op)) ? mlir::WalkResult::interrupt()
                                   : mlir::WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return mlir::failure();
  return recordLayout(module, ranks, update);
}

/// Cuts an MLP's (or a shared expert's) intermediate dim: gate and up by
/// rows, down by columns. One error at most: the first weight that cannot be
/// cut.
template <typename MlpOp>
mlir::LogicalResult shardMlpWeights(MlpOp op, int64_t ranks,
                                    CompileTarget target) {
  mlir::FailureOr<nn::WeightAttr> gate, up, down;
  if (mlir::failed(gate = shardWeight(op, op.getGate(), 0, ranks, target)) ||
      mlir::failed(up = shardWeight(op, op.getUp(), 0, ranks, target)) ||
      mlir::failed(down = shardWeight(op, op.getDown(), 1, ranks, target)))
    return mlir::failure();
  op.setGateAttr(*gate);
  op.setUpAttr(*up);
  op.setDownAttr(*down);
  return mlir::success();
}

} // namespace moela

#endif // MOELA_PASSES_SHARDING_H
