//===- RopeStep.cpp - Interleaved RoPE of each head (docs/model.md §3.1) ===//
//
// The angles depend only on the position, so a step computes cos and sin
// once per row and reuses them for every head. Pair i of a rotated slice is
// (x[2i], x[2i+1]) -> (a cos - b sin, a sin + b cos), angle = float(pos) *
// invFreq[i] in fp32, exactly as moela::applyRope (Rope.h).
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>

namespace moela::host {

void RopeTable::build(const std::vector<float> &invFreq, float magnitude,
                      CIMat positions) {
  half = int(invFreq.size());
  cos.resize(size_t(positions.rows) * half);
  sin.resize(size_t(positions.rows) * half);
  for (int64_t t = 0; t < positions.rows; ++t) {
    const float pos = float(*positions.row(t));
    for (int i = 0; i < half; ++i) {
      const float angle = pos * invFreq[i];
      cos[t * half + i] = std::cos(angle) * magnitude;
      sin[t * half + i] = std::sin(angle) * magnitude;
    }
  }
}

void RopeTable::rotate(float *x, int64_t t) const {
  const float *c = cos.data() + t * half, *s = sin.data() + t * half;
  for (int i = 0; i < half; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * c[i] - b * s[i];
    x[2 * i + 1] = a * s[i] + b * c[i];
  }
}

void applyRope(Mat x, const RopeTable &table, int heads, int headDim,
               int offset) {
  const int64_t grain =
      std::max<int64_t>(1, 4096 / (int64_t(heads) * table.half + 1));
  parallelFor(x.rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      for (int h = 0; h < heads; ++h)
        table.rotate(x.row(t) + int64_t(h) * headDim + offset, t);
  });
}

} // namespace moela::host
