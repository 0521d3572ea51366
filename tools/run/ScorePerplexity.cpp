//===- ScorePerplexity.cpp - moela-run --perplexity on an engine ----------===//
#include "run/ScorePerplexity.h"

#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Output.h"
#include "run/Perplexity.h"
#include "run/Stats.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace moela::runtool {

std::string readPerplexityText(const std::string &path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file)
      fail(path, ": cannot open --perplexity");
  }
  std::istream &in = path == "-" ? std::cin : file;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    fail(path, ": cannot read --perplexity");
  return text.str();
}

void scorePerplexity(Engine &engine, const std::vector<int32_t> &text,
                     const PerplexityOptions &o) {
  const std::vector<PerplexityWindow> windows =
      perplexityWindows(int64_t(text.size()), o.ctx, o.stride);
  int64_t scored = 0;
  for (const PerplexityWindow &w : windows)
    scored += w.scored();
  if (o.lead && !o.quiet)
    std::fprintf(stderr,
                 "perplexity: %lld tokens, %zu windows of %d tokens, stride "
                 "%d\n",
                 static_cast<long long>(scored), windows.size(), o.ctx,
                 o.stride);
  const auto start = std::chrono::steady_clock::now();
  PerplexityAccumulator nll;
  const size_t slots = size_t(engine.slots());
  for (size_t first = 0; first < windows.size(); first += slots) {
    const size_t count = std::min(slots, windows.size() - first);
    // Window first + b in slot b: BOS, its text tokens; the token at window
    // position j predicts text[begin + j], scored where not scored before.
    // Each window is a sequence of its own: every slot starts afresh and
    // the previous windows' pages go back to the pool.
    for (int s = 0; s < engine.slots(); ++s)
      engine.reset(s);
    std::vector<std::vector<int32_t>> tokens(count), targets(count);
    for (size_t b = 0; b < count; ++b) {
      const PerplexityWindow &w = windows[first + b];
      tokens[b].push_back(o.bos);
      tokens[b].insert(tokens[b].end(), text.begin() + w.begin,
                       text.begin() + w.end);
      targets[b].assign(tokens[b].size(), -1);
      for (int64_t t = w.scoredFrom; t < w.end; ++t)
        targets[b][size_t(t - w.begin)] = text[size_t(t)];
    }
    const std::vector<std::vector<double>> logprobs =
        engine.score(tokens, targets);
    for (size_t b = 0; b < count; ++b) {
      const PerplexityWindow &w = windows[first + b];
      if (int64_t(logprobs[b].size()) != w.scored())
        fail("internal error: window ", first + b + 1, " scored ",
             logprobs[b].size(), " tokens, not ", w.scored());
      for (double lp : logprobs[b])
        nll.add(-lp);
      if (o.lead) {
        std::printf("%s[%zu]%.4f", first + b == 0 ? "" : ",", first + b + 1,
                    nll.perplexity());
        std::fflush(stdout);
      }
    }
  }
  for (int s = 0; s < engine.slots(); ++s) // the last windows' pages too
    engine.reset(s);
  const double seconds = secondsSince(start);
  if (!o.lead)
    return;
  std::printf("\nFinal estimate: PPL = %.4f +/- %.4f\n", nll.perplexity(),
              nll.perplexityStderr());
  std::fflush(stdout);
  const double rate = seconds > 0 ? double(nll.count()) / seconds : 0.0;
  if (!o.quiet)
    std::fprintf(stderr,
                 "perplexity: scored %lld tokens in %.3f s (%.1f "
                 "tokens/s)\n",
                 static_cast<long long>(nll.count()), seconds, rate);
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    out << nlohmann::json{{"tokens", nll.count()},
                          {"windows", windows.size()},
                          {"ctx", o.ctx},
                          {"stride", o.stride},
                          {"nll_mean", nll.meanNll()},
                          {"ppl", nll.perplexity()},
                          {"ppl_stderr", nll.perplexityStderr()},
                          {"seconds", seconds},
                          {"tokens_per_second", rate}}
               .dump()
        << "\n";
    closeOutput(out, o.out, "--perplexity-out");
  }
}

} // namespace moela::runtool
