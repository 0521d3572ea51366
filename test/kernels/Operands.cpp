//===- Operands.cpp - Inputs several families share -----------------------===//
#include "Operands.h"

#include "moela/Runtime/Rope.h"

#include <algorithm>
#include <numeric>

namespace moela::cases {

kernels::Rope RopeTables::rope(int heads, int headDim, int offset,
                               int dim) const {
  return kernels::Rope{
      freq.devAs<float>(), magnitude, heads, headDim, offset, dim};
}

host::RopeTable RopeTables::table(const std::vector<int32_t> &positions) const {
  host::RopeTable t;
  t.build(invFreq, magnitude, cimat(positions, int64_t(positions.size()), 1));
  return t;
}

RopeTables ropeTables(RopeKind kind, int dim, float plainMagnitude) {
  RopeSpec s;
  s.theta = 10000;
  s.dim = dim;
  if (kind != RopeKind::Plain) {
    const bool tiny = kind == RopeKind::TinyYarn;
    s.yarn.enabled = true;
    s.yarn.factor = tiny ? 4 : 40;
    s.yarn.originalMaxPositionEmbeddings = tiny ? 1024 : 4096;
    s.yarn.betaFast = 32;
    s.yarn.betaSlow = 1;
    s.yarn.mscale = 1;
    s.yarn.mscaleAllDim = tiny ? 0.707f : 1;
  }
  RopeTables t;
  t.invFreq = ropeInvFreq(s);
  t.magnitude = kind == RopeKind::Plain ? plainMagnitude : ropeMagnitude(s);
  t.freq = fromFloats(Ty::F32, t.invFreq, 1, int64_t(t.invFreq.size()));
  return t;
}

void Fp8Weight::scaleBy(float f) {
  for (int64_t i = 0; i < scales.cols(); ++i)
    scales.set(0, i, scales.get(0, i) * f);
}

kernels::Weight Fp8Weight::weight() const {
  return kernels::Weight{codes.dev(),      scales.devAs<float>(), int(rows),
                         int(cols),        int(scaleLd),          rows * cols,
                         scaleExpertStride};
}

Fp8Weight randomFp8Weight(Rng &rng, int64_t experts, int64_t rows,
                          int64_t cols) {
  Fp8Weight w;
  w.rows = rows;
  w.cols = cols;
  w.blockRows = (rows + 127) / 128;
  w.scaleLd = (cols + 127) / 128 + 1; // + 1: kernels must use scale_ld
  w.scaleExpertStride =
      w.blockRows * w.scaleLd + 3; // + 3: and the expert stride
  w.codes = Tensor(Ty::F8, experts * rows, cols);
  const uint64_t s = rng.stream();
  w.codes.fillCodes([&](int64_t r, int64_t c) {
    const uint64_t h = mix(s ^ mix(uint64_t(r * cols + c)));
    const int e = int(h % 11),
              m = e == 0 ? 1 + int((h >> 8) % 7) : int((h >> 8) % 8);
    return uint8_t(((h >> 16) & 1) << 7 | e << 3 | m);
  });
  w.scales = Tensor(Ty::F32, 1, experts * w.scaleExpertStride);
  for (int64_t i = 0; i < experts * w.scaleExpertStride; ++i)
    w.scales.set(0, i, rng.uniform(0.5f, 2.0f) / 16.0f);
  return w;
}

kernels::Weight plainWeight(const Tensor &t, int rows, int cols,
                            long long expertStride) {
  return kernels::Weight{t.dev(), nullptr, rows, cols, 0, expertStride, 0};
}

std::vector<int32_t> randomIdx(Rng &rng, int tokens, int topK, int experts,
                               bool skew) {
  std::vector<int32_t> idx(size_t(tokens) * topK);
  std::vector<int> all(static_cast<size_t>(experts));
  std::iota(all.begin(), all.end(), 0);
  for (int t = 0; t < tokens; ++t) {
    const int pool = skew ? std::min(experts, topK + 2) : experts;
    std::shuffle(all.begin(), all.begin() + pool, rng.engine());
    for (int k = 0; k < topK; ++k)
      idx[size_t(t) * topK + k] = all[size_t(k)];
  }
  return idx;
}

std::vector<int32_t> dispatchPermutation(const std::vector<int32_t> &idx,
                                         int tokens, int topK, int experts) {
  const int n = tokens * topK;
  std::vector<float> x(size_t(tokens), 0.0f), sorted(size_t(n), 0.0f);
  std::vector<int32_t> offsets(size_t(experts + 1)),
      perm(static_cast<size_t>(n));
  host::moeDispatch(cmat(x, tokens, 1), cimat(idx, tokens, topK), experts,
                    mat(sorted, n, 1), imat(offsets, experts + 1, 1),
                    imat(perm, n, 1));
  return perm;
}

} // namespace moela::cases
