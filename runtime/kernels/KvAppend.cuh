//===- KvAppend.cuh - Write the latent and rope key of tokens to the cache ===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "KvAppend.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::KvAppendArgs args) {
//     moela::kernels::kvAppend<TL, TP, TW>(args);
//   }
//
//   TL, TP  element types of latent and k_pe (float, or __nv_bfloat16)
//   TW      dtype of the norm weight (__nv_bfloat16 or float; any if no norm)
//
// Launch (OpsLaunch.h launchKvAppend): one block of 256 threads per token.
//
// The cache is paged (Args.h KvPages); token t writes the row
// kvRow(cache, seq_ids[t], positions[t]) =
// [norm ? RMSNorm(latent) : latent | rope ? rope(k_pe) : k_pe], computed in
// fp32 (as the host) and rounded to bf16 once, or for an e4m3 cache
// quantized per 128-column block with its scale (docs/model.md §3.4). The
// rope rotates the whole k_pe: rope_dim/2 interleaved pairs with
// rope.inv_freq and rope.magnitude.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_KVAPPEND_CUH
#define MOELA_KERNELS_KVAPPEND_CUH

#include "RmsNorm.cuh"
#include "RopeCommon.cuh"

namespace moela {
namespace kernels {

/// Column c of token t's cache row before any rounding: the (normed) latent
/// for c < R (inv: its RMS inverse), else the (rotated) k_pe.
template <typename TL, typename TP, typename TW>
__device__ __forceinline__ float kvAppendValue(const KvAppendArgs &args, int t,
                                               int position, int c, float inv) {
  const int R = args.latent_dim;
  if (c < R) {
    if (!args.norm.data)
      return loadF<TL>(args.latent, t, c);
    const TW *w = static_cast<const TW *>(args.norm.data);
    return __fmul_rn(toFloat(w[c]),
                     __fmul_rn(loadF<TL>(args.latent, t, c), inv));
  }
  const int i = (c - R) / 2;
  float a = loadF<TP>(args.k_pe, t, 2 * i),
        b = loadF<TP>(args.k_pe, t, 2 * i + 1);
  if (args.rope.dim) {
    float cs, sn;
    ropeCosSin(position, args.rope.inv_freq[i], args.rope.magnitude, cs, sn);
    ropeRotate(a, b, cs, sn, a, b);
  }
  return (c - R) % 2 == 0 ? a : b;
}

template <typename TL, typename TP, typename TW>
__device__ __forceinline__ void kvAppend(const KvAppendArgs &args) {
  __shared__ float scratch[32];
  const int t = blockIdx.x;
  if (t >= args.rows)
    return;
  const int R = args.latent_dim, DR = args.rope_dim, width = R + DR;
  const int position = args.positions[t];
  float inv = 1.0f;
  if (args.norm.data) {
    float squares = 0.0f;
    for (int c = threadIdx.x; c < R; c += blockDim.x) {
      const float v = loadF<TL>(args.latent, t, c);
      squares = __fmaf_rn(v, v, squares);
    }
    inv = rmsInverse(blockSum(squares, scratch), R, args.eps);
  }
  const long long row = kvRow(args.cache, args.seq_ids[t], position);
  if (!args.cache.scales) {
    __nv_bfloat16 *dst =
        static_cast<__nv_bfloat16 *>(args.cache.data) + row * width;
    for (int c = threadIdx.x; c < width; c += blockDim.x)
      dst[c] = __float2bfloat16_rn(
          kvAppendValue<TL, TP, TW>(args, t, position, c, inv));
    return;
  }
  // e4m3: one warp per 128-column block, s = max(amax, 1e-4) / 448 and
  // code = e4m3(v / s), as FP8 activations (RmsNorm.cuh).
  __nv_fp8_e4m3 *dst =
      static_cast<__nv_fp8_e4m3 *>(args.cache.data) + row * width;
  float *scales = args.cache.scales + row * ::moela::abi::kvFp8Scales(width);
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int b = threadIdx.x >> 5; b < ::moela::abi::kvFp8Scales(width);
       b += warps) {
    float v[4];
    float amax = 0.0f;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int c = b * 128 + 32 * k + lane;
      v[k] = c < width ? kvAppendValue<TL, TP, TW>(args, t, position, c, inv)
                       : 0.0f;
      amax = fmaxf(amax, fabsf(v[k]));
    }
    amax = warpMax(amax);
    const float s = ops::fp8Scale(amax, false);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int c = b * 128 + 32 * k + lane;
      if (c < width)
        dst[c] = __nv_fp8_e4m3(__fdiv_rn(v[k], s));
    }
    if (lane == 0)
      scales[b] = s;
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_KVAPPEND_CUH
