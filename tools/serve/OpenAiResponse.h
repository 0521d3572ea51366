//===- OpenAiResponse.h - OpenAI response bodies and stream chunks --------===//
#ifndef MOELA_TOOLS_SERVE_OPENAIRESPONSE_H
#define MOELA_TOOLS_SERVE_OPENAIRESPONSE_H

#include "serve/ChoiceStream.h"
#include "serve/OpenAiRequest.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace moela::serve {

/// The identity every chunk of one response repeats.
struct ResponseHeader {
  std::string id; // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;
  std::string model;
  bool chat = false;
};
ResponseHeader newResponseHeader(bool chat, const std::string &model);

/// One finished choice.
struct ChoiceResult {
  std::string text;
  std::vector<GeneratedToken> tokens;
  RequestOutcome outcome;
};

/// {"prompt_tokens", "completion_tokens", "total_tokens",
///  "prompt_tokens_details": {"cached_tokens"}} over the choices (the
/// prompt counted once).
nlohmann::json usageJson(const std::vector<RequestOutcome> &outcomes);

/// The whole (non-streamed) response.
nlohmann::json completionJson(const ResponseHeader &header,
                              const Tokenizer &tokenizer,
                              const CompletionParams &params,
                              const std::vector<ChoiceResult> &choices);

/// One stream chunk for choice `index` carrying `delta` (chat: `first`
/// adds the assistant role); `textOffset` is the length of the choice's
/// text before it (completions' logprobs.text_offset).
nlohmann::json chunkJson(const ResponseHeader &header,
                         const Tokenizer &tokenizer,
                         const CompletionParams &params, int index,
                         const Delta &delta, bool first, size_t textOffset);
/// The usage chunk (stream_options.include_usage): no choices.
nlohmann::json usageChunkJson(const ResponseHeader &header,
                              const std::vector<RequestOutcome> &outcomes);

/// {"error": {"message", "type", "param", "code"}}.
nlohmann::json errorJson(const std::string &message, const std::string &type,
                         const std::string &param, const std::string &code);

/// The text of one token; "" for the model's padding ids past the
/// tokenizer's vocabulary.
std::string tokenText(const Tokenizer &tokenizer, int32_t id);

/// JSON text that survives tokens which are partial UTF-8.
std::string dump(const nlohmann::json &value);

} // namespace moela::serve

#endif // MOELA_TOOLS_SERVE_OPENAIRESPONSE_H
