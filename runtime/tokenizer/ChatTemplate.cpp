//===- ChatTemplate.cpp - A checkpoint's chat template --------------------===//
//
// transformers renders `compiled_template.render(messages=..., tools=...,
// documents=..., add_generation_prompt=..., **special_tokens_map,
// **kwargs)`; the context here is built in the same order, so a variable the
// caller passes replaces a special token's text as a kwarg does there.
//
//===----------------------------------------------------------------------===//
#include "ChatTemplate.h"

#include "moela/Runtime/Error.h"

namespace moela {

ChatTemplate::ChatTemplate()
    : ChatTemplate(builtinChatTemplate(),
                   "built-in DeepSeek-V3 chat template") {}

ChatTemplate::ChatTemplate(const std::string &source, std::string name)
    : name_(std::move(name)),
      template_(std::make_shared<jinja::Template>(source, name_)) {}

ChatTemplate ChatTemplate::broken(std::string name, std::string message) {
  ChatTemplate t;
  t.name_ = std::move(name);
  t.template_.reset();
  t.brokenMessage_ = std::move(message);
  return t;
}

std::string ChatTemplate::render(const jinja::Json &messages,
                                 bool addGenerationPrompt,
                                 const jinja::Json &specialTokens,
                                 const jinja::Json &variables) const {
  if (!template_)
    throw Error(brokenMessage_);
  if (!messages.is_array())
    fail("chat messages: expected a JSON array, got ", messages.type_name());
  for (size_t i = 0; i < messages.size(); ++i)
    if (!messages[i].is_object())
      fail("chat message ", i, ": expected a JSON object, got ",
           messages[i].type_name());
  if (!variables.is_object())
    fail("chat template variables: expected a JSON object, got ",
         variables.type_name());
  jinja::Json context = {{"messages", messages},
                         {"tools", nullptr},
                         {"documents", nullptr},
                         {"add_generation_prompt", addGenerationPrompt}};
  for (auto it = specialTokens.begin(); it != specialTokens.end(); ++it)
    context[it.key()] = it.value();
  for (auto it = variables.begin(); it != variables.end(); ++it)
    context[it.key()] = it.value();
  return template_->render(context);
}

} // namespace moela
