//===- GroupedGemm.cuh - One GEMM per expert over sorted rows -------------===//
//
// Instantiation (the emitter writes exactly this, with the names replaced):
//
//   #include "GroupedGemm.cuh"
//   extern "C" __global__ void __launch_bounds__(256, 1)
//   NAME(const moela::kernels::GroupedGemmArgs args) {
//     moela::kernels::groupedGemm<TA, TW, TC, BM, BN, BK, SILU_MUL>(args);
//   }
//
//   TA: element type of `a`: __nv_bfloat16 or float.
//   TW: element type of the expert weights: __nv_bfloat16, __nv_fp8_e4m3
//       (with block scales) or float.
//   TC: element type of `c`: float or __nv_bfloat16.
//   BM, BN, BK: the step's Tile block_m, block_n, block_k (64 or 128 each).
//       Tile.stages and Tile.threads are ignored (256 threads).
//   SILU_MUL: true/false as the step's GroupedGemmParams.
//
// Launch: MatmulLaunch.h launchGroupedGemm(args, tile). The offsets stay on
// the device: the 1-D grid covers n tiles x an upper bound of the expert row
// tiles (ceil(m_max / BM) + min(experts, m_max)); each block finds its expert
// tile by a scan of the offsets (expert e has ceil(rows_e / BM) tiles, in
// expert order) and exits when it has none.
//
// Semantics (plan.fbs GroupedGemmParams): rows offsets[e]..offsets[e+1] of
// `a` [m_max, k] times expert e's weight, c = a @ W_e^T, fp32 accumulation.
// `n` is the number of weight rows of one expert as in GemmArgs: with
// silu_mul, n = 2F and c gets F = n / 2 columns: c = silu(gate_e a) * (up_e a)
// where gate_e = `w` expert e ([F, k]) and up_e = `up` expert e ([F, k]); if
// up.data is null, `w` holds both, expert e = [gate_e; up_e] ([2F, k]).
// Without silu_mul, `w` expert e is [n, k]. Expert e's data starts at
// w.data + e * w.expert_stride elements, its scales (FP8) at w.scales +
// e * w.scale_expert_stride floats, [ceil(rows / 128), scale_ld].
// Rows of c outside every expert range are not written.
//
// Requirements: k % 16 == 0; a.ptr, a.ld * sizeof(TA), the weight data and
// expert_stride * sizeof(TW) multiples of 16 bytes; offsets ascending in
// [0, m_max]; silu_mul: n even.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_GROUPEDGEMM_CUH
#define MOELA_KERNELS_GROUPEDGEMM_CUH

#include "MatmulCommon.cuh"

namespace moela {
namespace kernels {
namespace mm {

/// Finds tile `tile` of the expert row tiles (expert e has ceil(rows_e / BM)
/// of them, experts in order). Every lane of the calling warp gets the same
/// answer; false when there is no such tile. Reads offsets[0..experts].
template <int BM>
__device__ __forceinline__ bool findExpertTile(const int *offsets, int experts,
                                               int tile, int &expert,
                                               int &rowBegin, int &rowEnd) {
  const int lane = threadIdx.x & 31;
  int before = 0; // tiles of the experts before this chunk of 32
  for (int base = 0; base < experts; base += 32) {
    const int e = base + lane;
    int lo = 0, hi = 0;
    if (e < experts) {
      lo = offsets[e];
      hi = offsets[e + 1];
    }
    const int tiles = hi > lo ? (hi - lo + BM - 1) / BM : 0;
    int incl = tiles; // inclusive scan over the warp
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const int v = __shfl_up_sync(0xffffffffu, incl, d);
      if (lane >= d)
        incl += v;
    }
    const int first = before + incl - tiles;
    const unsigned hit =
        __ballot_sync(0xffffffffu, tile >= first && tile < first + tiles);
    if (hit) {
      const int src = __ffs(hit) - 1;
      expert = __shfl_sync(0xffffffffu, e, src);
      const int local = tile - __shfl_sync(0xffffffffu, first, src);
      const int eLo = __shfl_sync(0xffffffffu, lo, src),
                eHi = __shfl_sync(0xffffffffu, hi, src);
      rowBegin = eLo + local * BM;
      rowEnd = rowBegin + BM < eHi ? rowBegin + BM : eHi;
      return true;
    }
    before += __shfl_sync(0xffffffffu, incl, 31);
  }
  return false;
}

} // namespace mm

template <typename TA, typename TW, typename TC, int BM, int BN, int BK,
          bool SILU_MUL>
__device__ __forceinline__ void groupedGemm(const GroupedGemmArgs &args) {
  using E = mm::Engine<TA, TW, BM, BN, BK, false>;
  extern __shared__ __align__(128) unsigned char mmSmem[];
  unsigned char *smem = mmSmem;

  constexpr int BNO = SILU_MUL ? BN / 2 : BN;
  const int n = args.n, k = args.k;
  const int nOut = SILU_MUL ? n / 2 : n;
  const int tilesN = (nOut + BNO - 1) / BNO;
  const int nt = blockIdx.x % tilesN, tile = blockIdx.x / tilesN;
  int expert, rowBegin, rowEnd;
  // Every warp scans (no barrier needed): the whole block agrees.
  if (!mm::findExpertTile<BM>(args.offsets, args.experts, tile, expert,
                              rowBegin, rowEnd))
    return;
  const int n0 = nt * BNO;

  // Row tables: tile row j -> expert row (SILU_MUL: interleaved gate and up
  // rows as in Gemm.cuh; the up rows from args.up when it is given, else the
  // second half of args.w).
  for (int j = threadIdx.x; j < BN; j += kMatmulThreads) {
    const matmul::TileRow t = matmul::tileRow<SILU_MUL>(j, n0, nOut);
    // (values, not a pointer: args stays in parameter space)
    const bool useUp = t.up && args.up.data;
    const long long wr =
        t.up && !useUp ? static_cast<long long>(nOut) + t.f : t.f;
    const char *row = nullptr;
    const float *scale = nullptr;
    if (t.ok) {
      const void *data = useUp ? args.up.data : args.w.data;
      const long long stride =
          useUp ? args.up.expert_stride : args.w.expert_stride;
      row = static_cast<const char *>(data) +
            (expert * stride + wr * k) * static_cast<long long>(sizeof(TW));
      if constexpr (E::kScaleW) {
        const float *scales = useUp ? args.up.scales : args.w.scales;
        const long long sStride =
            useUp ? args.up.scale_expert_stride : args.w.scale_expert_stride;
        const int sLd = useUp ? args.up.scale_ld : args.w.scale_ld;
        scale = scales + expert * sStride + (wr / abi::kFp8Block) * sLd;
      }
    }
    matmul::weightRows<BN>(smem)[j] = row;
    matmul::weightScales<BN>(smem)[j] = scale;
  }
  __syncthreads();

  matmul::Problem p = {};
  p.K = k;
  p.rows = rowEnd - rowBegin;
  p.aLd = args.a.ld * static_cast<long long>(sizeof(TA));
  p.a = static_cast<const char *>(args.a.ptr) + rowBegin * p.aLd;
  p.anyValid = args.w.data;
  matmul::storePlain<TC, BN, SILU_MUL, kMatmulThreads>(
      E::template product<SILU_MUL>(smem, p), p.rows,
      nOut - n0 < BNO ? nOut - n0 : BNO, args.c, rowBegin, n0);
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_GROUPEDGEMM_CUH
