//===- BenchReport.cpp - moela-bench's results as md, JSON or CSV ---------===//
#include "BenchReport.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

namespace moela::bench {
namespace {

/// The derived numbers of one measurement, as every format prints them.
struct Row {
  Spread ms, tokensPerSecond;
  std::optional<double> floorMs, timesFloor, predictedMs, timesPredicted;
};

Row row(const Measurement &m) {
  std::vector<double> ms, rates;
  for (double s : m.seconds) {
    ms.push_back(s * 1e3);
    rates.push_back(m.tokens / s);
  }
  Row r{spread(ms), spread(rates), {}, {}, {}, {}};
  if (m.floorSeconds) {
    r.floorMs = *m.floorSeconds * 1e3;
    r.timesFloor = r.ms.mean / *r.floorMs;
  }
  if (m.predictedSeconds) {
    r.predictedMs = *m.predictedSeconds * 1e3;
    r.timesPredicted = r.ms.mean / *r.predictedMs;
  }
  return r;
}

std::string format(const char *spec, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), spec, value);
  return text;
}

void writeMarkdown(std::ostream &os, const std::vector<Measurement> &all) {
  const bool floor = !all.empty() && all[0].floorSeconds.has_value();
  const size_t repeats = all.empty() ? 0 : all[0].seconds.size();
  os << "| plan | backend | phase | batch | tokens | ms (mean ± sd, n="
     << repeats << ") | tokens/s |"
     << (floor ? " predicted ms | × predicted | floor ms | × floor |" : "")
     << "\n";
  os << "|---|---|---|--:|--:|--:|--:|" << (floor ? "--:|--:|--:|--:|" : "")
     << "\n";
  for (const Measurement &m : all) {
    const Row r = row(m);
    os << "| " << m.plan << " | " << m.backend << " | " << m.phase << " | "
       << m.batch << " | " << m.tokens << " | " << format("%.3f", r.ms.mean)
       << " ± " << format("%.3f", r.ms.sd) << " | "
       << format("%.1f", r.tokensPerSecond.mean) << " ± "
       << format("%.1f", r.tokensPerSecond.sd) << " |";
    if (floor)
      os << " " << format("%.3f", r.predictedMs.value_or(NAN)) << " | "
         << format("%.2f", r.timesPredicted.value_or(NAN)) << " | "
         << format("%.3f", r.floorMs.value_or(NAN)) << " | "
         << format("%.2f", r.timesFloor.value_or(NAN)) << " |";
    os << "\n";
  }
}

void writeJson(std::ostream &os, const std::vector<Measurement> &all) {
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Measurement &m : all) {
    const Row r = row(m);
    nlohmann::ordered_json j = {{"plan", m.plan},
                                {"backend", m.backend},
                                {"phase", m.phase},
                                {"batch", m.batch},
                                {"tokens", m.tokens},
                                {"repeats", m.seconds.size()},
                                {"ms_mean", r.ms.mean},
                                {"ms_sd", r.ms.sd},
                                {"tokens_per_s_mean", r.tokensPerSecond.mean},
                                {"tokens_per_s_sd", r.tokensPerSecond.sd},
                                {"ms", nlohmann::ordered_json::array()}};
    for (double s : m.seconds)
      j["ms"].push_back(s * 1e3);
    if (r.predictedMs) {
      j["predicted_ms"] = *r.predictedMs;
      j["x_predicted"] = *r.timesPredicted;
    }
    if (r.floorMs) {
      j["floor_ms"] = *r.floorMs;
      j["x_floor"] = *r.timesFloor;
    }
    results.push_back(std::move(j));
  }
  os << nlohmann::ordered_json{{"results", results}}.dump(2) << "\n";
}

void writeCsv(std::ostream &os, const std::vector<Measurement> &all) {
  const bool floor = !all.empty() && all[0].floorSeconds.has_value();
  os << "plan,backend,phase,batch,tokens,repeats,ms_mean,ms_sd,"
        "tokens_per_s_mean,tokens_per_s_sd"
     << (floor ? ",predicted_ms,x_predicted,floor_ms,x_floor" : "") << "\n";
  for (const Measurement &m : all) {
    const Row r = row(m);
    // Plan labels are file stems; quote them in case they hold a comma.
    os << '"' << m.plan << "\"," << m.backend << "," << m.phase << ","
       << m.batch << "," << m.tokens << "," << m.seconds.size() << ","
       << format("%.6g", r.ms.mean) << "," << format("%.6g", r.ms.sd) << ","
       << format("%.6g", r.tokensPerSecond.mean) << ","
       << format("%.6g", r.tokensPerSecond.sd);
    if (floor)
      os << "," << format("%.6g", r.predictedMs.value_or(NAN)) << ","
         << format("%.6g", r.timesPredicted.value_or(NAN)) << ","
         << format("%.6g", r.floorMs.value_or(NAN)) << ","
         << format("%.6g", r.timesFloor.value_or(NAN));
    os << "\n";
  }
}

} // namespace

Spread spread(const std::vector<double> &values) {
  Spread s;
  if (values.empty())
    return s;
  for (double v : values)
    s.mean += v;
  s.mean /= double(values.size());
  if (values.size() < 2)
    return s;
  double squares = 0;
  for (double v : values)
    squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / double(values.size() - 1));
  return s;
}

std::string repetitionLine(const Measurement &m, size_t index, int repeats) {
  const double s = m.seconds.at(index);
  char text[256];
  std::snprintf(text, sizeof(text),
                "%s %s %s batch %d: repetition %zu/%d %.3f ms (%.1f tokens/s)",
                m.plan.c_str(), m.backend.c_str(), m.phase.c_str(), m.batch,
                index + 1, repeats, s * 1e3, m.tokens / s);
  return text;
}

std::optional<ReportFormat> parseReportFormat(const std::string &name) {
  if (name == "md")
    return ReportFormat::Markdown;
  if (name == "json")
    return ReportFormat::Json;
  if (name == "csv")
    return ReportFormat::Csv;
  return std::nullopt;
}

void writeReport(std::ostream &os, ReportFormat format,
                 const std::vector<Measurement> &measurements) {
  switch (format) {
  case ReportFormat::Markdown:
    return writeMarkdown(os, measurements);
  case ReportFormat::Json:
    return writeJson(os, measurements);
  case ReportFormat::Csv:
    return writeCsv(os, measurements);
  }
}

} // namespace moela::bench
