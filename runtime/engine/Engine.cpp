//===- Engine.cpp - Prefill chunking, decode steps, positions -------------===//
#include "moela/Runtime/Engine.h"

#include "KvPages.h"
#include "host/Kernels.h"
#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace moela {

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

RowSampling rowSampling(const int32_t *w) {
  auto wide = [&](int lo, int hi) {
    return uint64_t(uint32_t(w[lo])) | uint64_t(uint32_t(w[hi])) << 32;
  };
  RowSampling s;
  std::memcpy(&s.temperature, &w[abi::kTemperatureBits], 4);
  std::memcpy(&s.topP, &w[abi::kTopPBits], 4);
  s.topK = w[abi::kTopK];
  s.seed = wide(abi::kSeedLo, abi::kSeedHi);
  s.counter = wide(abi::kCounterLo, abi::kCounterHi);
  s.topLogprobs = w[abi::kTopLogprobs];
  return s;
}

namespace {

/// log_softmax(logits)[target] in double: the per-token NLL of perplexity
/// must not lose digits to an f32 sum over a vocabulary of 100k+ entries.
double logSoftmaxAt(const float *logits, int64_t vocab, int32_t target) {
  const float top = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v)
    sum += std::exp(double(logits[v]) - double(top));
  return double(logits[target]) - double(top) - std::log(sum);
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
               int slots, int maxSeqLen, KvCacheOptions kv)
    : plan(plan), backend(backend), pages_(std::max(slots, 0)),
      published_(std::max(slots, 0)), fed(std::max(slots, 0)),
      maxSeqLen_(maxSeqLen), vocab_(plan.config().vocabSize) {
  if (!plan.hasProgram(abi::kPrefill) || !plan.hasProgram(abi::kDecode))
    fail(plan.origin(), ": the plan needs both a prefill and a decode program");
  prefillMaxTokens = plan.program(abi::kPrefill).max_tokens();
  prefillNeedsFresh = plan.program(abi::kPrefill).fresh_sequences();
  prefillMaxLogitRows = plan.program(abi::kPrefill).max_logit_rows();
  if (prefillNeedsFresh && plan.hasProgram(abi::kExtend))
    prefillMaxLogitRows = std::min<int>(
        prefillMaxLogitRows, plan.program(abi::kExtend).max_logit_rows());
  hasDrafts_ = programHasDrafts(plan.program(abi::kDecode));
  samples_ = programSamples(plan.program(abi::kDecode));
  drafts_.assign(slots, -1);
  decodeMaxTokens = plan.program(abi::kDecode).max_tokens();
  if (slots < 1 || slots > decodeMaxTokens)
    fail(slots, " sequences do not fit the plan's decode batch of ",
         decodeMaxTokens, " (recompile with a larger --max-batch)");
  if (maxSeqLen < 1)
    fail("the context length must be >= 1, got ", maxSeqLen);
  if (kv.pages < 0)
    fail("the KV cache needs pages >= 0 (0: as many as ", slots,
         " full-context sequences), got ", kv.pages);
  kvShape_ = KvCacheShape::contiguous(slots, maxSeqLen);
  if (kv.pages > 0)
    kvShape_.pages = kv.pages;
  pool_ = std::make_unique<KvPages>(kvShape_.pages, kv.shuffleSeed);
  // A draft plan rewrites a sequence's last row on the next feed, which may
  // be the last row of a full page: such pages are never shared.
  prefixCaching_ = kv.prefixCaching && !hasDrafts_;
  backend.prepare(plan, weights, kvShape_);
}

Engine::~Engine() = default;

int Engine::pageTokens() const { return abi::kKvPageTokens; }
int Engine::pagesTotal() const { return pool_->total(); }
int Engine::pagesFree() const { return pool_->available(); }

int Engine::pagesNeeded(int slot, int moreTokens) const {
  const int64_t positions = int64_t(length(slot)) + std::max(moreTokens, 0);
  const int64_t pages =
      (positions + abi::kKvPageTokens - 1) / abi::kKvPageTokens;
  return static_cast<int>(
      std::max<int64_t>(0, pages - int64_t(pages_.at(slot).size())));
}

int Engine::stale(size_t slot) const {
  return std::max(0, int(fed[slot].size()) -
                         int(pages_[slot].size()) * abi::kKvPageTokens);
}

void Engine::reset(int slot) {
  for (int32_t page : pages_.at(slot))
    pool_->release(page);
  pages_[slot].clear();
  published_[slot] = 0;
  fed[slot].clear();
}

int Engine::reusePrefix(int slot, const std::vector<int32_t> &prompt) {
  if (!fed.at(slot).empty() || !pages_[slot].empty())
    fail("reusePrefix: sequence ", slot, " holds ", fed[slot].size(),
         " tokens; reset it first");
  if (!prefixCaching_)
    return 0;
  std::vector<int32_t> &table = pages_[slot];
  // Strictly below the prompt's length: its last token must be fed for its
  // logits.
  while ((table.size() + 1) * abi::kKvPageTokens < prompt.size()) {
    const int page =
        pool_->lookup(table.empty() ? -1 : table.back(),
                      prompt.data() + table.size() * abi::kKvPageTokens);
    if (page < 0)
      break;
    pool_->retain(page);
    table.push_back(page);
  }
  const size_t reused = table.size() * abi::kKvPageTokens;
  fed[slot].assign(prompt.begin(), prompt.begin() + reused);
  published_[slot] = table.size();
  stats_.prefixTokensReused += int64_t(reused);
  return static_cast<int>(reused);
}

void Engine::allocatePages(const std::vector<std::vector<int32_t>> &work) {
  int needed = 0;
  for (size_t b = 0; b < work.size(); ++b)
    needed += pagesNeeded(int(b), int(work[b].size()) - stale(b));
  if (needed > pool_->available())
    throw KvCacheFull("the KV cache has " + std::to_string(pool_->available()) +
                      " free pages of " + std::to_string(pool_->total()) +
                      ", this step needs " + std::to_string(needed) + " (" +
                      std::to_string(abi::kKvPageTokens) +
                      " tokens each; raise --kv-pages or run fewer sequences)");
  for (size_t b = 0; b < work.size(); ++b)
    for (int n = pagesNeeded(int(b), int(work[b].size()) - stale(b)); n > 0;
         --n)
      pages_[b].push_back(pool_->allocate());
}

void Engine::publishFull(size_t slot) {
  if (!prefixCaching_)
    return;
  const size_t full = fed[slot].size() / abi::kKvPageTokens;
  std::vector<int32_t> &table = pages_[slot];
  for (size_t k = published_[slot]; k < full && k < table.size(); ++k)
    pool_->publish(table[k], k == 0 ? -1 : table[k - 1],
                   fed[slot].data() + k * abi::kKvPageTokens);
  published_[slot] = std::max(published_[slot], full);
}

std::vector<Engine::Row> Engine::run(const std::string &program,
                                     StepInputs &inputs) {
  const int perSeq = kvShape_.pagesPerSequence();
  inputs.blockTables.assign(size_t(kvShape_.sequences) * perSeq, -1);
  for (size_t s = 0; s < pages_.size(); ++s)
    std::copy(pages_[s].begin(), pages_[s].end(),
              inputs.blockTables.begin() + s * perSeq);
  // Every row a step writes must be on a page its sequence alone holds and
  // that is not cached: shared pages are full and never rewritten.
  for (size_t t = 0; t < inputs.tokens.size(); ++t) {
    const int32_t page =
        inputs.blockTables[size_t(inputs.seqIds[t]) * perSeq +
                           inputs.positions[t] / abi::kKvPageTokens];
    if (page < 0 || pool_->refs(page) != 1 || pool_->cached(page))
      fail("internal error: token ", t, " (sequence ", inputs.seqIds[t],
           ", position ", inputs.positions[t], ") would write page ", page,
           page < 0 ? " (none)"
                    : " held by " + std::to_string(pool_->refs(page)) +
                          (pool_->cached(page) ? ", cached" : ""));
  }
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

const char *Engine::prefillProgram(const StepInputs &in) const {
  if (prefillNeedsFresh)
    for (size_t i = 0; i < in.tokens.size(); ++i)
      if (in.positions[i] != 0 && (i == 0 || in.seqIds[i - 1] != in.seqIds[i]))
        return abi::kExtend; // a sequence continues in this chunk
  return abi::kPrefill;
}

void Engine::refeedLast(StepInputs &in, size_t slot) {
  if (hasDrafts_ && prefillMaxTokens > 1 && !fed[slot].empty()) {
    const int32_t last = fed[slot].back();
    fed[slot].pop_back();
    append(in, slot, last);
  }
}

std::vector<Engine::Row>
Engine::feedRows(const std::vector<std::vector<int32_t>> &newTokens,
                 const std::vector<RowSampling> *perSlot, bool wantLogits) {
  if (newTokens.size() > fed.size())
    fail(newTokens.size(), " sequences given, the engine holds ", fed.size());
  for (size_t b = 0; b < newTokens.size(); ++b)
    if (fed[b].size() + newTokens[b].size() > size_t(maxSeqLen_))
      fail("sequence ", b, " needs ", fed[b].size() + newTokens[b].size(),
           " positions but the context holds ", maxSeqLen_,
           " (prompt longer than the context; raise --max-seq-len up to the "
           "model's max_position_embeddings = ",
           plan.config().maxPositionEmbeddings, ")");
  // What each sequence computes: its stale tokens again, then the new ones.
  std::vector<std::vector<int32_t>> tokens(newTokens.size());
  std::vector<int> again(newTokens.size(), 0);
  for (size_t b = 0; b < newTokens.size(); ++b)
    if (!newTokens[b].empty()) {
      again[b] = stale(b);
      tokens[b].assign(fed[b].end() - again[b], fed[b].end());
      tokens[b].insert(tokens[b].end(), newTokens[b].begin(),
                       newTokens[b].end());
    }
  allocatePages(tokens);
  for (size_t b = 0; b < tokens.size(); ++b)
    fed[b].resize(fed[b].size() - size_t(again[b]));

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
    if (in.tokens.empty())
      return out;
    runChunk(abi::kDecode, in, owners);
    for (size_t b : owners)
      publishFull(b);
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
  auto flush = [&] {
    if (in.tokens.empty())
      return;
    runChunk(prefillProgram(in), in, owners);
    in = StepInputs();
    owners.clear();
  };
  for (size_t b = 0; b < tokens.size(); ++b) {
    if (!tokens[b].empty())
      refeedLast(in, b);
    for (size_t i = 0; i < tokens[b].size(); ++i) {
      if (static_cast<int>(in.tokens.size()) >= prefillMaxTokens) {
        flush();
        refeedLast(in, b);
      }
      if (i + 1 == tokens[b].size()) {
        in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
        owners.push_back(b);
      }
      append(in, b, tokens[b][i]);
    }
  }
  flush();
  for (size_t b = 0; b < tokens.size(); ++b)
    if (!tokens[b].empty())
      publishFull(b);
  return out;
}

std::vector<std::vector<double>>
Engine::score(const std::vector<std::vector<int32_t>> &newTokens,
              const std::vector<std::vector<int32_t>> &targets) {
  if (newTokens.size() > fed.size())
    fail(newTokens.size(), " sequences given, the engine holds ", fed.size());
  if (targets.size() != newTokens.size())
    fail("score: ", targets.size(), " target lists for ", newTokens.size(),
         " sequences");
  for (size_t b = 0; b < newTokens.size(); ++b) {
    if (targets[b].size() != newTokens[b].size())
      fail("score: sequence ", b, " has ", newTokens[b].size(), " tokens but ",
           targets[b].size(), " targets");
    for (int32_t t : targets[b])
      if (t < -1 || t >= vocab_)
        fail("score: target ", t, " of sequence ", b,
             " is outside the vocabulary of ", vocab_);
    if (fed[b].size() + newTokens[b].size() > size_t(maxSeqLen_))
      fail("sequence ", b, " needs ", fed[b].size() + newTokens[b].size(),
           " positions but the context holds ", maxSeqLen_);
  }
  // As feedRows: a sequence's stale tokens go again first, unscored.
  std::vector<std::vector<int32_t>> tokens(newTokens.size()),
      wanted(newTokens.size());
  for (size_t b = 0; b < newTokens.size(); ++b)
    if (!newTokens[b].empty()) {
      const int again = stale(b);
      tokens[b].assign(fed[b].end() - again, fed[b].end());
      wanted[b].assign(size_t(again), -1);
      tokens[b].insert(tokens[b].end(), newTokens[b].begin(),
                       newTokens[b].end());
      wanted[b].insert(wanted[b].end(), targets[b].begin(), targets[b].end());
    }
  allocatePages(tokens);
  for (size_t b = 0; b < tokens.size(); ++b)
    fed[b].resize(fed[b].size() - (tokens[b].size() - newTokens[b].size()));

  std::vector<std::vector<double>> out(tokens.size());
  std::fill(drafts_.begin(), drafts_.end(), -1);
  // The chunking of feedRows' prefill, with a logit row at every scored
  // token; the rows' owners and targets say where each log-prob goes.
  StepInputs in;
  std::vector<size_t> owners;
  std::vector<int32_t> rowTargets;
  auto flush = [&] {
    if (in.tokens.empty())
      return;
    in.wantLogits = !in.logitRows.empty();
    std::vector<Row> rows = run(prefillProgram(in), in);
    for (const Row &row : rows)
      if (int64_t(row.logits.size()) != vocab_)
        fail(backend.name(), " backend returned no logits to score");
    // A pass over the vocabulary per row, in double: on the host's cores
    // (as long as a tiny model's step on the host).
    std::vector<double> logprobs(rows.size());
    parallelFor(int64_t(rows.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        logprobs[r] =
            logSoftmaxAt(rows[r].logits.data(), vocab_, rowTargets[r]);
    });
    for (size_t r = 0; r < rows.size(); ++r)
      out[owners[r]].push_back(logprobs[r]);
    in = StepInputs();
    owners.clear();
    rowTargets.clear();
  };
  for (size_t b = 0; b < tokens.size(); ++b) {
    if (!tokens[b].empty())
      refeedLast(in, b);
    for (size_t i = 0; i < tokens[b].size(); ++i) {
      const bool scored = wanted[b][i] >= 0;
      if (static_cast<int>(in.tokens.size()) >= prefillMaxTokens ||
          (scored &&
           static_cast<int>(in.logitRows.size()) >= prefillMaxLogitRows)) {
        flush();
        refeedLast(in, b);
      }
      if (scored) {
        in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
        owners.push_back(b);
        rowTargets.push_back(wanted[b][i]);
      }
      append(in, b, tokens[b][i]);
    }
  }
  flush();
  for (size_t b = 0; b < tokens.size(); ++b)
    if (!tokens[b].empty())
      publishFull(b);
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
  for (size_t b = 0; b < tokens.size(); ++b)
    if (stale(b) > 0)
      fail("sequence ", b, " has ", stale(b),
           " tokens to recompute after a rewind; feed() it instead");
  allocatePages(tokens);
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
  for (size_t b = 0; b < tokens.size(); ++b)
    publishFull(b);
  return out;
}

void Engine::rewind(int slot, int n) {
  if (n < 0 || n > length(slot))
    fail("cannot rewind sequence ", slot, " by ", n, " of its ", length(slot),
         " tokens");
  fed[slot].resize(fed[slot].size() - size_t(n));
  const size_t length = fed[slot].size();
  std::vector<int32_t> &table = pages_[slot];
  const size_t keep = (length + abi::kKvPageTokens - 1) / abi::kKvPageTokens;
  while (table.size() > keep) {
    pool_->release(table.back());
    table.pop_back();
  }
  // The last page is partial now and will be written again: it must be this
  // sequence's alone. Uncache it if only this sequence holds it; a shared
  // one is left to its other holders, and its rows here are recomputed by
  // the next feed (stale()).
  if (length % abi::kKvPageTokens != 0 && !table.empty() &&
      pool_->cached(table.back())) {
    if (pool_->refs(table.back()) == 1) {
      pool_->unpublish(table.back());
    } else {
      pool_->release(table.back());
      table.pop_back();
    }
  }
  published_[slot] = std::min(published_[slot], length / abi::kKvPageTokens);
}

void Engine::append(StepInputs &in, size_t slot, int32_t token) {
  in.tokens.push_back(token);
  in.positions.push_back(static_cast<int32_t>(fed[slot].size()));
  in.seqIds.push_back(static_cast<int32_t>(slot));
  fed[slot].push_back(token);
}

} // namespace moela
