//===- StepInputs.cpp - The inputs of one program run, checked once -------===//
//
// Both backends call checkStepInputs before they touch a buffer, so the same
// bad input gets the same one-line error on the host and on a GPU.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Backend.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

namespace moela {

void checkStepInputs(const plan::Program &program, const StepInputs &in,
                     int slots, int maxSeqLen) {
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
  for (int64_t r = 0; r < logitRows; ++r)
    if (in.logitRows[r] < 0 || in.logitRows[r] >= tokens)
      fail(where, "logit row ", in.logitRows[r], " out of range [0, ", tokens,
           ") (tokens)");
}

} // namespace moela
