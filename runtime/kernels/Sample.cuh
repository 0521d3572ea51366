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
// and, for a vocab-parallel plan's SampleCandidates step,
// `sampleCandidates<TL>(const SampleCandidatesArgs)` in the same way.
//
//   TL  element type of logits (float)
//
// Launch (OpsLaunch.h launchSample, launchSampleCandidates): one block of
// 1024 threads per row.
//
// Per row r with the parameters sampling[r] (abi::SamplingWord), as the host's
// host::sample: greedy (temperature 0) takes the argmax exactly as
// Argmax.cuh; otherwise the row's most likely tokens (SampleCommon.h order)
// are selected by a radix select on their order keys (4 passes of 8 bits),
// the ties at the threshold by lowest position, then bitonic-sorted in shared
// memory, and thread 0 draws with sample::draw over their
// exp((logit - max) / temperature). ids[r, 0] is the chosen token,
// logprobs[r, 0] its log-softmax; columns 1..N the N most likely tokens.
//
// Vocab-parallel plans (docs/parallel.md) split this in two: each rank's
// sampleCandidates selects and sorts the same way over its columns and
// writes its block (the candidates the row needs, at least one, and the
// partial max and sum of exponentials); sampleRows with candidate_parts = N
// then runs over the union of the N blocks, whose positions are in id order
// among equal values, as over a whole row, and maps positions to ids.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_SAMPLE_CUH
#define MOELA_KERNELS_SAMPLE_CUH

#include "Abi.h"
#include "OpsCommon.cuh"
#include "SampleCommon.h"

namespace moela {
namespace kernels {

/// The values a row's Sample reads: a row of logits, or (Blocks) the union
/// of `parts` candidate blocks of C values each (then `count` = parts * C).
template <typename TL, bool Blocks> struct SampleRow {
  const TL *row;
  int C, W, count;

  __device__ __forceinline__ float value(int c) const {
    return toFloat(row[Blocks ? (c / C) * W + c % C : c]);
  }
  __device__ __forceinline__ unsigned key(int c) const {
    return sample::orderKey(__float_as_uint(value(c)));
  }
  /// The vocabulary id at position c (of the rank's columns: c itself).
  __device__ __forceinline__ int id(int c) const {
    return Blocks ? int(toFloat(row[(c / C) * W + C + c % C])) : c;
  }
};

/// Shared memory of one row's selection.
struct SampleShared {
  unsigned keys[abi::kMaxSampleCandidates];
  int ids[abi::kMaxSampleCandidates]; // positions in the SampleRow
  unsigned hist[256];
  int warpCount[32];
  unsigned prefix;
  int remain, gathered;
};

/// The n (<= kMaxSampleCandidates) largest keys of the row and their
/// positions, sorted into SampleCommon order in sh.keys / sh.ids.
template <typename Row>
__device__ __forceinline__ void selectSorted(const Row &row, int n,
                                             SampleShared &sh) {
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  const int V = row.count;
  // The n-th largest key, 8 bits at a time from the top; `remain` of the
  // keys equal to it are candidates.
  unsigned prefix = 0u, mask = 0u;
  int remain = n;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = tid; i < 256; i += blockDim.x)
      sh.hist[i] = 0u;
    __syncthreads();
    for (int c = tid; c < V; c += blockDim.x) {
      const unsigned k = row.key(c);
      if ((k & mask) == prefix)
        atomicAdd(&sh.hist[(k >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (tid == 0) {
      int above = 0;
      for (int d = 255; d >= 0; --d) {
        if (above + int(sh.hist[d]) >= remain) {
          sh.prefix = prefix | (unsigned(d) << shift);
          sh.remain = remain - above;
          break;
        }
        above += int(sh.hist[d]);
      }
    }
    __syncthreads();
    prefix = sh.prefix;
    remain = sh.remain;
    mask |= 255u << shift;
  }
  // Gather: every key above the threshold (any order), then the `remain`
  // lowest positions of the keys equal to it, 1024 positions at a time.
  if (tid == 0)
    sh.gathered = 0;
  __syncthreads();
  for (int c = tid; c < V; c += blockDim.x) {
    const unsigned k = row.key(c);
    if (k > prefix) {
      const int slot = atomicAdd(&sh.gathered, 1);
      sh.keys[slot] = k;
      sh.ids[slot] = c;
    }
  }
  const int first = n - remain; // slots of the ties start here
  int taken = 0;
  for (int base = 0; base < V && taken < remain; base += blockDim.x) {
    const int c = base + tid;
    const bool tie = c < V && row.key(c) == prefix;
    const unsigned ballot = __ballot_sync(0xffffffffu, tie);
    if (lane == 0)
      sh.warpCount[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, total = 0;
    for (int i = 0; i < warps; ++i) {
      before += i < warp ? sh.warpCount[i] : 0;
      total += sh.warpCount[i];
    }
    const int rank = taken + before + __popc(ballot & ((1u << lane) - 1u));
    if (tie && rank < remain) {
      sh.keys[first + rank] = prefix;
      sh.ids[first + rank] = c;
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
    sh.keys[i] = 0u;
    sh.ids[i] = 0x7fffffff;
  }
  __syncthreads();
  for (int k = 2; k <= P; k <<= 1)
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = tid; i < P; i += blockDim.x) {
        const int o = i ^ j;
        if (o > i) {
          const bool forward = (i & k) == 0;
          const bool swap = forward ? sample::before(sh.keys[o], sh.ids[o],
                                                     sh.keys[i], sh.ids[i])
                                    : sample::before(sh.keys[i], sh.ids[i],
                                                     sh.keys[o], sh.ids[o]);
          if (swap) {
            const unsigned tk = sh.keys[i];
            sh.keys[i] = sh.keys[o];
            sh.keys[o] = tk;
            const int ti = sh.ids[i];
            sh.ids[i] = sh.ids[o];
            sh.ids[o] = ti;
          }
        }
      }
      __syncthreads();
    }
}

/// The max of a row's values and the sum of exp(value - max) (NaN ignored
/// by the max).
template <typename Row>
__device__ __forceinline__ void maxAndSumExp(const Row &row, float *scratch,
                                             float *max, float *sum) {
  float m = negInf();
  for (int c = threadIdx.x; c < row.count; c += blockDim.x)
    m = fmaxf(m, row.value(c));
  m = blockMax(m, scratch);
  float s = 0.0f;
  for (int c = threadIdx.x; c < row.count; c += blockDim.x)
    s += expf(row.value(c) - m);
  *max = m;
  *sum = blockSum(s, scratch);
  __syncthreads(); // scratch is reused
}

template <typename TL, bool Blocks>
__device__ __forceinline__ void sampleRowsOf(const SampleArgs &args) {
  __shared__ SampleShared sh;
  __shared__ float probs[abi::kMaxSampleCandidates];
  __shared__ float scratch[32];
  __shared__ int bestIndex[32];
  const int r = blockIdx.x;
  if (r >= args.rows)
    return;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  const int parts = Blocks ? args.candidate_parts : 0;
  const int W = Blocks ? args.cols / parts : 0, C = Blocks ? (W - 2) / 2 : 0;
  const TL *base =
      static_cast<const TL *>(args.logits.ptr) + r * args.logits.ld;
  const SampleRow<TL, Blocks> row{base, C, W, Blocks ? parts * C : args.cols};
  const int V = row.count;
  const int *w = args.sampling + r * abi::kSamplingWords;
  const float temperature = __int_as_float(w[abi::kTemperatureBits]);
  const int topK = w[abi::kTopK], topLogprobs = w[abi::kTopLogprobs];

  // log-softmax of the raw logits: max + log sum exp, when asked for; from
  // the ranks' partial sums, rescaled to one max, for candidate blocks.
  float lse = 0.0f;
  if (topLogprobs >= 0) {
    if (Blocks) {
      float m = negInf(), s = 0.0f;
      for (int b = 0; b < parts; ++b)
        m = fmaxf(m, toFloat(base[b * W + 2 * C]));
      for (int b = 0; b < parts; ++b)
        s += toFloat(base[b * W + 2 * C + 1]) *
             expf(toFloat(base[b * W + 2 * C]) - m);
      lse = m + logf(s);
    } else {
      float m, s;
      maxAndSumExp(row, scratch, &m, &s);
      lse = m + logf(s);
    }
  }

  // Greedy: the argmax of Argmax.cuh (lowest position on ties, NaN never
  // wins).
  const int drawn = sample::drawSet(temperature, topK, V);
  int chosen = -1;
  if (drawn == 0) {
    ops::ArgBest best{0.0f, -1};
    for (int c = tid; c < V; c += blockDim.x) {
      const float v = row.value(c);
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
    const bool nanFirst = ops::isNan(row.value(0));
    chosen = nanFirst || b.index < 0 ? 0 : b.index;
    __syncthreads();
  }

  const int n = sample::candidates(temperature, topK, topLogprobs, V);
  if (n > 0) {
    selectSorted(row, n, sh);
    if (drawn > 0) {
      const float top = row.value(sh.ids[0]);
      for (int i = tid; i < drawn; i += blockDim.x)
        probs[i] = expf((row.value(sh.ids[i]) - top) / temperature);
      __syncthreads();
      if (tid == 0) {
        const float u = sample::uniform(
            sample::wide(w[abi::kSeedLo], w[abi::kSeedHi]),
            sample::wide(w[abi::kCounterLo], w[abi::kCounterHi]));
        chosen = sh.ids[sample::draw(probs, drawn,
                                     __int_as_float(w[abi::kTopPBits]), u)];
      }
    }
  }

  int *outIds = args.ids + r * abi::kSampleCols;
  float *outLp = args.logprobs + r * abi::kSampleCols;
  if (tid == 0) {
    outIds[0] = row.id(chosen);
    outLp[0] = topLogprobs < 0 ? 0.0f : row.value(chosen) - lse;
  }
  if (tid >= 1 && tid < abi::kSampleCols) {
    const bool top = tid <= topLogprobs && tid - 1 < V;
    outIds[tid] = top ? row.id(sh.ids[tid - 1]) : -1;
    outLp[tid] = top ? row.value(sh.ids[tid - 1]) - lse : 0.0f;
  }
}

template <typename TL>
__device__ __forceinline__ void sampleRows(const SampleArgs &args) {
  if (args.candidate_parts > 0)
    sampleRowsOf<TL, true>(args);
  else
    sampleRowsOf<TL, false>(args);
}

template <typename TL>
__device__ __forceinline__ void
sampleCandidates(const SampleCandidatesArgs &args) {
  __shared__ SampleShared sh;
  __shared__ float scratch[32];
  const int r = blockIdx.x;
  if (r >= args.rows)
    return;
  const SampleRow<TL, false> row{static_cast<const TL *>(args.logits.ptr) +
                                     r * args.logits.ld,
                                 0, 0, args.cols};
  const int *w = args.sampling + r * abi::kSamplingWords;
  const int C = args.count;
  // What the merged row needs of every rank: its candidates, at least the
  // first (the argmax of a greedy row).
  const int need = sample::candidates(__int_as_float(w[abi::kTemperatureBits]),
                                      w[abi::kTopK], w[abi::kTopLogprobs], C);
  const int n = need > 1 ? need : 1;
  float m = 0.0f, s = 0.0f;
  if (w[abi::kTopLogprobs] >= 0)
    maxAndSumExp(row, scratch, &m, &s);
  selectSorted(row, n, sh);
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    const bool real = i < n;
    storeF<float>(args.candidates, r, i,
                  real ? row.value(sh.ids[i]) : __int_as_float(0x7fc00000));
    storeF<float>(args.candidates, r, C + i,
                  real ? float(args.first_id + sh.ids[i]) : -1.0f);
  }
  if (threadIdx.x == 0) {
    storeF<float>(args.candidates, r, 2 * C, m);
    storeF<float>(args.candidates, r, 2 * C + 1, s);
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_SAMPLE_CUH
