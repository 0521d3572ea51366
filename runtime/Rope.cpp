//===- Rope.cpp - Rotary position embedding tables (docs/model.md §3.1) ---===//
#include "moela/Runtime/Rope.h"

#include <algorithm>
#include <cmath>

namespace moela {

RopeSpec RopeSpec::fromModel(const ModelConfig &config) {
  RopeSpec spec;
  spec.theta = config.ropeTheta;
  spec.dim = static_cast<int>(config.qkRopeHeadDim);
  spec.yarn = config.yarn;
  return spec;
}

std::vector<float> ropeInvFreq(const RopeSpec &spec) {
  const int half = spec.dim / 2;
  std::vector<float> freq(half);
  for (int i = 0; i < half; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(spec.dim);
    freq[i] = 1.0f / std::pow(static_cast<float>(spec.theta), exponent);
  }
  if (!spec.yarn.enabled)
    return freq;

  // Correction range: the dims whose wavelength lies between beta_fast and
  // beta_slow rotations over the original context get interpolated.
  const double pi = 3.14159265358979323846;
  auto correctionDim = [&](double rotations) {
    return spec.dim *
           std::log(spec.yarn.originalMaxPositionEmbeddings /
                    (rotations * 2 * pi)) /
           (2 * std::log(spec.theta));
  };
  double low = std::max(std::floor(correctionDim(spec.yarn.betaFast)), 0.0);
  double high = std::min(std::ceil(correctionDim(spec.yarn.betaSlow)),
                         static_cast<double>(spec.dim - 1));
  if (low == high)
    high += 0.001;
  const float factor = static_cast<float>(spec.yarn.factor);
  for (int i = 0; i < half; ++i) {
    float ramp = static_cast<float>((i - low) / (high - low));
    ramp = std::clamp(ramp, 0.0f, 1.0f);
    freq[i] = freq[i] / factor * ramp + freq[i] * (1.0f - ramp);
  }
  return freq;
}

float ropeMagnitude(const RopeSpec &spec) {
  if (!spec.yarn.enabled || spec.yarn.factor <= 1.0)
    return 1.0f;
  auto g = [&](double x) { return 0.1 * x * std::log(spec.yarn.factor) + 1.0; };
  double denom = g(spec.yarn.mscaleAllDim);
  return denom == 0.0 ? 1.0f : static_cast<float>(g(spec.yarn.mscale) / denom);
}

void applyRope(float *x, int dim, int pos, const float *invFreq,
               float magnitude) {
  for (int i = 0; i < dim / 2; ++i) {
    float angle = static_cast<float>(pos) * invFreq[i];
    float c = std::cos(angle) * magnitude, s = std::sin(angle) * magnitude;
    float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * c - b * s;
    x[2 * i + 1] = a * s + b * c;
  }
}

} // namespace moela
