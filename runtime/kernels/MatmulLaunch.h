//===- MatmulLaunch.h - Launch geometry of Gemm, GroupedGemm, HeadGemm ----===//
//
// One MOELA_HOST_DEVICE function per matrix family (Args.h "Launch"), plain
// C++17 (builtin types only) so that the CUDA backend compiles it with g++.
// `tile` must be the Tile the kernel was instantiated with (BM = block_m,
// BN = block_n; a Tile of 0s means 64 x 64). Every kernel:
//   block = kMatmulThreads (256) whatever Tile.threads says;
//   shared_bytes = kMatmulSharedBytes (232448, dynamic; static is 0): set
//     CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES to it before launching;
//   grid: 1-D (grid_y = grid_z = 1), at least one block; blocks with no work
//     (m = 0, empty experts) return at once.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_MATMULLAUNCH_H
#define MOELA_KERNELS_MATMULLAUNCH_H

#include "Args.h"
#include "MatmulGeometry.h"

namespace moela {
namespace kernels {

/// A 1-D grid of `blocks` (at least one) of `threads` with the matrix
/// kernels' dynamic shared memory.
inline MOELA_HOST_DEVICE Launch matmulLaunch(long long blocks,
                                             int threads = kMatmulThreads) {
  Launch l;
  l.grid_x = blocks > 0 ? static_cast<unsigned>(blocks) : 1u;
  l.grid_y = 1;
  l.grid_z = 1;
  l.block = threads;
  l.shared_bytes = kMatmulSharedBytes;
  return l;
}

inline MOELA_HOST_DEVICE int matmulBlockM(const Tile &t) {
  return t.block_m > 0 ? t.block_m : 64;
}
inline MOELA_HOST_DEVICE int matmulBlockN(const Tile &t) {
  return t.block_n > 0 ? t.block_n : 64;
}

/// Gemm's output tiles, for either engine: ceil(m / BM) x ceil(N' / BN')
/// (N' = n, or n / 2 with silu_mul; BN' = BN, or BN / 2 with silu_mul).
inline MOELA_HOST_DEVICE long long gemmTiles(const GemmArgs &args,
                                             const Tile &tile) {
  const int bm = matmulBlockM(tile), bn = matmulBlockN(tile);
  const long long nOut = args.silu_mul ? args.n / 2 : args.n;
  const int bno = args.silu_mul ? bn / 2 : bn;
  const long long tilesM = args.m > 0 ? ceilDiv(args.m, bm) : 0;
  return tilesM * static_cast<long long>(ceilDiv(nOut, bno));
}

/// Gemm: a block per output tile, rasterised in groups of
/// kMatmulRasterGroup M tiles (matmulRaster).
inline MOELA_HOST_DEVICE Launch launchGemm(const GemmArgs &args,
                                           const Tile &tile) {
  return matmulLaunch(gemmTiles(args, tile));
}

/// GroupedGemm: ceil(N' / BN') x (ceil(m_max / BM) + min(experts, m_max))
/// blocks: the second factor bounds sum_e ceil(rows_e / BM) for any offsets.
inline MOELA_HOST_DEVICE Launch launchGroupedGemm(const GroupedGemmArgs &args,
                                                  const Tile &tile) {
  const int bm = matmulBlockM(tile), bn = matmulBlockN(tile);
  const long long nOut = args.silu_mul ? args.n / 2 : args.n;
  const int bno = args.silu_mul ? bn / 2 : bn;
  const long long mMax = args.m_max > 0 ? args.m_max : 0;
  const long long tilesM =
      mMax > 0 ? ceilDiv(mMax, bm) + (args.experts < mMax ? args.experts : mMax)
               : 0;
  return matmulLaunch(static_cast<long long>(ceilDiv(nOut, bno)) * tilesM);
}

/// HeadGemm: ceil(out / BN) x ceil(rows / BM) x heads blocks, out = w_rows,
/// or w.cols with transpose.
inline MOELA_HOST_DEVICE Launch launchHeadGemm(const HeadGemmArgs &args,
                                               const Tile &tile) {
  const int bm = matmulBlockM(tile), bn = matmulBlockN(tile);
  const long long outLen = args.transpose ? args.w.cols : args.w_rows;
  if (args.rows <= 0 || outLen <= 0 || args.heads <= 0)
    return matmulLaunch(0);
  return matmulLaunch(static_cast<long long>(ceilDiv(outLen, bn)) *
                      ceilDiv(args.rows, bm) * args.heads);
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_MATMULLAUNCH_H
