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

/// The paged latent KV cache a backend allocates (docs/architecture.md, "The
/// paged KV cache"): every layer holds `pages` pages of kKvPageTokens rows
/// (runtime/kernels/Abi.h), and StepInputs::blockTables has `sequences` rows
/// of pagesPerSequence() page ids.
struct KvCacheShape {
  int pages = 0;     // the pool, per layer
  int maxSeqLen = 0; // positions of one sequence (the context length)
  int sequences = 0; // block-table rows: the sequence slots (seqIds < this)

  /// Block-table columns: ceil(maxSeqLen / kKvPageTokens).
  int pagesPerSequence() const;
  /// `slots` sequences of `maxSeqLen`, each owning its pages outright: the
  /// memory of an unpaged cache (the contiguous tables below fill it).
  static KvCacheShape contiguous(int slots, int maxSeqLen);
};

/// The inputs of one program run (plan.fbs, Program): T tokens, each with its
/// absolute position and its sequence slot, the R rows whose logits are
/// wanted, and every slot's block table.
struct StepInputs {
  std::vector<int32_t> tokens;    // [T]
  std::vector<int32_t> positions; // [T]
  std::vector<int32_t> seqIds;    // [T] KV cache slot: a row of blockTables
  std::vector<int32_t> logitRows; // [R] indices into the T tokens
  /// [sequences, pagesPerSequence] (KvCacheShape): row s, column i is the
  /// page holding positions [64i, 64i + 64) of slot s, -1 where none is
  /// allocated. A token's page must be allocated; rows of slots not in the
  /// step are not read.
  std::vector<int32_t> blockTables;
  /// A plan that samples (programSamples): each logit row's sampling
  /// parameters, abi::SamplingWord [R, kSamplingWords]; empty = greedy rows
  /// without logprobs.
  std::vector<int32_t> sampling;
  /// Whether run() copies the logits back; a plan without a Sample step
  /// always does.
  bool wantLogits = true;
};

/// Block tables in which slot s owns pages [s * P, (s + 1) * P), P =
/// shape.pagesPerSequence(): the unpaged layout (tests, tools without an
/// Engine).
std::vector<int32_t> contiguousBlockTables(const KvCacheShape &shape);

/// What one program run returns.
struct StepOutputs {
  std::vector<float> logits;   // [R, V] row-major
  std::vector<int32_t> drafts; // [R] MTP drafts; empty when the plan has none
  /// A plan that samples: the Sample step's ids and logprobs [R,
  /// abi::kSampleCols] (the token, then the top logprobs); else empty.
  std::vector<int32_t> sampledIds;
  std::vector<float> sampledLogprobs;
};

/// Checks `inputs` against `program` and the KV cache `kv`: counts, positions
/// below maxSeqLen, slots below kv.sequences, block tables of the right size
/// whose entries are -1 or a page of the pool, and an allocated page for every
/// token; throws moela::Error naming the program, the token or sequence and
/// the bad value. Every backend calls it first (runtime/plan/StepInputs.cpp).
void checkStepInputs(const plan::Program &program, const StepInputs &inputs,
                     const KvCacheShape &kv);
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
  /// the paged KV cache `kv` (kv.pages pages per layer).
  virtual void prepare(const Plan &plan, WeightSource &weights,
                       const KvCacheShape &kv) = 0;
  /// Runs the program named `program` ("prefill", "extend" or "decode");
  /// returns its logits and drafts. T must not exceed the program's
  /// max_tokens.
  virtual StepOutputs run(const std::string &program,
                          const StepInputs &inputs) = 0;
};

} // namespace moela

#endif // MOELA_RUNTIME_BACKEND_H
