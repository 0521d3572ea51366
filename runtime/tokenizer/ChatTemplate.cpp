//===- ChatTemplate.cpp - The DeepSeek-V3 chat template in C++ ------------===//
//
// A transcription of the Jinja chat_template released in DeepSeek-V3's
// tokenizer_config.json (docs/model.md §4), for the system/user/assistant
// roles:
//
//   {{bos_token}}{{system prompts joined by "\n\n"}}
//   for each message in order:
//     user      -> "<｜User｜>" + content
//     assistant -> "<｜Assistant｜>" + content + "<｜end▁of▁sentence｜>"
//   add_generation_prompt -> "<｜Assistant｜>"
//
// System messages only feed the prompt at the front, wherever they appear.
// Out of scope: assistant messages with tool_calls instead of content and
// "tool" messages (the template's <｜tool▁calls▁begin｜> / <｜tool▁outputs▁
// begin｜> branches); such input throws rather than render differently.
//
//===----------------------------------------------------------------------===//
#include "ChatTemplate.h"

#include "moela/Runtime/Error.h"

namespace moela {

std::string renderDeepSeekV3Chat(const std::vector<ChatMessage> &messages,
                                 bool addGenerationPrompt,
                                 std::string_view bosText) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string &role = messages[i].role;
    if (role == "tool")
      fail("chat message ", i,
           ": role \"tool\" is not supported (tool calls are out of scope)");
    if (role != "system" && role != "user" && role != "assistant")
      fail("chat message ", i, ": unknown role \"", role,
           "\" (expected system, user or assistant)");
  }

  std::string out(bosText);
  bool firstSystem = true;
  for (const ChatMessage &m : messages) {
    if (m.role != "system")
      continue;
    if (!firstSystem)
      out += "\n\n";
    out += m.content;
    firstSystem = false;
  }
  for (const ChatMessage &m : messages) {
    if (m.role == "user") {
      out += "<｜User｜>";
      out += m.content;
    } else if (m.role == "assistant") {
      out += "<｜Assistant｜>";
      out += m.content;
      out += "<｜end▁of▁sentence｜>";
    }
  }
  if (addGenerationPrompt)
    out += "<｜Assistant｜>";
  return out;
}

} // namespace moela
