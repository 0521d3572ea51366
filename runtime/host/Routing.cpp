//===- Routing.cpp - MoE expert selection (docs/model.md §3.2) ------------===//
//
// Per token: unbiased scores s (sigmoid, or softmax over all E), selection
// scores sb = s + bias, group filtering, top-K by sb, weights from s. Every
// "top" is a linear scan that keeps the first (lowest-index) maximum, which is
// the tie rule of docs/model.md §3.2; NaN never wins a comparison.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace moela::host {
namespace {

/// Index of the largest `value(i)` among i in [0, n) with `usable(i)`; the
/// lowest index on ties; -1 if none is usable (or all are NaN).
template <typename Value, typename Usable>
int firstMax(int n, Value value, Usable usable) {
  int best = -1;
  float bestValue = 0;
  for (int i = 0; i < n; ++i) {
    if (!usable(i))
      continue;
    const float v = value(i);
    if (std::isnan(v))
      continue;
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/// Routes one token: logits [E] -> idx [K], w [K].
void routeToken(const float *logits, const float *bias, const RouteConfig &c,
                int32_t *idx, float *w, std::vector<float> &s,
                std::vector<float> &sb, std::vector<char> &allowed) {
  const int e = c.experts, k = c.topK;
  if (c.scoring == ScoringFunc::Sigmoid) {
    for (int i = 0; i < e; ++i)
      s[i] = 1.0f / (1.0f + std::exp(-logits[i]));
  } else {
    std::copy(logits, logits + e, s.begin());
    softmax(s.data(), e);
  }
  for (int i = 0; i < e; ++i)
    sb[i] = bias ? s[i] + bias[i] : s[i];

  // Groups: contiguous blocks of E/G experts; keep the topk_groups best.
  std::fill(allowed.begin(), allowed.end(), 1);
  if (c.method != TopkMethod::Greedy && c.groups > 1) {
    const int g = c.groups, size = e / g;
    std::vector<float> groupScore(g);
    for (int gi = 0; gi < g; ++gi) {
      const float *block = sb.data() + gi * size;
      auto all = [](int) { return true; };
      auto value = [&](int i) { return block[i]; };
      const int first = firstMax(size, value, all);
      float score = first < 0 ? -INFINITY : block[first];
      if (c.method == TopkMethod::NoauxTc && size > 1) { // sum of the top 2
        const int second =
            firstMax(size, value, [&](int i) { return i != first; });
        score += second < 0 ? 0.0f : block[second];
      }
      groupScore[gi] = score;
    }
    std::vector<char> keptGroup(g, 0);
    for (int n = 0; n < c.topkGroups; ++n) {
      const int best = firstMax(
          g, [&](int i) { return groupScore[i]; },
          [&](int i) { return !keptGroup[i]; });
      if (best < 0)
        break;
      keptGroup[best] = 1;
    }
    for (int i = 0; i < e; ++i)
      allowed[i] = keptGroup[i / size];
  }

  // Top-K by selection score, in descending order; weights from s.
  float total = 0;
  for (int n = 0; n < k; ++n) {
    int best = firstMax(
        e, [&](int i) { return sb[i]; },
        [&](int i) { return bool(allowed[i]); });
    if (best < 0) // only NaN scores left: take the lowest unused index
      best =
          int(std::find(allowed.begin(), allowed.end(), 1) - allowed.begin());
    if (best >= e)
      best = 0;
    allowed[best] = 0;
    idx[n] = best;
    w[n] = s[best];
    total += s[best];
  }
  const bool normalize = c.normTopkProb && k > 1;
  for (int n = 0; n < k; ++n)
    w[n] = (normalize ? w[n] / total : w[n]) * c.scaling;
}

} // namespace

void route(CMat logits, const float *bias, const RouteConfig &config, IMat idx,
           Mat w) {
  parallelFor(logits.rows, std::max(1, 2048 / config.experts),
              [&](int64_t begin, int64_t end) {
                std::vector<float> s(config.experts), sb(config.experts);
                std::vector<char> allowed(config.experts);
                for (int64_t t = begin; t < end; ++t)
                  routeToken(logits.row(t), bias, config, idx.row(t), w.row(t),
                             s, sb, allowed);
              });
}

} // namespace moela::host
