//===- GemmCase.h - One dense GEMM case (Gemm.cuh or GemmWgmma.cuh) -------===//
//
// c = a @ W^T over the weight's parts, then the epilogue in the kernel's
// order: silu_mul (gate = the first half of the columns), RoPE on each
// head's slice, + residual (in place: c is the residual). Output columns
// past n are padding that must stay NaN.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_GEMMCASE_H
#define MOELA_TEST_KERNELS_GEMMCASE_H

#include "Cases.h"
#include "Families.h"
#include "Operands.h"

namespace moela::cases {

struct GemmRope {
  int heads = 0, headDim = 0, offset = 0,
      dim = 0; // heads * headDim = output columns
  RopeKind kind = RopeKind::TinyYarn;
  float magnitude = 1; // RopeKind::Plain
};

struct GemmCase {
  GemmKind kind;
  int m = 0, k = 0;
  std::vector<int> parts; // weight rows of each part
  GemmRope rope;
  bool inPlace = false; // residual: c is the residual's view (needs c == r)
  int maxPos = 5000;    // positions of the rope rows
  double bound = 0;
  bool bench = false;         // GPU: time it (large)
  TileShape mmaTile{0, 0, 0}; // GPU, wgmma: time mma.sync gemm on this tile too
};

/// The table's entry of a GEMM case in group `test` (KernelEmuGemm.<test>).
Case gemmCase(const std::string &test, unsigned suites, const GemmCase &g);

/// Makes the GemmKinds of one engine: `const GemmEngine mma{false};` then
/// mma(a, w, c, r, tile, silu, rope, residual).
struct GemmEngine {
  bool wgmma;
  GemmKind operator()(Ty a, Ty w, Ty c, Ty r, TileShape t, bool silu, bool rope,
                      bool residual) const {
    return GemmKind{wgmma, a, w, c, r, t, silu, rope, residual};
  }
};

/// The emulator's shapes for a kernel: one prefill-like (a partial M tile)
/// for 128-row tiles, two decode-like for 64-row tiles (the second in place
/// when it has a residual of the output's type); K with a partial K tile
/// and FP8 scale block, N with partial tiles and parts.
void addEmuShapes(Cases &cases, const std::string &test, const GemmKind &k);
/// One emulator case of an explicit shape.
void addEmuShape(Cases &cases, const std::string &test, const GemmKind &k,
                 int m, int kdim, std::vector<int> parts, GemmRope rope = {});
/// One GPU case: plain RoPE, positions up to 159999, the GPU's bound.
void addGpuShape(Cases &cases, const GemmKind &k, int m, int kdim,
                 std::vector<int> parts, GemmRope rope = {},
                 bool inPlace = false, bool bench = false);
/// The GPU's small shapes (multiples of 16) of every epilogue for a and w
/// on `tile`, m = 1, 7, 64, 333.
void addGpuEpilogues(Cases &cases, bool wgmma, Ty a, Ty w, TileShape tile);

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_GEMMCASE_H
