//===- Stats.h - moela-run's summary line -------------------------*- C++
//-*-===//
//
// One line on stderr after generation, as llama.cpp prints it: load time,
// time to first token, prefill and decode rates, ms per token.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_STATS_H
#define MOELA_TOOLS_RUN_STATS_H

#include <chrono>
#include <cstdint>

namespace moela {
class Backend;
class Engine;
struct GenerationResult;
} // namespace moela

namespace moela::runtool {

/// Wall-clock seconds of the phases the engine does not time itself.
struct Timings {
  double loadSeconds = 0;        // plan, checkpoint and backend up to ready
  double firstTokenSeconds = -1; // generation start to first token (-1: none)
};

/// Seconds since `start`.
inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The summary line (and the speculative-decoding line when drafts ran).
void printStats(const Engine &engine, const Backend &backend,
                const Timings &timings,
                const GenerationResult *result = nullptr);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_STATS_H
