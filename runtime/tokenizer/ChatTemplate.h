//===- ChatTemplate.h - A checkpoint's chat template ----------------------===//
//
// Private to the runtime; Tokenizer::applyChatTemplate and
// Tokenizer::renderChatTemplate are the public entries. Holds the Jinja
// template that turns a conversation into prompt text: the `chat_template` of
// tokenizer_config.json (a string, or a list of {name, template} of which
// "default" is used), a file given by the user, or the built-in DeepSeek-V3
// template (models/templates/deepseek-v3.jinja, embedded at build time).
// Rendering passes the variables transformers' apply_chat_template passes:
// messages, tools and documents (None unless given), add_generation_prompt,
// the special tokens' text (bos_token, eos_token, ...), then the caller's
// extra variables, which override them.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CHATTEMPLATE_H
#define MOELA_RUNTIME_CHATTEMPLATE_H

#include "jinja/Template.h"

#include <memory>
#include <string>

namespace moela {

/// The text of models/templates/deepseek-v3.jinja.
const std::string &builtinChatTemplate();

class ChatTemplate {
public:
  /// The built-in DeepSeek-V3 template.
  ChatTemplate();
  /// Parses `source`; `name` (a file, or "FILE: chat_template") names it in
  /// errors. Throws moela::Error for bad syntax.
  ChatTemplate(const std::string &source, std::string name);
  /// A template that could not be used (e.g. a syntax error in a checkpoint's
  /// config): rendering throws Error(`message`), so that a tokenizer loads
  /// for plain encoding.
  static ChatTemplate broken(std::string name, std::string message);

  /// Renders `messages` (a JSON array of message objects) with
  /// add_generation_prompt and `specialTokens` (an object: bos_token, ...)
  /// overridden by `variables` (an object).
  std::string render(const jinja::Json &messages, bool addGenerationPrompt,
                     const jinja::Json &specialTokens,
                     const jinja::Json &variables) const;

  const std::string &name() const { return name_; }

private:
  std::string name_;
  std::shared_ptr<const jinja::Template> template_;
  std::string brokenMessage_;
};

} // namespace moela

#endif // MOELA_RUNTIME_CHATTEMPLATE_H
