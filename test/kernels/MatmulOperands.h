//===- MatmulOperands.h - Operands and references of the matrix cases -----===//
//
// Activations and weights in every storage type, with the values the kernel
// multiplies: f32 rounded to bf16 as the kernel rounds it, FP8 codes times
// their block scales (activations quantized per row and 128 columns as
// docs/model.md §3.4 says). References are the host's fp32 kernels over
// those values; shapes too large for them (DeepSeek-V3 sizes, on the GPU)
// are checked on sampled elements with dot products in double.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_MATMULOPERANDS_H
#define MOELA_TEST_KERNELS_MATMULOPERANDS_H

#include "Operands.h"
#include "Report.h"

namespace moela::cases {

struct Activations {
  Ty ty = Ty::BF16;
  Tensor data; // [rows, cols]
  Tensor
      scales; // FP8: f32 [rows, scaleLd] (padded: kernels must use a_scale_ld)
  int64_t scaleLd = 0;

  float value(int64_t r, int64_t c) const;
  std::vector<float> values() const; // [rows, cols]
  const float *scalesDev() const {
    return ty == Ty::F8 ? scales.devAs<float>() : nullptr;
  }
};

/// Rows of uniform(-1, 1) times a per-row magnitude in [0.5, 2).
Activations randomActivations(Rng &rng, Ty ty, int64_t rows, int64_t cols);

/// `experts` stacked [rows, cols] matrices: bf16 / f32 uniform(-1, 1), or
/// FP8 codes with block scales (randomFp8Weight).
struct Weights {
  Ty ty = Ty::BF16;
  int64_t experts = 1, rows = 0, cols = 0;
  Tensor data; // bf16 / f32 [experts * rows, cols]
  Fp8Weight fp8;

  kernels::Weight weight() const;
  float value(int64_t e, int64_t r, int64_t c) const;
  std::vector<float> values(int64_t e) const; // expert e's [rows, cols]
};

Weights randomWeights(Rng &rng, Ty ty, int64_t experts, int64_t rows,
                      int64_t cols);

/// Positions uniform in [0, maxPos], and 163839 (the angle reduction) in
/// the middle row.
std::vector<int32_t> randomPositions(Rng &rng, int64_t rows, int maxPos);

/// Indices to check out of [0, n): all when at most want * align, else a
/// random sample of `want` multiples of `align` with the first and the last.
std::vector<int64_t> sample(int64_t n, int64_t want, uint64_t stream,
                            int64_t align = 1);

/// The emulator's bounds: its reference multiplies what the kernel
/// multiplies, so an fp32 output agrees to fp32 accumulation order and a
/// bf16 output to one rounding (2^-8 per element, about 1.6e-3 in relative
/// L2 over many elements).
double emuBound(Ty out);
/// The GPU's: 1e-3, and 1e-2 for a bf16 output or an f32 operand.
double gpuBound(Ty a, Ty w, Ty out);

/// The matrix cases' check: out at rows x cols against `expected` (row-major
/// over them) within `bound`; then every element mustWrite(r, c) selects is
/// written (not NaN) and every other one is still poison.
void checkMatrix(Report &r, const std::string &what, const Tensor &out,
                 const std::vector<int64_t> &rows,
                 const std::vector<int64_t> &cols,
                 const std::vector<double> &expected, double bound,
                 const std::function<bool(int64_t, int64_t)> &mustWrite);

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_MATMULOPERANDS_H
