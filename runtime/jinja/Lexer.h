//===- Lexer.h - Jinja template text to tokens ----------------------------===//
//
// Private to the runtime. Splits a template into text and the tokens of its
// {{ }} and {% %} tags, dropping {# #} comments, and applies whitespace
// control as jinja2 does: "-" inside a tag strips all whitespace on that
// side, trim_blocks removes the first newline after a block or comment tag,
// lstrip_blocks removes spaces and tabs between a line's start and a block or
// comment tag ("+" turns either off for that tag). Newlines are normalised to
// "\n" and one trailing newline is dropped (keep_trailing_newline=False).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_LEXER_H
#define MOELA_RUNTIME_JINJA_LEXER_H

#include <string>
#include <vector>

namespace moela::jinja {

struct Token {
  enum Kind {
    Text,       // template text, whitespace control applied
    VarBegin,   // {{
    VarEnd,     // }}
    BlockBegin, // {%
    BlockEnd,   // %}
    Name,       // identifiers and keywords
    String,     // a quoted literal, unescaped
    Integer,
    Float,
    Operator, // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
    End,
  };
  Kind kind;
  std::string text;
  int line;
};

struct LexOptions {
  bool trimBlocks = true;
  bool lstripBlocks = true;
};

/// Tokens of `source`; `name` (a file name) prefixes errors with the line:
/// "name:3: unclosed {% tag".
std::vector<Token> lex(const std::string &source, const std::string &name,
                       const LexOptions &options);

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_LEXER_H
