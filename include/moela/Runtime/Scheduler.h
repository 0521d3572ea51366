//===- Scheduler.h - Continuous batching of requests onto one engine ------===//
//
// The serving loop between requests and the Engine (docs/serving.md):
// requests join and leave between steps; each iteration runs one prefill
// step of at most `maxStepTokens` prompt tokens (long prompts go in chunks)
// and one decode step for every sequence past its prompt, so a long prompt
// delays everyone's next token by one chunk, not by its whole length.
// Admission stops while the engine's KV pages run short and resumes as they
// free; when a decode step cannot get pages the newest sequence is preempted
// (its pages freed, its tokens recomputed when it is admitted again) rather
// than failing anyone.
//
// submit() and stats() are thread-safe; everything else, the callbacks
// included, runs on the thread that calls run() (or step()).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_SCHEDULER_H
#define MOELA_RUNTIME_SCHEDULER_H

#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Sampler.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace moela {

class Communicator;
class EngineMirror;

/// One generated token as a request sees it.
struct GeneratedToken {
  int32_t id = -1;
  /// With logprobs asked: log-softmax of the logits it was chosen from, and
  /// the `topLogprobs` most likely tokens in descending order.
  double logprob = 0.0;
  std::vector<std::pair<int32_t, double>> top;
};

/// Why a request ended.
enum class RequestEnd {
  Length,    // maxTokens generated
  Context,   // the context (the engine's maxSeqLen) is full
  Eos,       // the model chose EOS (not passed to onToken)
  Stop,      // onToken said so (a stop string)
  Cancelled, // the client went away
  Failed,    // the engine threw; `error` says why
};

struct RequestOutcome {
  RequestEnd end = RequestEnd::Length;
  int promptTokens = 0;
  int completionTokens = 0; // EOS included
  int cachedTokens = 0;     // prompt tokens the prefix cache supplied
  int preemptions = 0;
  std::string error;
};

/// A generation request. The callbacks run on the scheduler's thread and
/// must not block.
struct ServeRequest {
  std::vector<int32_t> prompt;
  int maxTokens = 16;
  SamplingOptions sampling; // its seed is this request's own
  bool ignoreEos = false;
  int topLogprobs = -1; // -1: no logprobs; else the chosen token's and N more
  /// Sees each generated token but EOS; returning true ends the request
  /// (RequestEnd::Stop).
  std::function<bool(const GeneratedToken &)> onToken;
  /// Called exactly once, when the request ends.
  std::function<void(const RequestOutcome &)> onFinish;
  /// Set from any thread: the request ends (Cancelled) before the next step
  /// and its pages are freed.
  std::atomic<bool> cancelled{false};
};

struct SchedulerOptions {
  int maxStepTokens = 0; // prompt tokens per prefill step; 0 = the plan's
  bool prefixCaching = false;
  /// A multi-rank plan: rank 0 schedules, and sends every engine call to the
  /// other ranks first (they run followScheduler), so that all ranks run the
  /// same steps. An engine error then ends every rank.
  Communicator *followers = nullptr;
};

/// A consistent snapshot for /metrics and /health.
struct SchedulerStats {
  int waiting = 0, running = 0;
  int pagesTotal = 0, pagesFree = 0;
  int64_t steps = 0, preemptions = 0;
  int64_t prefixTokensReused = 0;
  bool draining = false;
};

class Scheduler {
public:
  /// `eosId` ends sequences (unless ignoreEos); `maxPromptTokens` is the
  /// engine's prefill chunk when options.maxStepTokens is 0.
  Scheduler(Engine &engine, int32_t eosId, int maxPromptTokens,
            SchedulerOptions options = {});
  ~Scheduler();

  /// Queues a request (thread-safe). Throws Error when it can never run:
  /// an empty prompt, or prompt + maxTokens beyond the context.
  void submit(std::shared_ptr<ServeRequest> request);
  /// Serves until shutdown() and every queued and running request is done.
  void run();
  /// Lets run() return once the work in hand is done; submit() refuses new
  /// requests from now on (thread-safe).
  void shutdown();
  /// One iteration: admit, one prefill step, one decode step. Returns false
  /// when there was nothing to do. For run() and for tests.
  bool step();

  SchedulerStats stats() const;

private:
  struct Sequence;
  void takeSubmitted();
  void dropCancelled();
  void admit();
  void prefillStep();
  void decodeStep();
  /// Hands out `next`, the token drawn for `seq`, and ends the
  /// sequence when it is done.
  void emit(Sequence &seq, const SampledToken &next);
  /// Feeds one step; on an engine error the step's sequences end (Failed)
  /// and nullopt comes back.
  std::optional<std::vector<SampledToken>>
  feedStep(const std::vector<std::vector<int32_t>> &feed,
           const std::vector<Sequence *> &fed);
  /// Ends the sequences marked done.
  void retire();
  // The engine calls that change its state, mirrored to the followers.
  void reset(int slot);
  int reusePrefix(int slot, const std::vector<int32_t> &tokens);
  std::vector<SampledToken>
  engineFeed(const std::vector<std::vector<int32_t>> &feed,
             const std::vector<RowSampling> &rows);
  void finish(size_t index, RequestEnd end, const std::string &error = {});
  /// Frees the newest running sequence's pages and queues it again first.
  void preemptNewest();
  void publishStats();

  Engine &engine;
  int32_t eosId;
  int maxStepTokens;
  bool prefixCaching;
  std::unique_ptr<EngineMirror> mirror; // rank 0 of a multi-rank server

  std::vector<std::unique_ptr<Sequence>> running; // in admission order
  std::deque<std::unique_ptr<Sequence>> waiting;
  std::vector<int> freeSlots;
  int64_t steps = 0, preemptions = 0;

  mutable std::mutex mutex; // guards the members below
  std::condition_variable wake;
  std::vector<std::shared_ptr<ServeRequest>> submitted;
  bool draining = false;
  SchedulerStats published;
};

/// The other ranks of a multi-rank server: replays rank 0's engine calls
/// until its scheduler stops (SchedulerOptions::followers).
void followScheduler(Engine &engine, Communicator &comm);

} // namespace moela

#endif // MOELA_RUNTIME_SCHEDULER_H
