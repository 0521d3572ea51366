//===- Perplexity.cpp - Sliding windows and the perplexity estimate -------===//
#include "run/Perplexity.h"

#include "moela/Runtime/Error.h"

#include <algorithm>
#include <cmath>

namespace moela::runtool {

std::vector<PerplexityWindow> perplexityWindows(int64_t textTokens, int ctx,
                                                int stride) {
  if (textTokens < 2)
    fail("perplexity needs a text of at least 2 tokens, got ", textTokens);
  if (ctx < 2)
    fail("--ctx-size must be at least 2 (BOS and one text token), got ", ctx);
  if (stride < 1 || stride > ctx - 1)
    fail("--ppl-stride must be in [1, ", ctx - 1, "] (--ctx-size ", ctx,
         " - 1), got ", stride);
  std::vector<PerplexityWindow> windows;
  // Text token 0 is never scored: the first window scores from token 1.
  int64_t scoredUpTo = 1;
  for (int64_t begin = 0; scoredUpTo < textTokens; begin += stride) {
    PerplexityWindow w;
    w.begin = begin;
    w.end = std::min<int64_t>(begin + ctx - 1, textTokens);
    // stride <= ctx - 1: the previous window ends at or after this begin.
    w.scoredFrom = std::max(scoredUpTo, begin);
    // Only --ctx-size 2's first window, [BOS, token 0], scores nothing.
    if (w.scored() > 0)
      windows.push_back(w);
    scoredUpTo = w.end;
  }
  return windows;
}

double PerplexityAccumulator::meanNll() const { return n ? sum / n : 0.0; }

double PerplexityAccumulator::perplexity() const { return std::exp(meanNll()); }

double PerplexityAccumulator::perplexityStderr() const {
  if (n < 2)
    return 0.0;
  const double mean = meanNll();
  // Sample variance; clamped at 0 against rounding.
  const double var =
      std::max(0.0, (sumSquares - n * mean * mean) / double(n - 1));
  return perplexity() * std::sqrt(var / double(n));
}

} // namespace moela::runtool
