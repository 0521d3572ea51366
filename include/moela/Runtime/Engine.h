//===- Engine.h - Feeding sequences through a plan's programs -------------===//
//
// The engine owns the token positions of up to `slots` sequences (the KV cache
// itself lives in the backend) and turns "append these tokens to these
// sequences" into program runs: prompts go through @prefill in chunks of at
// most its max_tokens (any start position: multi-turn chat, chunked prefill),
// single tokens through @decode. It keeps the prefill and decode throughput.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_ENGINE_H
#define MOELA_RUNTIME_ENGINE_H

#include "moela/Runtime/Backend.h"

#include <cstdint>
#include <vector>

namespace moela {

class Plan;

struct EngineStats {
  int64_t prefillTokens = 0, decodeTokens = 0;
  double prefillSeconds = 0, decodeSeconds = 0;
};

class Engine {
public:
  /// Prepares `backend` for `slots` sequences of up to `maxSeqLen` tokens.
  Engine(const Plan &plan, Backend &backend, WeightSource &weights, int slots,
         int maxSeqLen);

  int slots() const { return static_cast<int>(lengths.size()); }
  int maxSeqLen() const { return maxSeqLen_; }
  int64_t vocab() const { return vocab_; }
  /// Tokens held for sequence `slot`.
  int length(int slot) const { return lengths.at(slot); }
  /// Starts sequence `slot` afresh (its cached positions are overwritten).
  void reset(int slot) { lengths.at(slot) = 0; }

  /// Appends tokens[b] to sequence b for every b (empty = unchanged) and
  /// returns the logits [V] after the last token of each non-empty one
  /// (empty vectors for the others). Throws if a sequence would outgrow the
  /// context.
  std::vector<std::vector<float>>
  feed(const std::vector<std::vector<int32_t>> &tokens);

  const EngineStats &stats() const { return stats_; }

private:
  /// Runs `program` on one chunk; returns logits [R][V].
  std::vector<std::vector<float>> run(const std::string &program,
                                      const StepInputs &inputs);

  const Plan &plan;
  Backend &backend;
  std::vector<int> lengths;
  int maxSeqLen_;
  int64_t vocab_;
  int prefillMaxTokens = 0, decodeMaxTokens = 0;
  /// The plan's prefill takes only chunks whose sequences all start in them
  /// (plan.fbs Program.fresh_sequences); other chunks run "extend".
  bool prefillNeedsFresh = false;
  EngineStats stats_;
};

} // namespace moela

#endif // MOELA_RUNTIME_ENGINE_H
