//===- chat_template.cpp - Fuzzes parsing and rendering a chat template ---===//
//
// The input is the Jinja source; it renders a small conversation with the
// variables transformers passes (runtime/jinja). Any source parses and
// renders, or gives one moela::Error.
//
//===----------------------------------------------------------------------===//
#include "FuzzFiles.h"
#include "jinja/Template.h"
#include "moela/Runtime/Error.h"

using namespace moela;

namespace {

const jinja::Json &context() {
  static const jinja::Json value = jinja::Json::parse(R"({
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi <b>&amp;</b> \u00e9"},
      {"role": "assistant", "content": null, "reasoning_content": "think",
       "tool_calls": [{"type": "function", "function":
         {"name": "f", "arguments": "{\"x\": [1, 2.5, true]}"}}]},
      {"role": "tool", "content": "42"},
      {"role": "user", "content": [{"type": "text", "text": "and?"}]}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "tools": null, "documents": null, "thinking": false})");
  return value;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    jinja::Template chat(std::string(fuzz::asText(data, size)), "fuzz.jinja");
    chat.render(context());
  } catch (const Error &) {
  }
  return 0;
}
