//===- CostReport.cpp - Runs of programs, by family, against the floor ----===//
#include "moela/Runtime/CostReport.h"

#include "kernels/Abi.h"
#include "moela/Runtime/Backend.h"
#include "moela/Runtime/StepFamily.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <ostream>

namespace moela {
namespace {

/// What the runs of a scenario add up to.
struct Totals {
  std::map<std::string, FamilyCost> families;
  // The floor: weights by what they are (read once however often steps
  // read them), cache rows, and the seconds of the FLOPs at peak.
  std::map<std::string, double> floorWeights;
  double floorKvBytes = 0;
  double floorComputeSeconds = 0;
};

const plan::Program *findProgram(const plan::Plan &plan, const char *name) {
  for (const plan::Program *p : *plan.programs())
    if (p->name()->str() == name)
      return p;
  return nullptr;
}

/// The copies CudaBackend::run makes around the steps: the block tables
/// and inputs in, the logits (a plan without a Sample step) or the sampled
/// ids and logprobs, and the drafts, out.
void addHostCopies(const plan::Program &program, const RunShape &run,
                   const GpuSpec &gpu, Totals &totals) {
  const bool samples = programSamples(program);
  const double vocab =
      program.buffers()->Get(program.outputs()->Get(abi::kLogits))->cols();
  double bytes =
      4.0 * (3 * run.tokens + run.logitRows) +
      4.0 * run.sequences *
          ((run.past + run.tokensPerSequence()) / abi::kKvPageTokens + 1);
  int copies = 1 + abi::kNumProgramInputs;
  if (samples) {
    bytes += 4.0 * run.logitRows * abi::kSamplingWords +
             2 * 4.0 * run.logitRows * abi::kSampleCols;
    copies += 3;
  } else {
    bytes += 4.0 * run.logitRows * vocab;
    copies += 1;
  }
  if (programHasDrafts(program)) {
    bytes += 4.0 * run.logitRows;
    copies += 1;
  }
  FamilyCost &f = totals.families["HostCopy"];
  f.family = "HostCopy";
  f.launches += copies;
  f.bytes += bytes;
  f.micros += bytes / (gpu.hostGBps * 1e9) * 1e6 + copies * gpu.launchUs;
}

/// Adds one run of `program`; its floor too when `floor`.
void addRun(const plan::Plan &plan, const plan::Program &program,
            const RunShape &run, const GpuSpec &gpu, bool floor,
            Totals &totals) {
  // The decode program is replayed as a CUDA graph (CudaBackend::run).
  const bool graph = program.name()->str() == abi::kDecode;
  for (const plan::Step *step : *program.steps()) {
    const StepCost cost = stepCost(plan, program, *step, run, gpu, graph);
    const std::string name = stepFamilyName(step->params_type());
    FamilyCost &f = totals.families[name];
    f.family = name;
    f.launches += cost.launches;
    f.bytes += cost.bytes();
    f.flops += cost.tensorFlops + cost.cudaFlops;
    f.tensorFlops += cost.tensorFlops;
    f.cudaFlops += cost.cudaFlops;
    f.micros += cost.micros;
    if (!floor)
      continue;
    for (const auto &[key, bytes] : cost.floorWeights)
      totals.floorWeights[key] = std::max(totals.floorWeights[key], bytes);
    totals.floorKvBytes += cost.floorKvBytes;
    totals.floorComputeSeconds +=
        computeSeconds(gpu, ComputeUnit::Wgmma, cost.floorFp8, cost.floorFlops);
  }
  addHostCopies(program, run, gpu, totals);
}

/// The floor of `totals` alone (a separate Totals: floor only).
double floorMs(const Totals &totals, const GpuSpec &gpu) {
  double bytes = totals.floorKvBytes;
  for (const auto &entry : totals.floorWeights)
    bytes += entry.second;
  return std::max(bytes / (gpu.memoryTBps * 1e12), totals.floorComputeSeconds) *
         1e3;
}

RunCost finish(RunCost cost, const Totals &totals) {
  for (const auto &entry : totals.families) {
    cost.families.push_back(entry.second);
    cost.bytes += entry.second.bytes;
    cost.flops += entry.second.flops;
    cost.predictedMs += entry.second.micros / 1e3;
  }
  std::stable_sort(cost.families.begin(), cost.families.end(),
                   [](const FamilyCost &a, const FamilyCost &b) {
                     return a.micros > b.micros;
                   });
  return cost;
}

} // namespace

RunCost decodeCost(const plan::Plan &plan, const GpuSpec &gpu, int64_t batch,
                   int64_t context) {
  RunCost cost;
  cost.program = abi::kDecode;
  cost.batch = batch;
  cost.context = context;
  cost.tokens = batch;
  const plan::Program *decode = findProgram(plan, abi::kDecode);
  if (!decode)
    return cost;
  cost.runs = {abi::kDecode};
  const RunShape run{batch, batch, batch, context - 1};
  Totals totals;
  addRun(plan, *decode, run, gpu, true, totals);
  cost.floorMs = floorMs(totals, gpu);
  return finish(cost, totals);
}

RunCost prefillCost(const plan::Plan &plan, const GpuSpec &gpu,
                    int64_t tokens) {
  RunCost cost;
  cost.program = abi::kPrefill;
  cost.batch = 1;
  cost.context = tokens;
  cost.tokens = tokens;
  const plan::Program *prefill = findProgram(plan, abi::kPrefill);
  const plan::Program *extend = findProgram(plan, abi::kExtend);
  if (!prefill)
    return cost;
  // The floor: the whole prompt in one run of the prefill program.
  Totals floor;
  addRun(plan, *prefill, RunShape{tokens, 1, 1, 0}, gpu, true, floor);
  cost.floorMs = floorMs(floor, gpu);
  // The plan: max_tokens at a time, later chunks continue the sequence.
  Totals totals;
  for (int64_t done = 0; done < tokens;) {
    const plan::Program *program = done == 0 || !extend ? prefill : extend;
    const int64_t chunk =
        std::min<int64_t>(tokens - done, program->max_tokens());
    addRun(plan, *program, RunShape{chunk, 1, 1, done}, gpu, false, totals);
    cost.runs.push_back(program->name()->str());
    done += chunk;
  }
  return finish(cost, totals);
}

std::vector<RunCost> standardCosts(const plan::Plan &plan, const GpuSpec &gpu) {
  std::vector<RunCost> costs;
  const plan::Program *decode = findProgram(plan, abi::kDecode);
  for (int64_t batch : {1, 8, 64})
    if (decode && batch <= decode->max_tokens())
      costs.push_back(decodeCost(plan, gpu, batch, 4096));
  if (findProgram(plan, abi::kPrefill))
    costs.push_back(prefillCost(plan, gpu, 4096));
  return costs;
}

namespace {

std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char *fmt, ...) {
  char buffer[256];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

/// 1.23 G, 456.0 M: three significant figures with an SI prefix.
std::string si(double value, const char *unit) {
  const char *prefixes[] = {"", "K", "M", "G", "T", "P"};
  int i = 0;
  while (value >= 1000 && i < 5) {
    value /= 1000;
    ++i;
  }
  return format("%.2f %s%s", value, prefixes[i], unit);
}

std::string describe(const RunCost &c) {
  std::string runs;
  for (const std::string &r : c.runs)
    runs += (runs.empty() ? "" : "+") + r;
  if (c.program == abi::kDecode)
    return format("decode, batch %lld, context %lld", (long long)c.batch,
                  (long long)c.context) +
           (runs.empty() ? " (no decode program)" : "");
  return format("prefill of %lld tokens", (long long)c.tokens) +
         (runs.empty() ? " (no prefill program)" : " (" + runs + ")");
}

} // namespace

void printCostReport(const std::vector<RunCost> &costs, const GpuSpec &gpu,
                     std::ostream &os) {
  os << format("cost model on %s: %.1f TB/s, wgmma %.0f/%.0f TFLOP/s "
               "(bf16/fp8), mma.sync %.0f/%.0f, CUDA cores %.0f, launch "
               "%.1f us (%.1f in a CUDA graph), host copies %.0f GB/s\n",
               gpu.name.c_str(), gpu.memoryTBps, gpu.wgmmaBf16Tflops,
               gpu.wgmmaFp8Tflops, gpu.mmaBf16Tflops, gpu.mmaFp8Tflops,
               gpu.cudaCoreTflops, gpu.launchUs, gpu.graphLaunchUs,
               gpu.hostGBps);
  for (const RunCost &c : costs) {
    os << "\n" << describe(c) << "\n";
    os << format("  %-20s %8s %12s %12s %10s %7s\n", "family", "launches",
                 "bytes", "FLOPs", "pred us", "share");
    for (const FamilyCost &f : c.families)
      os << format("  %-20s %8d %12s %12s %10.1f %6.1f%%\n", f.family.c_str(),
                   f.launches, si(f.bytes, "B").c_str(),
                   si(f.flops, "F").c_str(), f.micros,
                   c.predictedMs > 0 ? 100 * f.micros / 1e3 / c.predictedMs
                                     : 0);
  }
  os << format("\n%-8s %6s %8s %7s %13s %9s %6s\n", "program", "batch",
               "context", "tokens", "predicted ms", "floor ms", "ratio");
  for (const RunCost &c : costs)
    os << format("%-8s %6lld %8lld %7lld %13.3f %9.3f %6.2f\n",
                 c.program.c_str(), (long long)c.batch, (long long)c.context,
                 (long long)c.tokens, c.predictedMs, c.floorMs, c.ratio());
}

void writeCostJson(const std::vector<RunCost> &costs, const GpuSpec &gpu,
                   std::ostream &os) {
  nlohmann::json all = nlohmann::json::array();
  for (const RunCost &c : costs) {
    nlohmann::json families = nlohmann::json::array();
    for (const FamilyCost &f : c.families)
      families.push_back(
          {{"family", f.family},
           {"launches", f.launches},
           {"bytes", f.bytes},
           {"flops", f.flops},
           {"tensor_flops", f.tensorFlops},
           {"cuda_core_flops", f.cudaFlops},
           {"predicted_us", f.micros},
           {"share",
            c.predictedMs > 0 ? f.micros / 1e3 / c.predictedMs : 0.0}});
    all.push_back({{"program", c.program},
                   {"gpu", gpu.name},
                   {"runs", c.runs},
                   {"batch", c.batch},
                   {"context", c.context},
                   {"tokens", c.tokens},
                   {"bytes", c.bytes},
                   {"flops", c.flops},
                   {"predicted_ms", c.predictedMs},
                   {"floor_ms", c.floorMs},
                   {"ratio", c.ratio()},
                   {"families", families}});
  }
  os << all.dump(2) << "\n";
}

} // namespace moela
