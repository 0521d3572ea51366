//===- Rope.h - Rotary position embedding tables (docs/model.md §3.1) -----===//
#ifndef MOELA_RUNTIME_ROPE_H
#define MOELA_RUNTIME_ROPE_H

#include "moela/Runtime/ModelConfig.h"

#include <vector>

namespace moela {

/// Everything that defines one RoPE: base, rotated width and YaRN scaling.
struct RopeSpec {
  double theta = 10000.0;
  int dim = 0;     // Dr, even
  YarnConfig yarn; // yarn.enabled = false: plain RoPE

  static RopeSpec fromModel(const ModelConfig &config);
};

/// Inverse frequencies [dim/2], YaRN-interpolated when enabled, in float32 as
/// DeepSeek computes them.
std::vector<float> ropeInvFreq(const RopeSpec &spec);

/// Factor on cos and sin: g(mscale) / g(mscale_all_dim), g(x) = 0.1 x
/// ln(factor) + 1 (1 for every released config).
float ropeMagnitude(const RopeSpec &spec);

/// Rotates the interleaved pairs (x[2i], x[2i+1]) of x [dim] by pos *
/// invFreq[i].
void applyRope(float *x, int dim, int pos, const float *invFreq,
               float magnitude);

} // namespace moela

#endif // MOELA_RUNTIME_ROPE_H
