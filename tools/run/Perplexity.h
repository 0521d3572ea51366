//===- Perplexity.h - Sliding windows and the perplexity estimate ---------===//
//
// moela-run --perplexity's arithmetic, apart from the engine and the I/O:
// which text tokens each window holds and scores, and the running NLL
// statistics. As Hugging Face's "perplexity of fixed-length models" and
// llama.cpp's strided mode: a window is BOS followed by ctx - 1 text tokens,
// the next window starts `stride` text tokens later, and each window scores
// only the tokens no earlier window scored. Every text token but the first
// is scored exactly once; the first has no context at all and is never
// scored (as in HF's guide, where a text's first token has no label).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_PERPLEXITY_H
#define MOELA_TOOLS_RUN_PERPLEXITY_H

#include <cstdint>
#include <vector>

namespace moela::runtool {

/// One window: BOS, then text tokens [begin, end); it scores text tokens
/// [scoredFrom, end), each from BOS and the window's tokens before it.
struct PerplexityWindow {
  int64_t begin = 0, end = 0, scoredFrom = 0;
  int64_t scored() const { return end - scoredFrom; }
};

/// The windows over a text of `textTokens` tokens: window k holds text
/// tokens [k * stride, min(k * stride + ctx - 1, textTokens)) and the last
/// one ends at the text's end (it may be shorter); a window that would score
/// nothing (ctx 2: the first, [BOS, token 0]) is left out. Needs textTokens >=
/// 2, ctx >= 2 and 1 <= stride <= ctx - 1 (Error otherwise). Their scored() sum
/// to textTokens - 1.
std::vector<PerplexityWindow> perplexityWindows(int64_t textTokens, int ctx,
                                                int stride);

/// Running statistics of per-token NLLs (natural log).
class PerplexityAccumulator {
public:
  void add(double nll) {
    sum += nll;
    sumSquares += nll * nll;
    ++n;
  }
  int64_t count() const { return n; }
  double meanNll() const;
  /// exp(mean NLL).
  double perplexity() const;
  /// The standard error of perplexity() as llama.cpp propagates it:
  /// PPL * sqrt(var(nll) / n), var with n - 1 in the denominator (0 for
  /// fewer than two tokens).
  double perplexityStderr() const;

private:
  double sum = 0, sumSquares = 0;
  int64_t n = 0;
};

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_PERPLEXITY_H
