//===- PlanWeights.cpp - The plan's weight table, as the writer fills it --===//
#include "PlanWeights.h"

using namespace mlir;
namespace fb = flatbuffers;
namespace p = moela::plan;

FailureOr<p::DType> moela::toPlanDType(Type type) {
  if (type.isF32())
    return p::DType::F32;
  if (type.isBF16())
    return p::DType::BF16;
  if (type.isF16())
    return p::DType::F16;
  if (type.isFloat8E4M3FN())
    return p::DType::F8E4M3;
  if (type.isInteger(32))
    return p::DType::I32;
  if (type.isInteger(64))
    return p::DType::I64;
  return failure();
}

fb::Offset<p::TensorRef> moela::PlanWeights::tensorRef(nn::WeightAttr w) {
  auto name = fbb.CreateString(w.getName().str());
  auto shape = fbb.CreateVector(w.getShape().vec());
  fb::Offset<fb::String> scale;
  fb::Offset<fb::Vector<int64_t>> scaleShape;
  if (w.isBlockScaled()) {
    scale = fbb.CreateString(w.getScaleName().str());
    scaleShape = fbb.CreateVector(w.getScaleShape().vec());
  }
  p::TensorRefBuilder t(fbb);
  t.add_name(name);
  // The weight attribute's verifier allows only plan dtypes.
  t.add_dtype(*toPlanDType(w.getDtype()));
  t.add_shape(shape);
  if (w.isBlockScaled()) {
    t.add_scale_name(scale);
    t.add_scale_shape(scaleShape);
    t.add_quantize_at_load(quantizeAtLoad);
  }
  if (w.isSharded()) {
    t.add_shard_dim(static_cast<int>(w.getShardDim()));
    t.add_shard_parts(static_cast<int>(w.getShardParts()));
  }
  return t.Finish();
}

uint32_t moela::PlanWeights::bind(ArrayRef<nn::WeightAttr> parts, int experts,
                                  int expertParts) {
  std::string key = std::to_string(experts) + "/" + std::to_string(expertParts);
  for (nn::WeightAttr w : parts)
    key += "|" + w.getName().str() + "#" + std::to_string(w.getShardDim()) +
           "/" + std::to_string(w.getShardParts());
  auto it = index.find(key);
  if (it != index.end())
    return it->second;
  std::vector<fb::Offset<p::TensorRef>> refs;
  for (nn::WeightAttr w : parts)
    refs.push_back(tensorRef(w));
  auto partsVec = fbb.CreateVector(refs);
  p::WeightBuilder wb(fbb);
  wb.add_parts(partsVec);
  wb.add_experts(experts);
  if (expertParts > 1)
    wb.add_expert_parts(expertParts);
  weights.push_back(wb.Finish());
  return index[key] = weights.size() - 1;
}

uint32_t moela::PlanWeights::bindExperts(moe::ExpertWeightsAttr w,
                                         kernel::ExpertProj proj) {
  // A rank binds its own experts; the steps keep the layer's total.
  int experts = static_cast<int>(w.getLocalCount());
  int parts = static_cast<int>(w.getExpertParts());
  if (proj == kernel::ExpertProj::down)
    return bind({w.getWeight(-1, "down_proj")}, experts, parts);
  return bind({w.getWeight(-1, "gate_proj"), w.getWeight(-1, "up_proj")},
              experts, parts);
}
