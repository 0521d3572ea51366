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
// out[r] = table[tokens[r] - first_row]. A vocab-parallel table holds rows
// [first_row, first_row + table.rows) of the vocabulary: another rank's token
// writes a row of zeros (the AllReduce after it adds the owner's row). A
// token id outside the vocabulary writes a row of NaN (the host backend
// rejects it; the GPU cannot throw).
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
  const int vocab = args.vocab > 0 ? args.vocab : args.table.rows;
  const int local = id - args.first_row;
  const bool valid = id >= 0 && id < vocab;
  const bool mine = local >= 0 && local < args.table.rows;
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    storeF<TO>(args.out, r, c,
               !valid ? __int_as_float(0x7fc00000)
               : mine ? loadWeight<TW>(args.table, 0, local, c)
                      : 0.0f);
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_EMBEDDING_CUH
