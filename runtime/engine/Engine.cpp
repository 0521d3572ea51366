//===- Engine.cpp - Prefill chunking, decode steps, positions -------------===//
#include "moela/Runtime/Engine.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

#include <algorithm>
#include <chrono>

namespace moela {

Engine::Engine(const Plan &plan, Backend &backend, WeightSource &weights,
               int slots, int maxSeqLen)
    : plan(plan), backend(backend), lengths(slots, 0), maxSeqLen_(maxSeqLen),
      vocab_(plan.config().vocabSize) {
  if (!plan.hasProgram("prefill") || !plan.hasProgram("decode"))
    fail(plan.origin(), ": the plan needs both a prefill and a decode program");
  prefillMaxTokens = plan.program("prefill").max_tokens();
  prefillNeedsFresh = plan.program("prefill").fresh_sequences();
  decodeMaxTokens = plan.program("decode").max_tokens();
  if (slots < 1 || slots > decodeMaxTokens)
    fail(slots, " sequences do not fit the plan's decode batch of ",
         decodeMaxTokens, " (recompile with a larger --max-batch)");
  if (maxSeqLen < 1)
    fail("the context length must be >= 1, got ", maxSeqLen);
  backend.prepare(plan, weights, slots, maxSeqLen);
}

std::vector<std::vector<float>> Engine::run(const std::string &program,
                                            const StepInputs &inputs) {
  auto start = std::chrono::steady_clock::now();
  std::vector<float> logits = backend.run(program, inputs); // [R, V]
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  if (program == "decode") {
    stats_.decodeTokens += inputs.tokens.size();
    stats_.decodeSeconds += seconds;
  } else {
    stats_.prefillTokens += inputs.tokens.size();
    stats_.prefillSeconds += seconds;
  }
  std::vector<std::vector<float>> rows(inputs.logitRows.size());
  for (size_t r = 0; r < rows.size(); ++r)
    rows[r].assign(logits.begin() + r * vocab_,
                   logits.begin() + (r + 1) * vocab_);
  return rows;
}

std::vector<std::vector<float>>
Engine::feed(const std::vector<std::vector<int32_t>> &tokens) {
  if (tokens.size() > lengths.size())
    fail(tokens.size(), " sequences given, the engine holds ", lengths.size());
  for (size_t b = 0; b < tokens.size(); ++b)
    if (lengths[b] + static_cast<int64_t>(tokens[b].size()) > maxSeqLen_)
      fail("sequence ", b, " needs ", lengths[b] + tokens[b].size(),
           " positions but the context holds ", maxSeqLen_,
           " (prompt longer than the context; raise --max-seq-len up to the "
           "model's max_position_embeddings = ",
           plan.config().maxPositionEmbeddings, ")");

  std::vector<std::vector<float>> out(tokens.size());
  bool oneEach = std::all_of(tokens.begin(), tokens.end(),
                             [](const auto &t) { return t.size() <= 1; });
  // One new token per sequence: a decode step (absorbed MLA).
  if (oneEach) {
    StepInputs in;
    std::vector<size_t> owners;
    for (size_t b = 0; b < tokens.size(); ++b)
      if (!tokens[b].empty()) {
        in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
        in.tokens.push_back(tokens[b][0]);
        in.positions.push_back(lengths[b]++);
        in.seqIds.push_back(static_cast<int32_t>(b));
        owners.push_back(b);
      }
    if (in.tokens.empty())
      return out;
    std::vector<std::vector<float>> rows = run("decode", in);
    for (size_t r = 0; r < rows.size(); ++r)
      out[owners[r]] = std::move(rows[r]);
    return out;
  }

  // A prefill: every (sequence, position, token) in sequence order, cut into
  // chunks of at most max_tokens; a sequence's logits come from the chunk
  // holding its last token. A chunk that continues a sequence (its first
  // token there is not at position 0) runs "extend" where the plan's
  // prefill attends only over the chunk's own tokens.
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
    std::vector<std::vector<float>> rows =
        run(prefillNeedsFresh && !fresh() ? "extend" : "prefill", in);
    for (size_t r = 0; r < rows.size(); ++r)
      out[owners[r]] = std::move(rows[r]);
    in = StepInputs();
    owners.clear();
  };
  for (size_t b = 0; b < tokens.size(); ++b) {
    for (size_t i = 0; i < tokens[b].size(); ++i) {
      if (static_cast<int>(in.tokens.size()) == prefillMaxTokens)
        flush();
      if (i + 1 == tokens[b].size()) {
        in.logitRows.push_back(static_cast<int32_t>(in.tokens.size()));
        owners.push_back(b);
      }
      in.tokens.push_back(tokens[b][i]);
      in.positions.push_back(lengths[b]++);
      in.seqIds.push_back(static_cast<int32_t>(b));
    }
  }
  flush();
  return out;
}

} // namespace moela
