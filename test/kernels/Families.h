//===- Families.h - The instantiations of every kernel family -------------===//
//
// One function per family of runtime/kernels: the Kernel the emitter writes
// for the given element types and shape parameters (each .cuh's header
// comment), with the dynamic shared memory of its largest launch at
// DeepSeek-V3 sizes for the compile check. Cases name their kernels with
// these, and so does the compile-only list (CompileKernels.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_FAMILIES_H
#define MOELA_TEST_KERNELS_FAMILIES_H

#include "Kernel.h"

namespace moela::cases {

// ---- Row, attention and MoE families ----------------------------------------

Kernel embeddingKernel(Ty out, Ty table);
Kernel rmsNormKernel(Ty y, Ty weight); // f32 x and residual
Kernel addKernel();                    // f32
Kernel siluMulKernel(Ty out);          // f32 gate and up
Kernel gatherRowsKernel(Ty t);
Kernel ropeKernel(); // f32
Kernel argmaxKernel();
Kernel sampleKernel();
/// Sample.cuh's vocab-parallel half: one rank's candidate blocks.
Kernel sampleCandidatesKernel();
Kernel kvAppendKernel(Ty norm); // f32 latent and k_pe, bf16 cache
Kernel kvGatherKernel(Ty out);
Kernel latentAttentionKernel(Ty q, Ty out, int latent, int rope, int heads);
Kernel mlaAttentionKernel(Ty out, Ty kvB); // f32 q
Kernel mlaPrefillAttentionKernel(Ty q, Ty kv, Ty kPe, Ty out, int nope,
                                 int rope, int v);
Kernel routeKernel(Ty gate); // f32 input
Kernel dispatchKernel(Ty sorted);
Kernel combineKernel(); // f32
Kernel moeExpertsKernel(Ty weights);

// ---- Matrix families --------------------------------------------------------

struct TileShape {
  int bm, bn, bk;
};

/// A dense GEMM: Gemm.cuh's gemm (mma.sync), or GemmWgmma.cuh's gemmWgmma.
struct GemmKind {
  bool wgmma = false;
  Ty a, w, c, r; // activations, weights, output, residual
  TileShape tile;
  bool silu = false, rope = false, residual = false;
  bool precise = false; // gemm's PRECISE_A: f32 a as two bf16 halves
};

Kernel gemmKernel(const GemmKind &g);
Kernel groupedGemmKernel(Ty a, Ty w, Ty c, TileShape tile, bool silu);
Kernel headGemmKernel(Ty x, Ty w, Ty y, TileShape tile, bool transpose);

/// The tiles moela-tile gives (passes/Tile.cpp): block_k 128 for FP8
/// weights, else 64; HeadGemm always 64 x 64 x 64; with --gemm-kernel=wgmma
/// 128 x 256 (bf16 weights) or 128 x 128 at prefill, 64 x 64 x 64 in decode.
TileShape prefillTile(Ty w);
TileShape decodeTile(Ty w);
TileShape headTile();
TileShape prefillWgmmaTile(Ty w);
TileShape decodeWgmmaTile();

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_FAMILIES_H
