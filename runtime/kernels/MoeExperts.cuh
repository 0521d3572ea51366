//===- MoeExperts.cuh - Reference MoE: each selected expert on its token --===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "MoeExperts.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::MoeExpertsArgs args) {
//     moela::kernels::moeExperts<TX, TY, TW>(args);
//   }
//
//   TX, TY  element types of x and y (float, or __nv_bfloat16)
//   TW      dtype of the expert weights gate, up, down (__nv_bfloat16, float,
//           or __nv_fp8_e4m3 with block scales)
//
// Launch (OpsLaunch.h launchMoeExperts): one block of 256 threads per slot
// t*K + k, dynamic shared memory (hidden + intermediate) * 4 bytes. The
// workspace is not used (may be null).
//
// y[t*K + k] = down_e(silu(gate_e x[t]) * up_e x[t]), e = idx[t, k], all in
// fp32 (warp per output row, lanes along the inner dimension). Slow on
// purpose: the reference form, used only when the dispatch pass is off. An
// expert id outside [0, global_experts) writes a row of NaN. Under expert
// parallelism an id of another rank's experts writes a row of zeros: the
// combine then adds nothing for it, and the AllReduce after it sums the
// ranks' parts.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_MOEEXPERTS_CUH
#define MOELA_KERNELS_MOEEXPERTS_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {

template <typename TX, typename TY, typename TW>
__device__ __forceinline__ void moeExperts(const MoeExpertsArgs &args) {
  extern __shared__ float moeSmem[]; // x [hidden] | h [intermediate]
  const int slot = blockIdx.x, K = args.top_k;
  if (slot >= args.rows * K)
    return;
  const int t = slot / K, D = args.hidden, F = args.intermediate;
  const int id = args.idx[static_cast<long long>(t) * args.idx_ld + slot % K];
  const int e = id - args.first_expert; // the rank's own index
  if (e < 0 || e >= args.experts) {
    const bool elsewhere = id >= 0 && id < args.global_experts;
    const float fill = elsewhere ? 0.0f : __int_as_float(0x7fc00000);
    for (int c = threadIdx.x; c < D; c += blockDim.x)
      storeF<TY>(args.y, slot, c, fill);
    return;
  }
  float *x = moeSmem, *h = moeSmem + D;
  for (int c = threadIdx.x; c < D; c += blockDim.x)
    x[c] = loadF<TX>(args.x, t, c);
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5,
            warps = blockDim.x >> 5;
  for (int f = warp; f < F; f += warps) {
    float g = 0.0f, u = 0.0f;
    for (int d = lane; d < D; d += 32) {
      g = __fmaf_rn(x[d], loadWeight<TW>(args.gate, e, f, d), g);
      u = __fmaf_rn(x[d], loadWeight<TW>(args.up, e, f, d), u);
    }
    g = warpSum(g);
    u = warpSum(u);
    if (lane == 0)
      h[f] = silu(g) * u;
  }
  __syncthreads();
  for (int c = warp; c < D; c += warps) {
    float acc = 0.0f;
    for (int f = lane; f < F; f += 32)
      acc = __fmaf_rn(h[f], loadWeight<TW>(args.down, e, c, f), acc);
    acc = warpSum(acc);
    if (lane == 0)
      storeF<TY>(args.y, slot, c, acc);
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_MOEEXPERTS_CUH
