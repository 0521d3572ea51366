//===- BenchReport.h - moela-bench's results as md, JSON or CSV -----------===//
#ifndef MOELA_BENCH_BENCHREPORT_H
#define MOELA_BENCH_BENCHREPORT_H

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace moela::bench {

/// One measurement, repeated: a plan's prefill or decode step on a backend.
struct Measurement {
  std::string plan, backend, phase;       // phase: prefill | decode
  int batch = 0, tokens = 0;              // tokens per run
  std::vector<double> seconds;            // one per repetition
  std::optional<double> floorSeconds;     // --roofline: the model's floor
  std::optional<double> predictedSeconds; // --roofline: the cost model's time
};

/// Mean and sample standard deviation (0 for a single value).
struct Spread {
  double mean = 0, sd = 0;
};
Spread spread(const std::vector<double> &values);

/// moela-bench -v: repetition `index` (0-based) of `repeats` of `m` as one
/// line, e.g. "tiny host decode batch 2: repetition 1/3 1.234 ms
/// (1620.7 tokens/s)".
std::string repetitionLine(const Measurement &m, size_t index, int repeats);

enum class ReportFormat { Markdown, Json, Csv };

/// "md" | "json" | "csv"; nullopt for anything else.
std::optional<ReportFormat> parseReportFormat(const std::string &name);

/// Writes every measurement with ms and tokens/s as mean ± sd over its
/// repetitions (and the floor and the ratio to it when known).
void writeReport(std::ostream &os, ReportFormat format,
                 const std::vector<Measurement> &measurements);

} // namespace moela::bench

#endif // MOELA_BENCH_BENCHREPORT_H
