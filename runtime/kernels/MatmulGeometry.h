//===- MatmulGeometry.h - Blocks, shared memory, tile order ---------------===//
//
// What both GEMM engines (mma.sync: MatmulCommon.cuh, wgmma: WgmmaCommon.cuh)
// and their launch code agree on. Plain C++17 (builtin types only): the
// device templates, the CUDA backend, the emitter and the tiler include it.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_MATMULGEOMETRY_H
#define MOELA_KERNELS_MATMULGEOMETRY_H

#include "Abi.h"
#include "Args.h"

namespace moela {
namespace kernels {

/// Threads per block of the mma.sync kernels (Gemm, GroupedGemm, HeadGemm;
/// the Tile's `threads` is ignored).
constexpr int kMatmulThreads = abi::kMmaGemmThreads;
/// Threads per block of gemmWgmma: a producer warpgroup and two consumer
/// warpgroups. Also the Tile.threads that selects it.
constexpr int kWgmmaThreads = abi::kWgmmaGemmThreads;
constexpr int kWgmmaProducerThreads = 128;
/// Dynamic shared memory of every matrix kernel: the per-block maximum; each
/// instantiation sizes its pipeline depth to fit. Static shared memory is 0.
constexpr unsigned kMatmulSharedBytes = abi::kMaxSharedBytesPerBlock;
constexpr unsigned kWgmmaSharedBytes = abi::kMaxSharedBytesPerBlock;

/// Bytes of the two weight-row tables (pointers) of a BN-row weight tile at
/// the start of either engine's shared memory (GemmOperands.cuh).
constexpr MOELA_HOST_DEVICE int matmulRowTableBytes(int bn) { return bn * 16; }

/// Gemm block rasterisation: groups of this many M tiles run N tile by N tile,
/// so that concurrent blocks share weight tiles and the A rows stay in L2.
constexpr int kMatmulRasterGroup = 16;

/// Gemm block `id` of tilesM x tilesN output tiles -> (mt, nt): groups of
/// kMatmulRasterGroup M tiles, M fastest within a group. A bijection of
/// [0, tilesM * tilesN).
inline MOELA_HOST_DEVICE void matmulRaster(int id, int tilesM, int tilesN,
                                           int &mt, int &nt) {
  const int perGroup = kMatmulRasterGroup * tilesN;
  const int group = id / perGroup, local = id - group * perGroup;
  const int first = group * kMatmulRasterGroup;
  const int rest = tilesM - first;
  const int size = rest < kMatmulRasterGroup ? rest : kMatmulRasterGroup;
  mt = first + local % size;
  nt = local / size;
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_MATMULGEOMETRY_H
