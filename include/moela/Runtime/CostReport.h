//===- CostReport.h - A plan's predicted time against its floor -*- C++ -*-===//
//
// The cost of whole runs (StepCost.h summed over a program's steps, plus
// the host copies the backend makes), grouped by kernel family, and the
// floor: every weight the run touches read once, every cache row read
// once, the model's FLOPs at the best peak. moela-compile --cost prints it
// (docs/cost-model.md).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_COSTREPORT_H
#define MOELA_RUNTIME_COSTREPORT_H

#include "moela/Runtime/StepCost.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace moela {

/// One kernel family's share of a run.
struct FamilyCost {
  std::string family; // "Gemm", ..., "HostCopy"
  int launches = 0;
  double bytes = 0;
  double flops = 0; // tensor-core + CUDA-core
  double tensorFlops = 0, cudaFlops = 0;
  double micros = 0;
};

/// A scenario of the report: decode at a batch, or a prefill.
struct RunCost {
  std::string program; // "decode" or "prefill"
  int64_t batch = 0;   // sequences
  int64_t context = 0; // cache rows each sequence sees at its last token
  int64_t tokens = 0;  // tokens of the run (all chunks of a prefill)
  std::vector<std::string> runs; // the programs run: "prefill", "extend"...
  double bytes = 0, flops = 0, predictedMs = 0, floorMs = 0;
  std::vector<FamilyCost> families; // by predicted time, largest first
  double ratio() const { return floorMs > 0 ? predictedMs / floorMs : 0; }
};

/// Decode of `batch` sequences, each at `context` cache rows.
RunCost decodeCost(const plan::Plan &plan, const GpuSpec &gpu, int64_t batch,
                   int64_t context);
/// A prefill of one `tokens`-token prompt, run as the backend runs it: the
/// prefill program on the first max_tokens tokens, then extend chunks.
/// The floor is that of the whole prompt at once.
RunCost prefillCost(const plan::Plan &plan, const GpuSpec &gpu, int64_t tokens);

/// The report's runs: decode at batch 1, 8 and 64 (those the plan's decode
/// takes) with a 4096-token context, and a 4096-token prefill.
std::vector<RunCost> standardCosts(const plan::Plan &plan, const GpuSpec &gpu);

/// The tables of moela-compile --cost.
void printCostReport(const std::vector<RunCost> &costs, const GpuSpec &gpu,
                     std::ostream &os);
/// The same as a JSON array (moela-compile --cost-json).
void writeCostJson(const std::vector<RunCost> &costs, const GpuSpec &gpu,
                   std::ostream &os);

} // namespace moela

#endif // MOELA_RUNTIME_COSTREPORT_H
