//===- Elementwise.cuh - Add, SiluMul, GatherRows -------------------------===//
//
// Instantiations (the emitter writes exactly these, NAME its entry point):
//
//   #include "Elementwise.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::AddArgs args) {
//     moela::kernels::add<TA, TB, TC>(args);           // c = a + b
//   }
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::SiluMulArgs args) {
//     moela::kernels::siluMul<TG, TU, TO>(args);       // out = silu(gate) * up
//   }
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::GatherRowsArgs args) {
//     moela::kernels::gatherRows<TX, TO>(args);        // out[i] = x[index[i]]
//   }
//
//   T*  the element type of each view, in the order of the args struct
//       (float or __nv_bfloat16).
//
// Launch (OpsLaunch.h launchAdd / launchSiluMul / launchGatherRows): 256
// threads, a 1-D grid of rows * ceil(cols / 1024) blocks; block b does row
// b / chunks, columns (b % chunks) * 1024 + threadIdx.x + 256 k, k < 4.
// Each element is read and written by one thread, so an output may be the
// very view of an input.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ELEMENTWISE_CUH
#define MOELA_KERNELS_ELEMENTWISE_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {
namespace elementwise {

constexpr int kThreads = 256, kChunk = 1024;

/// Calls f(row, col) for the columns of this block.
template <typename F>
__device__ __forceinline__ void forBlockColumns(int rows, int cols, F f) {
  const int chunks = (cols + kChunk - 1) / kChunk;
  const int r = static_cast<int>(blockIdx.x / chunks);
  const int c0 = static_cast<int>(blockIdx.x % chunks) * kChunk + threadIdx.x;
  if (r >= rows)
    return;
#pragma unroll
  for (int k = 0; k < kChunk / kThreads; ++k) {
    const int c = c0 + k * kThreads;
    if (c < cols)
      f(r, c);
  }
}

} // namespace elementwise

template <typename TA, typename TB, typename TC>
__device__ __forceinline__ void add(const AddArgs &args) {
  elementwise::forBlockColumns(args.rows, args.cols, [&](int r, int c) {
    storeF<TC>(args.c, r, c, __fadd_rn(loadF<TA>(args.a, r, c), loadF<TB>(args.b, r, c)));
  });
}

template <typename TG, typename TU, typename TO>
__device__ __forceinline__ void siluMul(const SiluMulArgs &args) {
  elementwise::forBlockColumns(args.rows, args.cols, [&](int r, int c) {
    storeF<TO>(args.out, r, c, silu(loadF<TG>(args.gate, r, c)) * loadF<TU>(args.up, r, c));
  });
}

template <typename TX, typename TO>
__device__ __forceinline__ void gatherRows(const GatherRowsArgs &args) {
  elementwise::forBlockColumns(args.rows, args.cols, [&](int r, int c) {
    storeF<TO>(args.out, r, c, loadF<TX>(args.x, args.index[r], c));
  });
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ELEMENTWISE_CUH
