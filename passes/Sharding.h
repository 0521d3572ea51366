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

} // namespace moela

#endif // MOELA_PASSES_SHARDING_H
