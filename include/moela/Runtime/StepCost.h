//===- StepCost.h - Bytes, FLOPs and roofline time of a plan step -*- C++
//-*-===//
//
// The cost of one step of a program, computed from its declaration (roles,
// operand views, weights, params, tile) for a run of given shape: the plan's
// buffers are sized for max_tokens, the run's rows follow each buffer's row
// kind (bufferRows), as in the backends. docs/cost-model.md has the model,
// its assumptions and what it leaves out.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_STEPCOST_H
#define MOELA_RUNTIME_STEPCOST_H

#include "moela/Runtime/GpuSpec.h"

#include "plan_generated.h"

#include <cstdint>
#include <map>
#include <string>

namespace moela {

/// The shape of one run of a program: `sequences` sequences of
/// tokens / sequences new tokens each, after `past` cached positions.
/// Decode at batch B and context C: {B, B, B, C - 1}.
struct RunShape {
  int64_t tokens = 1;
  int64_t logitRows = 1;
  int64_t sequences = 1;
  int64_t past = 0;

  int64_t tokensPerSequence() const { return tokens / sequences; }
  /// Cache rows the run's tokens see, summed over its tokens (causal).
  double visibleRows() const;
  /// Distinct cache rows those are (each sequence's past + new rows).
  double distinctRows() const {
    return double(sequences) * (past + tokensPerSequence());
  }
};

/// The unit a step's FLOPs run on.
enum class ComputeUnit : uint8_t { None, CudaCore, MmaSync, Wgmma };
const char *engineName(ComputeUnit engine);

/// Experts of `experts` a batch of `tokens` tokens with `topK` each touches
/// on average under uniform routing: E (1 - (1 - k/E)^T).
double expertsTouched(double experts, double topK, double tokens);

/// The row tiles of `blockM` rows one expert runs on average: E[ceil(X /
/// blockM)] with X ~ Binomial(tokens, topK / experts), the rows uniform
/// routing gives it.
double expectedExpertTiles(double experts, double topK, double tokens,
                           double blockM);

struct StepCost {
  int launches = 0;
  // Bytes moved through device memory.
  double weightBytes = 0;     // in their stored dtype, with their scales
  double activationBytes = 0; // operands read and written
  double kvBytes = 0;         // cache rows read and written
  double workspaceBytes = 0;  // partials written and read back
  // FLOPs as the engine executes them (whole tiles).
  double tensorFlops = 0;
  double cudaFlops = 0;
  ComputeUnit engine = ComputeUnit::None;
  bool fp8 = false;  // the tensor-core operands are FP8
  double micros = 0; // launches + max(bytes / bandwidth, FLOPs / peak)

  // The floor's share: the weights this step needs, keyed by what they are
  // (a tensor, or the rows of one that a step reads), each read once; the
  // cache rows read once; the FLOPs the model needs, at the best peak.
  std::map<std::string, double> floorWeights;
  double floorKvBytes = 0;
  double floorFlops = 0;
  bool floorFp8 = false;

  double bytes() const {
    return weightBytes + activationBytes + kvBytes + workspaceBytes;
  }
};

/// The cost of `step` of `program` in `plan` for `run` on `gpu`; `graph`
/// says the program is replayed as a CUDA graph (launch cost). The plan
/// must be verified (Plan::load, verifyPlanBytes): this never throws for
/// one.
StepCost stepCost(const plan::Plan &plan, const plan::Program &program,
                  const plan::Step &step, const RunShape &run,
                  const GpuSpec &gpu, bool graph);

/// Seconds of `flops` on `engine` (FP8 or not) of `gpu`.
double computeSeconds(const GpuSpec &gpu, ComputeUnit engine, bool fp8,
                      double flops);

} // namespace moela

#endif // MOELA_RUNTIME_STEPCOST_H
