//===- Template.h - A parsed Jinja template and its rendering -------------===//
//
// Private to the runtime. moela's Jinja interpreter renders chat templates as
// transformers' apply_chat_template does (jinja2 with trim_blocks and
// lstrip_blocks, in an immutable sandbox, with transformers' tojson,
// raise_exception and strftime_now). docs/chat-templates.md lists the subset
// it supports; anything outside it is one moela::Error naming the template,
// the line and the construct, at parse time where the syntax shows it.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_TEMPLATE_H
#define MOELA_RUNTIME_JINJA_TEMPLATE_H

#include "Ast.h"
#include "Lexer.h"

#include <memory>
#include <string>

namespace moela::jinja {

class Template {
public:
  /// Parses `source`; `name` (e.g. a file name) prefixes every error:
  /// "name:12: unknown tag 'include'". Throws moela::Error.
  Template(const std::string &source, std::string name,
           const LexOptions &options = {});

  /// Renders with the variables of `context` (a JSON object). Errors are
  /// moela::Error: "name:line: message", or the bare message a template
  /// passed to raise_exception.
  std::string render(const Json &context) const;

  const std::string &name() const { return name_; }

private:
  std::string name_;
  std::shared_ptr<const Body> body_;
};

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_TEMPLATE_H
