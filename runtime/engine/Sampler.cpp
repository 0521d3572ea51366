//===- Sampler.cpp - Greedy, temperature, top-k and top-p sampling --------===//
#include "moela/Runtime/Sampler.h"

#include "moela/Runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace moela {

int32_t argmax(const float *values, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (values[i] > values[best])
      best = i;
  return static_cast<int32_t>(best);
}

TokenLogprobs tokenLogprobs(const float *logits, int64_t vocab, int32_t chosen,
                            int top) {
  double maxLogit = *std::max_element(logits, logits + vocab), sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(double(logits[i]) - maxLogit);
  const double logSum = maxLogit + std::log(sum);
  auto logprob = [&](int32_t t) { return double(logits[t]) - logSum; };
  TokenLogprobs out;
  out.chosen = logprob(chosen);
  const int64_t n = std::clamp<int64_t>(top, 0, vocab);
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(
      order.begin(), order.begin() + n, order.end(), [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
      });
  for (int64_t i = 0; i < n; ++i)
    out.top.emplace_back(order[i], logprob(order[i]));
  return out;
}

Sampler::Sampler(const SamplingOptions &options)
    : options(options), rng(options.seed) {
  if (options.temperature < 0 || !std::isfinite(options.temperature))
    fail("--temperature must be >= 0, got ", options.temperature);
  if (options.topK < 0)
    fail("--top-k must be >= 0, got ", options.topK);
  if (!(options.topP > 0 && options.topP <= 1))
    fail("--top-p must be in (0, 1], got ", options.topP);
}

int32_t Sampler::sample(const float *logits, int64_t vocab) {
  if (options.temperature == 0)
    return argmax(logits, vocab);
  // Candidates in descending logit order (ties: lower id first).
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  int64_t keep =
      options.topK > 0 ? std::min<int64_t>(options.topK, vocab) : vocab;
  auto byLogit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(), byLogit);
  ids.resize(keep);

  std::vector<double> probs(keep);
  double maxLogit = logits[ids[0]], sum = 0;
  for (int64_t i = 0; i < keep; ++i)
    sum += probs[i] =
        std::exp((logits[ids[i]] - maxLogit) / options.temperature);
  // Nucleus: the shortest prefix whose mass reaches top_p.
  double mass = 0;
  int64_t nucleus = keep;
  for (int64_t i = 0; i < keep; ++i) {
    mass += probs[i] / sum;
    if (mass >= options.topP) {
      nucleus = i + 1;
      break;
    }
  }
  std::discrete_distribution<int64_t> pick(probs.begin(),
                                           probs.begin() + nucleus);
  return ids[pick(rng)];
}

} // namespace moela
