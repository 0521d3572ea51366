//===- MoEOps.cpp - moe operation verifiers -------------------------------===//
#include "MoE/MoEOps.h"

#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace moela::moe;
using moela::nn::dimOf;
using moela::nn::verifyTensorShape;
using moela::nn::verifyWeightShape;

#define GET_OP_CLASSES
#include "MoE/MoEOps.cpp.inc"

static constexpr int64_t kAny = -1;

LogicalResult RouteOp::verify() {
  RoutingAttr routing = getRouting();
  int64_t e = routing.getExperts(), k = routing.getTopK();
  if (failed(verifyTensorShape(*this, "logits", getLogits().getType(),
                               {kAny, e}, "router logits are [T, E]")) ||
      failed(verifyTensorShape(*this, "indices", getIndices().getType(),
                               {kAny, k}, "selected experts are [T, K]")) ||
      failed(verifyTensorShape(*this, "weights", getWeights().getType(),
                               {kAny, k}, "routing weights are [T, K]")))
    return failure();
  bool needsBias = routing.getMethod() == TopkMethod::noaux_tc;
  if (needsBias != bool(getBias()))
    return emitOpError()
           << "noaux_tc routing needs the "
              "e_score_correction_bias and other methods take none";
  if (getBias())
    return verifyWeightShape(*this, "e_score_correction_bias", *getBias(), {e},
                             "the correction bias is [E]");
  return success();
}

LogicalResult ExpertsOp::verify() {
  ExpertWeightsAttr w = getWeights();
  int64_t d = w.getHidden();
  int64_t k = dimOf(getIndices().getType(), 1);
  if (failed(verifyTensorShape(*this, "input", getInput().getType(), {kAny, d},
                               "input is [T, D], D = expert hidden size")) ||
      failed(verifyTensorShape(*this, "indices", getIndices().getType(),
                               {kAny, kAny}, "selected experts are [T, K]")) ||
      failed(verifyTensorShape(*this, "result", getType(), {kAny, k, d},
                               "result is [T, K, D]")))
    return failure();
  return success();
}

LogicalResult SharedExpertOp::verify() {
  return moela::nn::verifyMlpShape(
      *this, getType(), getGate(), getUp(), getDown(),
      {"gate_proj is [n_shared * Fm, D]", "up_proj is [n_shared * Fm, D]",
       "down_proj is [D, n_shared * Fm]"});
}

LogicalResult CombineOp::verify() {
  RankedTensorType y = getExpertOutputs().getType();
  if (y.getRank() != 3)
    return emitOpError() << "expert outputs must be [T, K, D], got " << y;
  int64_t k = dimOf(y, 1), d = dimOf(y, 2);
  if (failed(verifyTensorShape(*this, "weights", getWeights().getType(),
                               {kAny, k}, "routing weights are [T, K]")) ||
      failed(verifyTensorShape(*this, "result", getType(), {kAny, d},
                               "result is [T, D]")))
    return failure();
  return success();
}
