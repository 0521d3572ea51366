//===- ModelConfig.cpp - Derived quantities of the model config -----------===//
#include "moela/Runtime/ModelConfig.h"

#include <cmath>

namespace moela {

double ModelConfig::softmaxScale() const {
  double scale = 1.0 / std::sqrt(static_cast<double>(qkHeadDim()));
  // YaRN sharpens the attention by m^2 (docs/model.md §3.1).
  if (yarn.enabled && yarn.mscaleAllDim != 0.0 && yarn.factor > 1.0) {
    double m = 0.1 * yarn.mscaleAllDim * std::log(yarn.factor) + 1.0;
    scale *= m * m;
  }
  return scale;
}

const char *toString(ScoringFunc f) {
  return f == ScoringFunc::Sigmoid ? "sigmoid" : "softmax";
}

const char *toString(TopkMethod m) {
  switch (m) {
  case TopkMethod::Greedy:
    return "greedy";
  case TopkMethod::GroupLimitedGreedy:
    return "group_limited_greedy";
  case TopkMethod::NoauxTc:
    return "noaux_tc";
  }
  return "?";
}

} // namespace moela
