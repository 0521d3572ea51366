//===- HeadGemm.cuh - Per-head GEMM with a row block of a weight (MLA) ----===//
//
// Instantiation (the emitter writes exactly this, with the names replaced):
//
//   #include "HeadGemm.cuh"
//   extern "C" __global__ void __launch_bounds__(256, 1)
//   NAME(const moela::kernels::HeadGemmArgs args) {
//     moela::kernels::headGemm<TX, TW, TY, BM, BN, BK, TRANSPOSE>(args);
//   }
//
//   TX: element type of `x`: __nv_bfloat16 or float.
//   TW: element type of `w`: __nv_bfloat16, __nv_fp8_e4m3 (with block
//       scales) or float.
//   TY: element type of `y`: float or __nv_bfloat16.
//   BM, BN, BK: the step's Tile block_m, block_n, block_k (64 or 128 each).
//       Tile.stages and Tile.threads are ignored (256 threads).
//   TRANSPOSE: true/false as HeadGemmParams.transpose (args.transpose must
//       agree).
//
// Launch: MatmulLaunch.h launchHeadGemm(args, tile): a 1-D grid over
// (n tiles, m tiles, heads), n fastest.
//
// Semantics (plan.fbs HeadGemmParams): W = w [heads*head_rows, C], W_h = its
// rows [h*head_rows + row_offset, + w_rows). For every row t and head h:
//   !TRANSPOSE: y[t, h, 0:w_rows] = W_h x[t, h, 0:C]     (acc = x_h @ W_h^T)
//    TRANSPOSE: y[t, h, 0:C]      = W_h^T x[t, h, 0:w_rows] (acc = x_h @ W_h)
// x head h at column h * in_stride, y head h at h * out_stride (0 = packed:
// the head's input / output length). fp32 accumulation; FP8 block scales
// applied in fp32 per 128-row (TRANSPOSE: per 128-row block of W as K runs)
// and 128-column block.
//
// Tiles: 64 or 128 each; with FP8 weights BM * BN <= 64 * 128.
// Requirements: C % 16 == 0 and w_rows % 16 == 0; x.ptr, x.ld * sizeof(TX),
// in_stride * sizeof(TX) and w.data multiples of 16 bytes; TRANSPOSE with
// FP8 weights: head_rows % 16 == 0 and row_offset % 16 == 0 (a 16-row MMA
// step never straddles two scale blocks).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_HEADGEMM_CUH
#define MOELA_KERNELS_HEADGEMM_CUH

#include "MatmulCommon.cuh"

namespace moela {
namespace kernels {

template <typename TX, typename TW, typename TY, int BM, int BN, int BK,
          bool TRANSPOSE>
__device__ __forceinline__ void headGemm(const HeadGemmArgs &args) {
  using E = mm::Engine<TX, TW, BM, BN, BK, TRANSPOSE>;
  // Two accumulator sets (FP8 scales) of a 128 x 128 tile do not fit the
  // registers next to HeadGemm's addressing; the tiler gives 64 x 64.
  static_assert(!E::kScaleW || BM * BN <= 64 * 128,
                "HeadGemm with FP8 weights: 64 x 64 tiles");
  extern __shared__ __align__(128) unsigned char mmSmem[];
  unsigned char *smem = mmSmem;

  const int C = args.w.cols, R = args.w_rows;
  const int inLen = TRANSPOSE ? R : C, outLen = TRANSPOSE ? C : R;
  const long long inStride = args.in_stride ? args.in_stride : inLen;
  const long long outStride = args.out_stride ? args.out_stride : outLen;
  if (args.rows <= 0 || outLen <= 0)
    return;
  const int tilesN = (outLen + BN - 1) / BN, tilesM = (args.rows + BM - 1) / BM;
  const int nt = blockIdx.x % tilesN;
  const int rest = blockIdx.x / tilesN;
  const int mt = rest % tilesM, h = rest / tilesM;
  if (h >= args.heads)
    return;
  const int m0 = mt * BM, n0 = nt * BN;
  const long long wRow0 =
      static_cast<long long>(h) * args.head_rows + args.row_offset;

  matmul::Problem p = {};
  p.rows = args.rows - m0 < BM ? args.rows - m0 : BM;
  p.aLd = args.x.ld * static_cast<long long>(sizeof(TX));
  p.a = static_cast<const char *>(args.x.ptr) + m0 * p.aLd +
        h * inStride * static_cast<long long>(sizeof(TX));
  p.anyValid = args.w.data;
  if constexpr (!TRANSPOSE) {
    // acc = x_h @ W_h^T: K = C, tile row j = W_h row n0 + j.
    p.K = C;
    for (int j = threadIdx.x; j < BN; j += kMatmulThreads) {
      const bool ok = n0 + j < R;
      const long long wr = wRow0 + n0 + j;
      matmul::weightRows<BN>(smem)[j] =
          ok ? static_cast<const char *>(args.w.data) +
                   wr * C * static_cast<long long>(sizeof(TW))
             : nullptr;
      matmul::weightScales<BN>(smem)[j] =
          (E::kScaleW && ok)
              ? args.w.scales + (wr / abi::kFp8Block) * args.w.scale_ld
              : nullptr;
    }
    __syncthreads();
  } else {
    // acc = x_h @ W_h: K = w_rows, W_h [w_rows, C] read as [K, N] tiles.
    p.K = R;
    p.w = static_cast<const char *>(args.w.data) +
          wRow0 * C * static_cast<long long>(sizeof(TW));
    p.wLd = C;
    p.n0 = n0;
    p.nLimit = C;
    p.wScales = args.w.scales;
    p.wScaleLd = args.w.scale_ld;
    p.wRow0 = static_cast<int>(wRow0);
  }
  matmul::storePlain<TY, BN, false, kMatmulThreads>(
      E::template product<false>(smem, p), p.rows,
      outLen - n0 < BN ? outLen - n0 : BN, args.y, m0, h * outStride + n0);
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_HEADGEMM_CUH
