//===- MatmulOperands.cpp - Operands and references of the matrix cases ---===//
#include "MatmulOperands.h"

#include <algorithm>
#include <cmath>

namespace moela::cases {

float Activations::value(int64_t r, int64_t c) const {
  if (ty == Ty::F8)
    return data.get(r, c) * scales.get(r, c / 128);
  return roundTo(Ty::BF16, data.get(r, c));
}

std::vector<float> Activations::values() const {
  std::vector<float> v(size_t(data.rows() * data.cols()));
  parallelRange(data.rows(), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < data.cols(); ++c)
        v[size_t(r * data.cols() + c)] = value(r, c);
  });
  return v;
}

Activations randomActivations(Rng &rng, Ty ty, int64_t rows, int64_t cols) {
  Activations a;
  a.ty = ty;
  const uint64_t s = rng.stream();
  std::vector<float> v(size_t(rows * cols));
  parallelRange(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float mag = 1.25f + 0.75f * counterUniform(s, ~uint64_t(r), -1, 1);
      for (int64_t c = 0; c < cols; ++c)
        v[size_t(r * cols + c)] =
            mag * counterUniform(s, uint64_t(r * cols + c), -1, 1);
    }
  });
  a.data = Tensor(ty, rows, cols);
  if (ty != Ty::F8) {
    a.data.fill([&](int64_t r, int64_t c) { return v[size_t(r * cols + c)]; });
    return a;
  }
  // docs/model.md §3.4: s = max(amax, 1e-4) / 448 per row and 128 columns.
  a.scaleLd = (cols + 127) / 128 + 1;
  a.scales = Tensor(Ty::F32, rows, a.scaleLd);
  std::vector<float> scale(size_t(rows * a.scaleLd), NAN); // padding stays NaN
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t kb = 0; kb * 128 < cols; ++kb) {
      float amax = 0;
      for (int64_t c = kb * 128; c < std::min(cols, kb * 128 + 128); ++c)
        amax = std::max(amax, std::fabs(v[size_t(r * cols + c)]));
      scale[size_t(r * a.scaleLd + kb)] = std::max(amax, 1e-4f) / 448.0f;
    }
  a.scales.fill(
      [&](int64_t r, int64_t kb) { return scale[size_t(r * a.scaleLd + kb)]; });
  a.data.fill([&](int64_t r, int64_t c) {
    return v[size_t(r * cols + c)] / scale[size_t(r * a.scaleLd + c / 128)];
  });
  return a;
}

kernels::Weight Weights::weight() const {
  if (ty == Ty::F8)
    return fp8.weight();
  return plainWeight(data, int(rows), int(cols), rows * cols);
}

float Weights::value(int64_t e, int64_t r, int64_t c) const {
  if (ty == Ty::F8)
    return fp8.value(e, r, c);
  return roundTo(Ty::BF16, data.get(e * rows + r, c));
}

std::vector<float> Weights::values(int64_t e) const {
  std::vector<float> v(size_t(rows * cols));
  parallelRange(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < cols; ++c)
        v[size_t(r * cols + c)] = value(e, r, c);
  });
  return v;
}

Weights randomWeights(Rng &rng, Ty ty, int64_t experts, int64_t rows,
                      int64_t cols) {
  Weights w;
  w.ty = ty;
  w.experts = experts;
  w.rows = rows;
  w.cols = cols;
  if (ty == Ty::F8) {
    w.fp8 = randomFp8Weight(rng, experts, rows, cols);
    return w;
  }
  w.data = Tensor(ty, experts * rows, cols);
  w.data.fillUniform(rng, -1, 1);
  return w;
}

std::vector<int32_t> randomPositions(Rng &rng, int64_t rows, int maxPos) {
  std::vector<int32_t> p(static_cast<size_t>(rows));
  for (int32_t &v : p)
    v = rng.uniformInt(0, maxPos);
  if (rows > 1)
    p[size_t(rows / 2)] = 163839;
  return p;
}

std::vector<int64_t> sample(int64_t n, int64_t want, uint64_t stream,
                            int64_t align) {
  std::vector<int64_t> out;
  if (n <= want * align) {
    for (int64_t i = 0; i < n; i += align)
      out.push_back(i);
    return out;
  }
  out.push_back(0);
  out.push_back((n - 1) / align * align);
  for (int64_t i = 0; int64_t(out.size()) < want; ++i)
    out.push_back(int64_t(mix(stream + uint64_t(i)) % uint64_t(n)) / align *
                  align);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

double emuBound(Ty out) { return out == Ty::BF16 ? 3e-3 : 1e-5; }

double gpuBound(Ty a, Ty w, Ty out) {
  return (out == Ty::BF16 || a == Ty::F32 || w == Ty::F32) ? 1e-2 : 1e-3;
}

void checkMatrix(Report &r, const std::string &what, const Tensor &out,
                 const std::vector<int64_t> &rows,
                 const std::vector<int64_t> &cols,
                 const std::vector<double> &expected, double bound,
                 const std::function<bool(int64_t, int64_t)> &mustWrite) {
  ErrorStats st;
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < cols.size(); ++j)
      st.add(out.get(rows[i], cols[j]), expected[i * cols.size() + j], rows[i],
             cols[j]);
  r.near(what, st, bound);
  int64_t unwritten = 0;
  std::string first;
  for (int64_t row = 0; row < out.rows(); ++row)
    for (int64_t c = 0; c < out.cols(); ++c)
      if (mustWrite(row, c) && std::isnan(out.get(row, c)) && !unwritten++)
        first = " (first at " + std::to_string(row) + ", " + std::to_string(c) +
                ")";
  r.expect(what + " written", unwritten == 0,
           std::to_string(unwritten) + " elements unwritten" + first);
  r.untouchedOutside(what, out, mustWrite);
}

} // namespace moela::cases
