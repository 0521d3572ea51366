//===- MLAOps.cpp - mla operation verifiers -------------------------------===//
#include "MLA/MLAOps.h"

#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace moela::mla;
using moela::nn::dimOf;
using moela::nn::verifyTensorShape;
using moela::nn::verifyWeightShape;

#define GET_OP_CLASSES
#include "MLA/MLAOps.cpp.inc"

static constexpr int64_t kAny = -1;

LogicalResult QProjOp::verify() {
  RankedTensorType out = getType();
  if (out.getRank() != 3)
    return emitOpError() << "result must be [T, H, Dn + Dr], got " << out;
  if (failed(verifyTensorShape(*this, "input", getInput().getType(),
                               {kAny, kAny}, "input is [T, D]")))
    return failure();
  int64_t d = dimOf(getInput().getType(), 1);
  int64_t rows = out.isDynamicDim(1) || out.isDynamicDim(2)
                     ? kAny
                     : dimOf(out, 1) * dimOf(out, 2);
  bool lora = getQA() || getQNorm() || getQB() || getEps();
  bool complete = getQA() && getQNorm() && getQB() && getEps();
  if (lora == bool(getQ()) || (lora && !complete))
    return emitOpError() << "expects either q (no q compression) or all of "
                            "q_a, q_norm, q_b and eps (q_lora_rank > 0)";
  if (getQ())
    return verifyWeightShape(*this, "q_proj", *getQ(), {rows, d},
                             "q_proj is [H * (Dn + Dr), D]");
  int64_t rq = getQA()->getDim(0);
  if (failed(verifyWeightShape(*this, "q_a_proj", *getQA(), {kAny, d},
                               "q_a_proj is [Rq, D]")) ||
      failed(verifyWeightShape(*this, "q_a_layernorm", *getQNorm(), {rq},
                               "q_a_layernorm is [Rq]")) ||
      failed(verifyWeightShape(*this, "q_b_proj", *getQB(), {rows, rq},
                               "q_b_proj is [H * (Dn + Dr), Rq]")))
    return failure();
  if (getEps()->convertToDouble() <= 0)
    return emitOpError() << "eps must be > 0";
  return success();
}

LogicalResult KvProjOp::verify() {
  if (failed(verifyTensorShape(*this, "input", getInput().getType(),
                               {kAny, kAny}, "input is [T, D]")) ||
      failed(verifyTensorShape(*this, "latent", getLatent().getType(),
                               {kAny, kAny}, "latent is [T, R]")) ||
      failed(verifyTensorShape(*this, "k_pe", getKPe().getType(), {kAny, kAny},
                               "k_pe is [T, Dr]")))
    return failure();
  int64_t d = dimOf(getInput().getType(), 1);
  int64_t r = dimOf(getLatent().getType(), 1);
  int64_t dr = dimOf(getKPe().getType(), 1);
  if (failed(verifyWeightShape(
          *this, "kv_a_proj_with_mqa", getKvA(),
          {ShapedType::isDynamic(r) || ShapedType::isDynamic(dr) ? kAny
                                                                 : r + dr,
           d},
          "kv_a_proj_with_mqa is [R + Dr, D]")) ||
      failed(verifyWeightShape(*this, "kv_a_layernorm", getKvNorm(), {r},
                               "kv_a_layernorm is [R]")))
    return failure();
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps must be > 0";
  return success();
}

LogicalResult RopeOp::verify() {
  RankedTensorType type = getType();
  int64_t last = type.getRank() < 2 ? 0 : dimOf(type, type.getRank() - 1);
  if (type.getRank() < 2 || type.isDynamicDim(type.getRank() - 1) ||
      getRope().getDim() > last)
    return emitOpError() << "rotates the last " << getRope().getDim()
                         << " channels, but the input is " << type
                         << " (rank >= 2, static last dim >= rope dim)";
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQuery().getType();
  if (q.getRank() != 3)
    return emitOpError() << "query must be [T, H, Dn + Dr], got " << q;
  if (failed(verifyTensorShape(*this, "latent", getLatent().getType(),
                               {kAny, kAny}, "latent is [T, R]")) ||
      failed(verifyTensorShape(*this, "k_pe", getKPe().getType(), {kAny, kAny},
                               "k_pe is [T, Dr]")))
    return failure();
  if (q.isDynamicDim(1) || q.isDynamicDim(2) ||
      getLatent().getType().isDynamicDim(1) ||
      getKPe().getType().isDynamicDim(1))
    return emitOpError() << "needs static model dims H, Dn + Dr, R and Dr";
  int64_t h = getHeads(), dr = getRopeDim(), r = getLatentDim();
  int64_t dn = getNopeDim();
  if (h < 1)
    return emitOpError() << "query needs H >= 1 heads, got " << h;
  if (dn <= 0)
    return emitOpError() << "query head dim " << dimOf(q, 2)
                         << " must exceed the rope dim " << dr << " (Dn > 0)";
  int64_t rows = getKvB().getDim(0);
  if (rows % h != 0 || rows / h <= dn)
    return emitOpError() << "kv_b_proj weight '" << getKvB().getName()
                         << "' has " << rows << " rows, expected H * (Dn + Dv)"
                         << " with H = " << h << ", Dn = " << dn << ", Dv > 0";
  int64_t dv = getVDim();
  if (failed(verifyWeightShape(*this, "kv_b_proj", getKvB(), {h * (dn + dv), r},
                               "kv_b_proj is [H * (Dn + Dv), R]")) ||
      failed(verifyTensorShape(*this, "result", getType(), {kAny, h * dv},
                               "result is [T, H * Dv]")))
    return failure();
  // I64Attr's getLayer() is unsigned; read the signed value.
  if (getLayerAttr().getInt() < 0)
    return emitOpError() << "layer must be >= 0, got "
                         << getLayerAttr().getInt();
  if (getScale().convertToDouble() <= 0)
    return emitOpError() << "scale must be > 0";
  return success();
}
