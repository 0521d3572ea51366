//===- KvGather.cuh - Read the latent and rope key of tokens from the cache
//===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "KvGather.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::KvGatherArgs args) {
//     moela::kernels::kvGather<TO>(args);
//   }
//
//   TO  element type of out (float or __nv_bfloat16)
//
// Launch (OpsLaunch.h launchKvGather): one block of 256 threads per token.
//
// The cache is paged (Args.h KvPages) as KvAppend writes it; token t reads
// the row kvRow(cache, seq_ids[t], positions[t]) and writes it to
// out[t, 0 .. R + Dr): exact from bf16 to f32 or bf16; an e4m3 cache gives
// code * scale in f32 (rounded once more for a bf16 out).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_KVGATHER_CUH
#define MOELA_KERNELS_KVGATHER_CUH

#include "Common.cuh"

namespace moela {
namespace kernels {

template <typename TO>
__device__ __forceinline__ void kvGather(const KvGatherArgs &args) {
  const int t = blockIdx.x;
  if (t >= args.rows)
    return;
  const int width = args.latent_dim + args.rope_dim;
  const long long row = kvRow(args.cache, args.seq_ids[t], args.positions[t]);
  TO *dst = at<TO>(args.out, t, 0);
  for (int c = threadIdx.x; c < width; c += blockDim.x)
    dst[c] = fromFloat<TO>(kvLoad(args.cache, row, c, width));
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_KVGATHER_CUH
