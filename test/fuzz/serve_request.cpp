//===- serve_request.cpp - Fuzzes moela-serve's request bodies ------------===//
//
// The first byte picks the endpoint (completions, chat completions, tokenize,
// detokenize) and the rest is the body, checked against the bundled
// DeepSeek-V3 tokenizer and its chat template as moela-serve does. Every body
// is accepted or refused with an ApiError (a 4xx answer); anything else would
// reach the client as a server error.
//
//===----------------------------------------------------------------------===//
#include "FuzzFiles.h"
#include "serve/ApiError.h"
#include "serve/OpenAiRequest.h"

using namespace moela;

namespace {

const serve::ServedModel &served() {
  static const Tokenizer tokenizer(MOELA_SOURCE_DIR
                                   "/models/tokenizer/deepseek-v3");
  static const serve::ServedModel model = [] {
    serve::ServedModel m;
    m.name = "fuzz";
    m.tokenizer = &tokenizer;
    m.contextLength = 4096;
    m.renderChat = [](const nlohmann::ordered_json &messages,
                      const nlohmann::ordered_json &variables,
                      bool addGenerationPrompt) {
      return tokenizer.renderChatTemplate(messages.dump(), addGenerationPrompt,
                                          variables.dump());
    };
    return m;
  }();
  return model;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const std::string body(fuzz::asText(data + 1, size - 1));
  try {
    switch (data[0] % 4) {
    case 0:
    case 1:
      serve::parseCompletion(body, /*chat=*/data[0] % 4 == 1, served());
      break;
    case 2:
      serve::parseTokenize(body, served());
      break;
    case 3:
      serve::parseDetokenize(body, served());
      break;
    }
  } catch (const serve::ApiError &) {
  }
  return 0;
}
