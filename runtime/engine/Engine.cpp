//===- Engine.cpp - Prefill chunking, decode steps, positions -------------===//
#include "moela/Runtime/Engine.h"

#include "host/Kernels.h"
#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace moela {

namespace {

/// One row's abi::SamplingWord words.
void samplingWords(const RowSampling &s, int32_t *w) {
  std::memset(w, 0, sizeof(int32_t) * abi::kSamplingWords);
  std::memcpy(&w[abi::kTemperatureBits], &s.temperature, 4);
  std::memcpy(&w[abi::kTopPBits], &s.topP, 4);
  w[abi::kTopK] = s.topK;
  w[abi::kSeedLo] = int32_t(uint32_t(s.seed));
  w[abi::kSeedHi] = int32_t(uint32_t(s.seed >> 32));
  w[abi::kCounterLo] = int32_t(uint32_t(s.counter));
  w[abi::kCounterHi] = int32_t(uint32_t(s.counter >> 32));
  w[abi::kTopLogprobs] = s.topLogprobs;
}

/// Row r of a Sample step's ids and logprobs [R, kSampleCols].
SampledToken sampledRow(const int32_t *ids, const float *logprobs,
                        int topLogprobs) {
  SampledToken t;
  t.id = ids[0];
  t.logprob = logprobs[0];
  for (int i = 1; i <= topLogprobs && ids[i] >= 0; ++i)
    t.top.emplace_back(ids[i], logprobs[i]);
  return t;
}

} // namespace

Engine::Engine(const Plan &plan, Backend &backend, WeightSource &weights,
               int slots, int maxSeqLen)
    : plan(plan), backend(backend), fed(std::max(slots, 0)),
      maxSeqLen_(maxSeqLen), vocab_(plan.config().vocabSize) {
  if (!plan.hasProgram(abi::kPrefill) || !plan.hasProgram(abi::kDecode))
    fail(plan.origin(), ": the plan needs both a prefill and a decode program");
  prefillMaxTokens = plan.program(abi::kPrefill).max_tokens();
  prefillNeedsFresh = plan.program(abi::kPrefill).fresh_sequences();
  hasDrafts_ = programHasDrafts(plan.program(abi::kDecode));
  samples_ = programSamples(plan.program(abi::kDecode));
  drafts_.assign(slots, -1);
  decodeMaxTokens = plan.program(abi::kDecode).max_tokens();
  if (slots < 1 || slots > decodeMaxTokens)
    fail(slots, " sequences do not fit the plan's decode batch of ",
         decodeMaxTokens, " (recompile with a larger --max-batch)");
  if (maxSeqLen < 1)
    fail("the context length must be >= 1, got ", maxSeqLen);
  backend.prepare(plan, weights, slots, maxSeqLen);
}

std::vector<Engine::Row> Engine::run(const std::string &program,
                                     StepInputs &inputs) {
  // Sampling words for a plan without a Sample step: sampled here, on the
  // host, by the same kernel as the host backend's.
  std::vector<int32_t> hostSampling;
  if (!samples_ && !inputs.sampling.empty()) {
    hostSampling = std::move(inputs.sampling);
    inputs.sampling.clear();
    inputs.wantLogits = true;
  }
  auto start = std::chrono::steady_clock::now();
  StepOutputs outputs = backend.run(program, inputs);
  const std::vector<float> &logits = outputs.logits; // [R, V]
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (program == abi::kDecode) {
    stats_.decodeTokens += inputs.tokens.size();
    stats_.decodeSeconds += seconds;
  } else {
    stats_.prefillTokens += inputs.tokens.size();
    stats_.prefillSeconds += seconds;
  }
  const int64_t R = int64_t(inputs.logitRows.size());
  const std::vector<int32_t> &words =
      hostSampling.empty() ? inputs.sampling : hostSampling;
  // A backend that does not run the Sample step (a test's scripted one)
  // gets its rows sampled here too, from its logits.
  if (!words.empty() && outputs.sampledIds.empty()) {
    if (int64_t(logits.size()) != R * vocab_)
      fail(backend.name(), " backend: program '", program,
           "' returned neither sampled tokens nor logits");
    outputs.sampledIds.assign(size_t(R) * abi::kSampleCols, -1);
    outputs.sampledLogprobs.assign(size_t(R) * abi::kSampleCols, 0.0f);
    host::sample(
        {logits.data(), R, vocab_, vocab_},
        {words.data(), R, abi::kSamplingWords, abi::kSamplingWords},
        {outputs.sampledIds.data(), R, abi::kSampleCols, abi::kSampleCols},
        {outputs.sampledLogprobs.data(), R, abi::kSampleCols,
         abi::kSampleCols});
  }
  std::vector<Row> rows(inputs.logitRows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    if (!logits.empty())
      rows[r].logits.assign(logits.begin() + r * vocab_,
                            logits.begin() + (r + 1) * vocab_);
    if (r < outputs.drafts.size())
      rows[r].draft = outputs.drafts[r];
    if (!words.empty() && !outputs.sampledIds.empty())
      rows[r].sampled =
          sampledRow(&outputs.sampledIds[r * abi::kSampleCols],
                     &outputs.sampledLogprobs[r * abi::kSampleCols],
                     words[r * abi::kSamplingWords + abi::kTopLogprobs]);
  }
  return rows;
}

std::vector<std::vector<float>>
Engine::feed(const std::vector<std::vector<int32_t>> &tokens) {
  std::vector<Row> rows = feedRows(tokens, nullptr, true);
  std::vector<std::vector<float>> out(rows.size());
  for (size_t b = 0; b < rows.size(); ++b)
    out[b] = std::move(rows[b].logits);
  return out;
}

std::vector<SampledToken>
Engine::feedAndSample(const std::vector<std::vector<int32_t>> &tokens,
                      const std::vector<RowSampling> &perSlot,
                      std::vector<std::vector<float>> *logits) {
  if (perSlot.size() != tokens.size())
    fail("feedAndSample: ", perSlot.size(), " samplings for ", tokens.size(),
         " sequences");
  for (size_t b = 0; b < perSlot.size(); ++b)
    if (perSlot[b].topLogprobs < -1 ||
        perSlot[b].topLogprobs > abi::kMaxTopLogprobs)
      fail("sequence ", b, ": top logprobs must be in [-1, ",
           abi::kMaxTopLogprobs, "], got ", perSlot[b].topLogprobs);
  std::vector<Row> rows = feedRows(tokens, &perSlot, logits != nullptr);
  std::vector<SampledToken> out(rows.size());
  if (logits)
    logits->assign(rows.size(), {});
  for (size_t b = 0; b < rows.size(); ++b) {
    out[b] = std::move(rows[b].sampled);
    if (logits)
      (*logits)[b] = std::move(rows[b].logits);
  }
  return out;
}

std::vector<Engine::Row>
Engine::feedRows(const std::vector<std::vector<int32_t>> &tokens,
                 const std::vector<RowSampling> *perSlot, bool wantLogits) {
  if (tokens.size() > fed.size())
    fail(tokens.size(), " sequences given, the engine holds ", fed.size());
  for (size_t b = 0; b < tokens.size(); ++b)
    if (fed[b].size() + tokens[b].size() > size_t(maxSeqLen_))
      fail("sequence ", b, " needs ", fed[b].size() + tokens[b].size(),
           " positions but the context holds ", maxSeqLen_,
           " (prompt longer than the context; raise --max-seq-len up to the "
           "model's max_position_embeddings = ",
           plan.config().maxPositionEmbeddings, ")");

  std::vector<Row> out(tokens.size());
  std::fill(drafts_.begin(), drafts_.end(), -1);
  // Runs one chunk and hands each logit row to the sequence that owns it.
  auto runChunk = [&](const std::string &program, StepInputs &in,
                      const std::vector<size_t> &owners) {
    if (perSlot) {
      in.sampling.resize(owners.size() * abi::kSamplingWords);
      for (size_t r = 0; r < owners.size(); ++r)
        samplingWords((*perSlot)[owners[r]],
                      &in.sampling[r * abi::kSamplingWords]);
    }
    in.wantLogits = wantLogits;
    std::vector<Row> rows = run(program, in);
    for (size_t r = 0; r < rows.size(); ++r) {
      drafts_[owners[r]] = rows[r].draft;
      out[owners[r]] = std::move(rows[r]);
    }
  };
  bool oneEach = std::all_of(tokens.begin(), tokens.end(),
                             [](const auto &t) { return t.size() <= 1; });
  // One new token per sequence: a decode step (absorbed MLA).
  if (oneEach) {
    StepInputs in;
    std::vector<size_t> owners;
    for (size_t b = 0; b < tokens.size(); ++b)
      if (!tokens[b].empty()) {
        in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
        append(in, b, tokens[b][0]);
        owners.push_back(b);
      }
    if (!in.tokens.empty())
      runChunk(abi::kDecode, in, owners);
    return out;
  }

  // A prefill: every (sequence, position, token) in sequence order, cut into
  // chunks of at most max_tokens; a sequence's logits come from the chunk
  // holding its last token. A chunk that continues a sequence (its first
  // token there is not at position 0) runs "extend" where the plan's
  // prefill attends only over the chunk's own tokens. With MTP drafts, a
  // sequence's row before the chunk (or before a continuation) goes again:
  // its MTP cache row was made without the token that follows it.
  StepInputs in;
  std::vector<size_t> owners;
  auto fresh = [&] {
    for (size_t i = 0; i < in.tokens.size(); ++i)
      if (in.positions[i] != 0 && (i == 0 || in.seqIds[i - 1] != in.seqIds[i]))
        return false;
    return true;
  };
  auto flush = [&] {
    if (in.tokens.empty())
      return;
    runChunk(prefillNeedsFresh && !fresh() ? abi::kExtend : abi::kPrefill, in,
             owners);
    in = StepInputs();
    owners.clear();
  };
  auto refeedLast = [&](size_t b) {
    if (hasDrafts_ && prefillMaxTokens > 1 && !fed[b].empty()) {
      const int32_t last = fed[b].back();
      fed[b].pop_back();
      append(in, b, last);
    }
  };
  for (size_t b = 0; b < tokens.size(); ++b) {
    if (!tokens[b].empty())
      refeedLast(b);
    for (size_t i = 0; i < tokens[b].size(); ++i) {
      if (static_cast<int>(in.tokens.size()) >= prefillMaxTokens) {
        flush();
        refeedLast(b);
      }
      if (i + 1 == tokens[b].size()) {
        in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
        owners.push_back(b);
      }
      append(in, b, tokens[b][i]);
    }
  }
  flush();
  return out;
}

std::vector<std::vector<Engine::Row>>
Engine::verify(const std::vector<std::vector<int32_t>> &tokens) {
  if (tokens.size() > fed.size())
    fail(tokens.size(), " sequences given, the engine holds ", fed.size());
  size_t total = 0;
  for (size_t b = 0; b < tokens.size(); ++b) {
    if (tokens[b].size() > 2)
      fail("a verification step takes at most 2 tokens per sequence, sequence ",
           b, " has ", tokens[b].size());
    if (fed[b].size() + tokens[b].size() > size_t(maxSeqLen_))
      fail("sequence ", b, " needs ", fed[b].size() + tokens[b].size(),
           " positions but the context holds ", maxSeqLen_);
    total += tokens[b].size();
  }
  if (total > size_t(decodeMaxTokens))
    fail("a verification step of ", total,
         " tokens exceeds the plan's decode batch of ", decodeMaxTokens,
         " (recompile with a larger --max-batch)");
  std::vector<std::vector<Row>> out(tokens.size());
  if (total == 0)
    return out;
  StepInputs in;
  std::vector<size_t> owners;
  for (size_t b = 0; b < tokens.size(); ++b)
    for (int32_t token : tokens[b]) {
      in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
      append(in, b, token);
      owners.push_back(b);
    }
  std::vector<Row> rows = run(abi::kDecode, in);
  for (size_t r = 0; r < rows.size(); ++r)
    out[owners[r]].push_back(std::move(rows[r]));
  return out;
}

void Engine::rewind(int slot, int n) {
  if (n < 0 || n > length(slot))
    fail("cannot rewind sequence ", slot, " by ", n, " of its ", length(slot),
         " tokens");
  fed[slot].resize(fed[slot].size() - size_t(n));
}

void Engine::append(StepInputs &in, size_t slot, int32_t token) {
  in.tokens.push_back(token);
  in.positions.push_back(static_cast<int32_t>(fed[slot].size()));
  in.seqIds.push_back(static_cast<int32_t>(slot));
  fed[slot].push_back(token);
}

} // namespace moela
