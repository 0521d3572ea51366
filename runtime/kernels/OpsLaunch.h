//===- OpsLaunch.h - Launch geometry of the non-GEMM kernel families ------===//
//
// For the CUDA backend (plain C++17) and device code alike: builtin types
// only. One `Launch launch<Family>(const <Family>Args &, const Tile &)` per
// family of Embedding.cuh, RmsNorm.cuh, Elementwise.cuh, Rope.cuh,
// Argmax.cuh, KvAppend.cuh, KvGather.cuh, LatentAttention.cuh,
// MlaAttention.cuh, MlaPrefillAttention.cuh, Route.cuh, Dispatch.cuh,
// Combine.cuh and MoeExperts.cuh, called with the step's
// run-time row count in the args. The Tile is ignored (these families have
// fixed tiles; 0s are fine). Each .cuh states its instantiation; the block
// size returned here is the __launch_bounds__ of that instantiation.
//
// Rules for the backend:
//  - Dynamic shared memory: Launch::shared_bytes. Where it can exceed 48 KB
//    (LatentAttention: up to 229,888 bytes; MlaPrefillAttention: 106,496 for
//    V3; RmsNorm, Route and MoeExperts for very wide rows) the function needs
//    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES set to at least that;
//    latentAttentionMaxSharedBytes and mlaPrefillAttentionSharedBytes give
//    the value to set once per LatentAttention / MlaPrefillAttention kernel.
//  - Multi-launch families (LatentAttention, Dispatch, Combine): for phase = 0
//    .. <family>Launches(args) - 1, in order on one stream: set args.phase =
//    phase and launch with launch<Family>(args, tile). Single-launch families
//    ignore phase.
//  - Workspaces (LatentAttention, Combine): a device buffer of at least
//    <family>WorkspaceBytes(args) bytes, computed with args.rows = the
//    program's max rows (the sizes cover every row count up to it), 16-byte
//    aligned, passed in the args' workspace pointer. Kernels keep no state in
//    it between launches (no zeroing needed; steps may share one buffer).
//  - A grid is never empty: 0 rows give 1 block that does nothing.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_OPSLAUNCH_H
#define MOELA_KERNELS_OPSLAUNCH_H

#include "Abi.h"
#include "Args.h"

namespace moela {
namespace kernels {

namespace opslaunch {

/// LatentAttention splits each token's rows so that a decode batch fills
/// about two waves of blocks on the target's multiprocessors.
constexpr int kSmCount = abi::kSm90a.sm_count;
using abi::kElementwiseChunk;

inline MOELA_HOST_DEVICE unsigned atLeast1(long long v) {
  return v < 1 ? 1u : static_cast<unsigned>(v);
}

inline MOELA_HOST_DEVICE Launch make(long long gx, long long gy, int block,
                                     long long shared) {
  Launch l;
  l.grid_x = atLeast1(gx);
  l.grid_y = atLeast1(gy);
  l.grid_z = 1;
  l.block = static_cast<unsigned>(block);
  l.shared_bytes = static_cast<unsigned>(shared);
  return l;
}

inline MOELA_HOST_DEVICE long long elementwiseBlocks(int rows, int cols) {
  return static_cast<long long>(rows) * ceilDiv(cols, kElementwiseChunk);
}

} // namespace opslaunch

// ---- Row and element-wise families ------------------------------------------

inline MOELA_HOST_DEVICE Launch launchEmbedding(const EmbeddingArgs &a,
                                                const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kRowThreads, 0);
}

inline MOELA_HOST_DEVICE Launch launchRmsNorm(const RmsNormArgs &a,
                                              const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kRowThreads, 4LL * a.cols);
}

/// Add, SiluMul, GatherRows and Concat: kElementwiseChunk columns of a row
/// per block.
template <typename Args>
inline MOELA_HOST_DEVICE Launch launchElementwise(const Args &a) {
  return opslaunch::make(opslaunch::elementwiseBlocks(a.rows, a.cols), 1,
                         abi::kRowThreads, 0);
}
inline MOELA_HOST_DEVICE Launch launchNextTokens(const NextTokensArgs &a,
                                                 const Tile &) {
  return opslaunch::make(ceilDiv(a.rows, abi::kRowThreads), 1, abi::kRowThreads,
                         0);
}

inline MOELA_HOST_DEVICE Launch launchRope(const RopeArgs &a, const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kRowThreads, 4LL * a.rope.dim);
}

inline MOELA_HOST_DEVICE Launch launchArgmax(const ArgmaxArgs &a,
                                             const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kArgmaxThreads, 0);
}

inline MOELA_HOST_DEVICE Launch launchSample(const SampleArgs &a,
                                             const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kSampleThreads, 0);
}
inline MOELA_HOST_DEVICE Launch
launchSampleCandidates(const SampleCandidatesArgs &a, const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kSampleThreads, 0);
}

// ---- MLA --------------------------------------------------------------------

inline MOELA_HOST_DEVICE Launch launchKvAppend(const KvAppendArgs &a,
                                               const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kRowThreads, 0);
}

/// One block per token (KvGather.cuh).
inline MOELA_HOST_DEVICE Launch launchKvGather(const KvGatherArgs &a,
                                               const Tile &) {
  return opslaunch::make(a.rows, 1, abi::kRowThreads, 0);
}

/// The MT template argument of LatentAttention: 16-head tiles per block.
inline MOELA_HOST_DEVICE int latentAttentionMTiles(int heads) {
  const int mt = (heads + 15) / 16;
  return mt < 1 ? 1 : (mt > 4 ? 4 : mt);
}

/// Threads per block (the instantiation's __launch_bounds__): 64 * MT.
inline MOELA_HOST_DEVICE int latentAttentionThreads(int heads) {
  return 64 * latentAttentionMTiles(heads);
}

/// Dynamic shared memory of phase 0 (LatentAttention.cuh latent::Geometry):
/// 16 * (HB*RS + 2*64*RS + HB*8) + 8*HB bytes, HB = 16*MT, RS = the row stride
/// in 16-byte chunks of [latent | rope padded to 16 elements].
inline MOELA_HOST_DEVICE unsigned
latentAttentionMaxSharedBytes(int latent, int rope, int heads) {
  const int hb = 16 * latentAttentionMTiles(heads);
  const int ch = (latent + (rope + 15) / 16 * 16) / 8;
  const int rs = ch % 8 == 0 ? ch : (ch | 1);
  return static_cast<unsigned>(16 * (hb * rs + 2 * 64 * rs + hb * 8) + 8 * hb);
}

/// Head groups per token: ceil(heads / (16 * MT)).
inline MOELA_HOST_DEVICE int latentAttentionGroups(int heads) {
  const int hb = 16 * latentAttentionMTiles(heads);
  return (heads + hb - 1) / hb;
}

/// S, the splits per token of phase 0 for `rows` tokens: about 2 * 132
/// blocks in all, at most 64, at most the 64-row tiles of a slot.
inline MOELA_HOST_DEVICE int
latentAttentionSplitsFor(const LatentAttentionArgs &a, int rows) {
  const long long tiles = a.cache.pages_per_seq; // 64-row tiles of a slot
  const long long blocks = static_cast<long long>(rows < 1 ? 1 : rows) *
                           latentAttentionGroups(a.heads);
  long long s = 2 * opslaunch::kSmCount / blocks;
  if (s > 64)
    s = 64;
  if (s > tiles)
    s = tiles;
  return s < 1 ? 1 : static_cast<int>(s);
}

/// 2 when phase 1 (the split combine) must run after phase 0, else 1.
inline MOELA_HOST_DEVICE int
latentAttentionLaunches(const LatentAttentionArgs &a) {
  return latentAttentionSplitsFor(a, a.rows) > 1 ? 2 : 1;
}

/// Phase 0: grid (rows * groups, S), 64*MT threads, the shared memory above.
/// Phase 1: one thread per 4 output columns of every (token, head).
inline MOELA_HOST_DEVICE Launch
launchLatentAttention(const LatentAttentionArgs &a, const Tile &) {
  const int threads = latentAttentionThreads(a.heads);
  if (a.phase == 0)
    return opslaunch::make(
        static_cast<long long>(a.rows) * latentAttentionGroups(a.heads),
        latentAttentionSplitsFor(a, a.rows), threads,
        latentAttentionMaxSharedBytes(a.latent_dim, a.rope_dim, a.heads));
  const long long work =
      static_cast<long long>(a.rows) * a.heads * (a.latent_dim / 4);
  return opslaunch::make((work + threads - 1) / threads, 1, threads, 0);
}

/// Bytes of workspace for any row count up to a.rows: the largest over T of
/// 4 * (roundUp(T, 4) + S(T) * T * Hp * (R + 4)) where S(T) > 1, with Hp =
/// groups * 16 * MT (see LatentAttention.cuh); 0 when no T splits.
inline MOELA_HOST_DEVICE long long
latentAttentionWorkspaceBytes(const LatentAttentionArgs &a) {
  const long long hp = static_cast<long long>(latentAttentionGroups(a.heads)) *
                       16 * latentAttentionMTiles(a.heads);
  long long best = 0;
  for (int t = 1; t <= a.rows; ++t) {
    const int s = latentAttentionSplitsFor(a, t);
    if (s < 2)
      break; // S(T) never grows with T
    const long long bytes =
        4 * ((t + 3) / 4 * 4 +
             static_cast<long long>(s) * t * hp * (a.latent_dim + 4));
    if (bytes > best)
      best = bytes;
  }
  return best;
}

inline MOELA_HOST_DEVICE Launch launchMlaAttention(const MlaAttentionArgs &a,
                                                   const Tile &) {
  return opslaunch::make(
      static_cast<long long>(a.rows) * a.heads, 1, abi::kMlaAttentionThreads,
      4LL * (a.nope_dim + a.rope_dim + 10LL * a.latent_dim + 16));
}

inline MOELA_HOST_DEVICE long long
mlaAttentionWorkspaceBytes(const MlaAttentionArgs &) {
  return 0;
}

/// Threads per block of MlaPrefillAttention (its __launch_bounds__): 4 warps.
inline MOELA_HOST_DEVICE int mlaPrefillAttentionThreads() { return 128; }

/// Dynamic shared memory of MlaPrefillAttention (MlaPrefillAttention.cuh
/// prefill::Geometry): 16 * (3 * 64 * RSk + 2 * 64 * RSv) bytes (Q, two K and
/// two V tiles), RSk / RSv = the row strides in 16-byte chunks of
/// [nope | rope] padded to 16 elements and of v.
inline MOELA_HOST_DEVICE unsigned
mlaPrefillAttentionSharedBytes(int nope, int rope, int v) {
  const int kch = (nope + rope + 15) / 16 * 2, vch = v / 8;
  const int rsk = kch % 8 == 0 ? kch : (kch | 1),
            rsv = vch % 8 == 0 ? vch : (vch | 1);
  return static_cast<unsigned>(16 * (3 * 64 * rsk + 2 * 64 * rsv));
}

/// Grid (64-row query tiles, heads), 128 threads, the shared memory above.
inline MOELA_HOST_DEVICE Launch
launchMlaPrefillAttention(const MlaPrefillAttentionArgs &a, const Tile &) {
  return opslaunch::make(
      ceilDiv(a.rows, 64), a.heads, mlaPrefillAttentionThreads(),
      mlaPrefillAttentionSharedBytes(a.nope_dim, a.rope_dim, a.v_dim));
}

// ---- MoE --------------------------------------------------------------------

inline MOELA_HOST_DEVICE Launch launchRoute(const RouteArgs &a, const Tile &) {
  if (a.fused_gate)
    return opslaunch::make(a.rows, 1, abi::kRouteThreads,
                           4LL * (a.dim + a.experts));
  return opslaunch::make((a.rows + 7) / 8, 1, abi::kRouteThreads, 0);
}

inline MOELA_HOST_DEVICE int dispatchLaunches(const DispatchArgs &) {
  return 2;
}

/// Phase 0: one block sorts the slots; phase 1: a warp per sorted row.
inline MOELA_HOST_DEVICE Launch launchDispatch(const DispatchArgs &a,
                                               const Tile &) {
  if (a.phase == 0)
    return opslaunch::make(1, 1, abi::kDispatchThreads,
                           4LL * (33LL * a.experts + 1));
  return opslaunch::make((static_cast<long long>(a.rows) * a.top_k + 31) / 32,
                         1, abi::kDispatchThreads, 0);
}

inline MOELA_HOST_DEVICE long long
dispatchWorkspaceBytes(const DispatchArgs &) {
  return 0; // counters is not used
}

inline MOELA_HOST_DEVICE int combineLaunches(const CombineArgs &a) {
  return a.perm ? 2 : 1;
}

/// With perm, phase 0 inverts it (a thread per slot); the sums: a block per
/// token.
inline MOELA_HOST_DEVICE Launch launchCombine(const CombineArgs &a,
                                              const Tile &) {
  if (a.perm && a.phase == 0)
    return opslaunch::make(
        (static_cast<long long>(a.rows) * a.top_k + abi::kRowThreads - 1) /
            abi::kRowThreads,
        1, abi::kRowThreads, 0);
  return opslaunch::make(a.rows, 1, abi::kRowThreads, 0);
}

/// inverse: rows * top_k ints (used only when permuted).
inline MOELA_HOST_DEVICE long long combineWorkspaceBytes(const CombineArgs &a) {
  return 4LL * a.rows * a.top_k;
}

inline MOELA_HOST_DEVICE Launch launchMoeExperts(const MoeExpertsArgs &a,
                                                 const Tile &) {
  return opslaunch::make(static_cast<long long>(a.rows) * a.top_k, 1,
                         abi::kRowThreads, 4LL * (a.hidden + a.intermediate));
}

inline MOELA_HOST_DEVICE long long
moeExpertsWorkspaceBytes(const MoeExpertsArgs &) {
  return 0; // the hidden rows stay in shared memory
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_OPSLAUNCH_H
