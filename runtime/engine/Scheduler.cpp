//===- Scheduler.cpp - Continuous batching: admit, prefill, decode --------===//
#include "moela/Runtime/Scheduler.h"

#include "engine/EngineMirror.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

#include <algorithm>
#include <optional>

namespace moela {

/// A request the scheduler holds. `tokens` is the prompt plus every token
/// handed out: after a preemption all of them are prefilled again, and the
/// logits after the last one are exactly those the next decode step would
/// have given; a draw depends only on the request's seed and `generated`
/// (the plan's Sample step), so sampling continues where it stopped.
struct Scheduler::Sequence {
  explicit Sequence(std::shared_ptr<ServeRequest> r)
      : request(std::move(r)), tokens(request->prompt) {}

  std::shared_ptr<ServeRequest> request;
  std::vector<int32_t> tokens;
  int generated = 0;
  int slot = -1;          // the engine's sequence slot while running
  bool prefilling = true; // tokens not all fed yet
  bool done = false;      // `end` is set; retire() removes it
  RequestEnd end = RequestEnd::Length;
  int cachedTokens = 0, preemptions = 0;
  std::string error; // why it Failed
};

namespace {

/// Tells the request it ended; its callback's failure is its own.
void finished(ServeRequest &request, const RequestOutcome &outcome) {
  try {
    if (request.onFinish)
      request.onFinish(outcome);
  } catch (const std::exception &) {
  }
}

} // namespace

Scheduler::Scheduler(Engine &engine, int32_t eosId, int maxPromptTokens,
                     SchedulerOptions options)
    : engine(engine), eosId(eosId),
      maxStepTokens(options.maxStepTokens > 0 ? options.maxStepTokens
                                              : maxPromptTokens),
      prefixCaching(options.prefixCaching) {
  if (options.followers) {
    if (options.followers->rank() != 0)
      fail("the scheduler runs on rank 0; the other ranks run "
           "followScheduler");
    mirror = std::make_unique<EngineMirror>(*options.followers);
  }
  if (maxStepTokens < 1)
    fail("the prefill token budget per step must be >= 1, got ", maxStepTokens);
  // Every sequence must fit the pool alone, or preemption could not help.
  const int contextPages =
      (engine.maxSeqLen() + engine.pageTokens() - 1) / engine.pageTokens();
  if (engine.pagesTotal() < contextPages)
    fail("the KV cache has ", engine.pagesTotal(),
         " pages but one sequence of ", engine.maxSeqLen(), " tokens needs ",
         contextPages);
  for (int slot = engine.slots() - 1; slot >= 0; --slot)
    freeSlots.push_back(slot);
  publishStats();
}

Scheduler::~Scheduler() = default;

void Scheduler::submit(std::shared_ptr<ServeRequest> request) {
  if (request->prompt.empty())
    fail("the prompt is empty");
  if (request->maxTokens < 1)
    fail("max_tokens must be >= 1, got ", request->maxTokens);
  if (request->prompt.size() + size_t(request->maxTokens) >
      size_t(engine.maxSeqLen()))
    fail("the prompt (", request->prompt.size(), " tokens) and max_tokens (",
         request->maxTokens, ") exceed the context of ", engine.maxSeqLen(),
         " tokens");
  for (int32_t id : request->prompt)
    if (id < 0 || id >= engine.vocab())
      fail("token id ", id, " is outside the vocabulary of ", engine.vocab());
  Sampler check(request->sampling); // throws on a bad temperature, top_k, ...
  if (request->topLogprobs < -1 || request->topLogprobs > 20)
    fail("top logprobs must be in [0, 20], got ", request->topLogprobs);
  std::lock_guard<std::mutex> lock(mutex);
  if (draining)
    fail("the server is shutting down");
  submitted.push_back(std::move(request));
  ++published.waiting;
  wake.notify_all();
}

void Scheduler::shutdown() {
  std::lock_guard<std::mutex> lock(mutex);
  draining = published.draining = true;
  wake.notify_all();
}

void Scheduler::run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] {
        return draining || !submitted.empty() || !running.empty() ||
               !waiting.empty();
      });
      if (draining && submitted.empty() && running.empty() && waiting.empty()) {
        if (mirror)
          mirror->stop();
        return;
      }
    }
    step();
  }
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex);
  return published;
}

bool Scheduler::step() {
  takeSubmitted();
  dropCancelled();
  admit();
  bool worked = false;
  auto any = [&](bool prefilling) {
    return std::any_of(running.begin(), running.end(), [&](const auto &s) {
      return s->prefilling == prefilling;
    });
  };
  if (any(true)) {
    prefillStep();
    worked = true;
  }
  if (any(false)) {
    decodeStep();
    worked = true;
  }
  if (worked)
    ++steps;
  publishStats();
  return worked;
}

void Scheduler::takeSubmitted() {
  std::vector<std::shared_ptr<ServeRequest>> fresh;
  {
    std::lock_guard<std::mutex> lock(mutex);
    fresh.swap(submitted);
  }
  for (auto &request : fresh)
    waiting.push_back(std::make_unique<Sequence>(std::move(request)));
}

void Scheduler::dropCancelled() {
  for (auto it = waiting.begin(); it != waiting.end();) {
    if ((*it)->request->cancelled) {
      RequestOutcome outcome;
      outcome.end = RequestEnd::Cancelled;
      outcome.promptTokens = static_cast<int>((*it)->request->prompt.size());
      outcome.completionTokens = (*it)->generated;
      finished(*(*it)->request, outcome);
      it = waiting.erase(it);
    } else {
      ++it;
    }
  }
  for (size_t i = running.size(); i-- > 0;)
    if (running[i]->request->cancelled)
      finish(i, RequestEnd::Cancelled);
}

void Scheduler::admit() {
  // Pages the admitted prompts still have to take.
  int promised = 0;
  for (const auto &s : running)
    if (s->prefilling)
      promised += engine.pagesNeeded(
          s->slot, static_cast<int>(s->tokens.size()) - engine.length(s->slot));
  while (!waiting.empty() && !freeSlots.empty()) {
    Sequence &seq = *waiting.front();
    const int slot = freeSlots.back();
    const int reused = prefixCaching ? reusePrefix(slot, seq.tokens) : 0;
    const int need =
        engine.pagesNeeded(slot, static_cast<int>(seq.tokens.size()) - reused);
    if (need > engine.pagesFree() - promised) {
      reset(slot); // gives back what reusePrefix attached
      if (!running.empty())
        return; // first come, first served: the rest wait too
      // Alone it can never fit (the pool is smaller than its tokens).
      RequestOutcome outcome;
      outcome.end = RequestEnd::Failed;
      outcome.promptTokens = static_cast<int>(seq.request->prompt.size());
      outcome.error = "the KV cache cannot hold " +
                      std::to_string(seq.tokens.size()) + " tokens";
      finished(*seq.request, outcome);
      waiting.pop_front();
      continue;
    }
    promised += need;
    freeSlots.pop_back();
    seq.slot = slot;
    seq.prefilling = true;
    if (seq.preemptions == 0)
      seq.cachedTokens = reused;
    running.push_back(std::move(waiting.front()));
    waiting.pop_front();
  }
}

void Scheduler::prefillStep() {
  std::vector<std::vector<int32_t>> feed(engine.slots());
  std::vector<Sequence *> fed, completing;
  int budget = maxStepTokens, pagesLeft = engine.pagesFree();
  for (auto &s : running) {
    if (!s->prefilling || budget == 0)
      continue;
    const int done = engine.length(s->slot);
    int n = std::min(static_cast<int>(s->tokens.size()) - done, budget);
    // What the free pages hold: the rest of the current page, then whole
    // pages.
    const int page = engine.pageTokens();
    n = std::min(n, (page - done % page) % page + pagesLeft * page);
    if (n == 0)
      continue;
    pagesLeft -= engine.pagesNeeded(s->slot, n);
    budget -= n;
    feed[s->slot].assign(s->tokens.begin() + done,
                         s->tokens.begin() + done + n);
    fed.push_back(s.get());
    if (done + n == static_cast<int>(s->tokens.size()))
      completing.push_back(s.get());
  }
  if (fed.empty())
    return;
  std::optional<std::vector<SampledToken>> next = feedStep(feed, fed);
  if (!next)
    return;
  for (Sequence *s : completing) {
    s->prefilling = false;
    emit(*s, (*next)[s->slot]);
  }
  retire();
}

void Scheduler::decodeStep() {
  auto pagesWanted = [&] {
    int want = 0;
    for (const auto &s : running)
      if (!s->prefilling)
        want += engine.pagesNeeded(s->slot, 1);
    return want;
  };
  while (pagesWanted() > engine.pagesFree() && running.size() > 1)
    preemptNewest();
  std::vector<std::vector<int32_t>> feed(engine.slots());
  std::vector<Sequence *> fed;
  for (auto &s : running)
    if (!s->prefilling) {
      feed[s->slot] = {s->tokens.back()};
      fed.push_back(s.get());
    }
  if (fed.empty())
    return;
  std::optional<std::vector<SampledToken>> next = feedStep(feed, fed);
  if (!next)
    return;
  for (Sequence *s : fed)
    emit(*s, (*next)[s->slot]);
  retire();
}

std::optional<std::vector<SampledToken>>
Scheduler::feedStep(const std::vector<std::vector<int32_t>> &feed,
                    const std::vector<Sequence *> &fed) {
  // Each fed sequence's next token, drawn in the plan's Sample step with
  // its request's parameters and its count of tokens drawn so far.
  std::vector<RowSampling> rows(feed.size());
  for (const Sequence *s : fed) {
    const ServeRequest &r = *s->request;
    rows[s->slot] = {r.sampling.temperature, r.sampling.topK,
                     r.sampling.topP,        r.sampling.seed,
                     uint64_t(s->generated), r.topLogprobs};
  }
  try {
    return engineFeed(feed, rows);
  } catch (const std::exception &e) {
    // The step's sequences end; the others, and the server, go on.
    for (Sequence *s : fed) {
      s->done = true;
      s->end = RequestEnd::Failed;
      s->error = e.what();
    }
    retire();
    return std::nullopt;
  }
}

void Scheduler::reset(int slot) {
  if (mirror)
    mirror->reset(slot);
  engine.reset(slot);
}

int Scheduler::reusePrefix(int slot, const std::vector<int32_t> &tokens) {
  if (mirror)
    mirror->reusePrefix(slot, tokens);
  return engine.reusePrefix(slot, tokens);
}

std::vector<SampledToken>
Scheduler::engineFeed(const std::vector<std::vector<int32_t>> &feed,
                      const std::vector<RowSampling> &rows) {
  if (!mirror)
    return engine.feedAndSample(feed, rows);
  mirror->feedAndSample(feed, rows);
  try {
    return engine.feedAndSample(feed, rows);
  } catch (const std::exception &e) {
    // The other ranks may wait in a collective of this step: end them all.
    mirror->abort(e.what());
  }
}

void followScheduler(Engine &engine, Communicator &comm) {
  EngineMirror(comm).follow(engine);
}

void Scheduler::retire() {
  for (size_t i = running.size(); i-- > 0;)
    if (running[i]->done)
      finish(i, running[i]->end, running[i]->error);
}

void Scheduler::emit(Sequence &seq, const SampledToken &next) {
  ServeRequest &request = *seq.request;
  const int32_t id = next.id;
  ++seq.generated;
  auto end = [&](RequestEnd why) {
    seq.done = true;
    seq.end = why;
  };
  if (id == eosId && !request.ignoreEos)
    return end(RequestEnd::Eos);
  GeneratedToken token;
  token.id = id;
  if (request.topLogprobs >= 0) {
    token.logprob = next.logprob;
    token.top.assign(next.top.begin(), next.top.end());
  }
  seq.tokens.push_back(id);
  try {
    if (request.onToken && request.onToken(token))
      return end(RequestEnd::Stop);
  } catch (const std::exception &e) { // the request's own fault: it alone ends
    seq.error = std::string("while handing out token ") + std::to_string(id) +
                ": " + e.what();
    return end(RequestEnd::Failed);
  }
  if (seq.generated >= request.maxTokens)
    return end(RequestEnd::Length);
  if (engine.length(seq.slot) >= engine.maxSeqLen())
    return end(RequestEnd::Context);
}

void Scheduler::finish(size_t index, RequestEnd end, const std::string &error) {
  std::unique_ptr<Sequence> seq = std::move(running[index]);
  running.erase(running.begin() + static_cast<std::ptrdiff_t>(index));
  reset(seq->slot);
  freeSlots.push_back(seq->slot);
  RequestOutcome outcome;
  outcome.end = end;
  outcome.promptTokens = static_cast<int>(seq->request->prompt.size());
  outcome.completionTokens = seq->generated;
  outcome.cachedTokens = seq->cachedTokens;
  outcome.preemptions = seq->preemptions;
  outcome.error = error;
  finished(*seq->request, outcome);
}

void Scheduler::preemptNewest() {
  std::unique_ptr<Sequence> seq = std::move(running.back());
  running.pop_back();
  reset(seq->slot);
  freeSlots.push_back(seq->slot);
  seq->slot = -1;
  seq->prefilling = true;
  ++seq->preemptions;
  ++preemptions;
  waiting.push_front(std::move(seq));
}

void Scheduler::publishStats() {
  SchedulerStats s;
  s.running = static_cast<int>(running.size());
  s.pagesTotal = engine.pagesTotal();
  s.pagesFree = engine.pagesFree();
  s.steps = steps;
  s.preemptions = preemptions;
  s.prefixTokensReused = engine.stats().prefixTokensReused;
  std::lock_guard<std::mutex> lock(mutex);
  s.waiting = static_cast<int>(waiting.size() + submitted.size());
  s.draining = draining;
  published = s;
}

} // namespace moela
