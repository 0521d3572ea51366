//===- Route.cuh - MoE expert selection (docs/model.md §3.2) --------------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Route.cuh"
//   extern "C" __global__ void __launch_bounds__(256)
//   NAME(const moela::kernels::RouteArgs args) {
//     moela::kernels::route<TI, TW>(args);
//   }
//
//   TI  element type of input (logits [T, E], or x [T, D] with fused_gate;
//       float)
//   TW  dtype of the gate weight [E, D] (__nv_bfloat16, float or
//       __nv_fp8_e4m3 with scales; any when not fused_gate)
//
// Launch (OpsLaunch.h launchRoute): 256 threads (8 warps).
//  - fused_gate: one block per token, dynamic shared memory (D + E) * 4
//    bytes; the 8 warps compute logits[e] = x . gate[e] in fp32 (warp per
//    expert), then warp 0 routes.
//  - otherwise: one block per 8 tokens, warp w routes token 8*block + w;
//    no dynamic shared memory.
// Limits: E <= 256 (8 experts per lane), top_k <= min(E, 32), groups <= 32.
//
// Routing of one token by one warp, lane holding experts lane + 32k:
//   s = sigmoid(l) or softmax over all E (exp in double, then the host's fp32
//   steps, so both backends round alike); sb = s + bias (selection only);
//   groups (method != greedy and groups > 1): contiguous blocks of E/groups,
//   scored by the sum of their top-2 sb (noaux_tc) or their max
//   (group_limited_greedy); the topk_groups best are kept; then top_k by sb
//   among the kept experts. Every "best" is the largest value with the
//   lowest index on ties, NaN never wins (runtime/host/Routing.cpp firstMax).
//   idx lists the experts in descending sb; w = s[idx], divided by their sum
//   (summed k = 0..K-1) if norm_topk_prob and K > 1, then times scaling.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ROUTE_CUH
#define MOELA_KERNELS_ROUTE_CUH

#include "OpsCommon.cuh"

namespace moela {
namespace kernels {
namespace routing {

constexpr int kPerLane = 8; // experts per lane: E <= 256

/// Routes token t with its E logits at logits[0..E) (shared or global
/// memory, read once). `sShared` is this warp's [256] floats of shared
/// memory for s.
__device__ __forceinline__ void routeWarp(const RouteArgs &args, int t,
                                          const float *logits, float *sShared) {
  const int lane = threadIdx.x & 31;
  const int E = args.experts;
  float s[kPerLane], sb[kPerLane];
  // Scores. Softmax: max, exp(l - max) in fp32 (via double), sum in double,
  // inv = float(1 / sum), s = e * inv: the host's steps.
  float lmax = negInf();
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int e = lane + 32 * k;
    s[k] = e < E ? logits[e] : 0.0f;
    if (e < E)
      lmax = fmaxf(lmax, s[k]);
  }
  if (args.sigmoid) {
#pragma unroll
    for (int k = 0; k < kPerLane; ++k)
      s[k] = __fdiv_rn(
          1.0f,
          __fadd_rn(1.0f, static_cast<float>(exp(-static_cast<double>(s[k])))));
  } else {
    lmax = warpMax(lmax);
    double sum = 0.0;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int e = lane + 32 * k;
      s[k] = e < E ? static_cast<float>(
                         exp(static_cast<double>(__fsub_rn(s[k], lmax))))
                   : 0.0f;
      sum += s[k];
    }
    for (int o = 16; o > 0; o >>= 1)
      sum += __shfl_xor_sync(0xffffffffu, sum, o);
    sum = __shfl_sync(0xffffffffu, sum, 0); // one value for every lane
    const float inv = static_cast<float>(1.0 / sum);
#pragma unroll
    for (int k = 0; k < kPerLane; ++k)
      s[k] = __fmul_rn(s[k], inv);
  }
  unsigned allowed = 0; // bit k: expert lane + 32k may be selected
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int e = lane + 32 * k;
    sb[k] = args.bias && e < E ? __fadd_rn(s[k], args.bias[e]) : s[k];
    if (e < E) {
      allowed |= 1u << k;
      sShared[e] = s[k];
    }
  }

  // Groups.
  if (args.method != 0 && args.groups > 1) {
    const int G = args.groups, size = E / G;
    float gscore = negInf(); // lane g < G: score of group g
    for (int gi = 0; gi < G; ++gi) {
      ops::ArgBest first{0.0f, -1};
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int e = lane + 32 * k;
        if (e < E && e / size == gi && !ops::isNan(sb[k]) &&
            ops::better(sb[k], e, first.value, first.index))
          first = {sb[k], e};
      }
      first = ops::warpArgBest(first);
      float score = first.index < 0 ? negInf() : first.value;
      if (args.method == 2 && size > 1) { // noaux_tc: plus the second best
        ops::ArgBest second{0.0f, -1};
#pragma unroll
        for (int k = 0; k < kPerLane; ++k) {
          const int e = lane + 32 * k;
          if (e < E && e / size == gi && e != first.index &&
              !ops::isNan(sb[k]) &&
              ops::better(sb[k], e, second.value, second.index))
            second = {sb[k], e};
        }
        second = ops::warpArgBest(second);
        score = __fadd_rn(score, second.index < 0 ? 0.0f : second.value);
      }
      if (lane == gi)
        gscore = score;
    }
    bool kept = false; // lane g: group g kept
    for (int n = 0; n < args.topk_groups; ++n) {
      ops::ArgBest b{0.0f, -1};
      if (lane < G && !kept && !ops::isNan(gscore))
        b = {gscore, lane};
      b = ops::warpArgBest(b);
      if (b.index < 0)
        break;
      if (lane == b.index)
        kept = true;
    }
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int e = lane + 32 * k;
      const int group = e < E ? e / size : 0;
      const bool keep = __shfl_sync(0xffffffffu, kept, group < 32 ? group : 0);
      if (!keep)
        allowed &= ~(1u << k);
    }
  }
  __syncwarp();

  // Top-K by sb among the allowed experts; weights from s.
  float total = 0.0f, wsel = 0.0f;
  int isel = 0; // lane n < K keeps pick n
  for (int n = 0; n < args.top_k; ++n) {
    ops::ArgBest b{0.0f, -1};
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int e = lane + 32 * k;
      if ((allowed >> k & 1u) && !ops::isNan(sb[k]) &&
          ops::better(sb[k], e, b.value, b.index))
        b = {sb[k], e};
    }
    b = ops::warpArgBest(b);
    int best = b.index;
    if (best < 0) { // only NaN left: the lowest allowed index, else 0
      int low = 0x7fffffff;
#pragma unroll
      for (int k = 0; k < kPerLane; ++k)
        if (allowed >> k & 1u) {
          low = min(low, lane + 32 * k);
          break;
        }
      for (int o = 16; o > 0; o >>= 1)
        low = min(low, __shfl_xor_sync(0xffffffffu, low, o));
      best = low < E ? low : 0;
    }
    if ((best & 31) == lane)
      allowed &= ~(1u << (best >> 5));
    const float sv = sShared[best];
    total = __fadd_rn(total, sv);
    if (lane == n) {
      isel = best;
      wsel = sv;
    }
  }
  const bool normalize = args.norm_topk_prob && args.top_k > 1;
  if (lane < args.top_k) {
    args.idx[static_cast<long long>(t) * args.idx_ld + lane] = isel;
    storeF<float>(
        args.w, t, lane,
        __fmul_rn(normalize ? __fdiv_rn(wsel, total) : wsel, args.scaling));
  }
}

} // namespace routing

template <typename TI, typename TW>
__device__ __forceinline__ void route(const RouteArgs &args) {
  __shared__ float sS[8][256]; // per warp: s of the token being routed
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int E = args.experts;
  if (args.fused_gate) {
    extern __shared__ float routeSmem[]; // x [D] | logits [E]
    const int t = blockIdx.x, D = args.dim;
    if (t >= args.rows)
      return;
    float *x = routeSmem, *logits = routeSmem + D;
    for (int d = threadIdx.x; d < D; d += blockDim.x)
      x[d] = loadF<TI>(args.input, t, d);
    __syncthreads();
    const int warps = blockDim.x >> 5;
    for (int e = warp; e < E; e += warps) {
      float acc = 0.0f;
      for (int d = lane; d < D; d += 32)
        acc = __fmaf_rn(x[d], loadWeight<TW>(args.gate, 0, e, d), acc);
      acc = warpSum(acc);
      if (lane == 0)
        logits[e] = acc;
    }
    __syncthreads();
    if (warp == 0)
      routing::routeWarp(args, t, logits, sS[0]);
  } else {
    const int t = blockIdx.x * 8 + warp;
    if (warp >= 8 || t >= args.rows)
      return;
    float
        logits[routing::kPerLane]; // staged through shared memory for routeWarp
#pragma unroll
    for (int k = 0; k < routing::kPerLane; ++k) {
      const int e = lane + 32 * k;
      logits[k] = e < E ? loadF<TI>(args.input, t, e) : 0.0f;
    }
    // sS[warp] first holds the logits, then routeWarp overwrites it with s
    // after reading every logit into registers.
#pragma unroll
    for (int k = 0; k < routing::kPerLane; ++k) {
      const int e = lane + 32 * k;
      if (e < E)
        sS[warp][e] = logits[k];
    }
    __syncwarp();
    routing::routeWarp(args, t, sS[warp], sS[warp]);
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ROUTE_CUH
