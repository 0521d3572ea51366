//===- Generation.cpp - Sampling loop and teacher forcing -----------------===//
#include "moela/Runtime/Generation.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Sampler.h"

namespace moela {

namespace {

/// Every rank takes rank 0's `ids`: the ranks of a multi-rank run compute the
/// same logits, but a sampler must not be trusted to draw the same token on
/// each, and one different token would send the ranks' sequences apart.
void agree(const GenerationOptions &options, std::vector<int32_t> &ids) {
  if (options.comm && options.comm->size() > 1 && !ids.empty())
    options.comm->broadcast(ids.data(), ids.size() * sizeof(int32_t), 0);
}

/// Whether sequence b ends after its newest token, and why; stopHere is
/// asked on every rank (each takes rank 0's answer) so that they agree.
bool finished(const GenerationOptions &options, int b, int32_t id, bool full,
              bool atMax, FinishReason &reason) {
  int32_t stop = options.stopHere && options.stopHere(b) ? 1 : 0;
  if (options.stopHere && options.comm && options.comm->size() > 1)
    options.comm->broadcast(&stop, sizeof(stop), 0);
  if (stop)
    reason = FinishReason::Stop;
  else if (id == options.eosId && !options.ignoreEos)
    reason = FinishReason::Eos;
  else if (atMax)
    reason = FinishReason::Length;
  else if (full)
    reason = FinishReason::Context;
  else
    return false;
  return true;
}

/// A result for `batch` sequences before their first token: each ends by
/// length unless something else ends it first.
GenerationResult emptyResult(size_t batch, const GenerationOptions &options) {
  GenerationResult result;
  result.ids.resize(batch);
  result.finish.assign(batch, FinishReason::Length);
  if (options.keepLogits)
    result.logits.resize(batch);
  return result;
}

/// Greedy speculative decoding with MTP drafts (see generate()).
GenerationResult
generateSpeculative(Engine &engine,
                    const std::vector<std::vector<int32_t>> &prompts,
                    const GenerationOptions &options,
                    const std::function<void(int, int32_t)> &onToken) {
  const size_t batch = prompts.size();
  GenerationResult result = emptyResult(batch, options);
  // What each sequence feeds next: its newest token, then (maybe) a draft or
  // the already emitted successor of a token fed again (`forced`).
  std::vector<std::vector<int32_t>> pending(batch);
  std::vector<bool> forced(batch, false), done(batch, false);
  // Records token `id` of sequence b, whose position would be `position`;
  // false when b is finished (as generate() decides).
  auto emit = [&](size_t b, int32_t id, std::vector<float> &logits,
                  int position) {
    if (options.onLogits)
      options.onLogits(static_cast<int>(b), id, logits);
    if (options.keepLogits)
      result.logits[b].push_back(std::move(logits));
    result.ids[b].push_back(id);
    if (onToken)
      onToken(static_cast<int>(b), id);
    const bool last = finished(
        options, static_cast<int>(b), id, position >= engine.maxSeqLen(),
        static_cast<int>(result.ids[b].size()) == options.maxNewTokens,
        result.finish[b]);
    done[b] = done[b] || last;
    return !last;
  };
  // Feeds `newest` next, with `draft` after it when there is one and room.
  auto schedule = [&](size_t b, int32_t newest, int32_t draft) {
    pending[b] = {newest};
    forced[b] = false;
    if (draft >= 0 &&
        engine.length(static_cast<int>(b)) + 2 <= engine.maxSeqLen())
      pending[b].push_back(draft);
  };

  std::vector<std::vector<float>> logits = engine.feed(prompts);
  if (options.maxNewTokens <= 0)
    return result;
  std::vector<int32_t> first(batch); // [B] rank 0's greedy choices
  for (size_t b = 0; b < batch; ++b)
    first[b] = argmax(logits[b].data(), engine.vocab());
  agree(options, first);
  for (size_t b = 0; b < batch; ++b) {
    const int32_t y = first[b];
    if (emit(b, y, logits[b], engine.length(static_cast<int>(b))))
      schedule(b, y, engine.drafts()[b]);
  }
  while (true) {
    std::vector<std::vector<int32_t>> step(batch);
    std::vector<int> first(batch); // the position of step[b][0]
    bool any = false;
    for (size_t b = 0; b < batch; ++b)
      if (!done[b]) {
        step[b] = pending[b];
        first[b] = engine.length(static_cast<int>(b));
        any = true;
      }
    if (!any)
      break;
    std::vector<std::vector<Engine::Row>> rows = engine.verify(step);
    ++result.steps;
    // The greedy successor of every row fed, rank 0's: [B][rows fed].
    std::vector<int32_t> greedy;
    for (size_t b = 0; b < batch; ++b)
      if (!done[b])
        for (const Engine::Row &row : rows[b])
          greedy.push_back(argmax(row.logits.data(), engine.vocab()));
    agree(options, greedy);
    size_t nextGreedy = 0;
    for (size_t b = 0; b < batch; ++b) {
      if (done[b])
        continue;
      std::vector<Engine::Row> &r = rows[b];
      const size_t base = nextGreedy;
      nextGreedy += r.size();
      auto next = [&](Engine::Row &row) { // the greedy successor of a row
        return greedy[base + size_t(&row - r.data())];
      };
      const int p = first[b];
      if (step[b].size() == 1) {
        const int32_t y = next(r[0]);
        if (emit(b, y, r[0].logits, p + 1))
          schedule(b, y, r[0].draft);
      } else if (forced[b]) { // r[0] was emitted before: only r[1] is new
        const int32_t y = next(r[1]);
        if (emit(b, y, r[1].logits, p + 2))
          schedule(b, y, r[1].draft);
      } else {
        ++result.draftsProposed;
        const int32_t y = next(r[0]), draft = step[b][1];
        if (y == draft) {
          ++result.draftsAccepted;
          if (!emit(b, y, r[0].logits, p + 1))
            continue;
          const int32_t y2 = next(r[1]);
          if (emit(b, y2, r[1].logits, p + 2))
            schedule(b, y2, r[1].draft);
        } else if (emit(b, y, r[0].logits, p + 1)) {
          // Both rows are dropped; the newest token goes again, with y.
          engine.rewind(static_cast<int>(b), 2);
          pending[b] = {step[b][0], y};
          forced[b] = true;
        }
      }
    }
  }
  return result;
}

} // namespace

const char *finishReasonName(FinishReason reason) {
  switch (reason) {
  case FinishReason::Length:
    return "length";
  case FinishReason::Context:
    return "length (context)";
  case FinishReason::Eos:
    return "eos";
  case FinishReason::Stop:
    return "stop";
  }
  return "?";
}

GenerationResult generate(Engine &engine,
                          const std::vector<std::vector<int32_t>> &prompts,
                          const GenerationOptions &options,
                          const std::function<void(int, int32_t)> &onToken) {
  if (options.speculative) {
    if (options.onSampled)
      fail("speculative decoding returns logits: use onLogits, not onSampled");
    if (!engine.hasDrafts())
      fail("speculative decoding needs a plan compiled with --mtp");
    if (options.sampling.temperature != 0.0f)
      fail("speculative decoding is greedy: it needs temperature 0, got ",
           options.sampling.temperature);
    return generateSpeculative(engine, prompts, options, onToken);
  }
  const size_t batch = prompts.size();
  GenerationResult result = emptyResult(batch, options);
  (void)Sampler(options.sampling); // checks the options
  // Each sequence draws on the device with its own seed (options.seed + b)
  // and its own count of tokens drawn: its tokens do not depend on the batch.
  std::vector<RowSampling> rows(batch);
  for (size_t b = 0; b < batch; ++b) {
    rows[b].temperature = options.sampling.temperature;
    rows[b].topK = options.sampling.topK;
    rows[b].topP = options.sampling.topP;
    rows[b].seed = options.sampling.seed + b;
    rows[b].topLogprobs = options.onSampled ? options.topLogprobs : -1;
  }
  // The logits leave the device only for those who look at them.
  const bool wantLogits = options.keepLogits || bool(options.onLogits);
  std::vector<std::vector<float>> logits;
  std::vector<SampledToken> sampled =
      engine.feedAndSample(prompts, rows, wantLogits ? &logits : nullptr);
  std::vector<bool> done(batch, false);
  for (int step = 0; step < options.maxNewTokens; ++step) {
    std::vector<std::vector<int32_t>> next(batch);
    bool any = false;
    std::vector<int32_t> chosen(batch, -1); // [B] rank 0's samples
    for (size_t b = 0; b < batch; ++b)
      if (!done[b])
        chosen[b] = sampled[b].id;
    agree(options, chosen);
    for (size_t b = 0; b < batch; ++b) {
      if (done[b])
        continue;
      int32_t id = chosen[b];
      ++rows[b].counter;
      if (options.onLogits)
        options.onLogits(static_cast<int>(b), id, logits[b]);
      if (options.onSampled) // rank 0's token, every rank's own logprobs
        options.onSampled(static_cast<int>(b), sampled[b]);
      if (options.keepLogits)
        result.logits[b].push_back(std::move(logits[b]));
      result.ids[b].push_back(id);
      if (onToken)
        onToken(static_cast<int>(b), id);
      bool last =
          finished(options, static_cast<int>(b), id,
                   engine.length(static_cast<int>(b)) >= engine.maxSeqLen(),
                   step + 1 == options.maxNewTokens, result.finish[b]);
      done[b] = last;
      if (!last) {
        next[b] = {id};
        any = true;
      }
    }
    if (!any)
      break;
    std::vector<std::vector<float>> fedLogits;
    std::vector<SampledToken> fed =
        engine.feedAndSample(next, rows, wantLogits ? &fedLogits : nullptr);
    ++result.steps;
    for (size_t b = 0; b < batch; ++b)
      if (!next[b].empty()) {
        sampled[b] = std::move(fed[b]);
        if (wantLogits)
          logits[b] = std::move(fedLogits[b]);
      }
  }
  return result;
}

GenerationResult teacherForce(Engine &engine,
                              const std::vector<std::vector<int32_t>> &prompts,
                              const std::vector<std::vector<int32_t>> &forced) {
  const size_t batch = prompts.size();
  if (forced.size() != batch)
    fail("teacher forcing: ", forced.size(), " forced sequences for ", batch,
         " prompts");
  size_t steps = forced.empty() ? 0 : forced[0].size();
  for (size_t b = 0; b < batch; ++b)
    if (forced[b].size() != steps)
      fail("teacher forcing: sequence ", b, " has ", forced[b].size(),
           " forced tokens, sequence 0 has ", steps, " (all must be equal)");
  GenerationResult result;
  result.ids.resize(batch);
  result.logits.resize(batch);
  auto record = [&](std::vector<std::vector<float>> &&logits) {
    for (size_t b = 0; b < batch; ++b) {
      result.ids[b].push_back(argmax(logits[b].data(), engine.vocab()));
      result.logits[b].push_back(std::move(logits[b]));
    }
  };
  record(engine.feed(prompts));
  for (size_t k = 0; k < steps; ++k) {
    std::vector<std::vector<int32_t>> next(batch);
    for (size_t b = 0; b < batch; ++b)
      next[b] = {forced[b][k]};
    record(engine.feed(next));
  }
  return result;
}

} // namespace moela
