//===- Stats.cpp - moela-run's summary line -------------------------------===//
#include "run/Stats.h"

#include "moela/Runtime/Backends.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/ThreadPool.h"

#include <cstdio>
#include <string>

namespace moela::runtool {

void printStats(const Engine &engine, const Backend &backend,
                const Timings &timings, const GenerationResult *result) {
  const EngineStats &s = engine.stats();
  auto rate = [](int64_t n, double t) { return t > 0 ? n / t : 0.0; };
  auto msPer = [](int64_t n, double t) { return n > 0 ? 1000.0 * t / n : 0.0; };
  std::string firstToken;
  if (timings.firstTokenSeconds >= 0) {
    char text[64];
    std::snprintf(text, sizeof(text), ", first token after %.3f s",
                  timings.firstTokenSeconds);
    firstToken = text;
  }
  std::fprintf(stderr,
               "moela-run: load %.3f s%s, prefill %lld tokens in %.3f s (%.1f "
               "tokens/s), decode %lld tokens in %.3f s (%.1f tokens/s, %.2f "
               "ms/token) [%s backend, %d threads]\n",
               timings.loadSeconds, firstToken.c_str(),
               static_cast<long long>(s.prefillTokens), s.prefillSeconds,
               rate(s.prefillTokens, s.prefillSeconds),
               static_cast<long long>(s.decodeTokens), s.decodeSeconds,
               rate(s.decodeTokens, s.decodeSeconds),
               msPer(s.decodeTokens, s.decodeSeconds), backend.name().c_str(),
               hostThreadCount());
  if (result && result->draftsProposed > 0)
    std::fprintf(stderr,
                 "moela-run: speculative decoding: %lld of %lld MTP drafts "
                 "accepted (%.1f%%), %lld decode steps\n",
                 static_cast<long long>(result->draftsAccepted),
                 static_cast<long long>(result->draftsProposed),
                 100.0 * result->draftsAccepted / result->draftsProposed,
                 static_cast<long long>(result->steps));
}

} // namespace moela::runtool
