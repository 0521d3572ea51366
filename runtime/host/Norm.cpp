//===- Norm.cpp - RMSNorm (with fused residual add), Add, SiluMul ---------===//
//
// Row-wise kernels. Outputs may be the very views of inputs (in-place
// residual): RMSNorm builds each row in a temporary before writing it, and the
// element-wise kernels read each element before writing it.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace moela::host {
namespace {

/// Rows per parallel chunk for a row-wise kernel on rows of n elements.
int64_t rowGrain(int64_t n) { return std::max<int64_t>(1, (1 << 15) / n); }

/// y[t][i] = f(a[t][i], b[t][i]); element i is read before it is written.
template <typename F> void elementwise(CMat a, CMat b, Mat y, F f) {
  const int64_t n = a.cols;
  parallelFor(a.rows, rowGrain(n), [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float *at = a.row(t), *bt = b.row(t);
      float *yt = y.row(t);
      for (int64_t i = 0; i < n; ++i)
        yt[i] = f(at[i], bt[i]);
    }
  });
}

} // namespace

void rmsNormRow(const float *x, const float *w, float eps, int64_t n,
                float *y) {
  // mean(x^2) accumulated in double, everything else in fp32.
  double squares = 0;
  for (int64_t i = 0; i < n; ++i)
    squares += double(x[i]) * x[i];
  const float inv = 1.0f / std::sqrt(float(squares / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i)
    y[i] = w[i] * (x[i] * inv);
}

void rmsNorm(CMat x, const CMat *r, const float *w, float eps, Mat y,
             const Mat *sum) {
  const int64_t n = x.cols;
  parallelFor(x.rows, rowGrain(n), [&](int64_t begin, int64_t end) {
    std::vector<float> s(n); // [N] the row being normalised
    for (int64_t t = begin; t < end; ++t) {
      const float *xt = x.row(t);
      if (r) {
        const float *rt = r->row(t);
        for (int64_t i = 0; i < n; ++i)
          s[i] = xt[i] + rt[i];
      } else {
        std::copy(xt, xt + n, s.begin());
      }
      if (sum)
        std::copy(s.begin(), s.end(), sum->row(t));
      rmsNormRow(s.data(), w, eps, n, y.row(t));
    }
  });
}

void add(CMat a, CMat b, Mat y) {
  elementwise(a, b, y, [](float x, float z) { return x + z; });
}

void siluMul(CMat g, CMat u, Mat y) {
  elementwise(g, u, y,
              [](float x, float z) { return x / (1.0f + std::exp(-x)) * z; });
}

} // namespace moela::host
