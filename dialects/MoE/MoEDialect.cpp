//===- MoEDialect.cpp - moe dialect and attributes ------------------------===//
#include "MoE/MoEDialect.h"
#include "MoE/MoEOps.h"
#include "dialects/MnemonicAlias.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moela::moe;

#include "MoE/MoEDialect.cpp.inc"
#include "MoE/MoEEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "MoE/MoEAttrs.cpp.inc"

void MoEDialect::initialize() {
  addInterfaces<moela::MnemonicAlias<RoutingAttr>>(); // #routing = ...
#include "MoE/MoERegistration.inc"
}

/// The shape rules of docs/model.md §1 for routing, each named in its error.
LogicalResult RoutingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ScoringFunc scoring, TopkMethod method,
                                  int64_t experts, int64_t topK, int64_t groups,
                                  int64_t topkGroups, bool normTopkProb,
                                  APFloat scaling) {
  if (experts < 1)
    return emitError() << "routing needs experts >= 1, got " << experts;
  if (topK < 1 || topK > experts)
    return emitError() << "routing top_k = " << topK
                       << " must be in [1, experts = " << experts
                       << "] (K <= E)";
  if (groups < 1 || experts % groups != 0)
    return emitError() << "routing groups = " << groups
                       << " must divide experts = " << experts
                       << " (E % G == 0)";
  if (topkGroups < 1 || topkGroups > groups)
    return emitError() << "routing topk_groups = " << topkGroups
                       << " must be in [1, groups = " << groups
                       << "] (topk_group <= n_group)";
  if (groups > 1 && method != TopkMethod::greedy) {
    int64_t perGroup = experts / groups;
    if (method == TopkMethod::noaux_tc && perGroup < 2)
      return emitError() << "routing noaux_tc scores a group by its top-2 "
                            "experts, so each group needs >= 2 experts, got "
                         << perGroup;
    if (topK > topkGroups * perGroup)
      return emitError()
             << "routing top_k = " << topK << " exceeds the "
             << topkGroups * perGroup
             << " experts of the kept groups (K <= topk_group * E / G)";
  }
  if (scaling.convertToDouble() <= 0)
    return emitError() << "routing scaling must be > 0, got "
                       << scaling.convertToDouble();
  return success();
}

LogicalResult
ExpertWeightsAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          StringRef prefix, int64_t count, int64_t hidden,
                          int64_t intermediate, Type dtype, int64_t expertParts,
                          int64_t intermediateParts) {
  if (prefix.empty())
    return emitError() << "expert weights need a name prefix";
  if (count < 1 || hidden < 1 || intermediate < 1)
    return emitError() << "expert weights need count, hidden and intermediate "
                          ">= 1, got "
                       << count << ", " << hidden << ", " << intermediate;
  if (!dtype.isBF16() && !dtype.isF16() && !dtype.isF32() &&
      !dtype.isFloat8E4M3FN())
    return emitError()
           << "expert weights must be f32, bf16, f16 or f8E4M3FN, got "
           << dtype;
  if (expertParts < 1 || count % expertParts != 0 || intermediateParts < 1)
    return emitError() << "expert weights: " << count
                       << " experts cannot be split into expert_parts = "
                       << expertParts << " equal parts";
  return success();
}

moela::nn::WeightAttr ExpertWeightsAttr::getWeight(int64_t expert,
                                                   StringRef proj) const {
  std::string index = expert < 0 ? "{e}" : std::to_string(expert);
  std::string name = (getPrefix() + "." + index + "." + proj + ".weight").str();
  bool down = proj == "down_proj";
  int64_t rows = down ? getHidden() : getIntermediate();
  int64_t cols = down ? getIntermediate() : getHidden();
  std::string scale;
  SmallVector<int64_t> scaleShape;
  if (getDtype().isFloat8E4M3FN()) {
    scale = name + "_scale_inv";
    scaleShape = moela::nn::fp8ScaleShape({rows, cols});
  }
  // A rank's slice of the intermediate dim: rows of gate/up, columns of down.
  int64_t parts = getIntermediateParts();
  return moela::nn::WeightAttr::get(getContext(), name, getDtype(),
                                    {rows, cols}, scale, scaleShape,
                                    parts > 1 ? (down ? 1 : 0) : -1, parts);
}
