//===- Backend.h - What the engine asks of an execution backend -----------===//
//
// A backend executes the steps of a plan's programs: the host backend on the
// CPU in fp32 (runtime/host), the CUDA backend on a GPU (runtime/cuda). The
// engine (runtime/engine/Engine.cpp) owns the generation loop and talks to a
// backend only through this interface.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_BACKEND_H
#define MOELA_RUNTIME_BACKEND_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moela {

class Plan;
class WeightSource;
namespace plan {
struct Program;
}

/// The inputs of one program run (plan.fbs, Program): T tokens, each with its
/// absolute position and its sequence slot, and the R rows whose logits are
/// wanted.
struct StepInputs {
  std::vector<int32_t> tokens;    // [T]
  std::vector<int32_t> positions; // [T]
  std::vector<int32_t> seqIds;    // [T] KV cache slot of each token
  std::vector<int32_t> logitRows; // [R] indices into the T tokens
  /// A plan that samples (programSamples): each logit row's sampling
  /// parameters, abi::SamplingWord [R, kSamplingWords]; empty = greedy rows
  /// without logprobs.
  std::vector<int32_t> sampling;
  /// Whether run() copies the logits back; a plan without a Sample step
  /// always does.
  bool wantLogits = true;
};

/// What one program run returns.
struct StepOutputs {
  std::vector<float> logits;   // [R, V] row-major
  std::vector<int32_t> drafts; // [R] MTP drafts; empty when the plan has none
  /// A plan that samples: the Sample step's ids and logprobs [R,
  /// abi::kSampleCols] (the token, then the top logprobs); else empty.
  std::vector<int32_t> sampledIds;
  std::vector<float> sampledLogprobs;
};

/// Checks `inputs` against `program` and a KV cache of `slots` sequences of
/// `maxSeqLen` positions; throws moela::Error naming the program and the bad
/// value. Every backend calls it first (runtime/plan/StepInputs.cpp).
void checkStepInputs(const plan::Program &program, const StepInputs &inputs,
                     int slots, int maxSeqLen);
/// Whether `program` ends with a Sample step (its fifth input, plan.fbs).
bool programSamples(const plan::Program &program);
/// Whether `program` returns MTP drafts (moela-compile --mtp).
bool programHasDrafts(const plan::Program &program);
/// The sampling input of a run: inputs.sampling, or greedy rows without
/// logprobs when it is empty.
std::vector<int32_t> samplingInput(const StepInputs &inputs);

class Backend {
public:
  virtual ~Backend() = default;
  /// "host" or "cuda".
  virtual std::string name() const = 0;
  /// Binds every weight the plan names (checking dtype and shape) and allocates
  /// the KV cache for `slots` sequences of up to `maxSeqLen` positions.
  virtual void prepare(const Plan &plan, WeightSource &weights, int slots,
                       int maxSeqLen) = 0;
  /// Runs the program named `program` ("prefill", "extend" or "decode");
  /// returns its logits and drafts. T must not exceed the program's
  /// max_tokens.
  virtual StepOutputs run(const std::string &program,
                          const StepInputs &inputs) = 0;
};

} // namespace moela

#endif // MOELA_RUNTIME_BACKEND_H
