//===- PerplexityTest.cpp - moela-run --perplexity's windows and estimate -===//
#include "run/Perplexity.h"

#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using namespace moela;
using namespace moela::runtool;

namespace {

std::string errorOf(int64_t tokens, int ctx, int stride) {
  try {
    perplexityWindows(tokens, ctx, stride);
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

/// Every text token but the first is scored exactly once, each window
/// scores a suffix of itself, and a scored token sees at least
/// ctx - 1 - stride text tokens of its window before it (first window aside).
void expectCoverage(int64_t tokens, int ctx, int stride) {
  SCOPED_TRACE(std::to_string(tokens) + " tokens, ctx " + std::to_string(ctx) +
               ", stride " + std::to_string(stride));
  std::vector<int> times(size_t(tokens), 0);
  int64_t total = 0;
  auto windows = perplexityWindows(tokens, ctx, stride);
  for (size_t k = 0; k < windows.size(); ++k) {
    const PerplexityWindow &w = windows[k];
    EXPECT_EQ(w.begin % stride, 0);
    if (k > 0)
      EXPECT_EQ(w.begin, windows[k - 1].begin + stride);
    EXPECT_LE(w.end - w.begin, ctx - 1);
    EXPECT_LE(w.begin, w.scoredFrom);
    EXPECT_LT(w.scoredFrom, w.end);
    if (k > 0)
      EXPECT_GE(w.scoredFrom - w.begin, ctx - 1 - stride);
    for (int64_t t = w.scoredFrom; t < w.end; ++t)
      ++times[size_t(t)];
    total += w.scored();
  }
  EXPECT_EQ(windows.back().end, tokens);
  EXPECT_EQ(total, tokens - 1);
  EXPECT_EQ(times[0], 0);
  for (int64_t t = 1; t < tokens; ++t)
    EXPECT_EQ(times[size_t(t)], 1) << "token " << t;
}

} // namespace

TEST(PerplexityWindows, NonOverlapping) {
  // ctx 5: BOS + 4 text tokens; 10 tokens -> [0,4) [4,8) [8,10).
  auto w = perplexityWindows(10, 5, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].begin, 0);
  EXPECT_EQ(w[0].end, 4);
  EXPECT_EQ(w[0].scoredFrom, 1); // text token 0 is never scored
  EXPECT_EQ(w[1].begin, 4);
  EXPECT_EQ(w[1].end, 8);
  EXPECT_EQ(w[1].scoredFrom, 4); // scored from BOS alone at its start
  EXPECT_EQ(w[2].begin, 8);
  EXPECT_EQ(w[2].end, 10);
  EXPECT_EQ(w[2].scoredFrom, 8);
}

TEST(PerplexityWindows, Strided) {
  // ctx 5, stride 2: [0,4) scores 1..3; [2,6) scores 4,5; [4,8) 6,7; [6,9) 8.
  auto w = perplexityWindows(9, 5, 2);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[1].begin, 2);
  EXPECT_EQ(w[1].end, 6);
  EXPECT_EQ(w[1].scoredFrom, 4);
  EXPECT_EQ(w[3].begin, 6);
  EXPECT_EQ(w[3].end, 9);
  EXPECT_EQ(w[3].scoredFrom, 8);
}

TEST(PerplexityWindows, ContextOfTwo) {
  // [BOS, token 0] would score nothing: token k is scored from BOS alone.
  auto w = perplexityWindows(3, 2, 1);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].begin, 1);
  EXPECT_EQ(w[0].scoredFrom, 1);
  EXPECT_EQ(w[1].begin, 2);
  EXPECT_EQ(w[1].end, 3);
}

TEST(PerplexityWindows, ShortTextIsOneWindow) {
  auto w = perplexityWindows(2, 512, 511);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].end, 2);
  EXPECT_EQ(w[0].scored(), 1);
}

TEST(PerplexityWindows, ExactCoverage) {
  for (int64_t tokens : {2, 3, 7, 16, 17, 100})
    for (int ctx : {2, 3, 5, 16})
      for (int stride = 1; stride < ctx; ++stride)
        expectCoverage(tokens, ctx, stride);
}

TEST(PerplexityWindows, Errors) {
  EXPECT_EQ(errorOf(1, 16, 15),
            "perplexity needs a text of at least 2 tokens, got 1");
  EXPECT_EQ(errorOf(10, 1, 1),
            "--ctx-size must be at least 2 (BOS and one text token), got 1");
  EXPECT_EQ(errorOf(10, 16, 16),
            "--ppl-stride must be in [1, 15] (--ctx-size 16 - 1), got 16");
  EXPECT_EQ(errorOf(10, 16, 0),
            "--ppl-stride must be in [1, 15] (--ctx-size 16 - 1), got 0");
}

TEST(PerplexityAccumulator, MeanAndStderr) {
  PerplexityAccumulator a;
  EXPECT_EQ(a.perplexityStderr(), 0.0);
  a.add(1.0);
  EXPECT_EQ(a.perplexityStderr(), 0.0); // one token: no spread
  a.add(2.0);
  a.add(3.0);
  EXPECT_EQ(a.count(), 3);
  EXPECT_DOUBLE_EQ(a.meanNll(), 2.0);
  EXPECT_DOUBLE_EQ(a.perplexity(), std::exp(2.0));
  // Sample variance 1, n 3: PPL * sqrt(1 / 3).
  EXPECT_NEAR(a.perplexityStderr(), std::exp(2.0) * std::sqrt(1.0 / 3.0),
              1e-12);
}
