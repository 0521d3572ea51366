//===- BatchIO.h - --input-file prompts and --output-format jsonl ---------===//
#ifndef MOELA_TOOLS_RUN_BATCHIO_H
#define MOELA_TOOLS_RUN_BATCHIO_H

#include "moela/Runtime/Generation.h"
#include "moela/Runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace moela::runtool {

/// One prompt of --input-file.
struct BatchPrompt {
  int64_t line = 0;                  // 1-based line number: the prompt's id
  std::string text;                  // a plain line or a JSONL "prompt"
  std::vector<ChatMessage> messages; // a JSONL "messages" line (else empty)
  nlohmann::json given;              // the prompt as given, for jsonl output
};

/// Reads `path` ("-": stdin). JSONL when every non-empty line starts with
/// '{' (blank lines skipped): {"prompt": "..."} or {"messages": [{"role",
/// "content"}...]}. Otherwise one prompt per line; a blank line is an error
/// naming it. A trailing '\r' (CRLF files) is dropped.
std::vector<BatchPrompt> readBatchInput(const std::string &path);

/// One --output-format jsonl record: id, prompt, completion, prompt_tokens,
/// completion_tokens, finish_reason ("stop", "length" or "eos").
void writeJsonlRecord(std::ostream &out, const BatchPrompt &prompt,
                      const std::string &completion, size_t promptTokens,
                      size_t completionTokens, FinishReason reason);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_BATCHIO_H
