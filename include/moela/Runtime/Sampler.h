//===- Sampler.h - Choosing the next token from logits (docs/model.md §4) -===//
#ifndef MOELA_RUNTIME_SAMPLER_H
#define MOELA_RUNTIME_SAMPLER_H

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace moela {

struct SamplingOptions {
  float temperature = 0.0f; // 0 = greedy
  int topK = 0;             // 0 = no top-k filter
  float topP = 1.0f;        // 1 = no nucleus filter
  uint64_t seed = 0;
};

/// Greedy argmax (first index on ties) when temperature is 0; otherwise a
/// draw from softmax(logits / temperature) restricted to the top-k tokens
/// and then to the smallest set whose probability reaches top-p.
class Sampler {
public:
  explicit Sampler(const SamplingOptions &options);
  int32_t sample(const float *logits, int64_t vocab); // logits [V]

private:
  SamplingOptions options;
  std::mt19937_64 rng;
};

/// The first index of the largest value of `values` [n].
int32_t argmax(const float *values, int64_t n);

/// Log-probabilities (log-softmax of the raw logits) of a chosen token and
/// of the `top` most likely tokens, in descending order (ties: lower id
/// first, as greedy sampling chooses).
struct TokenLogprobs {
  double chosen = 0.0;
  std::vector<std::pair<int32_t, double>> top;
};
TokenLogprobs tokenLogprobs(const float *logits, int64_t vocab, int32_t chosen,
                            int top);

} // namespace moela

#endif // MOELA_RUNTIME_SAMPLER_H
