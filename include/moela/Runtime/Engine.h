//===- Engine.h - Feeding sequences through a plan's programs -------------===//
//
// The engine owns the token positions of up to `slots` sequences and the pages
// of the paged KV cache (which pages each sequence holds; the rows live in the
// backend), and turns "append these tokens to these sequences" into program
// runs: prompts go through @prefill in chunks of at
// most its max_tokens (any start position: multi-turn chat, chunked prefill),
// single tokens through @decode. It keeps the prefill and decode throughput.
// With a plan compiled --mtp every step also yields MTP drafts, and
// verify()/rewind() let a generation loop decode speculatively. score()
// returns the log-prob of a given next token at every fed token (perplexity).
// Pages of 64 tokens come from one pool, lazily as sequences grow; with
// prefix caching full pages are shared between sequences with the same token
// prefix (docs/architecture.md, "The paged KV cache").
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_ENGINE_H
#define MOELA_RUNTIME_ENGINE_H

#include "moela/Runtime/Backend.h"
#include "moela/Runtime/Error.h"

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace moela {

class Plan;
class KvPages;

/// How the next token of one sequence is chosen (docs/model.md §4): on the
/// device, by the plan's Sample step.
struct RowSampling {
  float temperature = 0.0f; // 0 = greedy: the argmax, lowest id on ties
  int topK = 0;             // 0 = no top-k filter (at most 1024 candidates)
  float topP = 1.0f;        // 1 = no nucleus filter
  uint64_t seed = 0;        // the request's
  /// How many tokens the request has drawn before this one: a draw depends
  /// only on (seed, counter), never on the rest of the batch.
  uint64_t counter = 0;
  /// -1: no logprobs (saves a pass over the vocabulary); 0: the token's;
  /// N <= 20: also the N most likely tokens'.
  int topLogprobs = -1;
};

/// A row's RowSampling as its abi::SamplingWord words (w: kSamplingWords of
/// them), the Sample step's input, and back.
void samplingWords(const RowSampling &s, int32_t *w);
RowSampling rowSampling(const int32_t *w);

/// One chosen token with its logprob (log-softmax of the raw logits) and the
/// `topLogprobs` most likely tokens, most likely first.
struct SampledToken {
  int32_t id = -1; // -1: the sequence was not fed
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;
};

struct EngineStats {
  int64_t prefillTokens = 0, decodeTokens = 0;
  double prefillSeconds = 0, decodeSeconds = 0;
  /// Prompt tokens not prefilled thanks to the prefix cache (reusePrefix).
  int64_t prefixTokensReused = 0;
};

struct KvCacheOptions {
  /// Pool size in pages; 0 = slots * ceil(maxSeqLen / pageTokens), the memory
  /// of a contiguous cache.
  int pages = 0;
  /// Share full pages between sequences with the same token prefix.
  bool prefixCaching = false;
  /// Tests: hand out free pages in an order shuffled by this seed (0: in
  /// ascending order), so block tables are not contiguous.
  uint64_t shuffleSeed = 0;
};

/// Thrown by feed() and verify() before any program runs when the pool cannot
/// supply the pages the step needs; nothing has changed then.
class KvCacheFull : public Error {
public:
  using Error::Error;
};

class Engine {
public:
  /// Prepares `backend` for `slots` sequences of up to `maxSeqLen` tokens and
  /// a pool of kv.pages pages.
  Engine(const Plan &plan, Backend &backend, WeightSource &weights, int slots,
         int maxSeqLen, KvCacheOptions kv = {});
  ~Engine();

  int slots() const { return static_cast<int>(fed.size()); }
  int maxSeqLen() const { return maxSeqLen_; }
  int64_t vocab() const { return vocab_; }
  /// Tokens held for sequence `slot`.
  int length(int slot) const { return static_cast<int>(fed.at(slot).size()); }
  /// Starts sequence `slot` afresh and frees its pages; with prefix caching
  /// its full pages stay cached (evicted least-recently-used when needed).
  void reset(int slot);

  /// Tokens per page of the KV cache (64).
  int pageTokens() const;
  int pagesTotal() const;
  /// Pages free now, counting cached pages no sequence holds (evictable).
  int pagesFree() const;
  /// The new pages feeding `moreTokens` more tokens to `slot` would take.
  int pagesNeeded(int slot, int moreTokens) const;
  /// `slot` must be empty: attaches the longest run of cached full pages
  /// matching `prompt`'s prefix, never the whole prompt (at least one token
  /// is left to feed), and returns the tokens reused (a multiple of
  /// pageTokens(), included in length()). 0 without prefix caching or for
  /// plans with MTP drafts (their last row is rewritten by the next feed).
  int reusePrefix(int slot, const std::vector<int32_t> &prompt);
  /// The pages `slot` holds, in position order (its block table).
  const std::vector<int32_t> &pages(int slot) const { return pages_.at(slot); }

  /// Appends tokens[b] to sequence b for every b (empty = unchanged) and
  /// returns the logits [V] after the last token of each non-empty one
  /// (empty vectors for the others). Throws if a sequence would outgrow the
  /// context.
  std::vector<std::vector<float>>
  feed(const std::vector<std::vector<int32_t>> &tokens);

  /// feed(), but returns the next token of each non-empty sequence b, chosen
  /// by perSlot[b] (perSlot has one entry per sequence given) in the plan's
  /// Sample step, so that only [R, 21] ids and logprobs leave the device.
  /// With `logits` non-null the logits are copied too, as feed() returns
  /// them. A plan without a Sample step samples on the host, identically.
  std::vector<SampledToken>
  feedAndSample(const std::vector<std::vector<int32_t>> &tokens,
                const std::vector<RowSampling> &perSlot,
                std::vector<std::vector<float>> *logits = nullptr);
  /// Teacher-forced scoring (perplexity): appends tokens[b] to sequence b
  /// for every b, like feed(), and returns for each b the log-probability
  /// log_softmax(logits after tokens[b][i])[targets[b][i]] of every i with
  /// targets[b][i] >= 0, in the order of i (computed in double from the f32
  /// logits). targets[b] has one entry per token; -1 = context only, no
  /// logit row. Runs @prefill (@extend for chunks that continue a sequence)
  /// in chunks of at most max_tokens tokens and max_logit_rows scored ones,
  /// so a window of any length fits the plan, and holds only one chunk's
  /// [R, V] logits at a time. Never samples.
  std::vector<std::vector<double>>
  score(const std::vector<std::vector<int32_t>> &tokens,
        const std::vector<std::vector<int32_t>> &targets);

  /// Whether the plan's programs end with a Sample step (moela-sample).
  bool samplesOnDevice() const { return samples_; }

  /// Whether the plan's programs return MTP drafts (moela-compile --mtp).
  bool hasDrafts() const { return hasDrafts_; }
  /// The MTP draft after the last token of each sequence of the latest
  /// feed() (the greedy guess of the token after that token's greedy
  /// successor), or -1 (no plan drafts, or the sequence was not fed).
  const std::vector<int32_t> &drafts() const { return drafts_; }

  /// What a verification step returns for one fed token.
  struct Row {
    std::vector<float> logits; // [V] after the token
    int32_t draft = -1;        // the MTP draft after it (-1: none)
    SampledToken sampled;      // feedAndSample: the token chosen after it
  };
  /// One @decode step with up to two tokens per sequence (speculative
  /// verification): appends tokens[b] to sequence b and returns, per
  /// sequence, a Row for every token fed. Throws if the step does not fit
  /// the decode program (2 x sequences <= --max-batch).
  std::vector<std::vector<Row>>
  verify(const std::vector<std::vector<int32_t>> &tokens);
  /// Forgets the last `n` tokens of sequence `slot` (a rejected draft): later
  /// steps overwrite their cache rows; pages no longer needed are freed.
  void rewind(int slot, int n);

  const EngineStats &stats() const { return stats_; }

private:
  /// Adds `token` at the next position of `slot` to a step's inputs.
  void append(StepInputs &in, size_t slot, int32_t token);
  /// Tokens at the end of `slot` whose cache rows are gone (a rewind into a
  /// shared page released it): the next feed computes them again.
  int stale(size_t slot) const;
  /// The program for a prefill chunk: "extend" when some sequence continues
  /// in it and the plan's prefill takes only fresh sequences.
  const char *prefillProgram(const StepInputs &in) const;
  /// With MTP drafts, feeds `slot`'s last token again at the start of a
  /// chunk: its MTP cache row was made without the token that follows it.
  void refeedLast(StepInputs &in, size_t slot);
  /// Allocates the pages that feeding work[b] to every b takes; throws
  /// KvCacheFull, allocating nothing, when the pool cannot supply them.
  void allocatePages(const std::vector<std::vector<int32_t>> &work);
  /// Publishes the pages of `slot` that are full (prefix caching).
  void publishFull(size_t slot);
  /// Runs `program` on one chunk; returns the logits [R][V] and the drafts
  /// [R] (-1 each without plan drafts).
  std::vector<Row> run(const std::string &program, StepInputs &inputs);
  /// feed() and feedAndSample(): the Row after the last token of each
  /// sequence; `perSlot` null = logits only.
  std::vector<Row> feedRows(const std::vector<std::vector<int32_t>> &tokens,
                            const std::vector<RowSampling> *perSlot,
                            bool wantLogits);

  const Plan &plan;
  Backend &backend;
  KvCacheShape kvShape_;
  std::unique_ptr<KvPages> pool_;
  bool prefixCaching_ = false;
  std::vector<std::vector<int32_t>> pages_; // per slot: its block table
  std::vector<size_t> published_; // per slot: leading pages tried to publish
  /// The tokens each slot holds, in position order.
  std::vector<std::vector<int32_t>> fed;
  int maxSeqLen_;
  int64_t vocab_;
  int prefillMaxTokens = 0, decodeMaxTokens = 0;
  /// Logit rows a prefill chunk may ask for (prefill's and extend's
  /// max_logit_rows): score() cuts its chunks at this many scored tokens.
  int prefillMaxLogitRows = 0;
  /// The plan's prefill takes only chunks whose sequences all start in them
  /// (plan.fbs Program.fresh_sequences); other chunks run "extend".
  bool prefillNeedsFresh = false;
  bool hasDrafts_ = false;
  bool samples_ = false;
  std::vector<int32_t> drafts_;
  EngineStats stats_;
};

} // namespace moela

#endif // MOELA_RUNTIME_ENGINE_H
