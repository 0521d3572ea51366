//===- ChatTemplate.h - The DeepSeek-V3 chat template in C++ --------------===//
//
// Private to the runtime; Tokenizer::applyChatTemplate is the public entry.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CHATTEMPLATE_H
#define MOELA_RUNTIME_CHATTEMPLATE_H

#include "moela/Runtime/Tokenizer.h"

#include <string>
#include <string_view>
#include <vector>

namespace moela {

/// Renders `messages` as tokenizer_config.json's DeepSeek-V3 chat_template
/// does, with `bosText` as its bos_token.
std::string renderDeepSeekV3Chat(const std::vector<ChatMessage> &messages,
                                 bool addGenerationPrompt,
                                 std::string_view bosText);

} // namespace moela

#endif // MOELA_RUNTIME_CHATTEMPLATE_H
