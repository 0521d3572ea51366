//===- Dispatch.cuh - Stable sort of the (token, k) slots by expert -------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Dispatch.cuh"
//   extern "C" __global__ void __launch_bounds__(1024)
//   NAME(const moela::kernels::DispatchArgs args) {
//     moela::kernels::dispatch<TX, TS>(args);
//   }
//
//   TX, TS  element types of x and sorted (float, or __nv_bfloat16)
//
// Two launches of the same function (OpsLaunch.h dispatchLaunches = 2): the
// backend runs it with args.phase = 0, then with args.phase = 1.
//  - phase 0 (launchDispatch: 1 block of 1024 threads, dynamic shared memory
//    (32 * E + E + 1) * 4 bytes): histogram of the experts, exclusive scan
//    -> offsets [E+1], then perm: slots are taken in chunks of 1024 in slot
//    order; inside a chunk a slot's rank among equal experts comes from
//    __match_any_sync within its warp plus per-(warp, expert) counts scanned
//    in warp order. So perm[i] lists, expert by expert, the slots t*K+k in
//    ascending order (stable, deterministic, no atomics on positions).
//  - phase 1 (launchDispatch: ceil(T*K / 32) blocks of 1024 threads, a warp
//    per sorted row): sorted[i] = x[perm[i] / K].
// `counters` is not used (may be null): no workspace. Expert ids outside
// [0, E) are clamped into it (memory-safe; the host backend rejects them).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_DISPATCH_CUH
#define MOELA_KERNELS_DISPATCH_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {
namespace dispatching {

__device__ __forceinline__ int expertOf(const DispatchArgs &args, int slot) {
  const int e =
      args.idx[static_cast<long long>(slot / args.top_k) * args.idx_ld +
               slot % args.top_k];
  return e < 0 ? 0 : (e >= args.experts ? args.experts - 1 : e);
}

/// Phase 0; blockDim.x must be a multiple of 32, at most 1024.
__device__ __forceinline__ void sortSlots(const DispatchArgs &args) {
  extern __shared__ int dispatchSmem[];
  const int E = args.experts, N = args.rows * args.top_k;
  const int warps = blockDim.x >> 5, lane = threadIdx.x & 31,
            warp = threadIdx.x >> 5;
  int *count = dispatchSmem; // [32][E]: per (warp, expert) counts, then bases
  int *next = dispatchSmem +
              32 * E; // [E + 1]: histogram, then next free row per expert
  for (int e = threadIdx.x; e <= E; e += blockDim.x)
    next[e] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < N; i += blockDim.x)
    atomicAdd(&next[expertOf(args, i)], 1); // counts only: order-free
  __syncthreads();
  if (threadIdx.x == 0) { // exclusive scan (E <= a few hundred)
    int run = 0;
    for (int e = 0; e < E; ++e) {
      const int c = next[e];
      next[e] = run;
      args.offsets[e] = run;
      run += c;
    }
    next[E] = run;
    args.offsets[E] = run;
  }
  for (int c0 = 0; c0 < N; c0 += blockDim.x) {
    for (int j = threadIdx.x; j < warps * E; j += blockDim.x)
      count[j] = 0;
    __syncthreads(); // also publishes the scan (first chunk)
    const int i = c0 + threadIdx.x;
    const bool valid = i < N;
    const int e = valid ? expertOf(args, i) : -1;
    const unsigned peers = __match_any_sync(0xffffffffu, e);
    const int rank =
        __popc(peers & ((1u << lane) - 1u)); // earlier lanes, same expert
    if (valid && rank == 0)
      count[warp * E + e] = __popc(peers);
    __syncthreads();
    for (int x = threadIdx.x; x < E; x += blockDim.x) { // bases in warp order
      int run = next[x];
      for (int w = 0; w < warps; ++w) {
        const int c = count[w * E + x];
        count[w * E + x] = run;
        run += c;
      }
      next[x] = run;
    }
    __syncthreads();
    if (valid)
      args.perm[count[warp * E + e] + rank] = i;
    __syncthreads(); // before the next chunk clears count
  }
}

} // namespace dispatching

template <typename TX, typename TS>
__device__ __forceinline__ void dispatch(const DispatchArgs &args) {
  if (args.phase == 0) {
    if (blockIdx.x == 0)
      dispatching::sortSlots(args);
    return;
  }
  const int N = args.rows * args.top_k;
  const int i = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (i >= N)
    return;
  const int t = args.perm[i] / args.top_k;
  for (int c = threadIdx.x & 31; c < args.cols; c += 32)
    storeF<TS>(args.sorted, i, c, loadF<TX>(args.x, t, c));
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_DISPATCH_CUH
