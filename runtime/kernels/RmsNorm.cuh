//===- RmsNorm.cuh - RMSNorm with optional residual add and FP8 output ----===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "RmsNorm.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::RmsNormArgs args) {
//     moela::kernels::rmsNorm<TX, TR, TY, TW>(args);
//   }
//
//   TX  element type of x (float)
//   TR  element type of residual and sum (float; float also when there is no
//       residual)
//   TY  element type of y: float, __nv_bfloat16, or __nv_fp8_e4m3 = the
//       quantized output (then y_scales is required; ue8m0 from the args)
//   TW  dtype of the norm weight (__nv_bfloat16 or float)
//
// Launch (OpsLaunch.h launchRmsNorm): one block of 256 threads per row,
// dynamic shared memory = cols * 4 bytes (the row being normalised).
//
// s = x (+ residual, then written to sum); y = w * (s * inv) with
// inv = 1 / sqrt(mean(s^2) + eps), IEEE-rounded like the host reference.
// Outputs may be the very views of inputs: every input element is read
// before the barrier that precedes the writes of y, and sum[c] is written
// by the thread that read x[c] and residual[c].
// FP8 (docs/model.md §3.4): per row and 128-column block b, s_b = max(amax,
// 1e-4)/448 (ue8m0: rounded up to a power of two), y = e4m3(y / s_b),
// y_scales[row * y_scale_ld + b] = s_b. The last block may be partial.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_RMSNORM_CUH
#define MOELA_KERNELS_RMSNORM_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {

template <typename T> struct IsFp8 {
  static constexpr bool value = false;
};
template <> struct IsFp8<__nv_fp8_e4m3> {
  static constexpr bool value = true;
};

/// 1 / sqrt(sumSquares / n + eps), each step IEEE-rounded (fast math would
/// make sqrt and the divisions approximate).
__device__ __forceinline__ float rmsInverse(float sumSquares, int n,
                                            float eps) {
  const float mean = __fdiv_rn(sumSquares, static_cast<float>(n));
  return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(mean, eps)));
}

template <typename TX, typename TR, typename TY, typename TW>
__device__ __forceinline__ void rmsNorm(const RmsNormArgs &args) {
  extern __shared__ float rmsRow[]; // [cols]
  __shared__ float scratch[32];
  const int r = blockIdx.x, n = args.cols;
  if (r >= args.rows)
    return;
  const bool residual = args.residual.ptr != nullptr;
  float squares = 0.0f;
  for (int c = threadIdx.x; c < n; c += blockDim.x) {
    float v = loadF<TX>(args.x, r, c);
    if (residual) {
      v = __fadd_rn(v, loadF<TR>(args.residual, r, c));
      if (args.sum.ptr)
        storeF<TR>(args.sum, r, c, v);
    }
    rmsRow[c] = v;
    squares = __fmaf_rn(v, v, squares);
  }
  const float inv =
      rmsInverse(blockSum(squares, scratch), n, args.eps); // has barriers
  const TW *w = static_cast<const TW *>(args.weight.data);
  if constexpr (!IsFp8<TY>::value) {
    for (int c = threadIdx.x; c < n; c += blockDim.x)
      storeF<TY>(args.y, r, c,
                 __fmul_rn(toFloat(w[c]), __fmul_rn(rmsRow[c], inv)));
  } else {
    // One warp per 128-column block; lane holds columns 32k + lane.
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    const int blocks = (n + 127) / 128;
    for (int b = threadIdx.x >> 5; b < blocks; b += warps) {
      float v[4];
      float amax = 0.0f;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int c = b * 128 + 32 * k + lane;
        v[k] =
            c < n ? __fmul_rn(toFloat(w[c]), __fmul_rn(rmsRow[c], inv)) : 0.0f;
        amax = fmaxf(amax, fabsf(v[k]));
      }
      amax = warpMax(amax);
      const float s = ops::fp8Scale(amax, args.ue8m0 != 0);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int c = b * 128 + 32 * k + lane;
        if (c < n)
          *at<__nv_fp8_e4m3>(args.y, r, c) = __nv_fp8_e4m3(__fdiv_rn(v[k], s));
      }
      if (lane == 0)
        args.y_scales[r * args.y_scale_ld + b] = s;
    }
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_RMSNORM_CUH
