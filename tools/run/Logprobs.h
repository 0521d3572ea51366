//===- Logprobs.h - --logprobs: one JSON line per generated token ---------===//
#ifndef MOELA_TOOLS_RUN_LOGPROBS_H
#define MOELA_TOOLS_RUN_LOGPROBS_H

#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Tokenizer.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace moela::runtool {

/// Writes {"seq", "step", "token", "text", "logprob", "top": [{"token",
/// "text", "logprob"}...]} per generated token; logprobs are the
/// log-softmax of the raw logits, top holds the `top` most likely tokens in
/// descending order.
class LogprobsWriter {
public:
  LogprobsWriter(const std::string &path, int top, const Tokenizer &tokenizer);
  void write(int seq, int32_t id, const std::vector<float> &logits);
  /// The same line from the plan's Sample step (its logprobs in f32).
  void write(int seq, const SampledToken &token);
  /// Closes the file; a write that failed (a full disk) is an Error.
  void close();

private:
  std::string path;
  int top;
  const Tokenizer &tokenizer;
  std::ofstream out;
  std::map<int, int> steps; // the next step of each sequence
};

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_LOGPROBS_H
