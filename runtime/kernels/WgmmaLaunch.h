//===- WgmmaLaunch.h - Launch geometry of gemmWgmma (GemmWgmma.cuh) -------===//
//
// Plain C++17 (builtin types only), like MatmulLaunch.h, so that the CUDA
// backend and the tiler compile it with g++. `tile` must be the Tile the
// kernel was instantiated with: threads = kWgmmaThreads (384) is what marks a
// GEMM step as gemmWgmma (the mma.sync Gemm.cuh has 256); BM = block_m,
// BN = block_n (a Tile of 0s means 64 x 64, as for launchGemm).
//   block = kWgmmaThreads (384): one producer and two consumer warpgroups;
//   shared_bytes = kWgmmaSharedBytes (232448, dynamic; static is 0): set
//     CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to it before launching;
//   grid: 1-D, ceil(m / BM) x ceil(N' / BN') blocks (N' = n, or n / 2 with
//     silu_mul; BN' = BN, or BN / 2 with silu_mul) in Gemm.cuh's order
//     (matmulRaster), at least one block; blocks with no work return at once.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_WGMMALAUNCH_H
#define MOELA_KERNELS_WGMMALAUNCH_H

#include "Args.h"
#include "MatmulLaunch.h"
#include "WgmmaCommon.cuh"

namespace moela {
namespace kernels {

inline MOELA_HOST_DEVICE Launch launchGemmWgmma(const GemmArgs &args,
                                                const Tile &tile) {
  return matmulLaunch(gemmTiles(args, tile), kWgmmaThreads);
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_WGMMALAUNCH_H
