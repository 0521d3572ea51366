//===- Engine.cpp - Prefill chunking, decode steps, positions -------------===//
#include "moela/Runtime/Engine.h"

#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

#include <algorithm>
#include <chrono>

namespace moela {

Engine::Engine(const Plan &plan, Backend &backend, WeightSource &weights,
               int slots, int maxSeqLen, KvCacheOptions kv)
    : plan(plan), backend(backend), fed(std::max(slots, 0)),
      maxSeqLen_(maxSeqLen), vocab_(plan.config().vocabSize) {
  if (!plan.hasProgram(abi::kPrefill) || !plan.hasProgram(abi::kDecode))
    fail(plan.origin(), ": the plan needs both a prefill and a decode program");
  prefillMaxTokens = plan.program(abi::kPrefill).max_tokens();
  prefillNeedsFresh = plan.program(abi::kPrefill).fresh_sequences();
  hasDrafts_ = plan.program(abi::kDecode).outputs()->size() > 1;
  drafts_.assign(slots, -1);
  decodeMaxTokens = plan.program(abi::kDecode).max_tokens();
  if (slots < 1 || slots > decodeMaxTokens)
    fail(slots, " sequences do not fit the plan's decode batch of ",
         decodeMaxTokens, " (recompile with a larger --max-batch)");
  if (maxSeqLen < 1)
    fail("the context length must be >= 1, got ", maxSeqLen);
  backend.prepare(plan, weights, slots, maxSeqLen);
  pagesTotal_ = kv.pages > 0
                    ? kv.pages
                    : slots * ((maxSeqLen + pageTokens() - 1) / pageTokens());
}

int Engine::pagesFree() const {
  int used = 0;
  for (const auto &seq : fed)
    used += (static_cast<int>(seq.size()) + pageTokens() - 1) / pageTokens();
  return pagesTotal_ - used;
}

int Engine::pagesNeeded(int slot, int moreTokens) const {
  auto pages = [&](int n) { return (n + pageTokens() - 1) / pageTokens(); };
  return pages(length(slot) + moreTokens) - pages(length(slot));
}

std::vector<Engine::Row> Engine::run(const std::string &program,
                                     const StepInputs &inputs) {
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
  std::vector<Row> rows(inputs.logitRows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    rows[r].logits.assign(logits.begin() + r * vocab_,
                          logits.begin() + (r + 1) * vocab_);
    if (r < outputs.drafts.size())
      rows[r].draft = outputs.drafts[r];
  }
  return rows;
}

std::vector<std::vector<float>>
Engine::feed(const std::vector<std::vector<int32_t>> &tokens) {
  if (tokens.size() > fed.size())
    fail(tokens.size(), " sequences given, the engine holds ", fed.size());
  for (size_t b = 0; b < tokens.size(); ++b)
    if (fed[b].size() + tokens[b].size() > size_t(maxSeqLen_))
      fail("sequence ", b, " needs ", fed[b].size() + tokens[b].size(),
           " positions but the context holds ", maxSeqLen_,
           " (prompt longer than the context; raise --max-seq-len up to the "
           "model's max_position_embeddings = ",
           plan.config().maxPositionEmbeddings, ")");

  std::vector<std::vector<float>> out(tokens.size());
  std::fill(drafts_.begin(), drafts_.end(), -1);
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
    std::vector<Row> rows = run(abi::kDecode, in);
    for (size_t r = 0; r < rows.size(); ++r) {
      out[owners[r]] = std::move(rows[r].logits);
      drafts_[owners[r]] = rows[r].draft;
    }
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
    std::vector<Row> rows =
        run(prefillNeedsFresh && !fresh() ? abi::kExtend : abi::kPrefill, in);
    for (size_t r = 0; r < rows.size(); ++r) {
      out[owners[r]] = std::move(rows[r].logits);
      drafts_[owners[r]] = rows[r].draft;
    }
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
