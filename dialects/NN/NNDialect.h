//===- NNDialect.h - The nn dialect -----------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_NN_NNDIALECT_H
#define MOELA_DIALECTS_NN_NNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"

#include "NN/NNDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "NN/NNAttrs.h.inc"

namespace moela::nn {

/// tensor<?xi32>: token ids, positions, sequence slots, row indices.
mlir::RankedTensorType getIndexVectorType(mlir::MLIRContext *context);
bool isIndexVector(mlir::Type type);

/// Checks that `weight` has the shape `expected` (a negative entry matches any
/// size). On mismatch emits "<role> weight '<name>' has shape [..], expected
/// [..] (<rule>)" on `op`.
mlir::LogicalResult verifyWeightShape(mlir::Operation *op, llvm::StringRef role,
                                      WeightAttr weight,
                                      llvm::ArrayRef<int64_t> expected,
                                      llvm::StringRef rule);

/// Checks that `type` is a ranked tensor of rank `rank` whose static trailing
/// dims equal `dims` (a negative entry matches any size); names `what` and
/// `rule` in the error.
mlir::LogicalResult verifyTensorShape(mlir::Operation *op, llvm::StringRef what,
                                      mlir::Type type,
                                      llvm::ArrayRef<int64_t> dims,
                                      llvm::StringRef rule);

/// The messages of verifyMlpShape: the rule that each weight breaks.
struct MlpShapeRules {
  llvm::StringRef gate, up, down;
};

/// Checks a SwiGLU MLP whose input and result have type `type` = [T, D]:
/// `gate` and `up` are [F, D] (F taken from `gate`) and `down` is [D, F].
mlir::LogicalResult verifyMlpShape(mlir::Operation *op, mlir::Type type,
                                   WeightAttr gate, WeightAttr up,
                                   WeightAttr down, const MlpShapeRules &rules);

/// The size of dimension `dim` of a ranked tensor type; ShapedType::kDynamic
/// (which shape checks treat as "any") when the type has no such dimension.
/// Verifiers check ranks first, so that this never hides a rank mismatch.
int64_t dimOf(mlir::Type type, unsigned dim);

/// The scale shape of a 2-D FP8 weight of `shape`: one scale per
/// abi::kFp8Block square block, the last block of a dim possibly partial
/// (docs/model.md §2).
llvm::SmallVector<int64_t, 2> fp8ScaleShape(llvm::ArrayRef<int64_t> shape);

/// Formats [a, b, ?] for diagnostics.
std::string shapeToString(llvm::ArrayRef<int64_t> shape);

} // namespace moela::nn

#endif // MOELA_DIALECTS_NN_NNDIALECT_H
