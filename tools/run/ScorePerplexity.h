//===- ScorePerplexity.h - moela-run --perplexity on an engine ------------===//
//
// Runs the windows of run/Perplexity.h through Engine::score, as many at a
// time as the engine has slots, and prints llama.cpp's lines: the running
// perplexity after each window on stdout, then "Final estimate: PPL = ...
// +/- ..."; notes and the rate on stderr; --perplexity-out as JSON. Every
// rank runs the same steps; only `lead` prints and writes.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_SCOREPERPLEXITY_H
#define MOELA_TOOLS_RUN_SCOREPERPLEXITY_H

#include <cstdint>
#include <string>
#include <vector>

namespace moela {
class Engine;
} // namespace moela

namespace moela::runtool {

struct PerplexityOptions {
  int ctx = 512;    // window tokens, BOS included
  int stride = 511; // text tokens between window starts
  int32_t bos = 0;  // the model's bos_token_id, first in every window
  std::string out;  // --perplexity-out: the JSON summary ("" = none)
  bool lead = true; // this process prints and writes (rank 0)
  bool quiet = false;
};

/// The whole of FILE ('-': stdin) as one string (--perplexity).
std::string readPerplexityText(const std::string &path);

/// Scores `text` (token ids, no BOS); Error for a text under 2 tokens or a
/// bad ctx/stride (perplexityWindows).
void scorePerplexity(Engine &engine, const std::vector<int32_t> &text,
                     const PerplexityOptions &options);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_SCOREPERPLEXITY_H
