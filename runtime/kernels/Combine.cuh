//===- Combine.cuh - Weighted sum of the experts' rows per token ----------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Combine.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::CombineArgs args) {
//     moela::kernels::combine<TY, TSH, TR, TO>(args);
//   }
//
//   TY, TSH, TR, TO  element types of y, shared, residual and out (float, or
//                    __nv_bfloat16; float for an absent view). w is F32.
//
// Launches (OpsLaunch.h combineLaunches: 2 with perm, else 1); the backend
// runs them with args.phase = 0, 1, ... as for every multi-launch family:
//  - with perm: phase 0 (ceil(T*K / 256) blocks): inverse[perm[i]] = i;
//    phase 1 (T blocks): the sums.
//  - without perm: phase 0 (T blocks): the sums.
// top_k <= 64.
// Workspace: inverse, T*K ints (OpsLaunch.h combineWorkspaceBytes).
//
// out[t] = ((sum_{k=0..K-1} w[t,k] * y[row(t,k)]) + shared[t]) + residual[t],
// each operation IEEE-rounded in that order, as the host reference;
// row(t,k) = inverse[t*K + k] with perm, else t*K + k. out may be the very
// view of residual (each element is read before it is written, by one thread).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_COMBINE_CUH
#define MOELA_KERNELS_COMBINE_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {

template <typename TY, typename TSH, typename TR, typename TO>
__device__ __forceinline__ void combine(const CombineArgs &args) {
  const int K = args.top_k < 64 ? args.top_k : 64, N = args.rows * args.top_k;
  if (args.perm && args.phase == 0) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) {
      const int slot = args.perm[i];
      if (slot >= 0 && slot < N)
        args.inverse[slot] = i;
    }
    return;
  }
  __shared__ long long rows[64];
  __shared__ float weights[64];
  const int t = blockIdx.x;
  if (t >= args.rows)
    return;
  for (int k = threadIdx.x; k < K; k += blockDim.x) {
    const int slot = t * args.top_k + k;
    const int row = args.perm ? args.inverse[slot] : slot;
    rows[k] =
        row >= 0 && row < N ? row : 0; // memory-safe if perm was no permutation
    weights[k] = loadF<float>(args.w, t, k);
  }
  __syncthreads();
  for (int c = threadIdx.x; c < args.cols; c += blockDim.x) {
    float acc = 0.0f;
    for (int k = 0; k < K; ++k)
      acc =
          __fadd_rn(acc, __fmul_rn(weights[k], loadF<TY>(args.y, rows[k], c)));
    if (args.shared.ptr)
      acc = __fadd_rn(acc, loadF<TSH>(args.shared, t, c));
    if (args.residual.ptr)
      acc = __fadd_rn(loadF<TR>(args.residual, t, c), acc);
    storeF<TO>(args.out, t, c, acc);
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_COMBINE_CUH
