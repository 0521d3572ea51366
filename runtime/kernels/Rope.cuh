//===- Rope.cuh - Interleaved RoPE on a slice of every head ---------------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Rope.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::RopeArgs args) {
//     moela::kernels::rope<TX, TY>(args);
//   }
//
//   TX, TY  element types of x and y (float, or __nv_bfloat16)
//
// Launch (OpsLaunch.h launchRope): one block of 256 threads per row, dynamic
// shared memory = rope.dim * 4 bytes (cos and sin of the row's dim/2 pairs).
//
// y = x with columns [h*head_dim + offset, + dim) of every head h rotated as
// dim/2 interleaved pairs by angle float(position) * inv_freq[i] (fp32), cos
// and sin times rope.magnitude (ropeCosSin: as the host). Every column of
// y is written; a pair is read and written by one thread, so y may be the
// very view of x.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ROPE_CUH
#define MOELA_KERNELS_ROPE_CUH

#include "RopeCommon.cuh"

namespace moela {
namespace kernels {

template <typename TX, typename TY>
__device__ __forceinline__ void rope(const RopeArgs &args) {
  extern __shared__ float ropeTable[]; // cos [dim/2] | sin [dim/2]
  const int r = blockIdx.x;
  if (r >= args.rows)
    return;
  const Rope &p = args.rope;
  const int half = p.dim / 2;
  const int position = args.positions[r];
  for (int i = threadIdx.x; i < half; i += blockDim.x)
    ropeCosSin(position, p.inv_freq[i], p.magnitude, ropeTable[i],
               ropeTable[half + i]);
  __syncthreads();
  const int width = p.heads * p.head_dim;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    const int rel =
        c % p.head_dim - p.offset; // position inside the rotated slice
    if (rel >= 0 && rel < p.dim) {
      if (rel & 1)
        continue; // the pair's first column does both
      const int i = rel / 2;
      float ya, yb;
      ropeRotate(loadF<TX>(args.x, r, c), loadF<TX>(args.x, r, c + 1),
                 ropeTable[i], ropeTable[half + i], ya, yb);
      storeF<TY>(args.y, r, c, ya);
      storeF<TY>(args.y, r, c + 1, yb);
    } else {
      storeF<TY>(args.y, r, c, loadF<TX>(args.x, r, c));
    }
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ROPE_CUH
