//===- SampleCommon.h - What host and device sampling compute identically -===//
//
// The parts of sampling (docs/model.md §4) whose every bit must agree between
// the host kernel (runtime/host/Sample.cpp) and the CUDA template
// (Sample.cuh), so that a seeded draw picks the same token on both: the
// counter-based random number, the order of candidates, and the sequential
// walk from the candidates' probabilities to the chosen one. Both compile
// this same code. Only builtin types: NVRTC has no standard headers.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_SAMPLECOMMON_H
#define MOELA_KERNELS_SAMPLECOMMON_H

#include "Abi.h"
#include "Args.h"

namespace moela {
namespace kernels {
namespace sample {

/// A uniform number in [0, 1) that depends only on (seed, counter): the
/// splitmix64 finalizer of seed + (counter + 1) * golden ratio, whose top 24
/// bits scaled by 2^-24 (exact in f32). A request's draws thus depend on its
/// own seed and on how many tokens it has drawn, never on its batch.
MOELA_HOST_DEVICE inline float uniform(unsigned long long seed,
                                       unsigned long long counter) {
  unsigned long long z = seed + (counter + 1ull) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(static_cast<unsigned>(z >> 40)) *
         (1.0f / 16777216.0f);
}

/// An unsigned key that orders floats as their values (the bits of -0 below
/// +0); every NaN gets key 0, below -inf, so that it is never a candidate
/// before a number.
MOELA_HOST_DEVICE inline unsigned orderKey(unsigned bits) {
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return 0u;
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

/// Candidate a comes before b: larger key, then lower id.
MOELA_HOST_DEVICE inline bool before(unsigned keyA, int idA, unsigned keyB,
                                     int idB) {
  return keyA > keyB || (keyA == keyB && idA < idB);
}

/// How many candidates a draw chooses from: top_k (0 or above
/// kMaxSampleCandidates: that many), at most the vocabulary; 0 for greedy.
MOELA_HOST_DEVICE inline int drawSet(float temperature, int topK, int vocab) {
  if (!(temperature > 0.0f))
    return 0;
  const int n = topK > 0 && topK < abi::kMaxSampleCandidates
                    ? topK
                    : abi::kMaxSampleCandidates;
  return n < vocab ? n : vocab;
}

/// How many of a row's most likely tokens, in order, it needs: its draw set
/// or its top logprobs, whichever is more.
MOELA_HOST_DEVICE inline int candidates(float temperature, int topK,
                                        int topLogprobs, int vocab) {
  const int n = drawSet(temperature, topK, vocab);
  const int t = topLogprobs < vocab ? topLogprobs : vocab; // -1: none
  return n > t ? n : t;
}

/// A 64-bit parameter from its low and high I32 words.
MOELA_HOST_DEVICE inline unsigned long long wide(int lo, int hi) {
  return static_cast<unsigned long long>(static_cast<unsigned>(lo)) |
         static_cast<unsigned long long>(static_cast<unsigned>(hi)) << 32;
}

/// The draw among `n` candidates in order, p[i] = exp((logit_i - max) /
/// temperature) of the i-th: keep the shortest prefix whose share of the n
/// reaches top_p, then the first candidate whose running sum exceeds u times
/// the prefix's sum. Sequential in candidate order on both sides.
MOELA_HOST_DEVICE inline int draw(const float *p, int n, float topP, float u) {
  float total = 0.0f;
  for (int i = 0; i < n; ++i)
    total += p[i];
  int nucleus = n;
  float mass = 0.0f;
  const float needed = topP * total; // no division: fast math rounds it
  for (int i = 0; i < n; ++i) {
    mass += p[i];
    if (mass >= needed) {
      nucleus = i + 1;
      break;
    }
  }
  float kept = 0.0f;
  for (int i = 0; i < nucleus; ++i)
    kept += p[i];
  const float target = u * kept;
  float sum = 0.0f;
  for (int i = 0; i < nucleus; ++i) {
    sum += p[i];
    if (target < sum)
      return i;
  }
  return nucleus - 1;
}

} // namespace sample
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_SAMPLECOMMON_H
