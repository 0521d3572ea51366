//===- Elementwise.cuh - Add, SiluMul, GatherRows, Concat, NextTokens -----===//
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
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::ConcatArgs args) {
//     moela::kernels::concat<TA, TB, TO>(args);        // out = [a | b]
//   }
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::NextTokensArgs args) {
//     moela::kernels::nextTokens(args);                // one thread per row
//   }
//
//   T*  the element type of each view, in the order of the args struct
//       (float or __nv_bfloat16).
//
// Launch (OpsLaunch.h launchElementwise): 256 threads, a 1-D grid of rows *
// ceil(cols / 1024) blocks (NextTokens: ceil(rows / 256) blocks, one thread per
// row); block b does row b / chunks, columns (b % chunks) * 1024 + threadIdx.x
// + 256 k, k < 4. Each element is read and written by one thread, so an output
// may be the very view of an input.
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
    storeF<TC>(args.c, r, c,
               __fadd_rn(loadF<TA>(args.a, r, c), loadF<TB>(args.b, r, c)));
  });
}

template <typename TG, typename TU, typename TO>
__device__ __forceinline__ void siluMul(const SiluMulArgs &args) {
  elementwise::forBlockColumns(args.rows, args.cols, [&](int r, int c) {
    storeF<TO>(args.out, r, c,
               silu(loadF<TG>(args.gate, r, c)) * loadF<TU>(args.up, r, c));
  });
}

template <typename TX, typename TO>
__device__ __forceinline__ void gatherRows(const GatherRowsArgs &args) {
  elementwise::forBlockColumns(args.rows, args.cols, [&](int r, int c) {
    storeF<TO>(args.out, r, c, loadF<TX>(args.x, args.index[r], c));
  });
}

template <typename TA, typename TB, typename TO>
__device__ __forceinline__ void concat(const ConcatArgs &args) {
  elementwise::forBlockColumns(args.rows, args.cols, [&](int r, int c) {
    storeF<TO>(args.out, r, c,
               c < args.a_cols ? loadF<TA>(args.a, r, c)
                               : loadF<TB>(args.b, r, c - args.a_cols));
  });
}

/// next[t] = tokens[t+1] where row t+1 continues row t's sequence, else the
/// id of row t's logit row, else tokens[t]. R is small (<= max_logit_rows):
/// a linear search per row.
__device__ __forceinline__ void nextTokens(const NextTokensArgs &args) {
  const int t =
      static_cast<int>(blockIdx.x) * elementwise::kThreads + threadIdx.x;
  if (t >= args.rows)
    return;
  int v = args.tokens[t];
  if (t + 1 < args.rows && args.seq_ids[t + 1] == args.seq_ids[t] &&
      args.positions[t + 1] == args.positions[t] + 1) {
    v = args.tokens[t + 1];
  } else {
    for (int r = 0; r < args.logit_rows_count; ++r)
      if (args.logit_rows[r] == t)
        v = args.ids[r];
  }
  args.next[t] = v;
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ELEMENTWISE_CUH
