//===- Embedding.cuh - Token embedding lookup -----------------------------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Embedding.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::EmbeddingArgs args) {
//     moela::kernels::embedding<TO, TW>(args);
//   }
//
//   TO  element type of out (float; __nv_bfloat16 if out only feeds GEMMs)
//   TW  dtype of the table (__nv_bfloat16 or float; FP8 with scales works too)
//
// Launch (OpsLaunch.h launchEmbedding): one block of 256 threads per row.
// out[r] = table[tokens[r]]. A token id outside [0, table.rows) writes a row
// of NaN (the host backend rejects it; the GPU cannot throw).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_EMBEDDING_CUH
#define MOELA_KERNELS_EMBEDDING_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {

template <typename TO, typename TW>
__device__ __forceinline__ void embedding(const EmbeddingArgs &args) {
  const int r = blockIdx.x;
  if (r >= args.rows)
    return;
  const int id = args.tokens[r];
  const int cols = args.table.cols;
  const bool ok = id >= 0 && id < args.table.rows;
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    storeF<TO>(args.out, r, c,
               ok ? loadWeight<TW>(args.table, 0, id, c)
                  : __int_as_float(0x7fc00000));
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_EMBEDDING_CUH
