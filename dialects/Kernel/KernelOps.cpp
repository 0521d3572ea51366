//===- KernelOps.cpp - kernel operation verifiers -------------------------===//
#include "Kernel/KernelOps.h"

#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace moela::kernel;
using moela::nn::dimOf;
using moela::nn::WeightAttr;

#define GET_OP_CLASSES
#include "Kernel/KernelOps.cpp.inc"

/// Columns of a 2-D kernel tensor.
static int64_t cols(Value v) {
  return dimOf(v.getType(), cast<RankedTensorType>(v.getType()).getRank() - 1);
}

LogicalResult RopeOp::verify() {
  HeadRopeAttr rope = getRope();
  if (rope.getHeads() * rope.getHeadDim() != cols(getInput()))
    return emitOpError() << "rotates " << rope.getHeads() << " heads of "
                         << rope.getHeadDim() << " columns but the input has "
                         << cols(getInput()) << " columns (heads * head_dim)";
  return success();
}

int64_t GemmOp::getWeightRows() {
  int64_t rows = 0;
  for (Attribute w : getWeights())
    rows += cast<WeightAttr>(w).getDim(0);
  return rows;
}

int64_t GemmOp::getWeightCols() {
  return cast<WeightAttr>(getWeights()[0]).getDim(1);
}

LogicalResult GemmOp::verify() {
  if (getWeights().empty())
    return emitOpError() << "needs at least one weight";
  for (Attribute a : getWeights()) {
    auto w = cast<WeightAttr>(a);
    if (w.getRank() != 2 || w.getDim(1) != cols(getInput()))
      return emitOpError() << "weight '" << w.getName() << "' must be [N, "
                           << cols(getInput()) << "] for an input of "
                           << cols(getInput()) << " columns";
  }
  int64_t n = getWeightRows();
  if (getSiluMul()) {
    if (n % 2 != 0)
      return emitOpError() << "silu_mul needs an even number of weight rows";
    n /= 2;
  }
  if (cols(getResult()) != n)
    return emitOpError() << "result has " << cols(getResult())
                         << " columns, expected " << n
                         << " (weight rows, halved by silu_mul)";
  if (getRope()) {
    if (!getPositions())
      return emitOpError() << "a rope epilogue needs the positions operand";
    if (getRope()->getHeads() * getRope()->getHeadDim() != n)
      return emitOpError() << "rope epilogue covers "
                           << getRope()->getHeads() * getRope()->getHeadDim()
                           << " columns, the result has " << n;
  }
  if (getResidual() && getResidual().getType() != getType())
    return emitOpError() << "residual must have the result type";
  return success();
}

LogicalResult HeadGemmOp::verify() {
  WeightAttr w = getWeight();
  int64_t heads = getHeads();
  if (w.getRank() != 2 || w.getDim(0) != heads * getHeadRows())
    return emitOpError() << "weight '" << w.getName() << "' must have heads * "
                            "head_rows = "
                         << heads * getHeadRows() << " rows";
  if (getRowOffset() < 0 || getRowOffset() + getRows() > getHeadRows())
    return emitOpError() << "row block [" << getRowOffset() << ", "
                         << getRowOffset() + getRows()
                         << ") must lie within head_rows = " << getHeadRows();
  int64_t in = getTranspose() ? getRows() : w.getDim(1);
  int64_t out = getTranspose() ? w.getDim(1) : getRows();
  if (getInOffset() + (heads - 1) * getInStride() + in > cols(getInput()))
    return emitOpError() << "head " << heads - 1 << " reads past the input's "
                         << cols(getInput()) << " columns";
  if (cols(getResult()) != heads * out)
    return emitOpError() << "result must have heads * " << out << " = "
                         << heads * out << " columns";
  return success();
}

LogicalResult SliceOp::verify() {
  if (getOffset() < 0 || getSize() < 1 ||
      getOffset() + getSize() > cols(getInput()))
    return emitOpError() << "columns [" << getOffset() << ", "
                         << getOffset() + getSize() << ") exceed the input's "
                         << cols(getInput());
  if (cols(getResult()) != getSize())
    return emitOpError() << "result must have " << getSize() << " columns";
  return success();
}
