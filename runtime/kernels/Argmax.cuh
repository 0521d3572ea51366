//===- Argmax.cuh - First index of the largest logit of each row ----------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Argmax.cuh"
//   extern "C" __global__ void __launch_bounds__(1024)
//   NAME(const moela::kernels::ArgmaxArgs args) {
//     moela::kernels::argmax<TL>(args);
//   }
//
//   TL  element type of logits (float)
//
// Launch (OpsLaunch.h launchArgmax): one block of 1024 threads per row.
//
// out[r] = the first index of the largest value of row r, exactly as the
// host's sequential scan `if (row[i] > row[best]) best = i` from best = 0:
// NaN never wins, and a NaN at column 0 (or an all-NaN row) gives 0.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ARGMAX_CUH
#define MOELA_KERNELS_ARGMAX_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {

template <typename TL>
__device__ __forceinline__ void argmax(const ArgmaxArgs &args) {
  __shared__ float values[32];
  __shared__ int indices[32];
  const int r = blockIdx.x;
  if (r >= args.rows)
    return;
  ops::ArgBest best{0.0f, -1};
  for (int c = threadIdx.x; c < args.cols; c += blockDim.x) {
    const float v = loadF<TL>(args.logits, r, c);
    if (!ops::isNan(v) && ops::better(v, c, best.value, best.index))
      best = {v, c};
  }
  best = ops::warpArgBest(best);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    values[warp] = best.value;
    indices[warp] = best.index;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + 31) >> 5;
    ops::ArgBest b{0.0f, -1};
    if (lane < warps)
      b = {values[lane], indices[lane]};
    b = ops::warpArgBest(b);
    if (lane == 0) {
      const bool nanFirst = ops::isNan(loadF<TL>(args.logits, r, 0));
      args.out[r] = nanFirst || b.index < 0 ? 0 : b.index;
    }
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ARGMAX_CUH
