//===- StepInputs.cpp - The inputs of one program run, checked once -------===//
//
// Both backends call checkStepInputs before they touch a buffer, so the same
// bad input gets the same one-line error on the host and on a GPU.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Backend.h"

#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

#include <cmath>
#include <cstring>

namespace moela {

int KvCacheShape::pagesPerSequence() const {
  return (maxSeqLen + abi::kKvPageTokens - 1) / abi::kKvPageTokens;
}

KvCacheShape KvCacheShape::contiguous(int slots, int maxSeqLen) {
  KvCacheShape shape{0, maxSeqLen, slots};
  shape.pages = slots * shape.pagesPerSequence();
  return shape;
}

std::vector<int32_t> contiguousBlockTables(const KvCacheShape &shape) {
  std::vector<int32_t> tables(size_t(shape.sequences) *
                              size_t(shape.pagesPerSequence()));
  for (size_t i = 0; i < tables.size(); ++i)
    tables[i] = int32_t(i);
  return tables;
}

bool programSamples(const plan::Program &program) {
  return program.inputs() &&
         program.inputs()->size() > uint32_t(abi::kNumProgramInputs);
}

bool programHasDrafts(const plan::Program &program) {
  const uint32_t outputs = program.outputs() ? program.outputs()->size() : 0;
  return outputs - (programSamples(program) ? 2 : 0) > 1;
}

std::vector<int32_t> samplingInput(const StepInputs &in) {
  if (!in.sampling.empty())
    return in.sampling;
  std::vector<int32_t> words(in.logitRows.size() * abi::kSamplingWords, 0);
  const float one = 1.0f;
  for (size_t r = 0; r < in.logitRows.size(); ++r) {
    std::memcpy(&words[r * abi::kSamplingWords + abi::kTopPBits], &one, 4);
    words[r * abi::kSamplingWords + abi::kTopLogprobs] = -1;
  }
  return words;
}

void checkStepInputs(const plan::Program &program, const StepInputs &in,
                     const KvCacheShape &kv) {
  const int slots = kv.sequences, maxSeqLen = kv.maxSeqLen;
  const int64_t perSeq = kv.pagesPerSequence();
  const int64_t tokens = int64_t(in.tokens.size());
  const int64_t logitRows = int64_t(in.logitRows.size());
  const std::string where = "program '" + program.name()->str() + "': ";
  if (tokens < 1)
    fail(where, "needs at least 1 token, got 0");
  if (tokens > program.max_tokens())
    fail(where, tokens, " tokens exceed max_tokens ", program.max_tokens());
  if (logitRows > program.max_logit_rows())
    fail(where, logitRows, " logit rows exceed max_logit_rows ",
         program.max_logit_rows());
  if (int64_t(in.positions.size()) != tokens ||
      int64_t(in.seqIds.size()) != tokens)
    fail(where, tokens, " tokens but ", in.positions.size(), " positions and ",
         in.seqIds.size(), " sequence ids");
  for (int64_t t = 0; t < tokens; ++t) {
    if (in.positions[t] < 0 || in.positions[t] >= maxSeqLen)
      fail(where, "position ", in.positions[t], " of token ", t,
           " out of range [0, ", maxSeqLen, ") (maxSeqLen)");
    if (in.seqIds[t] < 0 || in.seqIds[t] >= slots)
      fail(where, "sequence slot ", in.seqIds[t], " of token ", t,
           " out of range [0, ", slots, ") (slots)");
  }
  if (int64_t(in.blockTables.size()) != int64_t(slots) * perSeq)
    fail(where, "block tables of ", in.blockTables.size(),
         " entries, expected ", slots, " sequences x ", perSeq,
         " pages (maxSeqLen ", maxSeqLen, " / ", abi::kKvPageTokens,
         " tokens per page)");
  // A token reads every row of its sequence up to its own: the pages of
  // blocks 0 .. its block must be allocated (the last token of a sequence
  // in the step has the highest position).
  std::vector<int64_t> lastToken(size_t(slots), -1);
  for (int64_t t = 0; t < tokens; ++t)
    if (lastToken[size_t(in.seqIds[t])] < 0 ||
        in.positions[t] > in.positions[size_t(lastToken[size_t(in.seqIds[t])])])
      lastToken[size_t(in.seqIds[t])] = t;
  for (int s = 0; s < slots; ++s) {
    const int64_t t = lastToken[size_t(s)];
    if (t < 0)
      continue;
    for (int64_t block = 0; block <= in.positions[t] / abi::kKvPageTokens;
         ++block) {
      const int32_t page = in.blockTables[size_t(s * perSeq + block)];
      if (page < 0)
        fail(where, "token ", t, " (sequence ", s, ", position ",
             in.positions[t], ") needs a page at block ", block,
             " of its block table, none is allocated");
    }
  }
  // A page id outside the pool is wrong anywhere: a later step would read it.
  for (size_t i = 0; i < in.blockTables.size(); ++i)
    if (in.blockTables[i] < -1 || in.blockTables[i] >= kv.pages)
      fail(where, "block table of sequence ", i / size_t(perSeq),
           " names page ", in.blockTables[i], " at block ", i % size_t(perSeq),
           ", outside [-1, ", kv.pages, ")");
  for (int64_t r = 0; r < logitRows; ++r)
    if (in.logitRows[r] < 0 || in.logitRows[r] >= tokens)
      fail(where, "logit row ", in.logitRows[r], " out of range [0, ", tokens,
           ") (tokens)");
  if (in.sampling.empty())
    return;
  if (!programSamples(program))
    fail(where, "has no Sample step, but sampling parameters were given "
                "(recompile the model)");
  if (in.sampling.size() != size_t(logitRows) * abi::kSamplingWords)
    fail(where, logitRows, " logit rows need ", logitRows, " x ",
         abi::kSamplingWords, " sampling words, got ", in.sampling.size());
  for (int64_t r = 0; r < logitRows; ++r) {
    const int32_t *w = &in.sampling[size_t(r) * abi::kSamplingWords];
    float t, p;
    std::memcpy(&t, &w[abi::kTemperatureBits], 4);
    std::memcpy(&p, &w[abi::kTopPBits], 4);
    if (!(t >= 0.0f) || !std::isfinite(t))
      fail(where, "row ", r, ": temperature must be finite and >= 0, got ", t);
    if (w[abi::kTopK] < 0)
      fail(where, "row ", r, ": top_k must be >= 0, got ", w[abi::kTopK]);
    if (!(p > 0.0f && p <= 1.0f))
      fail(where, "row ", r, ": top_p must be in (0, 1], got ", p);
    if (w[abi::kTopLogprobs] < -1 ||
        w[abi::kTopLogprobs] > abi::kMaxTopLogprobs)
      fail(where, "row ", r, ": top logprobs must be in [-1, ",
           abi::kMaxTopLogprobs, "], got ", w[abi::kTopLogprobs]);
  }
}

} // namespace moela
