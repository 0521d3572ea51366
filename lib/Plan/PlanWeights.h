//===- PlanWeights.h - The plan's weight table, as the writer fills it ----===//
//
// Steps bind weights by index into Plan.weights (plan.fbs Weight): one entry
// per distinct binding (the parts concatenated, an expert set, one rank's
// slices), shared by every step and program that binds the same.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_LIB_PLAN_PLANWEIGHTS_H
#define MOELA_LIB_PLAN_PLANWEIGHTS_H

#include "Kernel/KernelOps.h"

#include "llvm/ADT/StringMap.h"

#include "plan_generated.h"

namespace moela {

/// The plan dtype of an MLIR element type; failure for the others.
mlir::FailureOr<plan::DType> toPlanDType(mlir::Type type);

class PlanWeights {
public:
  /// `quantizeAtLoad`: FP8 weights come from a higher-precision checkpoint.
  PlanWeights(flatbuffers::FlatBufferBuilder &fbb, bool quantizeAtLoad)
      : fbb(fbb), quantizeAtLoad(quantizeAtLoad) {}

  /// The index of the weight made of `parts` (rows concatenated), or of an
  /// expert set of `experts` per rank (of `expertParts` ranks' sets).
  uint32_t bind(llvm::ArrayRef<nn::WeightAttr> parts, int experts = 0,
                int expertParts = 1);
  /// The gate;up or the down weights of a rank's routed experts.
  uint32_t bindExperts(moe::ExpertWeightsAttr w, kernel::ExpertProj proj);

  const std::vector<flatbuffers::Offset<plan::Weight>> &table() const {
    return weights;
  }

private:
  flatbuffers::Offset<plan::TensorRef> tensorRef(nn::WeightAttr w);

  flatbuffers::FlatBufferBuilder &fbb;
  bool quantizeAtLoad;
  std::vector<flatbuffers::Offset<plan::Weight>> weights;
  llvm::StringMap<uint32_t> index; // binding key -> position in `weights`
};

} // namespace moela

#endif // MOELA_LIB_PLAN_PLANWEIGHTS_H
