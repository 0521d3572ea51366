//===- OpenAiRequest.h - Reading and checking OpenAI request bodies -------===//
#ifndef MOELA_TOOLS_SERVE_OPENAIREQUEST_H
#define MOELA_TOOLS_SERVE_OPENAIREQUEST_H

#include "moela/Runtime/Sampler.h"
#include "moela/Runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moela::serve {

/// What requests are checked against.
struct ServedModel {
  std::string name;
  const Tokenizer *tokenizer = nullptr;
  int contextLength = 0;
  SamplingOptions defaults; // temperature, top_k, top_p when not given
  /// The chat template: the request's messages (and extra template
  /// variables) to the prompt text. Ordered JSON: a template's tojson
  /// writes mappings in the order the client sent them, as Python does.
  std::function<std::string(const nlohmann::ordered_json &messages,
                            const nlohmann::ordered_json &variables,
                            bool addGenerationPrompt)>
      renderChat;
};

/// A completion or chat completion request, checked.
struct CompletionParams {
  bool chat = false;
  std::vector<int32_t> prompt;
  int maxTokens = 16;
  SamplingOptions sampling;
  bool seeded = false; // a seed was given: choice i uses seed + i
  std::vector<std::string> stop;
  int logprobs = -1; // -1: none; else the number of alternatives
  int n = 1;
  bool ignoreEos = false, stream = false, includeUsage = false;
  bool returnTokenIds = false; // vLLM's extension: choices[].token_ids
};

/// Parses the body of POST /v1/completions (`chat` false) or
/// /v1/chat/completions; throws ApiError naming the field.
CompletionParams parseCompletion(const std::string &body, bool chat,
                                 const ServedModel &model);

/// The body as a JSON object (keys in the client's order), or ApiError 400.
nlohmann::ordered_json parseBody(const std::string &body);

/// POST /tokenize: {"prompt": text} (optional "add_special_tokens", default
/// true) or {"messages": [...]} (optional "chat_template_kwargs" and
/// "add_generation_prompt", default true) -> the ids.
std::vector<int32_t> parseTokenize(const std::string &body,
                                   const ServedModel &model);
/// POST /detokenize: {"tokens": [ids]} -> the ids (checked).
std::vector<int32_t> parseDetokenize(const std::string &body,
                                     const ServedModel &model);

} // namespace moela::serve

#endif // MOELA_TOOLS_SERVE_OPENAIREQUEST_H
