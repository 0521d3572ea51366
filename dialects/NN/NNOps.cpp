//===- NNOps.cpp - nn operation verifiers ---------------------------------===//
#include "NN/NNOps.h"

#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace moela::nn;

#define GET_OP_CLASSES
#include "NN/NNOps.cpp.inc"

static constexpr int64_t kAny = -1;

LogicalResult EmbeddingOp::verify() {
  auto table = getTable();
  if (table.getRank() != 2)
    return emitOpError() << "table '" << table.getName()
                         << "' must be [V, D] (rank 2)";
  return verifyTensorShape(*this, "result", getType(),
                           {dimOf(getTokens().getType(), 0), table.getDim(1)},
                           "result is [T, D] with D = table dim 1");
}

LogicalResult RmsNormOp::verify() {
  if (getType().getRank() < 1)
    return emitOpError() << "input must be [.., N] (rank >= 1), got "
                         << getType();
  int64_t n = dimOf(getType(), getType().getRank() - 1);
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps must be > 0, got "
                         << getEps().convertToDouble();
  return verifyWeightShape(*this, "norm", getWeight(), {n},
                           "norm weight is [N], N = last input dim");
}

LogicalResult LinearOp::verify() {
  auto in = getInput().getType(), out = getType();
  if (in.getRank() != out.getRank())
    return emitOpError() << "input and result ranks differ (" << in.getRank()
                         << " vs " << out.getRank() << ")";
  if (in.getRank() < 1)
    return emitOpError() << "input must be [.., K] (rank >= 1), got " << in;
  int64_t k = dimOf(in, in.getRank() - 1), n = dimOf(out, out.getRank() - 1);
  return verifyWeightShape(
      *this, "linear", getWeight(), {n, k},
      "weight is [N, K] for input [.., K] and result [.., N]");
}

LogicalResult MlpOp::verify() {
  return verifyMlpShape(*this, getType(), getGate(), getUp(), getDown(),
                        {"gate_proj is [F, D]",
                         "up_proj is [F, D], like gate_proj",
                         "down_proj is [D, F]"});
}

LogicalResult GatherRowsOp::verify() {
  if (failed(verifyTensorShape(*this, "input", getInput().getType(),
                               {kAny, kAny}, "input is [T, D]")))
    return failure();
  return verifyTensorShape(*this, "result", getType(),
                           {kAny, dimOf(getInput().getType(), 1)},
                           "result is [R, D] for input [T, D]");
}

LogicalResult LmHeadOp::verify() {
  if (failed(verifyTensorShape(*this, "input", getInput().getType(),
                               {kAny, kAny}, "input is [R, D]")) ||
      failed(verifyTensorShape(*this, "result", getType(), {kAny, kAny},
                               "logits are [R, V]")))
    return failure();
  int64_t d = dimOf(getInput().getType(), 1);
  int64_t v = dimOf(getType(), 1);
  return verifyWeightShape(*this, "lm_head", getWeight(), {v, d},
                           "lm_head is [V, D] for logits [R, V]");
}

LogicalResult MtpProjOp::verify() {
  // SameOperandsAndResultType: both inputs have the result's type.
  if (failed(verifyTensorShape(*this, "result", getType(), {kAny, kAny},
                               "inputs and result are [T, D]")))
    return failure();
  int64_t d = dimOf(getType(), 1);
  return verifyWeightShape(*this, "eh_proj", getWeight(),
                           {d, ShapedType::isDynamic(d) ? kAny : 2 * d},
                           "eh_proj is [D, 2D]");
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

/// A collective needs a world of two ranks or more and a [T, C] operand.
static LogicalResult verifyCollective(Operation *op, int64_t ranks,
                                      Type input) {
  if (ranks < 2)
    return op->emitOpError() << "needs at least 2 ranks, got " << ranks;
  if (cast<RankedTensorType>(input).getRank() != 2)
    return op->emitOpError() << "operand must be [T, C]";
  return success();
}

LogicalResult AllReduceOp::verify() {
  return verifyCollective(*this, getRanks(), getInput().getType());
}

LogicalResult AllGatherOp::verify() {
  if (failed(verifyCollective(*this, getRanks(), getInput().getType())))
    return failure();
  int64_t c = dimOf(getInput().getType(), 1);
  return verifyTensorShape(*this, "result", getType(),
                           {kAny, static_cast<int64_t>(getRanks()) * c},
                           "result is [T, ranks * C]");
}
