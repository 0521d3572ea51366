//===- Operands.h - Inputs several families share -------------------------===//
//
// RoPE tables as the backend computes them (the tiny models' YaRN, the
// DeepSeek-V3 YaRN, plain RoPE), FP8 weights with block scales laid out as
// the kernels must read them, and MoE routings.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_OPERANDS_H
#define MOELA_TEST_KERNELS_OPERANDS_H

#include "Tensor.h"

#include "kernels/Args.h"

namespace moela::cases {

// ---- RoPE -------------------------------------------------------------------

enum class RopeKind {
  TinyYarn, // factor 4 over 1024 positions, mscale_all_dim 0.707 (models/tiny*)
  V3Yarn,   // factor 40 over 4096 positions (DeepSeek-V3)
  Plain,    // theta 10000, no YaRN, any magnitude
};

/// inv_freq on the device and the magnitude of a RoPE of `dim` columns.
struct RopeTables {
  std::vector<float> invFreq;
  float magnitude = 1;
  Tensor freq; // f32 [1, dim / 2]

  /// The args' Rope for heads of `headDim` columns rotating [offset, + dim).
  kernels::Rope rope(int heads, int headDim, int offset, int dim) const;
  /// The host reference's table for these positions.
  host::RopeTable table(const std::vector<int32_t> &positions) const;
};

RopeTables ropeTables(RopeKind kind, int dim, float plainMagnitude = 1);

// ---- FP8 weights ------------------------------------------------------------

/// `experts` stacked [rows, cols] e4m3 matrices with block scales
/// [experts][ceil(rows / 128), scaleLd]; scaleLd and the expert stride of
/// the scales are padded, so that kernels must use them.
struct Fp8Weight {
  Tensor codes;  // [experts * rows, cols]
  Tensor scales; // f32 [1, experts * scaleExpertStride]
  int64_t rows = 0, cols = 0, blockRows = 0, scaleLd = 0, scaleExpertStride = 0;

  float value(int64_t e, int64_t r, int64_t c) const {
    return codes.get(e * rows + r, c) *
           scales.get(0, e * scaleExpertStride + (r / 128) * scaleLd + c / 128);
  }
  /// Multiplies every scale by f (keeps products modest).
  void scaleBy(float f);
  kernels::Weight weight() const;
};

/// Random codes (exponent field 0..10, never zero or NaN) and scales in
/// [0.5, 2) / 16.
Fp8Weight randomFp8Weight(Rng &rng, int64_t experts, int64_t rows,
                          int64_t cols);

/// A weight without scales: [rows, cols], experts `expertStride` apart.
kernels::Weight plainWeight(const Tensor &t, int rows, int cols,
                            long long expertStride = 0);

// ---- Routing ----------------------------------------------------------------

/// idx [T, K]: K distinct experts per token; `skew` draws them from the
/// first few experts only (long runs of one expert inside a warp).
std::vector<int32_t> randomIdx(Rng &rng, int tokens, int topK, int experts,
                               bool skew);

/// The permutation of a real dispatch of idx (host::moeDispatch).
std::vector<int32_t> dispatchPermutation(const std::vector<int32_t> &idx,
                                         int tokens, int topK, int experts);

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_OPERANDS_H
