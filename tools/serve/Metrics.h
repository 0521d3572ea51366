//===- Metrics.h - GET /metrics in Prometheus' text format ----------------===//
#ifndef MOELA_TOOLS_SERVE_METRICS_H
#define MOELA_TOOLS_SERVE_METRICS_H

#include "moela/Runtime/Scheduler.h"

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace moela::serve {

/// Cumulative buckets, as Prometheus histograms count.
class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  /// `name`_bucket{le=...}, `name`_sum and `name`_count lines.
  void render(std::string &out, const std::string &name) const;

private:
  std::vector<double> bounds;
  std::vector<uint64_t> counts; // one per bound, then +Inf
  double sum = 0;
};

/// Every counter and histogram of the server (thread-safe).
class Metrics {
public:
  Metrics();
  void observeFirstToken(double seconds);
  void observeInterToken(double seconds);
  void observeFinished(const RequestOutcome &outcome);
  void countHttpError(int status);
  /// The exposition text, with the scheduler's gauges.
  std::string render(const SchedulerStats &stats) const;

private:
  mutable std::mutex mutex;
  Histogram firstToken, interToken;
  std::map<std::string, uint64_t> finished; // by finish reason
  std::map<int, uint64_t> httpErrors;       // by status
  uint64_t promptTokens = 0, generationTokens = 0;
};

/// The OpenAI finish_reason of an outcome: "stop", "length", "abort" or
/// "error".
const char *finishReason(RequestEnd end);

} // namespace moela::serve

#endif // MOELA_TOOLS_SERVE_METRICS_H
