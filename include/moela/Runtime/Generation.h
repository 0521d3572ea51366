//===- Generation.h - Prompt in, tokens out (docs/model.md §4) ------------===//
#ifndef MOELA_RUNTIME_GENERATION_H
#define MOELA_RUNTIME_GENERATION_H

#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Sampler.h"

#include <functional>
#include <vector>

namespace moela {

class Communicator;

struct GenerationOptions {
  int maxNewTokens = 64;
  SamplingOptions sampling;
  int32_t eosId = 1;
  bool ignoreEos = false; // run all maxNewTokens steps even after EOS
  bool keepLogits = false;
  /// Greedy speculative decoding with the plan's MTP drafts (needs
  /// temperature 0 and a plan compiled --mtp); the tokens are those of plain
  /// greedy decoding.
  bool speculative = false;
  /// A multi-rank run: the tokens rank 0 chooses (sampled, or the greedy
  /// choices of speculative decoding) are broadcast after every program run,
  /// and every rank feeds those. Null: a single process.
  Communicator *comm = nullptr;
  /// Sees every chosen token of sequence b with the logits it was chosen
  /// from (for logprobs); called on every rank.
  std::function<void(int, int32_t, const std::vector<float> &)> onLogits;
  /// Sees every chosen token of sequence b with its logprob and its
  /// `topLogprobs` most likely tokens, computed on the device without
  /// copying the logits (not with `speculative`: use onLogits there).
  std::function<void(int, const SampledToken &)> onSampled;
  int topLogprobs = 0; // with onSampled: 0..20
  /// Asked after each token (after onToken): true ends sequence b now, e.g.
  /// a stop string was completed. In a multi-rank run rank 0's answer counts.
  std::function<bool(int)> stopHere;
};

/// Why a sequence ended.
enum class FinishReason {
  Length,  // maxNewTokens generated
  Context, // the context (maxSeqLen) is full
  Eos,     // the model chose EOS
  Stop,    // stopHere said so (a stop string)
};
const char *finishReasonName(FinishReason reason); // "length", "eos", ...

struct GenerationResult {
  std::vector<std::vector<int32_t>> ids;               // [B][<= maxNewTokens]
  std::vector<std::vector<std::vector<float>>> logits; // [B][steps][V] if kept
  int64_t draftsProposed = 0, draftsAccepted = 0;      // speculative only
  int64_t steps = 0;                // program runs after the prompt
  std::vector<FinishReason> finish; // [B]
};

/// Feeds prompts[b] to sequence b, then samples up to maxNewTokens tokens per
/// sequence, feeding each back, until EOS (which is kept in ids but not fed)
/// or the context is full. `onToken(b, id)` sees every token as it is made.
/// With options.speculative each step feeds a sequence's newest token and
/// its MTP draft and keeps the draft when greedy decoding would have chosen
/// it (two tokens for one step); a rejected draft is dropped, and the newest
/// token is fed again with its true successor so that the MTP module's cache
/// row for it is right.
GenerationResult
generate(Engine &engine, const std::vector<std::vector<int32_t>> &prompts,
         const GenerationOptions &options,
         const std::function<void(int, int32_t)> &onToken = {});

/// Feeds prompts[b], then forced[b][k] one per step (teacher forcing), and
/// returns the logits [B][N+1][V]: index 0 after the prompt, index k after
/// forced[:, k-1]; ids are the argmax of each.
GenerationResult teacherForce(Engine &engine,
                              const std::vector<std::vector<int32_t>> &prompts,
                              const std::vector<std::vector<int32_t>> &forced);

} // namespace moela

#endif // MOELA_RUNTIME_GENERATION_H
