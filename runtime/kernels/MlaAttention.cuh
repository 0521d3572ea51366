//===- MlaAttention.cuh - Full MLA attention, simple reference form -------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "MlaAttention.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::MlaAttentionArgs args) {
//     moela::kernels::mlaAttention<TQ, TO, TW>(args);
//   }
//
//   TQ, TO  element types of q and out (float, or __nv_bfloat16)
//   TW      dtype of kv_b (__nv_bfloat16, float, or __nv_fp8_e4m3 with
//           block scales)
//
// Launch (OpsLaunch.h launchMlaAttention): one block of 256 threads per
// (token, head), block index t * H + h; dynamic shared memory
// (Dn + Dr + 10 R + 16) * 4 bytes. The workspace is not used (may be null).
//
// Used only when the absorption pass is off; both `absorbed` values compute
// the absorbed math (docs/model.md §3.1: the two forms give the same numbers),
// in fp32:
//   q_abs = Wuk_h^T q_nope (R), scores_j = scale (q_abs . c_j + q_pe . k_pe_j)
//   over the visible cache rows j = 0..positions[t] of slot seq_ids[t]
//   (paged: Args.h KvPages),
//   online softmax per warp (warp w takes rows j = w mod 8), merged in warp
//   order, ctx = sum_j P_j c_j, out[t, h] = Wuv_h ctx (Dv).
// Wuk_h = kv_b rows [h (Dn+Dv), + Dn), Wuv_h = rows [h (Dn+Dv) + Dn, + Dv).
// Correct, not fast: every block reads its slot's rows and kv_b rows itself.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_MLAATTENTION_CUH
#define MOELA_KERNELS_MLAATTENTION_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {

template <typename TQ, typename TO, typename TW>
__device__ __forceinline__ void mlaAttention(const MlaAttentionArgs &args) {
  extern __shared__ float mlaSmem[];
  const int H = args.heads, Dn = args.nope_dim, Dr = args.rope_dim,
            Dv = args.v_dim;
  const int R = args.latent_dim;
  const int t = static_cast<int>(blockIdx.x) / H,
            h = static_cast<int>(blockIdx.x) % H;
  if (t >= args.rows)
    return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5,
            warps = blockDim.x >> 5;
  float *qn = mlaSmem, *qp = qn + Dn, *qa = qp + Dr; // q_nope, q_pe, q_abs
  float *ctxw = qa + R;                              // [8][R] per-warp sums
  float *ml = ctxw + 8 * R; // [8][2] per-warp (max, sum)
  float *ctx = ml + 16;     // [R]
  const long long qh = static_cast<long long>(h) * (Dn + Dr);
  for (int i = threadIdx.x; i < Dn + Dr; i += blockDim.x)
    qn[i] =
        loadF<TQ>(args.q, t, qh + i); // qp = qn + Dn: the same contiguous copy
  __syncthreads();
  const long long wk =
      static_cast<long long>(h) * (Dn + Dv); // first row of Wuk_h
  for (int r = threadIdx.x; r < R; r += blockDim.x) {
    float acc = 0.0f;
    for (int i = 0; i < Dn; ++i)
      acc = __fmaf_rn(qn[i], loadWeight<TW>(args.kv_b, 0, wk + i, r), acc);
    qa[r] = acc;
  }
  for (int i = threadIdx.x; i < 8 * R; i += blockDim.x)
    ctxw[i] = 0.0f;
  __syncthreads();

  // Online softmax over this warp's rows (log2 domain).
  const int n = args.positions[t] + 1;
  const int seq = args.seq_ids[t];
  const float c2 = args.scale * 1.4426950408889634f;
  float m = negInf(), l = 0.0f;
  float *mine = ctxw + warp * R;
  const int used = warps < 8 ? warps : 8; // warps taking rows
  if (warp < used) {
    for (int j = warp; j < n; j += used) {
      const long long row = kvRow(args.cache, seq, j);
      float dot = 0.0f;
      for (int r = lane; r < R; r += 32)
        dot = __fmaf_rn(qa[r], kvLoad(args.cache, row, r, R + Dr), dot);
      for (int d = lane; d < Dr; d += 32)
        dot = __fmaf_rn(qp[d], kvLoad(args.cache, row, R + d, R + Dr), dot);
      const float sc = warpSum(dot) * c2;
      const float mn = fmaxf(m, sc);
      const float al = exp2f(m - mn), p = exp2f(sc - mn);
      l = l * al + p;
      for (int r = lane; r < R; r += 32)
        mine[r] = mine[r] * al + p * kvLoad(args.cache, row, r, R + Dr);
      m = mn;
    }
    if (lane == 0) {
      ml[2 * warp] = m;
      ml[2 * warp + 1] = l;
    }
  }
  __syncthreads();
  float mmax = negInf();
  for (int w = 0; w < used; ++w)
    mmax = fmaxf(mmax, ml[2 * w]);
  float den = 0.0f;
  for (int w = 0; w < used; ++w)
    den += ml[2 * w + 1] * exp2f(ml[2 * w] - mmax);
  for (int r = threadIdx.x; r < R; r += blockDim.x) {
    float num = 0.0f;
    for (int w = 0; w < used; ++w)
      num += ctxw[w * R + r] * exp2f(ml[2 * w] - mmax);
    ctx[r] = num / den;
  }
  __syncthreads();
  for (int d = warp; d < Dv; d += warps) {
    float acc = 0.0f;
    for (int r = lane; r < R; r += 32)
      acc =
          __fmaf_rn(ctx[r], loadWeight<TW>(args.kv_b, 0, wk + Dn + d, r), acc);
    acc = warpSum(acc);
    if (lane == 0)
      storeF<TO>(args.out, t, static_cast<long long>(h) * Dv + d, acc);
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_MLAATTENTION_CUH
