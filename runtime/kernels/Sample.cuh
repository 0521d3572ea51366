//===- Sample.cuh - The token of each logit row and its logprobs ----------===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "Sample.cuh"
//   extern "C" __global__ void __launch_bounds__(1024)
//   NAME(const moela::kernels::SampleArgs args) {
//     moela::kernels::sampleRows<TL>(args);
//   }
//
//   TL  element type of logits (float)
//
// Launch (OpsLaunch.h launchSample): one block of 1024 threads per row.
//
// Per row r with the parameters sampling[r] (abi::SamplingWord), as the host's
// host::sample: greedy (temperature 0) takes the argmax exactly as
// Argmax.cuh; otherwise the row's most likely tokens (SampleCommon.h order)
// are selected by a radix select on their order keys (4 passes of 8 bits),
// the ties at the threshold by lowest id, then bitonic-sorted in shared
// memory, and thread 0 draws with sample::draw over their
// exp((logit - max) / temperature). ids[r, 0] is the chosen token,
// logprobs[r, 0] its log-softmax; columns 1..N the N most likely tokens.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_SAMPLE_CUH
#define MOELA_KERNELS_SAMPLE_CUH

#include "Abi.h"
#include "OpsCommon.cuh"
#include "SampleCommon.h"

namespace moela {
namespace kernels {

template <typename TL>
__device__ __forceinline__ unsigned sampleKey(const View &logits, int r,
                                              int c) {
  return sample::orderKey(__float_as_uint(loadF<TL>(logits, r, c)));
}

template <typename TL>
__device__ __forceinline__ void sampleRows(const SampleArgs &args) {
  constexpr int C = abi::kMaxSampleCandidates;
  __shared__ unsigned keys[C];
  __shared__ int ids[C];
  __shared__ float probs[C];
  __shared__ unsigned hist[256];
  __shared__ float scratch[32];
  __shared__ int warpCount[32];
  __shared__ int bestIndex[32];
  __shared__ unsigned prefixShared;
  __shared__ int remainShared, gathered;
  const int r = blockIdx.x;
  if (r >= args.rows)
    return;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  const int V = args.cols;
  const int *w = args.sampling + r * abi::kSamplingWords;
  const float temperature = __int_as_float(w[abi::kTemperatureBits]);
  const int topK = w[abi::kTopK], topLogprobs = w[abi::kTopLogprobs];

  // log-softmax of the raw logits: max + log sum exp, when asked for.
  float lse = 0.0f;
  if (topLogprobs >= 0) {
    float m = negInf();
    for (int c = tid; c < V; c += blockDim.x)
      m = fmaxf(m, loadF<TL>(args.logits, r, c));
    m = blockMax(m, scratch);
    float s = 0.0f;
    for (int c = tid; c < V; c += blockDim.x)
      s += expf(loadF<TL>(args.logits, r, c) - m);
    lse = m + logf(blockSum(s, scratch));
    __syncthreads(); // scratch is reused by the argmax
  }

  // Greedy: the argmax of Argmax.cuh (lowest index on ties, NaN never wins).
  const int drawn = sample::drawSet(temperature, topK, V);
  int chosen = -1;
  if (drawn == 0) {
    ops::ArgBest best{0.0f, -1};
    for (int c = tid; c < V; c += blockDim.x) {
      const float v = loadF<TL>(args.logits, r, c);
      if (!ops::isNan(v) && ops::better(v, c, best.value, best.index))
        best = {v, c};
    }
    best = ops::warpArgBest(best);
    if (lane == 0) {
      scratch[warp] = best.value;
      bestIndex[warp] = best.index;
    }
    __syncthreads();
    ops::ArgBest b{0.0f, -1};
    if (lane < warps)
      b = {scratch[lane], bestIndex[lane]};
    b = ops::warpArgBest(b);
    const bool nanFirst = ops::isNan(loadF<TL>(args.logits, r, 0));
    chosen = nanFirst || b.index < 0 ? 0 : b.index;
    __syncthreads();
  }

  const int n = sample::candidates(temperature, topK, topLogprobs, V);
  if (n > 0) {
    // The n-th largest key, 8 bits at a time from the top; `remain` of the
    // keys equal to it are candidates.
    unsigned prefix = 0u, mask = 0u;
    int remain = n;
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += blockDim.x)
        hist[i] = 0u;
      __syncthreads();
      for (int c = tid; c < V; c += blockDim.x) {
        const unsigned k = sampleKey<TL>(args.logits, r, c);
        if ((k & mask) == prefix)
          atomicAdd(&hist[(k >> shift) & 255u], 1u);
      }
      __syncthreads();
      if (tid == 0) {
        int above = 0;
        for (int d = 255; d >= 0; --d) {
          if (above + int(hist[d]) >= remain) {
            prefixShared = prefix | (unsigned(d) << shift);
            remainShared = remain - above;
            break;
          }
          above += int(hist[d]);
        }
      }
      __syncthreads();
      prefix = prefixShared;
      remain = remainShared;
      mask |= 255u << shift;
    }
    // Gather: every key above the threshold (any order), then the `remain`
    // lowest ids of the keys equal to it, 1024 ids at a time.
    if (tid == 0)
      gathered = 0;
    __syncthreads();
    for (int c = tid; c < V; c += blockDim.x) {
      const unsigned k = sampleKey<TL>(args.logits, r, c);
      if (k > prefix) {
        const int slot = atomicAdd(&gathered, 1);
        keys[slot] = k;
        ids[slot] = c;
      }
    }
    const int first = n - remain; // slots of the ties start here
    int taken = 0;
    for (int base = 0; base < V && taken < remain; base += blockDim.x) {
      const int c = base + tid;
      const bool tie = c < V && sampleKey<TL>(args.logits, r, c) == prefix;
      const unsigned ballot = __ballot_sync(0xffffffffu, tie);
      if (lane == 0)
        warpCount[warp] = __popc(ballot);
      __syncthreads();
      int before = 0, total = 0;
      for (int i = 0; i < warps; ++i) {
        before += i < warp ? warpCount[i] : 0;
        total += warpCount[i];
      }
      const int rank = taken + before + __popc(ballot & ((1u << lane) - 1u));
      if (tie && rank < remain) {
        keys[first + rank] = prefix;
        ids[first + rank] = c;
      }
      taken += total;
      __syncthreads();
    }
    // Bitonic sort of the n candidates (padded to a power of two) into
    // SampleCommon order.
    int P = 1;
    while (P < n)
      P <<= 1;
    for (int i = n + tid; i < P; i += blockDim.x) {
      keys[i] = 0u;
      ids[i] = 0x7fffffff;
    }
    __syncthreads();
    for (int k = 2; k <= P; k <<= 1)
      for (int j = k >> 1; j > 0; j >>= 1) {
        for (int i = tid; i < P; i += blockDim.x) {
          const int o = i ^ j;
          if (o > i) {
            const bool forward = (i & k) == 0;
            const bool swap =
                forward ? sample::before(keys[o], ids[o], keys[i], ids[i])
                        : sample::before(keys[i], ids[i], keys[o], ids[o]);
            if (swap) {
              const unsigned tk = keys[i];
              keys[i] = keys[o];
              keys[o] = tk;
              const int ti = ids[i];
              ids[i] = ids[o];
              ids[o] = ti;
            }
          }
        }
        __syncthreads();
      }
    if (drawn > 0) {
      const float top = loadF<TL>(args.logits, r, ids[0]);
      for (int i = tid; i < drawn; i += blockDim.x)
        probs[i] =
            expf((loadF<TL>(args.logits, r, ids[i]) - top) / temperature);
      __syncthreads();
      if (tid == 0) {
        const float u = sample::uniform(
            sample::wide(w[abi::kSeedLo], w[abi::kSeedHi]),
            sample::wide(w[abi::kCounterLo], w[abi::kCounterHi]));
        chosen = ids[sample::draw(probs, drawn,
                                  __int_as_float(w[abi::kTopPBits]), u)];
      }
    }
  }

  int *outIds = args.ids + r * abi::kSampleCols;
  float *outLp = args.logprobs + r * abi::kSampleCols;
  if (tid == 0) {
    outIds[0] = chosen;
    outLp[0] = topLogprobs < 0 ? 0.0f : loadF<TL>(args.logits, r, chosen) - lse;
  }
  if (tid >= 1 && tid < abi::kSampleCols) {
    const bool top = tid <= topLogprobs && tid - 1 < V;
    outIds[tid] = top ? ids[tid - 1] : -1;
    outLp[tid] = top ? loadF<TL>(args.logits, r, ids[tid - 1]) - lse : 0.0f;
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_SAMPLE_CUH
