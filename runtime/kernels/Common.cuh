//===- Common.cuh - Conversions and reductions shared by the kernels ------===//
//
// Included by every device template. Element types: float, __nv_bfloat16,
// __nv_fp8_e4m3 (storage only; arithmetic is float).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_COMMON_CUH
#define MOELA_KERNELS_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "Abi.h"
#include "Args.h"

namespace moela {
namespace kernels {

template <typename T> __device__ __forceinline__ float toFloat(T v);
template <> __device__ __forceinline__ float toFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float toFloat<__nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <>
__device__ __forceinline__ float toFloat<__nv_fp8_e4m3>(__nv_fp8_e4m3 v) {
  return static_cast<float>(v);
}

template <typename T> __device__ __forceinline__ T fromFloat(float v);
template <> __device__ __forceinline__ float fromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __nv_fp8_e4m3 fromFloat<__nv_fp8_e4m3>(float v) {
  return __nv_fp8_e4m3(v); // saturates to +-448
}

/// Element (r, c) of a view holding T.
template <typename T>
__device__ __forceinline__ T *at(const View &v, long long r, long long c) {
  return static_cast<T *>(v.ptr) + r * v.ld + c;
}

template <typename T>
__device__ __forceinline__ float loadF(const View &v, long long r,
                                       long long c) {
  return toFloat(*at<T>(v, r, c));
}

template <typename T>
__device__ __forceinline__ void storeF(const View &v, long long r, long long c,
                                       float x) {
  *at<T>(v, r, c) = fromFloat<T>(x);
}

/// -infinity without math.h (NVRTC has no standard headers).
__device__ __forceinline__ float negInf() { return __int_as_float(0xff800000); }

__device__ __forceinline__ float silu(float x) {
  return x / (1.0f + __expf(-x));
}

__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/// Sum over the block; `scratch` holds 32 floats of shared memory. Every
/// thread gets the result. Must be reached by all threads of the block.
__device__ __forceinline__ float blockSum(float v, float *scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warpSum(v);
  __syncthreads();
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? scratch[lane] : 0.0f;
  return warpSum(v);
}

__device__ __forceinline__ float blockMax(float v, float *scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warpMax(v);
  __syncthreads();
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? scratch[lane] : negInf();
  return warpMax(v);
}

/// Element (r, c) of weight expert `e`, dequantized (FP8: times its block
/// scale).
/// The index of the cache row of position `pos` of sequence `seq` in the
/// layer's pages (Args.h KvPages): row pos % 64 of the sequence's page for
/// block pos / 64. Its elements start at kvRow * (R + DR).
__device__ __forceinline__ long long kvRow(const KvPages &cache, int seq,
                                           int pos) {
  const int page =
      cache.block_tables[static_cast<long long>(seq) * cache.pages_per_seq +
                         pos / ::moela::abi::kKvPageTokens];
  return static_cast<long long>(page) * ::moela::abi::kKvPageTokens +
         pos % ::moela::abi::kKvPageTokens;
}

/// Column c of cache row `row` (kvRow) as f32: a bf16 value, or an e4m3 code
/// times its 128-column block's scale.
__device__ __forceinline__ float kvLoad(const KvPages &cache, long long row,
                                        int c, int width) {
  const long long i = row * width + c;
  if (cache.scales)
    return __fmul_rn(toFloat(static_cast<const __nv_fp8_e4m3 *>(cache.data)[i]),
                     cache.scales[row * ::moela::abi::kvFp8Scales(width) +
                                  c / ::moela::abi::kFp8Block]);
  return toFloat(static_cast<const __nv_bfloat16 *>(cache.data)[i]);
}

template <typename TW>
__device__ __forceinline__ float loadWeight(const Weight &w, int e, long long r,
                                            long long c) {
  const TW *data = static_cast<const TW *>(w.data) + e * w.expert_stride;
  float x = toFloat(data[r * w.cols + c]);
  if (w.scales)
    x *= w.scales[e * w.scale_expert_stride + (r / 128) * w.scale_ld + c / 128];
  return x;
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_COMMON_CUH
