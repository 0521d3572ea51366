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
// The cache is paged __nv_bfloat16 [pages, 64, R + Dr] (Args.h KvPages);
// token t writes the row kvRow(cache, seq_ids[t], positions[t]) =
// [norm ? RMSNorm(latent) : latent | rope ? rope(k_pe) : k_pe], computed in
// fp32 (as the host) and rounded to bf16 once. The rope rotates the whole
// k_pe: rope_dim/2 interleaved pairs with rope.inv_freq and rope.magnitude.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_KVAPPEND_CUH
#define MOELA_KERNELS_KVAPPEND_CUH

#include "RmsNorm.cuh"
#include "RopeCommon.cuh"

namespace moela {
namespace kernels {

template <typename TL, typename TP, typename TW>
__device__ __forceinline__ void kvAppend(const KvAppendArgs &args) {
  __shared__ float scratch[32];
  const int t = blockIdx.x;
  if (t >= args.rows)
    return;
  const int R = args.latent_dim, DR = args.rope_dim;
  const int position = args.positions[t];
  __nv_bfloat16 *dst = static_cast<__nv_bfloat16 *>(args.cache.data) +
                       kvRow(args.cache, args.seq_ids[t], position, R + DR);
  if (args.norm.data) {
    float squares = 0.0f;
    for (int c = threadIdx.x; c < R; c += blockDim.x) {
      const float v = loadF<TL>(args.latent, t, c);
      squares = __fmaf_rn(v, v, squares);
    }
    const float inv = rmsInverse(blockSum(squares, scratch), R, args.eps);
    const TW *w = static_cast<const TW *>(args.norm.data);
    for (int c = threadIdx.x; c < R; c += blockDim.x)
      dst[c] = __float2bfloat16_rn(__fmul_rn(
          toFloat(w[c]), __fmul_rn(loadF<TL>(args.latent, t, c), inv)));
  } else {
    for (int c = threadIdx.x; c < R; c += blockDim.x)
      dst[c] = __float2bfloat16_rn(loadF<TL>(args.latent, t, c));
  }
  for (int i = threadIdx.x; i < DR / 2; i += blockDim.x) {
    float a = loadF<TP>(args.k_pe, t, 2 * i),
          b = loadF<TP>(args.k_pe, t, 2 * i + 1);
    if (args.rope.dim) {
      float c, s;
      ropeCosSin(position, args.rope.inv_freq[i], args.rope.magnitude, c, s);
      ropeRotate(a, b, c, s, a, b);
    }
    dst[R + 2 * i] = __float2bfloat16_rn(a);
    dst[R + 2 * i + 1] = __float2bfloat16_rn(b);
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_KVAPPEND_CUH
